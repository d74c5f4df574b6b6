"""Key frames as PNG with boxes drawn, for reports (Pillow only).

Boxes are the model's ``[y0, x0, y1, x1]`` on 0–1000 of the 896-px model image; they are mapped
back through the frame's `Letterbox` and drawn on the *source* frame, so the report shows the
original pixels, not the padded, resized copy the model saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medboard.tools.imaging.frames import Letterbox, square_transform, to_rgb


@dataclass(frozen=True)
class Box:
    """A model box (0–1000, ``[y0, x0, y1, x1]``) with an optional label."""

    box: tuple[float, float, float, float]
    label: str | None = None


def draw_boxes(
    frame: np.ndarray,
    boxes: Sequence[Box],
    transform: Letterbox | None = None,
    color: tuple[int, int, int] = (255, 64, 64),
    width: int | None = None,
) -> Any:
    """RGB PIL image of ``frame`` (uint8) with every box outlined (and labelled)."""
    from PIL import Image, ImageDraw

    rgb = to_rgb(np.asarray(frame, np.uint8))
    tf = transform or square_transform(rgb.shape[0], rgb.shape[1])
    image = Image.fromarray(rgb, mode="RGB")
    draw = ImageDraw.Draw(image)
    line = width or max(1, round(max(rgb.shape[:2]) / 300))
    for item in boxes:
        y0, x0, y1, x1 = tf.box_to_source(item.box)
        draw.rectangle([x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)], outline=color, width=line)
        if item.label:
            draw.text((x0 + line + 1, y0 + line + 1), item.label, fill=color)
    return image


def save_overlay(
    frame: np.ndarray, boxes: Sequence[Box], path: str | Path, transform: Letterbox | None = None
) -> Path:
    """Write the overlay as PNG; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_boxes(frame, boxes, transform).save(path, format="PNG")
    return path
