"""A label mask for an image volume, on the volume's grid: NRRD/NIfTI labels or a DICOM SEG.

One function, shared by `medboard image measure` and the imaging reader agent, so both refuse the
same things the same way: a mask whose shape or spacing differs from the image (measuring it
would give millimetres of another grid), a mask without spacing, a label that is not in it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medboard.errors import ImageInputError
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
        values = labels.array
    if spacing is None:
        raise ImageInputError("no voxel spacing in mask or image; cannot measure in mm", source=str(mask))
    return np.rint(values).astype(np.int64), spacing


def measure_mask_file(volume: ImageSeries, mask: str | Path, *, label: int | None = None) -> MaskMeasurement:
    """`measure_mask` of a mask file on ``volume``'s grid; a missing ``label`` is an input error."""
    values, spacing = mask_on_grid(volume, mask)
    if label is not None and not np.any(values == label):
        present = [int(v) for v in np.unique(values) if v != 0][:10]
        raise ImageInputError(f"label {label} not in mask (labels present: {present})", source=str(mask))
    return measure_mask(values, spacing, label=label)
