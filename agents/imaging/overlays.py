"""Key frames with the imaging reader's boxes drawn, for the report (PNG, one per frame).

`overlay_boxes` says which frames carry boxes and which (numbered by the finding they come from);
`render_overlay` draws them on the frame in memory; `save_overlays` writes every boxed frame as a
PNG next to the summary. The HTML report (`medboard.report.html`) draws the same frames with the
same numbers when the run wrote no PNGs, so both show one picture.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from medboard.models import Finding
from medboard.tools.imaging import Box, ImageSeries, ct_rgb, draw_boxes, minmax_u8, save_overlay
from medboard.tools.imaging.boxes import box_pixels
from medboard.tools.imaging.frames import square_transform


def display_frame(series: ImageSeries, frame: int) -> Any:
    """A frame as the report shows it: CT in the three windows the model saw, others 8-bit."""
    pixels = series.frame(frame)
    if series.units == "HU":
        return ct_rgb(pixels)
    return pixels if series.units == "uint8" else minmax_u8(pixels)


def overlay_boxes(
    findings: Iterable[Finding], series: Mapping[str, ImageSeries]
) -> dict[tuple[str, int], list[Box]]:
    """Every boxed frame of a loaded series → its boxes, each labelled with its finding's number
    (1-based position in `findings`). Boxes are read as `EvidenceRef.box` on the source frame
    (0–1000) and expressed on the padded square `draw_boxes` maps back from."""
    frames: dict[tuple[str, int], list[Box]] = defaultdict(list)
    for number, finding in enumerate(findings, start=1):
        for ref in finding.evidence:
            if ref.box is None or ref.series is None or ref.series not in series or ref.frame is None:
                continue
            shape = series[ref.series].shape
            transform = square_transform(shape[1], shape[2])
            padded = transform.source_to_box(box_pixels(ref.box, shape[1], shape[2]))
            frames[(ref.series, ref.frame)].append(Box(padded, label=str(number)))
    return dict(frames)


def render_overlay(series: ImageSeries, frame: int, boxes: Sequence[Box] = ()) -> Any:
    """The frame as an RGB PIL image with `boxes` drawn (none: the plain frame)."""
    return draw_boxes(display_frame(series, frame), boxes)


def save_overlays(
    findings: Iterable[Finding], series: Mapping[str, ImageSeries], out_dir: str | Path
) -> list[Path]:
    """Key frames with every boxed finding drawn (PNG, one per frame, ``<series>-frame<i>.png``)."""
    written = []
    for (series_id, frame), boxes in sorted(overlay_boxes(findings, series).items()):
        path = Path(out_dir) / f"{series_id}-frame{frame}.png"
        written.append(save_overlay(display_frame(series[series_id], frame), boxes, path))
    return written
