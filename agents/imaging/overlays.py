"""Key frames with the imaging reader's boxes drawn, for the report (PNG, one per frame)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from medboard.models import Finding
from medboard.tools.imaging import Box, ImageSeries, ct_rgb, minmax_u8, save_overlay
from medboard.tools.imaging.boxes import box_pixels
from medboard.tools.imaging.frames import square_transform


def display_frame(series: ImageSeries, frame: int) -> Any:
    """A frame as the report shows it: CT in the three windows the model saw, others 8-bit."""
    pixels = series.frame(frame)
    if series.units == "HU":
        return ct_rgb(pixels)
    return pixels if series.units == "uint8" else minmax_u8(pixels)


def save_overlays(
    findings: Iterable[Finding], series: Mapping[str, ImageSeries], out_dir: str | Path
) -> list[Path]:
    """Key frames with every boxed finding drawn (PNG, one per frame), for the report.

    Boxes are read as `EvidenceRef.box` on the source frame (0–1000) and drawn on the source pixels.
    """
    frames: dict[tuple[str, int], list[Box]] = defaultdict(list)
    for number, finding in enumerate(findings, start=1):
        for ref in finding.evidence:
            if ref.box is None or ref.series is None or ref.series not in series or ref.frame is None:
                continue
            shape = series[ref.series].shape
            transform = square_transform(shape[1], shape[2])
            padded = transform.source_to_box(box_pixels(ref.box, shape[1], shape[2]))
            frames[(ref.series, ref.frame)].append(Box(padded, label=str(number)))
    written = []
    for (series_id, frame), boxes in sorted(frames.items()):
        path = Path(out_dir) / f"{series_id}-frame{frame}.png"
        written.append(save_overlay(display_frame(series[series_id], frame), boxes, path))
    return written
