"""PNG / JPEG / TIFF pictures → 8-bit arrays, with a deliberate size limit.

Pillow refuses pictures above ~179 Mpx (its decompression-bomb guard) and warns above ~89 Mpx.
medboard replaces that guard with its own explicit limit, ``max_pixels`` (default 150 Mpx, about
450 MB as RGB — a 10,000 × 10,000 pathology tile fits):

* a JPEG above the limit is decoded at 1/2, 1/4 or 1/8 scale by libjpeg itself (Pillow's
  ``draft``), so the full-resolution picture is never in memory; the series records the
  ``downsample`` factor, and patch origins stay in full-resolution coordinates;
* a TIFF is read through tifffile: the largest pyramid level within the limit (see `tiff`);
* any other picture above the limit (e.g. a 30,000 px PNG, which cannot be decoded partially)
  raises `ImageInputError` naming the file, its size and the limit — nothing is decoded.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medboard.errors import ImageInputError
from medboard.limits import limits
from medboard.tools.imaging.guards import ImageLimitError, check_declared, error_text
from medboard.tools.imaging.series import ImageSeries, series_key

#: The default of ``max_pixels`` (`medboard.limits`; ``MEDBOARD_MAX_PIXELS`` changes it).
DEFAULT_MAX_PIXELS = 150_000_000

_JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass(frozen=True)
class PictureInfo:
    width: int
    height: int
    mode: str
    format: str | None


def _open(path: Path) -> Any:
    """Open lazily (header only), without Pillow's global decompression-bomb guard.

    The guard is a process-wide setting; instead the caller checks `max_pixels` before decoding.
    For JPEG the plugin class is used directly, which reads the header and nothing else.
    """
    from PIL import Image, JpegImagePlugin, UnidentifiedImageError

    try:
        with path.open("rb") as fh:
            magic = fh.read(3)
        if magic == _JPEG_MAGIC:
            return JpegImagePlugin.JpegImageFile(str(path))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError:
        raise ImageLimitError(
            f"picture declares more than {2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels (only JPEG can be "
            "down-sampled while decoding; convert it to JPEG or tile it)",
            "max_pixels",
            source=str(path),
        ) from None
    except (UnidentifiedImageError, SyntaxError) as error:
        raise ImageInputError(f"not a readable picture ({error_text(error)})", source=str(path)) from error
    except OSError as error:
        raise ImageInputError(f"cannot open picture ({error_text(error)})", source=str(path)) from error


def _use_tifffile(path: Path) -> bool:
    """TIFFs go through tifffile (pyramid levels, BigTIFF) when it is installed."""
    from importlib.util import find_spec

    from medboard.tools.imaging.tiff import is_tiff

    return is_tiff(path) and find_spec("tifffile") is not None


def picture_info(path: str | Path) -> PictureInfo:
    image = _open(Path(path))
    return PictureInfo(width=image.size[0], height=image.size[1], mode=image.mode, format=image.format)


#: Fewest pixels one byte of JPEG data can carry. Every 8×8 block costs at least one bit of DC
#: code even in a blank progressive JPEG (EOB runs cover the AC scans), so a file needs at least
#: ``pixels / 512`` bytes; 1024 leaves a factor-2 margin. A header claiming more is a lie: libjpeg
#: would "decode" it by padding grey, at up to 1/8 scale of an absurd size.
MAX_JPEG_PIXELS_PER_BYTE = 1024


def check_jpeg_plausible(path: Path, width: int, height: int) -> None:
    """Refuse a JPEG whose header declares more pixels than its bytes can hold (a forged SOF)."""
    size = path.stat().st_size
    if width * height > size * MAX_JPEG_PIXELS_PER_BYTE:
        raise ImageInputError(
            f"JPEG header declares {width}×{height} pixels but the file holds only {size} bytes "
            f"(at least {width * height // MAX_JPEG_PIXELS_PER_BYTE} are needed): the header does not "
            "describe this file",
            source=str(path),
        )


def draft_scale(width: int, height: int, max_pixels: int) -> int:
    """Smallest JPEG decode scale (1, 2, 4, 8) that brings the picture under ``max_pixels``."""
    for scale in (1, 2, 4, 8):
        if (width // scale) * (height // scale) <= max_pixels:
            return scale
    return 0


def to_uint8(image: Any) -> np.ndarray:
    """A decoded Pillow image → uint8 grey (rows, cols) or RGB (rows, cols, 3)."""
    if image.mode in ("L", "RGB"):
        return np.asarray(image, dtype=np.uint8)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float32)
        lo, hi = float(values.min()), float(values.max())
        scaled = (values - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(values)
        return np.round(scaled).astype(np.uint8)
    if image.mode in ("1", "LA"):
        return np.asarray(image.convert("L"), dtype=np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def decode_picture(path: str | Path, *, max_pixels: int | None = None) -> tuple[Any, float]:
    """Decode a picture within ``max_pixels``; returns (loaded Pillow image, down-sampling factor)."""
    path = Path(path)
    max_pixels = max_pixels or limits().max_pixels
    if _use_tifffile(path):
        from medboard.tools.imaging.tiff import decode_tiff

        return decode_tiff(path, max_pixels=max_pixels)
    image = _open(path)
    width, height = image.size
    factor = 1.0
    if image.format == "JPEG":
        check_jpeg_plausible(path, width, height)
    if width * height > max_pixels:
        scale = draft_scale(width, height, max_pixels) if image.format == "JPEG" else 0
        if not scale:
            how = (
                "even at 1/8 scale"
                if image.format == "JPEG"
                else f"{image.format} cannot be decoded at reduced scale"
            )
            raise ImageLimitError(
                f"picture is {width}×{height} ({width * height / 1e6:.0f} Mpx; {how}; convert it to JPEG "
                "or tile it)",
                "max_pixels",
                max_pixels,
                source=str(path),
            )
        image.draft(image.mode, (width // scale, height // scale))
        factor = width / image.size[0]
    check_declared((1, image.size[1], image.size[0]), 3, str(path))
    try:
        image.load()
    except MemoryError:
        raise ImageInputError("not enough memory to decode the picture", source=str(path)) from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageInputError(
            f"picture data unreadable or truncated ({error_text(error)})", source=str(path)
        ) from error
    return image, factor


def read_picture(path: str | Path, *, max_pixels: int | None = None) -> tuple[np.ndarray, float]:
    """Decode a picture within ``max_pixels``; returns (uint8 array, down-sampling factor)."""
    image, factor = decode_picture(path, max_pixels=max_pixels)
    return to_uint8(image), factor


def load_picture(
    path: str | Path,
    *,
    series_id: str | None = None,
    modality: str | None = None,
    max_pixels: int | None = None,
) -> ImageSeries:
    """A 2D picture (chest X-ray PNG, fundus JPEG, ...) as a one-frame 8-bit series.

    The header is read now (size, mode); pixels are decoded when a frame is first asked for.
    """
    path = Path(path)
    max_pixels = max_pixels or limits().max_pixels
    if _use_tifffile(path):  # the chosen pyramid level is decoded now
        image, factor = decode_picture(path, max_pixels=max_pixels)
        check_declared((1, image.size[1], image.size[0]), 3, str(path))
        pixels = to_uint8(image)
        tiff_series = ImageSeries(
            id=series_id or series_key(path.stem),
            source=str(path),
            kind="image",
            units="uint8",
            shape=(1, *pixels.shape),
            read_frames=lambda indices: np.stack([pixels for _ in indices]),
            modality=modality,
            downsample=factor,
        )
        if factor > 1:
            tiff_series.notes.append(f"TIFF pyramid level at 1/{factor:g} scale (max_pixels={max_pixels})")
        return tiff_series
    info = picture_info(path)
    if info.format == "JPEG":
        check_jpeg_plausible(path, info.width, info.height)
    grey = info.mode in ("L", "I;16", "I;16B", "I;16L", "I", "F", "1", "LA")
    scale = 1
    if info.width * info.height > max_pixels:
        scale = draft_scale(info.width, info.height, max_pixels) if info.format == "JPEG" else 0
        if not scale:
            read_picture(path, max_pixels=max_pixels)  # raises the explanatory error
    rows, cols = -(-info.height // scale), -(-info.width // scale)
    check_declared((1, rows, cols), 3, str(path))
    state: dict[str, Any] = {}

    def read(indices: Sequence[int]) -> np.ndarray:
        if "array" not in state:
            state["array"], state["factor"] = read_picture(path, max_pixels=max_pixels)
        return np.stack([state["array"] for _ in indices])

    series = ImageSeries(
        id=series_id or series_key(path.stem),
        source=str(path),
        kind="image",
        units="uint8",
        shape=(1, rows, cols) if grey else (1, rows, cols, 3),
        read_frames=read,
        modality=modality,
        downsample=float(scale),
    )
    if scale > 1:
        series.notes.append(
            f"{info.width}×{info.height} JPEG decoded at 1/{scale} scale (max_pixels={max_pixels})"
        )
    return series
