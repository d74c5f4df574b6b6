"""Bombs and header-declared sizes: refused before allocating, naming the file and the cap.

Inputs are derived at test time from real files (brain1 NRRD, pydicom-data's deflated DICOM, a
NIfTI written by nibabel from brain1). The bombs run through the real CLI in a child process under
RLIMIT_AS = 1.5 GB, so a regression that inflates or allocates fails here instead of swapping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from imaging_support import (
    BRAIN_IMAGE,
    BRAIN_LABEL,
    dicom_testfile,
    patch_nifti_dims,
    write_deflated_dicom,
    write_long_png,
    write_nifti,
    write_nrrd_gzip_bomb,
    write_nrrd_variant,
)

from medboard.cli.main import main
from medboard.errors import ImageInputError
from medboard.limits import limits
from medboard.tools.imaging.frames import letterbox
from medboard.tools.imaging.guards import ImageLimitError
from medboard.tools.imaging.load import load_image

GiB = 1 << 30
AS_LIMIT = 1536 << 20

RUNNER = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
from medboard.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def run_bounded(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`medboard <argv>` in a child limited to 1.5 GB of address space and 120 s."""
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run(
        [sys.executable, "-c", RUNNER, str(AS_LIMIT), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


def assert_one_clean_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    limits.cache_clear()
    yield
    limits.cache_clear()


# ------------------------------------------------------------------------- bombs (child process)


def test_gzip_nrrd_inflating_to_4_gib_stops_at_the_declared_size(tmp_path: Path) -> None:
    bomb = write_nrrd_gzip_bomb(tmp_path / "bomb.nrrd", 4 * GiB)  # brain1's header: 256×256×25 short
    assert bomb.stat().st_size < 8_000_000
    result = run_bounded("image", "frames", str(bomb), "--out", str(tmp_path / "out"))
    assert_one_clean_line(result, "bomb.nrrd", "inflates past the 3276800 bytes the header declares")
    assert not (tmp_path / "out" / "request.json").exists()


def test_gzip_nrrd_declaring_more_than_max_image_bytes(tmp_path: Path) -> None:
    bomb = write_nrrd_gzip_bomb(tmp_path / "big.nrrd", 1 << 20, sizes="2048 2048 300")
    result = run_bounded("image", "info", str(bomb))
    assert_one_clean_line(result, "big.nrrd", "max_image_bytes", "MEDBOARD_MAX_IMAGE_BYTES")


def test_deflated_dicom_inflating_beyond_its_pixels(tmp_path: Path) -> None:
    bomb = write_deflated_dicom(tmp_path / "bomb.dcm", 3 * GiB)  # header: 512×512 8-bit
    assert bomb.stat().st_size < 5_000_000
    result = run_bounded("image", "info", str(bomb))
    assert_one_clean_line(result, "bomb.dcm", "beyond the pixel data its header declares")


def test_deflated_dicom_declaring_a_huge_image(tmp_path: Path) -> None:
    bomb = write_deflated_dicom(tmp_path / "wide.dcm", 1 << 20, rows=60_000, cols=60_000, frames=50)
    result = run_bounded("image", "frames", str(bomb), "--out", str(tmp_path / "out"))
    assert_one_clean_line(result, "wide.dcm", "max_pixels", "MEDBOARD_MAX_PIXELS")


def test_deflated_dicom_over_max_image_bytes_is_counted_not_kept(tmp_path: Path) -> None:
    # With a 64 MB cap, a stream inflating to 200 MB stops at the cap (the header is not trusted).
    bomb = write_deflated_dicom(tmp_path / "bomb.dcm", 200 << 20, rows=8192, cols=8192, frames=3)
    result = run_bounded("image", "info", str(bomb), env={"MEDBOARD_MAX_IMAGE_BYTES": str(64 << 20)})
    assert_one_clean_line(result, "bomb.dcm", "max_image_bytes=67108864", "MEDBOARD_MAX_IMAGE_BYTES")


def test_nifti_header_claiming_30000_cubed(tmp_path: Path) -> None:
    nifti = patch_nifti_dims(write_nifti(tmp_path / "huge.nii"), (30_000, 30_000, 30_000))
    result = run_bounded("image", "frames", str(nifti), "--out", str(tmp_path / "out"))
    assert_one_clean_line(result, "huge.nii", "max_slices", "MEDBOARD_MAX_SLICES")
    as_mask = run_bounded("image", "measure", str(BRAIN_LABEL), "--mask", str(nifti))
    assert_one_clean_line(as_mask, "huge.nii", "MEDBOARD_MAX_")


def test_nifti_plane_over_max_pixels(tmp_path: Path) -> None:
    nifti = patch_nifti_dims(write_nifti(tmp_path / "plane.nii"), (30_000, 30_000, 2))
    result = run_bounded("image", "info", str(nifti))
    assert_one_clean_line(result, "plane.nii", "max_pixels", "MEDBOARD_MAX_PIXELS")


def test_png_of_absurd_aspect_ratio_through_frames(tmp_path: Path) -> None:
    png = write_long_png(tmp_path / "long.png", 140_000, 1)
    result = run_bounded("image", "frames", str(png), "--out", str(tmp_path / "out"))
    assert_one_clean_line(result, "long.png", "max_aspect_ratio", "MEDBOARD_MAX_ASPECT_RATIO")


# ---------------------------------------------------------------------- caps (in process)


def test_caps_are_configurable_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDBOARD_MAX_SLICES", "10")
    limits.cache_clear()
    with pytest.raises(ImageLimitError) as error:
        load_image(BRAIN_IMAGE)  # 25 slices
    message = str(error.value)
    assert "brain1_image.nrrd" in message and "max_slices=10" in message and "MEDBOARD_MAX_SLICES" in message
    assert error.value.cap == "max_slices"
    monkeypatch.setenv("MEDBOARD_MAX_SLICES", "25")
    limits.cache_clear()
    assert load_image(BRAIN_IMAGE).frame_count == 25


def test_dicom_series_slices_capped_but_not_whole_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging_support import write_dicom_series

    write_dicom_series(tmp_path / "ct", 6, 32, 32)
    # The whole series is never in memory (frames are sampled): max_image_bytes applies per frame.
    monkeypatch.setenv("MEDBOARD_MAX_IMAGE_BYTES", str(32 * 32 * 4 * 2))
    limits.cache_clear()
    assert load_image(tmp_path / "ct").frame_count == 6
    monkeypatch.setenv("MEDBOARD_MAX_SLICES", "5")
    limits.cache_clear()
    with pytest.raises(ImageLimitError, match=r"ct: header declares 6 slices.*max_slices=5"):
        load_image(tmp_path / "ct")


def test_real_deflated_dicom_still_reads() -> None:
    series = load_image(dicom_testfile("image_dfl.dcm"))
    frame = series.frame(0)
    assert frame.shape == (512, 512) and int(frame.max()) > 0


def test_letterbox_of_a_long_frame_never_builds_the_square(tmp_path: Path) -> None:
    import tracemalloc

    frame = np.full((400, 12_000), 200, np.uint8)  # 30:1, within the aspect cap
    tracemalloc.start()
    image, transform = letterbox(frame)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert image.size == (896, 896) and transform.side == 12_000
    assert peak < 60e6  # the 12000² RGB canvas would be 432 MB
    pixels = np.asarray(image)
    top = round(transform.pad[0] * transform.scale)
    assert pixels[top + 5, 448, 0] == 200 and pixels[5, 448, 0] == 0  # frame inside, padding black


# --------------------------------------------------------------------------- paths (CLI)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("command", ["info", "frames", "measure"])
def test_dev_zero_fifo_nul_and_empty_folder(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe.nrrd"
    os.mkfifo(fifo)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images")
    cases = {
        "/dev/zero": "is a device",
        str(fifo): "is a pipe (FIFO)",
        str(tmp_path / "a\x00b.nrrd"): "NUL character",
        str(empty): "no DICOM images found",
    }
    for path, expected in cases.items():
        extra = {
            "info": [],
            "frames": ["--out", str(tmp_path / "out")],
            "measure": ["--mask", str(BRAIN_LABEL)],
        }[command]
        code, err = _cli(capsys, "image", command, path, *extra)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and expected in lines[0], (path, err)
    if command == "measure":  # the mask argument gets the same treatment
        for path, expected in cases.items():
            code, err = _cli(capsys, "image", "measure", str(BRAIN_IMAGE), "--mask", path)
            assert code == 2 and len(err.strip().splitlines()) == 1 and expected in err, (path, err)


def test_frames_out_checked_before_decoding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    for out, expected in ((blocker, "not a folder"), (blocker / "sub", "cannot be created")):
        code, err = _cli(capsys, "image", "frames", str(BRAIN_IMAGE), "--out", str(out))
        assert code == 2 and expected in err and len(err.strip().splitlines()) == 1
    assert blocker.read_text() == "x"


def test_bad_nrrd_headers_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {
        "neg.nrrd": ({"sizes": "256 -256 25"}, "zero or negative"),
        "zero.nrrd": ({"sizes": "256 0 25"}, "zero or negative"),
        "short.nrrd": ({"sizes": "256 256"}, "sizes"),
        "words.nrrd": ({"sizes": "a b c"}, "NRRD"),
        "type.nrrd": ({"type": "quaternion"}, "'type'"),
        "notype.nrrd": ({"type": None}, "NRRD"),
        "endian.nrrd": ({"endian": "middle"}, "NRRD"),
        "enc.nrrd": ({"encoding": "lzma"}, "encoding"),
        "dim.nrrd": ({"dimension": "7"}, "NRRD"),
    }
    for name, (changes, expected) in cases.items():
        path = write_nrrd_variant(tmp_path / name, changes)
        code, err = _cli(capsys, "image", "info", str(path))
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and name in lines[0] and expected in lines[0], (name, err)


def test_truncated_nii_gz_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    nifti = write_nifti(tmp_path / "label.nii")
    packed = gzip.compress(nifti.read_bytes())
    for keep in (0.05, 0.5, 0.95):
        cut = tmp_path / f"cut{int(keep * 100)}.nii.gz"
        cut.write_bytes(packed[: int(len(packed) * keep)])
        code, err = _cli(capsys, "image", "frames", str(cut), "--out", str(tmp_path / "out"))
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and cut.name in lines[0] and "Traceback" not in err, err
        assert "Aborted" not in err


def test_raw_nrrd_with_data_shorter_than_declared(tmp_path: Path) -> None:
    import nrrd

    data, header = nrrd.read(str(BRAIN_LABEL))
    raw = tmp_path / "raw.nrrd"
    nrrd.write(str(raw), data, {**header, "encoding": "raw"})
    assert load_image(raw).frame_count == 25
    cut = tmp_path / "cut.nrrd"
    cut.write_bytes(raw.read_bytes()[:-1000])
    with pytest.raises(ImageInputError, match=r"cut\.nrrd: NRRD data truncated"):
        load_image(cut)


def test_copy_of_real_files_still_load(tmp_path: Path) -> None:
    shutil.copy(BRAIN_LABEL, tmp_path / "label.nrrd")
    series = load_image(tmp_path / "label.nrrd")
    assert series.spacing == pytest.approx((6.5, 0.78125, 0.78125))
    assert series.notes == ["gzip-encoded NRRD decoded whole (not memory-mapped)"]


def test_folder_scan_skips_files_over_the_cap_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from imaging_support import write_dicom_series

    write_dicom_series(tmp_path / "ct", 4, 16, 16)
    (tmp_path / "ct" / "disk.img").write_bytes(bytes(300_000))
    monkeypatch.setenv("MEDBOARD_MAX_IMAGE_BYTES", "200000")
    limits.cache_clear()
    series = load_image(tmp_path / "ct")
    assert series.frame_count == 4 and any("skipped" in n for n in series.notes)


def test_jpeg_whose_header_declares_more_pixels_than_its_bytes_hold(tmp_path: Path) -> None:
    """A real H&E tile with its SOF rewritten to 65500²: refused before libjpeg pads it out."""
    import struct

    data = bytearray((Path(__file__).parent / "data" / "imaging" / "he_carcinoma_tile.jpg").read_bytes())
    at = data.find(b"\xff\xc0")
    assert at >= 0
    struct.pack_into(">HH", data, at + 5, 65500, 65500)
    liar = tmp_path / "liar.jpg"
    liar.write_bytes(bytes(data))
    with pytest.raises(ImageInputError, match="header declares 65500×65500 pixels"):
        load_image(liar)
    # The unedited tile still loads.
    assert load_image(Path(__file__).parent / "data" / "imaging" / "he_carcinoma_tile.jpg")
