"""Model-ready frames: small pure functions on arrays (MedGemma's image recipes).

* `ct_rgb`: one HU slice → RGB of three windows (R −1024..1024 wide, G −135..215 soft tissue,
  B 0..80 brain), exactly Google's CT recipe;
* `sample_indices`: up to 85 frames, uniformly over the series, first and last included;
* `minmax_u8`: MRI per-volume min–max to 8 bit (one lo/hi for every frame, so relative intensity
  between slices survives);
* `letterbox`: pad to square (centred, black) then resize (bilinear, as the Gemma 3 image
  processor does) to 896 × 896, returning the
  `Letterbox` transform so a model box ``[y0, x0, y1, x1]`` on 0–1000 maps back to source pixels;
* `encode_image` / `data_uri`: PNG or JPEG bytes for an OpenAI-style ``image_url`` part.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

MODEL_SIZE = 896
MAX_SLICES = 85

#: (low, high) HU per RGB channel: wide/bone, soft tissue, brain.
CT_WINDOWS: tuple[tuple[float, float], tuple[float, float], tuple[float, float]] = (
    (-1024.0, 1024.0),
    (-135.0, 215.0),
    (0.0, 80.0),
)


def window(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Linear window [low, high] → 0..255 uint8, clipped."""
    scaled = (np.asarray(values, np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def ct_rgb(hu: np.ndarray, windows: Sequence[tuple[float, float]] = CT_WINDOWS) -> np.ndarray:
    """A 2D HU slice → (rows, cols, 3) uint8, one window per channel."""
    return np.stack([window(hu, lo, hi) for lo, hi in windows], axis=-1)


def sample_indices(count: int, limit: int = MAX_SLICES) -> list[int]:
    """Up to ``limit`` frame indices spread uniformly over ``range(count)`` (sorted, unique)."""
    if count <= 0:
        return []
    if count <= limit:
        return list(range(count))
    return sorted({round(i) for i in np.linspace(0, count - 1, limit)})


def minmax_u8(volume: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Min–max scale to 0..255 with one (lo, hi) for the whole array (a volume or its sample)."""
    values = np.asarray(volume, np.float32)
    lo = float(values.min()) if lo is None else lo
    hi = float(values.max()) if hi is None else hi
    if hi <= lo:
        return np.zeros(values.shape, np.uint8)
    return np.clip(np.round((values - lo) * np.float32(255.0 / (hi - lo))), 0, 255).astype(np.uint8)


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """Grey (rows, cols) uint8 → (rows, cols, 3); RGB passes through."""
    if frame.ndim == 2:
        return np.repeat(frame[..., None], 3, axis=-1)
    return frame


@dataclass(frozen=True)
class Letterbox:
    """How a source frame became the square model image: centred padding, then uniform scaling.

    ``source`` is (rows, cols) of the frame; ``pad`` the (top, left) black border added; ``side``
    the padded square's side; ``size`` the model image side (896).
    """

    source: tuple[int, int]
    pad: tuple[int, int]
    side: int
    size: int = MODEL_SIZE

    @property
    def scale(self) -> float:
        """Model pixels per source pixel."""
        return self.size / self.side

    def box_to_source(self, box: Sequence[float]) -> tuple[float, float, float, float]:
        """``[y0, x0, y1, x1]`` on 0–1000 of the model image → source pixel coordinates (clipped)."""
        y0, x0, y1, x1 = (float(v) * self.side / 1000.0 for v in box)
        top, left = self.pad
        rows, cols = self.source
        return (
            min(max(y0 - top, 0.0), rows),
            min(max(x0 - left, 0.0), cols),
            min(max(y1 - top, 0.0), rows),
            min(max(x1 - left, 0.0), cols),
        )

    def source_to_box(self, pixels: Sequence[float]) -> tuple[float, float, float, float]:
        """Source pixel box ``(y0, x0, y1, x1)`` → 0–1000 normalised on the model image."""
        y0, x0, y1, x1 = (float(v) for v in pixels)
        top, left = self.pad
        k = 1000.0 / self.side
        return ((y0 + top) * k, (x0 + left) * k, (y1 + top) * k, (x1 + left) * k)


def square_transform(rows: int, cols: int, size: int = MODEL_SIZE) -> Letterbox:
    side = max(rows, cols)
    return Letterbox(source=(rows, cols), pad=((side - rows) // 2, (side - cols) // 2), side=side, size=size)


def pad_to_square(frame: np.ndarray, fill: int = 0) -> tuple[np.ndarray, Letterbox]:
    """Centre the frame on a square black canvas (no resizing)."""
    rows, cols = frame.shape[:2]
    transform = square_transform(rows, cols)
    canvas = np.full((transform.side, transform.side, *frame.shape[2:]), fill, dtype=frame.dtype)
    top, left = transform.pad
    canvas[top : top + rows, left : left + cols] = frame
    return canvas, transform


def letterbox(frame: np.ndarray, size: int = MODEL_SIZE) -> tuple[Any, Letterbox]:
    """uint8 grey/RGB frame → square ``size`` × ``size`` RGB PIL image and its transform."""
    from PIL import Image

    rgb = to_rgb(np.asarray(frame, np.uint8))
    rows, cols = rgb.shape[:2]
    transform = square_transform(rows, cols, size)
    if transform.side > MAX_PADDED_SIDE:  # never build a huge square canvas: scale first, then pad
        return _scaled_then_padded(rgb, transform), transform
    square, transform = pad_to_square(rgb)
    image = Image.fromarray(square, mode="RGB")
    if transform.side != size:
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return image, Letterbox(transform.source, transform.pad, transform.side, size)


#: Above this side the padded square is not materialised (a 20000 × 400 frame would make a
#: 20000² canvas, 1.2 GB as RGB): the frame is resized and placed on the model-size canvas.
MAX_PADDED_SIDE = 8192


def _scaled_then_padded(rgb: np.ndarray, transform: Letterbox) -> Any:
    """The same letterbox (same `Letterbox` mapping) built at model size: memory ~ the frame."""
    from PIL import Image

    rows, cols = transform.source
    k = transform.scale
    width, height = max(1, round(cols * k)), max(1, round(rows * k))
    canvas = Image.new("RGB", (transform.size, transform.size))
    resized = Image.fromarray(rgb, mode="RGB").resize((width, height), Image.Resampling.BILINEAR)
    canvas.paste(resized, (round(transform.pad[1] * k), round(transform.pad[0] * k)))
    return canvas


ImageFormat = Literal["png", "jpeg"]


def encode_image(image: Any, fmt: ImageFormat = "png", quality: int = 95) -> bytes:
    """PIL image → PNG (lossless) or JPEG bytes."""
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def data_uri(data: bytes, fmt: ImageFormat = "png") -> str:
    """``data:image/...;base64,...`` for an OpenAI-compatible ``image_url`` part."""
    return f"data:image/{fmt};base64,{base64.b64encode(data).decode('ascii')}"
