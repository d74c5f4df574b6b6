"""DICOM SEG → a label volume on the grid of the image series it segments.

A DICOM Segmentation stores one frame per (segment, plane): frame *i* belongs to segment
``SegmentIdentificationSequence[0].ReferencedSegmentNumber`` and lies at
``PlanePositionSequence[0].ImagePositionPatient``. Each frame is placed on the reference
series' slice at the same position along the slice normal (within half a slice spacing), so the
result indexes exactly like the image: ``labels[k]`` is the mask of ``series.frame(k)``.
Binary segmentations use the segment numbers as labels; fractional ones are thresholded at 50 %.
Overlapping segments: the higher segment number wins (measure one segment with ``label=``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medboard.errors import ImageInputError
from medboard.tools.imaging.deflated import dcmread
from medboard.tools.imaging.dicom import frame_group_item, slice_normal
from medboard.tools.imaging.guards import error_text
from medboard.tools.imaging.series import ImageSeries

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"


def is_dicom_seg(path: str | Path) -> bool:
    """True when the file is a DICOM Segmentation object (reads the header only)."""
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    if not path.is_file():
        return False
    try:
        ds = dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return False
    return str(ds.get("SOPClassUID", "")) == SEGMENTATION_STORAGE


def seg_to_labels(path: str | Path, reference: ImageSeries) -> tuple[np.ndarray, dict[int, str]]:
    """Label volume (frames, rows, cols) int16 aligned to ``reference``, and segment labels by number."""

    path = Path(path)
    try:
        ds = dcmread(path)
        frames = np.asarray(ds.pixel_array)
    except ImageInputError:
        raise
    except Exception as error:  # pydicom surfaces corrupt SEGs as many error types
        raise ImageInputError(f"unreadable DICOM SEG ({error_text(error)})", source=str(path)) from error
    if str(ds.get("SOPClassUID", "")) != SEGMENTATION_STORAGE:
        raise ImageInputError("not a DICOM Segmentation object", source=str(path))
    if frames.ndim == 2:
        frames = frames[None]
    rows, cols = frames.shape[1:3]
    if (rows, cols) != tuple(reference.shape[1:3]):
        raise ImageInputError(
            f"SEG frames are {rows}×{cols} but the image slices are "
            f"{reference.shape[1]}×{reference.shape[2]}",
            source=str(path),
        )
    if reference.positions is None or reference.orientation is None:
        raise ImageInputError(
            "the image series has no slice positions to align the SEG with", source=reference.source
        )
    normal = slice_normal(reference.orientation)
    ref_positions = np.asarray(reference.positions)
    tolerance = 0.5 * (reference.spacing[0] if reference.spacing else 1.0)
    fractional = str(ds.get("SegmentationType", "BINARY")) == "FRACTIONAL"
    threshold = 0.5 * float(ds.get("MaximumFractionalValue", 255) or 255)
    labels = np.zeros(reference.shape[:3], np.int16)
    for i in range(frames.shape[0]):
        segment = frame_group_item(ds, i, "SegmentIdentificationSequence")
        plane = frame_group_item(ds, i, "PlanePositionSequence")
        if segment is None or plane is None:
            raise ImageInputError(
                "SEG frame lacks segment identification or plane position",
                source=str(path),
                location=f"frame {i}",
            )
        along = float(np.dot(normal, [float(v) for v in plane.ImagePositionPatient]))
        k = int(np.argmin(np.abs(ref_positions - along)))
        if abs(ref_positions[k] - along) > tolerance:
            raise ImageInputError(
                f"SEG frame at {along:.2f} mm matches no slice of the image series",
                source=str(path),
                location=f"frame {i}",
            )
        on = frames[i] > threshold if fractional else frames[i] != 0
        labels[k][on] = np.maximum(labels[k][on], int(segment.ReferencedSegmentNumber))
    names = {int(s.SegmentNumber): str(s.get("SegmentLabel", "")) for s in ds.get("SegmentSequence", [])}
    return labels, names
