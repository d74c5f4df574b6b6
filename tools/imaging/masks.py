"""A label mask for an image volume, on the volume's grid: NRRD/NIfTI labels or a DICOM SEG.

One function, shared by `medboard image measure` and the imaging reader agent, so both refuse the
same things the same way: a mask whose shape or spacing differs from the image (measuring it
would give millimetres of another grid), a mask without spacing, a label that is not in it, and
values that are not labels (NaN, fractions, negatives, more distinct values than ``max_mask_labels``:
an image given as a mask). An empty mask, or one covering most of the image, is measured but flagged.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from medboard.errors import ImageInputError
from medboard.limits import limits
from medboard.tools.imaging.guards import ImageLimitError
from medboard.tools.imaging.measure import MaskMeasurement, measure_mask
from medboard.tools.imaging.series import ImageSeries


def mask_on_grid(volume: ImageSeries, mask: str | Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The mask as an integer label volume indexed like ``volume`` (``labels[k]`` ↔ frame k), and spacing."""
    from medboard.tools.imaging.load import load_image
    from medboard.tools.imaging.seg import is_dicom_seg, seg_to_labels

    if is_dicom_seg(mask):
        values, _ = seg_to_labels(mask, volume)
        spacing = volume.spacing
    else:
        labels = load_image(mask)
        if tuple(labels.shape[:3]) != tuple(volume.shape[:3]):
            raise ImageInputError(
                f"mask shape {labels.shape} does not match image shape {volume.shape}", source=str(mask)
            )
        spacing = labels.spacing or volume.spacing
        if volume.spacing and labels.spacing and not np.allclose(volume.spacing, labels.spacing, rtol=1e-3):
            raise ImageInputError(
                f"mask spacing {labels.spacing} differs from image spacing {volume.spacing}", source=str(mask)
            )
        if (
            volume.orientation
            and labels.orientation
            and not np.allclose(volume.orientation, labels.orientation, atol=1e-3)
        ):
            raise ImageInputError(
                "mask orientation differs from the image's: it is not on the image grid", source=str(mask)
            )
        values = _raw_values(labels, str(mask))
    if spacing is None:
        raise ImageInputError("no voxel spacing in mask or image; cannot measure in mm", source=str(mask))
    return check_label_values(values, str(mask)), spacing


def _raw_values(labels: ImageSeries, source: str) -> np.ndarray:
    """The stored values, with NaN/Inf still visible (frames() would replace them for display)."""
    raw = labels.read_frames(list(range(labels.frame_count)))
    if raw.dtype.kind == "f" and not np.all(np.isfinite(raw)):
        raise ImageInputError("mask holds NaN or infinite values: not a label mask", source=source)
    return raw


def check_label_values(values: np.ndarray, source: str) -> np.ndarray:
    """Integer labels ≥ 0, few distinct ones: what a segmentation is. Anything else is refused.

    An image given as its own mask (the MR volume measured as a 6 L "lesion") has fractional or
    thousands of distinct values; a probability map has fractions; both are refused with the rule.
    """
    array = np.asarray(values)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)):
            raise ImageInputError("mask holds NaN or infinite values: not a label mask", source=source)
        if not np.array_equal(array, np.rint(array)):
            raise ImageInputError(
                "mask holds non-integer values: not a label mask (a probability map or an image?)",
                source=source,
            )
    if array.dtype.kind not in "fiub":
        raise ImageInputError(f"mask of type {array.dtype} is not a label mask", source=source)
    if array.size and float(array.min()) < 0:
        raise ImageInputError("mask holds negative values: not a label mask", source=source)
    labels = np.unique(array)
    distinct = int(np.count_nonzero(labels))
    cap = limits().max_mask_labels
    if distinct > cap:
        raise ImageLimitError(
            f"mask has {distinct} distinct non-zero values: an image, not a label mask",
            "max_mask_labels",
            source=source,
        )
    return array.astype(np.int64)


def mask_flags(values: np.ndarray) -> list[str]:
    """What is odd about a valid mask and must be shown with its measurement."""
    selected = int(np.count_nonzero(values))
    if selected == 0:
        return ["mask is empty: no lesion voxels"]
    share = selected / values.size
    if share > 0.5:
        return [f"mask covers {share:.0%} of the image: check that it is a lesion mask, not an image"]
    return []


def measure_mask_file(volume: ImageSeries, mask: str | Path, *, label: int | None = None) -> MaskMeasurement:
    """`measure_mask` of a mask file on ``volume``'s grid; a missing ``label`` is an input error."""
    values, spacing = mask_on_grid(volume, mask)
    if label is not None and not np.any(values == label):
        present = [int(v) for v in np.unique(values) if v != 0][:10]
        raise ImageInputError(f"label {label} not in mask (labels present: {present})", source=str(mask))
    result = measure_mask(values, spacing, label=label)
    return replace(result, notes=tuple(mask_flags(values if label is None else values == label)))
