"""Image frames for the report, inline as ``data:image/png;base64,…`` (the file stands alone).

A frame the summary cites comes from the overlay PNG the run wrote in ``images/`` when there is one
(the key frames with the imaging reader's boxes), else it is drawn here from the case's own images
with the same boxes and numbers (`medboard.agents.imaging.overlays`). Every picture is scaled down
to at most `MAX_SIDE` pixels a side: a board reads a frame on a screen or a printed page, and a
2,500-pixel chest X-ray would make the report megabytes heavy for nothing.

Only medboard's pixels become data URIs here; nothing from the record or the summary becomes markup.
A hand-edited summary may cite ``image:../../x#frame=1``: an overlay is read only when its name is
a plain file name inside ``images/``.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medboard.errors import MedboardInputError

if TYPE_CHECKING:
    from medboard.agents.case import CaseInput
    from medboard.models import CaseSummary
    from medboard.tools.imaging import Box
    from medboard.tools.imaging.series import ImageSeries

log = logging.getLogger(__name__)

#: The longest side of any picture in the report, in pixels.
MAX_SIDE = 768


def png_data_uri(image: Any, max_side: int = MAX_SIDE) -> str:
    """A PIL image as a PNG data URI, scaled down (aspect kept) so no side exceeds `max_side`."""
    from PIL import Image

    picture = image.convert("RGB") if image.mode not in ("RGB", "L") else image.copy()
    if max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def overlay_name(series: str, frame: int) -> str:
    """The file name `save_overlays` gives a key frame."""
    return f"{series}-frame{frame}.png"


@dataclass
class FrameImages:
    """The frames a report shows, each rendered once (key images and evidence share one URI)."""

    summary: CaseSummary
    case: CaseInput
    images_dir: Path | None = None
    _uris: dict[tuple[str, int], str | None] = field(default_factory=dict)
    _problems: dict[tuple[str, int], str] = field(default_factory=dict)
    _series: dict[str, ImageSeries] | None = None
    _boxes: dict[tuple[str, int], list[Box]] | None = None

    def boxed_frames(self) -> list[tuple[str, int]]:
        """The key frames: every (series, frame) a finding's evidence draws a box on, in order."""
        seen: dict[tuple[str, int], None] = {}
        for finding in self.summary.findings:
            for ref in finding.evidence:
                if ref.box is not None and ref.series is not None and ref.frame is not None:
                    seen.setdefault((ref.series, ref.frame), None)
        return list(seen)

    def uri(self, series: str, frame: int) -> str | None:
        """The frame (with its boxes) as a data URI; None when it cannot be shown (see `problem`)."""
        key = (series, frame)
        if key not in self._uris:
            self._uris[key] = self._render(series, frame)
        return self._uris[key]

    def problem(self, series: str, frame: int) -> str | None:
        """Why `uri` returned None for this frame."""
        return self._problems.get((series, frame))

    def _render(self, series: str, frame: int) -> str | None:
        from_file = self._from_overlay_file(series, frame)
        if from_file is not None:
            return from_file
        loaded = self._loaded().get(series)
        if loaded is None:
            self._problems[(series, frame)] = "the series is not among this case's loaded images"
            return None
        if not 0 <= frame < loaded.frame_count:
            self._problems[(series, frame)] = (
                f"frame {frame} is outside the series (0–{loaded.frame_count - 1})"
            )
            return None
        from medboard.agents.imaging.overlays import render_overlay

        try:
            image = render_overlay(loaded, frame, self._frame_boxes().get((series, frame), []))
        except (MedboardInputError, OSError, ValueError, IndexError) as error:
            log.info("report: a frame could not be drawn (%s)", type(error).__name__)
            self._problems[(series, frame)] = "the frame could not be read"
            return None
        return png_data_uri(image)

    def _from_overlay_file(self, series: str, frame: int) -> str | None:
        if self.images_dir is None:
            return None
        name = overlay_name(series, frame)
        if "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
            return None
        path = self.images_dir / name
        if not path.is_file() or path.is_symlink():
            return None
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                image.load()
                return png_data_uri(image)
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
            return None

    def _loaded(self) -> dict[str, ImageSeries]:
        """The case's images, loaded on first need (most reports need none: overlays are on disk)."""
        if self._series is None:
            self._series = {}
            if self.case.images:
                from medboard.agents.images import load_case_images

                loaded = load_case_images(
                    list(self.case.images), self.case.record.facts, case_map=self.case.image_links
                )
                self._series = loaded.by_series()
        return self._series

    def _frame_boxes(self) -> dict[tuple[str, int], list[Box]]:
        if self._boxes is None:
            from medboard.agents.imaging.overlays import overlay_boxes

            self._boxes = overlay_boxes(self.summary.findings, self._loaded())
        return self._boxes
