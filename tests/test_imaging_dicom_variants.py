"""DICOM variants found by sweeping `medboard image info|frames` over every pydicom test file:
palette colour, files without a File Meta header, deflated datasets, pydicom's warnings, and the
transfer syntax named when no plugin decodes it. Real files from pydicom / pydicom-data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from medboard.cli.main import main
from medboard.errors import ImageInputError
from medboard.tools.imaging.load import load_image


def dicom_file(name: str) -> str:
    path = get_testdata_file(name)
    assert path is not None, f"{name} not in pydicom / pydicom-data"
    return str(path)


def palette_reference(path: str) -> np.ndarray:
    """RGB by indexing the header's (non-segmented) 16-bit LUTs with the stored values, in numpy."""
    ds = pydicom.dcmread(path)
    entries, first, _ = (int(v) for v in ds.RedPaletteColorLookupTableDescriptor)
    index = np.clip(ds.pixel_array.astype(np.int64) - first, 0, (entries or 65536) - 1)
    channels = []
    for colour in ("Red", "Green", "Blue"):
        lut = np.frombuffer(getattr(ds, f"{colour}PaletteColorLookupTableData"), dtype="<u2")
        channels.append(lut[index])
    return np.stack(channels, axis=-1).astype(np.float64) * (255.0 / 65535.0)


def test_palette_colour_image_is_the_looked_up_rgb_not_the_indices() -> None:
    path = dicom_file("examples_palette.dcm")
    series = load_image(path)
    assert series.shape[-1] == 3 and series.units == "uint8"
    frame = series.read_frames([0])[0]
    assert frame.shape == (350, 800, 3) and frame.dtype == np.uint8
    assert np.abs(frame.astype(np.float64) - palette_reference(path)).max() <= 0.5


def test_segmented_16_bit_palette_scales_to_8_bits() -> None:
    series = load_image(dicom_file("gdcm-US-ALOKA-16.dcm"))
    frame = series.read_frames([0])[0]
    assert frame.shape == (480, 640, 3)
    # A grey ultrasound with coloured annotations: most pixels grey, some not, nothing washed out.
    grey = (frame[..., 0] == frame[..., 1]) & (frame[..., 1] == frame[..., 2])
    assert 0.5 < grey.mean() < 1.0 and 100 < int(frame.max()) <= 255


def test_file_without_file_meta_header_reads_as_a_bare_dataset() -> None:
    """OT-PAL-8-face.dcm: no preamble, no 'DICM', no File Meta; a palette-colour image."""
    path = dicom_file("OT-PAL-8-face.dcm")
    with pytest.raises(pydicom.errors.InvalidDicomError):
        pydicom.dcmread(path)
    series = load_image(path)
    assert any("no DICOM File Meta header" in note for note in series.notes)
    frame = series.read_frames([0])[0]
    assert frame.shape == (480, 640, 3)
    colours = np.unique(frame.reshape(-1, 3), axis=0)
    assert len(colours) > 20 and (colours[:, 0] != colours[:, 1]).any()  # a colour photo, not greys


def test_bytes_without_an_image_are_still_not_dicom() -> None:
    for name in ("no_meta.dcm", "README.txt"):  # a bare dataset without pixels; a text file
        with pytest.raises(ImageInputError, match="not a DICOM file"):
            load_image(dicom_file(name))


def test_deflated_dataset_decodes() -> None:
    path = dicom_file("image_dfl.dcm")
    frame = load_image(path).read_frames([0])[0]
    expected = pydicom.dcmread(path).pixel_array
    assert frame.shape == expected.shape and frame.dtype == np.uint8
    # Display scaling is min-max; the image's structure is the stored one.
    assert np.array_equal(
        np.argsort(frame.ravel(), kind="stable"), np.argsort(expected.ravel(), kind="stable")
    )


def test_pydicom_warnings_do_not_leak_around_the_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """badVR.dcm has NumberOfFrames '1A': one clean line, exit 2, no UserWarning text."""
    path = dicom_file("badVR.dcm")
    assert main(["image", "frames", path, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("medboard: error: ") and path in err
    assert "Warning" not in err


def test_info_on_a_deflated_file_is_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", "info", dicom_file("image_dfl.dcm"), "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert json.loads(captured.out)[0]["shape"] == [1, 512, 512]


def test_undecodable_transfer_syntax_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """12-bit JPEG Extended: Pillow cannot decode it; the error says which syntax, not 'this'."""
    path = dicom_file("JPEG-lossy.dcm")
    assert main(["image", "frames", path, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "JPEG Extended" in err and "this transfer syntax" not in err


def test_palette_frames_cli_writes_colour_png(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["image", "frames", dicom_file("examples_palette.dcm"), "--out", str(out)]) == 0
    (png,) = sorted(out.glob("*.png"))
    with Image.open(png) as image:
        assert image.mode == "RGB" and image.size == (896, 896)
        pixels = np.asarray(image)
    assert not (
        np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 1], pixels[..., 2])
    )


def test_concurrent_decoding_leaves_the_warning_machinery_as_it_was() -> None:
    """Frames are decoded in worker threads; muting pydicom must not leak process-wide state."""
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    filters, showwarning = list(warnings.filters), warnings.showwarning
    names = ["image_dfl.dcm", "examples_palette.dcm", "MR_small.dcm", "CT_small.dcm"] * 4

    def frame(name: str) -> tuple[int, ...]:
        return load_image(dicom_file(name)).read_frames([0])[0].shape

    with ThreadPoolExecutor(max_workers=4) as pool:
        shapes = list(pool.map(frame, names))
    assert shapes[:4] == [(512, 512), (350, 800, 3), (64, 64), (128, 128)]
    assert warnings.filters == filters and warnings.showwarning is showwarning
