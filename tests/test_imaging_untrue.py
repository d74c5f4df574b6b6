"""Data that cannot be true: refused, or flagged where a reader will see it — never used silently.

* slices at one position (repeated acquisitions) are not a volume: no slice spacing is invented
  from SliceThickness, the series says why, and a measurement in mm is refused;
* NaN / infinite / zero / negative spacing is "unknown" (noted), never printed as "1×inf×1 mm";
* NaN / Inf voxels never reach a frame or a measurement: replaced and flagged on the series;
* a mask that is not a mask (the image itself, fractions, negatives, NaN, another orientation) is
  refused; an empty mask or one covering most of the image is measured but flagged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from imaging_support import BRAIN_IMAGE, BRAIN_LABEL, write_dicom_series, write_nrrd_variant

from medboard.agents.images import load_case_images
from medboard.agents.imaging.core import deterministic_findings, image_problems
from medboard.cli.main import main
from medboard.errors import ImageInputError
from medboard.limits import limits
from medboard.tools.imaging.guards import ImageLimitError
from medboard.tools.imaging.layouts import mri_layout
from medboard.tools.imaging.load import load_image
from medboard.tools.imaging.masks import measure_mask_file


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    limits.cache_clear()


def _restack(folder: Path, positions: list[float]) -> None:
    """Move the written slices to the given z positions (in file-name order)."""
    for path, z in zip(sorted(folder.iterdir()), positions, strict=True):
        ds = pydicom.dcmread(path)
        ds.ImagePositionPatient = [0.0, 0.0, z]
        ds.save_as(path)


def _series_notes(folder: Path) -> list[str]:
    images = load_case_images([{"path": str(folder), "recipe": "ct"}], [])
    assert not images.failures, images.failures
    [finding] = [f for f in deterministic_findings([], images) if "image-series" in f.tags]
    return finding.notes


def test_six_slices_at_one_position_are_not_a_4mm_volume(tmp_path: Path) -> None:
    write_dicom_series(tmp_path / "ct", 6, 16, 16, spacing=4.0)
    _restack(tmp_path / "ct", [10.0] * 6)
    series = load_image(tmp_path / "ct")
    assert series.spacing is None
    assert any("share a position" in n and "1 distinct positions for 6 slices" in n for n in series.notes)
    notes = _series_notes(tmp_path / "ct")
    assert any("share a position" in n for n in notes)  # visible in the summary's imaging section
    mask = tmp_path / "mask.nrrd"
    import nrrd

    nrrd.write(str(mask), np.ones((16, 16, 6), np.uint8))
    with pytest.raises(ImageInputError, match="no voxel spacing"):
        measure_mask_file(series, mask)


def test_some_duplicated_positions_are_flagged(tmp_path: Path) -> None:
    write_dicom_series(tmp_path / "ct", 6, 16, 16, spacing=2.0, shuffle_names=False)
    _restack(tmp_path / "ct", [0.0, 2.0, 4.0, 4.0, 6.0, 8.0])
    series = load_image(tmp_path / "ct")
    assert series.spacing is None and any("5 distinct positions for 6 slices" in n for n in series.notes)
    _restack(tmp_path / "ct", [0.0, 2.0, 4.0, 6.0, 8.0, 10.0])
    assert load_image(tmp_path / "ct").spacing == pytest.approx((2.0, 0.5, 0.5))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("space directions", "(nan,0,0) (0,-0.78125,0) (0,0,6.5)"),
        ("space directions", "(0.78125,0,0) (0,inf,0) (0,0,6.5)"),
        ("space directions", "(0.78125,0,0) (0,-0.78125,0) (0,0,0)"),
    ],
)
def test_unusable_nrrd_spacing_is_unknown_and_noted(
    field: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_nrrd_variant(tmp_path / "odd.nrrd", {field: value})
    series = load_image(path)
    assert series.spacing is None
    assert any("not usable" in n for n in series.notes)
    assert main(["image", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "spacing unknown" in out and "inf" not in out.split("spacing")[1].split("\n")[0]
    import nrrd

    bare = tmp_path / "bare_mask.nrrd"  # a mask without any spacing of its own
    nrrd.write(str(bare), np.ones((256, 256, 25), np.uint8))
    with pytest.raises(ImageInputError, match="no voxel spacing"):
        measure_mask_file(series, bare)


@pytest.mark.parametrize("spacings", ["0.8 0 6.5", "0.8 nan 6.5", "inf 0.8 6.5"])
def test_unusable_nrrd_spacings_field(spacings: str, tmp_path: Path) -> None:
    path = write_nrrd_variant(
        tmp_path / "odd.nrrd",
        {"space directions": None, "space": None, "space origin": None, "spacings": spacings},
    )
    series = load_image(path)
    assert series.spacing is None and any("not usable" in n for n in series.notes)


def test_nrrd_without_any_spacing_is_unknown_not_1mm(tmp_path: Path) -> None:
    path = write_nrrd_variant(
        tmp_path / "bare.nrrd", {"space directions": None, "space": None, "space origin": None}
    )
    series = load_image(path)
    assert series.spacing is None and any("voxel spacing unknown" in n for n in series.notes)


def _float_nrrd_with_nan(path: Path) -> Path:
    import nrrd

    data, header = nrrd.read(str(BRAIN_IMAGE))
    values = data.astype(np.float32)
    values[100:110, 100:110, 12] = np.nan
    values[0, 0, 3] = np.inf
    nrrd.write(str(path), values, {k: header[k] for k in ("space", "space directions", "space origin")})
    return path


def test_nan_voxels_are_flagged_at_load_and_never_reach_frames(tmp_path: Path) -> None:
    series = load_image(_float_nrrd_with_nan(tmp_path / "nan.nrrd"))
    assert any("101 non-finite voxel values" in n for n in series.notes)  # flagged before any frame
    frames = series.frames([3, 12])
    assert np.isfinite(frames).all()
    layout = mri_layout(series)
    for part in layout.images:
        pixels = np.asarray(part.image)
        assert pixels.std() > 0  # a real picture, not a NaN-scaled black frame
    notes = _series_notes(tmp_path / "nan.nrrd")
    assert any("non-finite voxel values" in n for n in notes)


def test_nan_rescale_slope_is_refused(tmp_path: Path) -> None:
    write_dicom_series(tmp_path / "ct", 3, 8, 8)
    first = sorted((tmp_path / "ct").iterdir())[0]
    ds = pydicom.dcmread(first)
    with pytest.warns(UserWarning):
        ds.RescaleSlope = "NaN"
    ds.save_as(first)
    series = load_image(tmp_path / "ct")
    with pytest.raises(ImageInputError, match="RescaleSlope/RescaleIntercept is not a usable number"):
        series.frames(range(3))


# ------------------------------------------------------------------------------------ masks


def _mask_error(capsys: pytest.CaptureFixture[str], image: Path, mask: Path) -> str:
    code = main(["image", "measure", str(image), "--mask", str(mask)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    return err[0]


def test_the_image_as_its_own_mask_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    line = _mask_error(capsys, BRAIN_IMAGE, BRAIN_IMAGE)
    assert "brain1_image.nrrd" in line and "max_mask_labels" in line and "MEDBOARD_MAX_MASK_LABELS" in line
    with pytest.raises(ImageLimitError):
        measure_mask_file(load_image(BRAIN_IMAGE), BRAIN_IMAGE)


def _label_variant(path: Path, transform) -> Path:  # type: ignore[no-untyped-def]
    import nrrd

    data, header = nrrd.read(str(BRAIN_LABEL))
    nrrd.write(str(path), transform(data.astype(np.float32)), header)
    return path


@pytest.mark.parametrize(
    ("name", "transform", "expected"),
    [
        ("fraction.nrrd", lambda d: d * 0.6, "non-integer values"),
        ("negative.nrrd", lambda d: d - 1, "negative values"),
        ("nan.nrrd", lambda d: np.where(d > 0, np.nan, 0).astype(np.float32), "NaN or infinite"),
    ],
)
def test_masks_that_are_not_label_masks(
    name: str, transform, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    mask = _label_variant(tmp_path / name, transform)
    line = _mask_error(capsys, BRAIN_IMAGE, mask)
    assert name in line and expected in line


def test_mask_with_another_orientation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mask = write_nrrd_variant(
        tmp_path / "turned.nrrd",
        {"space directions": "(0,0.78125,0) (-0.78125,0,0) (0,0,6.5)"},
        source=BRAIN_LABEL,
    )
    line = _mask_error(capsys, BRAIN_IMAGE, mask)
    assert "turned.nrrd" in line and "orientation" in line


def test_empty_and_huge_masks_are_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = _label_variant(tmp_path / "empty.nrrd", lambda d: d * 0)
    assert main(["image", "measure", str(BRAIN_IMAGE), "--mask", str(empty)]) == 0
    assert "note: mask is empty" in capsys.readouterr().out
    full = _label_variant(tmp_path / "full.nrrd", lambda d: np.ones_like(d))
    result = measure_mask_file(load_image(BRAIN_IMAGE), full)
    assert result.voxels == 256 * 256 * 25 and any("covers 100% of the image" in n for n in result.notes)
    images = load_case_images([{"path": str(BRAIN_IMAGE), "mask": str(full)}], [])
    [measured] = [f for f in deterministic_findings([], images) if "measurement" in f.tags]
    assert any("covers 100%" in n for n in measured.notes)


def test_real_label_mask_still_measures() -> None:
    result = measure_mask_file(load_image(BRAIN_IMAGE), BRAIN_LABEL)
    assert result.voxels == 4137 and result.notes == ()


def test_image_as_mask_degrades_the_case_imaging_visibly() -> None:
    images = load_case_images([{"path": str(BRAIN_IMAGE), "mask": str(BRAIN_IMAGE)}], [])
    [image] = images.images
    assert image.measurement is None and image.mask_error is not None
    assert "max_mask_labels" in image.mask_error
    assert not [f for f in deterministic_findings([], images) if "measurement" in f.tags]
    assert any("max_mask_labels" in p for p in image_problems(images))  # the section says why
