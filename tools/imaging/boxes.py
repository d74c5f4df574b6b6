"""Boxes between the model's padded square and the source frame.

An `EvidenceRef.box` is ``[y0, x0, y1, x1]`` normalised to 0–1000 on the **source frame** (rows for
y, columns for x), not on the padded square the model saw, so that anyone holding the original
frame can draw it without knowing the letterbox. MedGemma answers boxes on the padded 896-px image:
`map_box` maps them back through the frame's letterbox (`ImagePart.transform`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medboard.tools.imaging.layouts import ImagePart


def source_box(pixels: Sequence[float], rows: int, cols: int) -> tuple[int, int, int, int]:
    """Source pixel box ``(y0, x0, y1, x1)`` → 0–1000 normalised on the source frame."""
    y0, x0, y1, x1 = (float(v) for v in pixels)

    def norm(value: float, size: int) -> int:
        return min(1000, max(0, round(value / size * 1000))) if size else 0

    return norm(y0, rows), norm(x0, cols), norm(y1, rows), norm(x1, cols)


def box_pixels(box: Sequence[float], rows: int, cols: int) -> tuple[float, float, float, float]:
    """An `EvidenceRef.box` (0–1000 on the source frame) → source pixel coordinates."""
    y0, x0, y1, x1 = (float(v) for v in box)
    return y0 * rows / 1000, x0 * cols / 1000, y1 * rows / 1000, x1 * cols / 1000


def map_box(part: ImagePart, box: Sequence[int]) -> tuple[tuple[int, int, int, int] | None, str]:
    """A model box on the padded model image → (box on the source frame 0–1000, note with pixels)."""
    y0, x0, y1, x1 = box
    if y0 > y1 or x0 > x1:
        return None, f"model box {list(box)} discarded: not [y0, x0, y1, x1] with y0 <= y1 and x0 <= x1"
    py0, px0, py1, px1 = part.box_to_source(box)
    if py1 <= py0 or px1 <= px0:
        return None, f"model box {list(box)} discarded: it lies in the padding, outside the image"
    rows, cols = part.transform.source
    note = (
        f"box on source frame {part.frame} (pixels): y {py0:.0f}–{py1:.0f}, x {px0:.0f}–{px1:.0f} "
        f"of {rows}×{cols}; model box {list(box)} on the padded {part.transform.size}-px image"
    )
    return source_box((py0, px0, py1, px1), rows, cols), note
