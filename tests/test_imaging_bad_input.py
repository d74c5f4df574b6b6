"""Bad input: clear `ImageInputError`s naming file and problem; large inputs sampled, never loaded whole."""

from __future__ import annotations

import shutil
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from imaging_support import TEST_DATA, dicom_testfile, write_dicom_series

from medboard.errors import ImageInputError
from medboard.tools.imaging import dicom as dicom_module
from medboard.tools.imaging.layouts import ct_layout
from medboard.tools.imaging.load import load_image


def _truncate(source: str, target: Path, keep: float) -> Path:
    data = Path(source).read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def test_truncated_dicom_header(tmp_path: Path) -> None:
    path = _truncate(dicom_testfile("CT_small.dcm"), tmp_path / "cut.dcm", 0.02)
    with pytest.raises(ImageInputError) as error:
        load_image(path).frame(0)
    assert "cut.dcm" in str(error.value)


def test_truncated_dicom_pixels(tmp_path: Path) -> None:
    path = _truncate(dicom_testfile("CT_small.dcm"), tmp_path / "cut.dcm", 0.7)
    with pytest.raises(ImageInputError, match=r"cut\.dcm: .*(truncated|unreadable)"):
        load_image(path).frame(0)


def test_not_dicom_and_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.dcm").write_text("this is not DICOM")
    with pytest.raises(ImageInputError, match=r"notes\.dcm: not a DICOM file"):
        load_image(tmp_path / "notes.dcm")
    (tmp_path / "empty.dcm").write_bytes(b"")
    with pytest.raises(ImageInputError, match="empty file"):
        load_image(tmp_path / "empty.dcm")
    with pytest.raises(ImageInputError, match="no such file"):
        load_image(tmp_path / "missing")


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no images here")
    shutil.copy(dicom_testfile("rtplan.dcm"), tmp_path / "plan.dcm")  # DICOM, but no pixels
    with pytest.raises(ImageInputError) as error:
        load_image(tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message and "no DICOM images" in message and "plan.dcm" in message


def test_mixed_series_need_a_choice(tmp_path: Path) -> None:
    write_dicom_series(tmp_path / "a", 5, 8, 8, series_uid="1.2.3.100", study_uid="1.2.3")
    write_dicom_series(tmp_path / "b", 7, 8, 8, series_uid="1.2.3.200", study_uid="1.2.3", seed=1)
    with pytest.raises(ImageInputError) as error:
        load_image(tmp_path)
    message = str(error.value)
    assert "2 series" in message and "1.2.3.100" in message and "1.2.3.200" in message
    assert load_image(tmp_path, series="1.2.3.200").frame_count == 7
    with pytest.raises(ImageInputError, match="not in folder"):
        load_image(tmp_path, series="9.9.9")


@pytest.mark.slow
def test_2000_slices_are_sampled_and_memory_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = cols = 64
    write_dicom_series(tmp_path, 2000, rows, cols, spacing=0.5, shuffle_names=False)
    decoded: list[str] = []
    real_decode = dicom_module._decode

    def counting(path: str, index: int | None = None):  # type: ignore[no-untyped-def]
        decoded.append(path)
        return real_decode(path, index)

    monkeypatch.setattr(dicom_module, "_decode", counting)
    tracemalloc.start()
    series = load_image(tmp_path)
    layout = ct_layout(series)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert series.frame_count == 2000
    assert len(layout.images) == 85 and len(decoded) == 85  # only sampled slices decoded
    full_volume = 2000 * rows * cols * 4  # float32 HU
    # headers of 2,000 files plus 85 slices and 85 model images: bounded, not the whole volume
    sampled_pixels = 85 * (rows * cols * 4 + 896 * 896 * 3)
    assert peak < sampled_pixels + 2000 * 4096, (peak, full_volume)


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR claims width × height (with a valid CRC) but holds almost no data."""
    from PIL import Image

    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [13_000, 30_000])  # between Pillow's warning and error; above both
def test_huge_png_is_refused_without_decoding(tmp_path: Path, side: int) -> None:
    path = _png_header_only(tmp_path / "huge.png", side, side)
    tracemalloc.start()
    with pytest.raises(ImageInputError) as error:
        load_image(path, patches=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    message = str(error.value)
    assert "huge.png" in message and "max_pixels" in message and "MEDBOARD_MAX_PIXELS" in message
    assert peak < 50_000_000


def test_large_jpeg_is_downsampled_while_decoding() -> None:
    from medboard.tools.imaging.raster import load_picture

    fundus = load_picture(TEST_DATA / "retina.jpg", max_pixels=600_000)  # 1411² ≈ 2 Mpx
    assert fundus.downsample == 2.0 and fundus.shape == (1, 706, 706, 3)
    assert fundus.frame(0).shape == (706, 706, 3)
    assert any("1/2 scale" in n for n in fundus.notes)


def test_large_jpeg_tile_patches_keep_source_coordinates(tmp_path: Path) -> None:
    from PIL import Image

    from medboard.tools.imaging.patches import load_tile

    he = Image.open(TEST_DATA / "he_carcinoma_tile.jpg").convert("RGB")
    slide = Image.new("RGB", (3600, 1800), (250, 250, 250))
    slide.paste(he.resize((1800, 1800)), (1800, 0))
    slide.save(tmp_path / "slide.jpg", quality=90)
    tile = load_tile(tmp_path / "slide.jpg", max_pixels=2_000_000)  # forces 1/2-scale decoding
    assert tile.downsample == 2.0
    # at half scale the grid is 896 px on 1800 × 900: tissue only in the right half
    assert tile.patch_origins == [(0, 1792)]
    assert np.asarray(tile.frame(0)).shape == (896, 896, 3)


def _pyramid_tiff(path: Path, full: np.ndarray, levels: int) -> Path:
    tifffile = pytest.importorskip("tifffile")
    with tifffile.TiffWriter(path) as tif:
        tif.write(full, tile=(256, 256), subifds=levels - 1, photometric="rgb")
        level = full
        for _ in range(levels - 1):
            level = level[::2, ::2]
            tif.write(level, tile=(256, 256), subfiletype=1, photometric="rgb")
    return path


def test_pyramidal_tiff_reads_the_largest_level_within_the_limit(tmp_path: Path) -> None:
    from PIL import Image

    he = np.asarray(Image.open(TEST_DATA / "he_carcinoma_tile.jpg").convert("RGB"))
    full = np.full((4096, 4096, 3), 246, np.uint8)
    full[:2000, 2048:4048] = np.asarray(Image.fromarray(he).resize((2000, 2000)))
    path = _pyramid_tiff(tmp_path / "slide.tif", full, levels=3)  # 4096², 2048², 1024²
    tile = load_image(path, patches=True)  # default limit: full level fits
    assert tile.downsample == 1.0 and len(tile.patch_origins or []) >= 4

    from medboard.tools.imaging.patches import load_tile

    reduced = load_tile(path, max_pixels=5_000_000)  # only the 2048² level fits
    assert reduced.downsample == 2.0
    # level grid: x in {0, 896}; tissue spans x 1024..2024 → the patch at 896, i.e. 1792 at full res
    assert reduced.patch_origins == [(0, 896 * 2)]
    with pytest.raises(ImageInputError, match=r"no pyramid level within the 1 Mpx limit"):
        load_tile(path, max_pixels=1_000_000)
