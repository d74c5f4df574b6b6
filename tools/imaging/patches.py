"""Pathology tiles → non-overlapping 896-px tissue patches (MedGemma's whole-slide recipe).

Pure functions on arrays, composed by `load_tile`:

1. `tissue_mask`: tissue is coloured (stained) and not glass-bright. Saturation is thresholded with
   Otsu's method (between stained tissue and white background it is bimodal), brightness with a
   fixed ceiling; computed on a thumbnail, since the mask only has to rank patches.
2. `patch_grid`: non-overlapping ``size``-px patch origins; partial patches at the right/bottom
   edge are dropped (a picture smaller than one patch becomes one patch, padded later).
3. `tissue_fractions` → keep patches with at least ``min_tissue`` tissue.
4. `frames.sample_indices`: at most ``max_patches`` (125) of those, spread evenly in raster order, so the
   sample covers the whole tile deterministically.

Patch origins are kept in source (full-resolution) pixels; when the tile was down-sampled while
decoding (see `raster`), patches are cut at the decoded resolution (a lower magnification) and
the series' ``downsample`` says by how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medboard.errors import ImageInputError
from medboard.tools.imaging.frames import sample_indices
from medboard.tools.imaging.raster import decode_picture
from medboard.tools.imaging.series import ImageSeries, series_key

PATCH_SIZE = 896
MAX_PATCHES = 125


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a 1D sample (maximises between-class variance)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0 or values.min() == values.max():
        return float(values.min()) if values.size else 0.0
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight0 = np.cumsum(hist)
    weight1 = weight0[-1] - weight0
    sum0 = np.cumsum(hist * centres)
    mean0 = sum0 / np.maximum(weight0, 1)
    mean1 = (sum0[-1] - sum0) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    return float(centres[int(np.argmax(between[:-1]))])


def tissue_mask(rgb: np.ndarray, *, max_brightness: float = 0.9, min_saturation: float = 0.05) -> np.ndarray:
    """Boolean tissue mask of an RGB uint8 image (saturation > Otsu, brightness < ceiling)."""
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=-1)
    values = rgb.astype(np.float32) / 255.0
    high = values.max(axis=-1)
    low = values.min(axis=-1)
    saturation = np.where(high > 0, (high - low) / np.maximum(high, 1e-6), 0.0)
    threshold = max(otsu_threshold(saturation), min_saturation)
    return (saturation > threshold) & (high < max_brightness)


def patch_grid(height: int, width: int, size: int = PATCH_SIZE) -> list[tuple[int, int]]:
    """Top-left (y, x) of non-overlapping full patches; one patch when the image is smaller."""
    if height < size or width < size:
        return [(0, 0)]
    return [(y, x) for y in range(0, height - size + 1, size) for x in range(0, width - size + 1, size)]


def tissue_fractions(
    mask: np.ndarray, origins: Sequence[tuple[int, int]], size: int, mask_scale: float
) -> np.ndarray:
    """Fraction of tissue in each patch, from a mask ``mask_scale`` times smaller than the image."""
    out = np.empty(len(origins), np.float32)
    for n, (y, x) in enumerate(origins):
        y0, x0 = int(y / mask_scale), int(x / mask_scale)
        y1, x1 = max(y0 + 1, int((y + size) / mask_scale)), max(x0 + 1, int((x + size) / mask_scale))
        region = mask[y0:y1, x0:x1]
        out[n] = float(region.mean()) if region.size else 0.0
    return out


def choose_patches(
    mask: np.ndarray,
    mask_scale: float,
    height: int,
    width: int,
    *,
    size: int = PATCH_SIZE,
    max_patches: int = MAX_PATCHES,
    min_tissue: float = 0.25,
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Patch origins on a ``height`` × ``width`` image chosen by tissue content, and their fractions.

    ``mask`` is the tissue mask of a thumbnail ``mask_scale`` times smaller than the image.
    """
    origins = patch_grid(height, width, size)
    fractions = tissue_fractions(mask, origins, size, mask_scale)
    keep = [i for i, f in enumerate(fractions) if f >= min_tissue]
    chosen = [keep[i] for i in sample_indices(len(keep), max_patches)]
    return [origins[i] for i in chosen], fractions[chosen]


def load_tile(
    path: str | Path,
    *,
    series_id: str | None = None,
    size: int = PATCH_SIZE,
    max_patches: int = MAX_PATCHES,
    min_tissue: float = 0.25,
    max_pixels: int | None = None,
) -> ImageSeries:
    """A pathology tile (PNG/JPEG/TIFF) as a series whose frames are its sampled tissue patches."""
    path = Path(path)
    image, factor = decode_picture(path, max_pixels=max_pixels)
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    # Mask on a Pillow-reduced thumbnail; the full picture never becomes one numpy array.
    mask_scale = max(1, min(16, min(width, height) // 64))
    mask = tissue_mask(np.asarray(image.reduce(mask_scale) if mask_scale > 1 else image))
    origins, fractions = choose_patches(
        mask, float(mask_scale), height, width, size=size, max_patches=max_patches, min_tissue=min_tissue
    )
    if not origins:
        raise ImageInputError(
            f"no {size}-px patch has ≥{min_tissue:.0%} tissue (tile {width}×{height})", source=str(path)
        )
    side = min(size, height), min(size, width)
    held: dict[str, Any] = {"image": image}

    def read(indices: Sequence[int]) -> np.ndarray:
        out = np.empty((len(indices), side[0], side[1], 3), np.uint8)
        for n, i in enumerate(indices):
            y, x = origins[i]
            out[n] = np.asarray(held["image"].crop((x, y, x + side[1], y + side[0])))
        return out

    series = ImageSeries(
        id=series_id or series_key(path.stem),
        source=str(path),
        kind="patches",
        units="uint8",
        shape=(len(origins), side[0], side[1], 3),
        read_frames=read,
        modality="SM",
        patch_origins=[(int(y * factor), int(x * factor)) for y, x in origins],
        downsample=factor,
    )
    series.notes.append(
        f"{len(origins)} of {len(patch_grid(height, width, size))} patches kept "
        f"(tissue ≥ {min_tissue:.0%}, at most {max_patches}); mean tissue {float(np.mean(fractions)):.0%}"
    )
    if factor > 1:
        series.notes.append(f"tile decoded at 1/{factor:g} scale: patches are at lower magnification")
    return series
