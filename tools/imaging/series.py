"""`ImageSeries`: one loaded image series, with its metadata and lazy access to its frames.

Every loader (DICOM, NRRD/NIfTI, PNG/JPEG, pathology tiles) returns this one shape, so the frame
recipes and the request layouts never care where pixels came from. Pixel data is read through a
`FrameReader` callback that takes frame indices: a 2,000-slice series holds only its headers until
a recipe asks for the (at most 85) frames it samples, and only those are decoded.

Array conventions (so downstream pure functions can rely on them):

* frames are indexed along axis 0 in display order (DICOM: sorted along the slice normal, then
  InstanceNumber; NRRD/NIfTI: the last voxel axis);
* ``units == "HU"``: float32 Hounsfield units (CT after rescale slope/intercept);
* ``units == "raw"``: float32 stored values after any rescale (MR, NRRD, NIfTI);
* no frame holds NaN/Inf: they are replaced by the finite extremes and noted (see `guards`);
* ``units == "uint8"``: display-ready 8-bit (VOI LUT applied, MONOCHROME1 inverted; PNG/JPEG),
  grey ``(n, rows, cols)`` or colour ``(n, rows, cols, 3)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from medboard.models.evidence import image_ref
from medboard.tools.imaging.guards import as_input_error, finite_frames

Units = Literal["HU", "raw", "uint8"]
SeriesKind = Literal["volume", "image", "patches"]

#: Reads the frames at the given indices (display order) as one array, axis 0 = frames.
FrameReader = Callable[[Sequence[int]], np.ndarray]

_UNSAFE = re.compile(r"[^A-Za-z0-9._\-]+")


def series_key(text: str) -> str:
    """A series id usable inside ``image:<series>#frame=i`` (no ``#``, no whitespace)."""
    key = _UNSAFE.sub("-", text).strip("-")
    return key or "series"


@dataclass
class ImageSeries:
    """One series (a DICOM series, a volume file, a 2D picture or a set of pathology patches).

    ``spacing`` is ``(between frames, row, column)`` in mm (``None`` where unknown, e.g. PNG);
    ``orientation`` the DICOM ImageOrientationPatient (row and column direction cosines) or the
    first two columns of a NRRD/NIfTI direction matrix. ``positions`` are the frames' positions
    along the slice normal (mm), when known: `medboard image info` prints them as the slice order.
    """

    id: str
    source: str
    kind: SeriesKind
    units: Units
    shape: tuple[int, ...]
    read_frames: FrameReader = field(repr=False)
    modality: str | None = None
    body_part: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    study_date: str | None = None
    series_date: str | None = None
    description: str | None = None
    spacing: tuple[float, float, float] | None = None
    orientation: tuple[float, ...] | None = None
    positions: list[float] | None = None
    instance_numbers: list[int | None] | None = None
    files: list[str] | None = field(default=None, repr=False)
    # Pathology: top-left (y, x) of each patch in the source tile, at full resolution.
    patch_origins: list[tuple[int, int]] | None = None
    #: Source pixels per stored pixel (>1 when a too-large picture was deliberately down-sampled).
    downsample: float = 1.0
    notes: list[str] = field(default_factory=list)
    _cache: np.ndarray | None = field(default=None, repr=False)

    @property
    def frame_count(self) -> int:
        return self.shape[0]

    @property
    def is_volume(self) -> bool:
        return self.kind == "volume"

    @property
    def is_color(self) -> bool:
        return len(self.shape) == 4 and self.shape[-1] == 3

    def frames(self, indices: Sequence[int]) -> np.ndarray:
        """Only the requested frames (display order), decoded now; nothing else is read."""
        picked = [int(i) for i in indices]
        for i in picked:
            if not 0 <= i < self.frame_count:
                raise IndexError(f"frame {i} outside 0..{self.frame_count - 1} of series {self.id}")
        if self._cache is not None:
            return self._cache[picked]
        return finite_frames(self._read(picked), self.notes, self.source)

    def _read(self, indices: list[int]) -> np.ndarray:
        """`read_frames`, with whatever a decoder raises on corrupt data as one `ImageInputError`."""
        try:
            return self.read_frames(indices)
        except Exception as error:
            raise as_input_error(error, self.source, "pixel data") from None

    def frame(self, index: int) -> np.ndarray:
        return self.frames([index])[0]

    @property
    def array(self) -> np.ndarray:
        """The whole series (read once, then cached). Prefer `frames()` for large series."""
        if self._cache is None:
            self._cache = finite_frames(self._read(list(range(self.frame_count))), self.notes, self.source)
        return self._cache

    def ref(self, frame: int) -> str:
        """Evidence locator of one frame: ``image:<id>#frame=<i>``."""
        return image_ref(self.id, frame)

    def describe(self) -> dict[str, object]:
        """Metadata only (no pixels): what `medboard image info` prints and the agent can cite."""
        return {
            "id": self.id,
            "source": self.source,
            "kind": self.kind,
            "modality": self.modality,
            "body_part": self.body_part,
            "study_uid": self.study_uid,
            "series_uid": self.series_uid,
            "study_date": self.study_date,
            "series_date": self.series_date,
            "description": self.description,
            "shape": list(self.shape),
            "frame_count": self.frame_count,
            "units": self.units,
            "spacing_mm": list(self.spacing) if self.spacing else None,
            "orientation": list(self.orientation) if self.orientation else None,
            "downsample": self.downsample,
            "notes": list(self.notes),
        }
