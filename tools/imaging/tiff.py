"""TIFF (incl. BigTIFF, pyramidal / tiled whole-slide TIFF) through tifffile, one pyramid level only.

Whole-slide images are stored as a pyramid: full resolution (e.g. 40X) plus down-sampled levels.
MedGemma's pathology recipe works at about 10X, and a full-resolution level does not fit in
memory, so the largest level within ``max_pixels`` is read (and only that level), and the
series records the down-sampling factor. A TIFF without a level small enough is refused with
the sizes in the message. Compressed TIFFs whose codec tifffile lacks (JPEG, JPEG 2000 inside
SVS files need the ``imagecodecs`` package) get an error naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medboard.errors import ImageInputError
from medboard.tools.imaging.guards import error_text

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def is_tiff(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) in TIFF_MAGIC


def _plane_shape(shape: tuple[int, ...], axes: str) -> tuple[int, int]:
    return int(shape[axes.index("Y")]), int(shape[axes.index("X")])


def _to_picture(array: np.ndarray, axes: str, path: Path) -> np.ndarray:
    """A level's array → (rows, cols) or (rows, cols, 3) with the other axes at index 0."""
    keep = [a for a in axes if a in "YXS"]
    index = tuple(slice(None) if a in keep else 0 for a in axes)
    picture = array[index]
    if "S" in keep and keep.index("S") == 0:
        picture = np.moveaxis(picture, 0, -1)
    if picture.ndim == 3:
        if picture.shape[-1] not in (3, 4):
            raise ImageInputError(f"TIFF with {picture.shape[-1]} samples per pixel", source=str(path))
        picture = picture[..., :3]
    if picture.dtype != np.uint8:
        values = picture.astype(np.float32)
        lo, hi = float(values.min()), float(values.max())
        picture = (
            np.round((values - lo) * (255.0 / (hi - lo))).astype(np.uint8)
            if hi > lo
            else (np.zeros(values.shape, np.uint8))
        )
    return np.ascontiguousarray(picture)


def decode_tiff(path: Path, *, max_pixels: int) -> tuple[Any, float]:
    """The largest pyramid level within ``max_pixels`` as a Pillow image, and its down-sampling."""
    import tifffile
    from PIL import Image

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            levels = list(series.levels) or [series]
            full_rows, full_cols = _plane_shape(levels[0].shape, levels[0].axes)
            chosen = next(
                (lv for lv in levels if np.prod(_plane_shape(lv.shape, lv.axes)) <= max_pixels), None
            )
            if chosen is None:
                sizes = ", ".join("{1}×{0}".format(*_plane_shape(lv.shape, lv.axes)) for lv in levels)
                raise ImageInputError(
                    f"TIFF of {full_cols}×{full_rows} has no pyramid level within the "
                    f"{max_pixels / 1e6:.0f} Mpx limit (levels: {sizes}); save it with a pyramid "
                    "or raise max_pixels",
                    source=str(path),
                )
            array = chosen.asarray()
            axes = chosen.axes
    except ImageInputError:
        raise
    except (ValueError, KeyError, NotImplementedError) as error:
        needs_codecs = "imagecodecs" in str(error)
        hint = " (install the 'imagecodecs' package for this compression)" if needs_codecs else ""
        raise ImageInputError(f"cannot decode TIFF: {error_text(error)}{hint}", source=str(path)) from error
    except (OSError, tifffile.TiffFileError) as error:
        raise ImageInputError(
            f"unreadable or truncated TIFF ({error_text(error)})", source=str(path)
        ) from error
    picture = _to_picture(array, axes, path)
    factor = full_cols / picture.shape[1]
    return Image.fromarray(picture), factor
