"""Checks every image loader makes before it allocates, and on what it read.

Why one module: a header is a promise the file may not keep. A 4 MB gzip NRRD can inflate to
4 GiB, a 1 MB deflated DICOM to several GB, and a 300-byte NIfTI header can declare 30000³
voxels; a 140000 × 1 PNG is within any pixel cap but its letterboxed square is 140000². So:

* `check_declared` multiplies out the header's shape before anything is allocated and refuses it
  against the caps of `medboard.limits` (``max_slices``, ``max_pixels``, ``max_image_bytes``,
  ``max_aspect_ratio``), with the file, the cap and its variable in the message;
* `inflate_into` / `inflate_count` stream zlib/gzip/bzip2 data in chunks and stop at the declared
  size or the cap, so a decompression bomb costs at most the cap, never the bomb;
* `checked_spacing` turns a NaN, infinite, zero or negative spacing into "unknown" with a note
  (a measurement in mm then refuses clearly instead of reporting "1×inf×1 mm");
* `finite_frames` makes sure no NaN/Inf voxel reaches a frame recipe or a measurement: the
  values are replaced by the frame's finite extremes and the series carries a note saying so.

Everything here raises `ImageInputError` / `LimitExceededError` (exit 2, one line).
"""

from __future__ import annotations

import bz2
import math
import os
import stat
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from medboard.errors import ImageInputError, MedboardInputError
from medboard.limits import LimitExceededError, limits
from medboard.safeio import stat_input

CHUNK = 1 << 20


class ImageLimitError(LimitExceededError, ImageInputError):
    """An image over one of the caps: both a `LimitExceededError` (names the cap and its variable)
    and an `ImageInputError` (so every imaging caller that handles bad images handles it too)."""


def error_text(error: BaseException, limit: int = 160) -> str:
    """A library's exception as one safe line: whitespace collapsed, control/bidi characters escaped,
    cut to ``limit`` (its text may quote bytes of the malformed file)."""
    from medboard.textsafety import neutralize_line

    text = neutralize_line(" ".join(str(error).split()))[:limit]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def as_input_error(error: BaseException, source: str, what: str = "image") -> MedboardInputError:
    """The one-line error for a failure a loader library raised on malformed bytes.

    pydicom, nibabel, pynrrd and Pillow raise dozens of exception types on a corrupt header
    (NotImplementedError for an unknown VR, struct errors, zlib.error, ...); whatever they raise,
    the user gets the file and the kind of problem, not a traceback.
    """
    if isinstance(error, MedboardInputError):
        return error
    if isinstance(error, MemoryError):
        return ImageInputError(
            f"{what} declares more data than memory allows (a corrupt or hostile header)", source=source
        )
    return ImageInputError(f"unreadable or corrupt {what} ({error_text(error)})", source=source)


def check_path(path: str | os.PathLike[str]) -> Path:
    """A path that can be an image: no NUL, exists, a regular file or a folder (not a device/FIFO)."""
    info = stat_input(path, error=ImageInputError, allow_folder=True)
    name = os.fspath(path)
    if not stat.S_ISDIR(info.st_mode) and info.st_size > limits().max_image_bytes:
        raise ImageLimitError(f"file is {info.st_size} bytes", "max_image_bytes", source=name)
    return Path(name)


def check_declared(
    shape: Sequence[int], itemsize: int, source: str, *, what: str = "header declares", whole: bool = True
) -> None:
    """Refuse a (frames, rows, cols[, samples]) shape over the caps, before allocating it.

    ``itemsize`` is the bytes per sample of the largest array the loader will make from it
    (float32 frames: 4). ``whole=False``: the loader never holds all frames at once (a DICOM
    series decodes only the frames a recipe samples), so ``max_image_bytes`` applies per frame.
    """
    caps = limits()
    dims = [int(d) for d in shape]
    if len(dims) < 3 or any(d <= 0 for d in dims):
        raise ImageInputError(f"{what} an empty or negative size {'×'.join(map(str, dims))}", source=source)
    frames, rows, cols = dims[:3]
    shown = "×".join(str(d) for d in dims)
    if frames > caps.max_slices:
        raise ImageLimitError(f"{what} {frames} slices ({shown})", "max_slices", source=source)
    if rows * cols > caps.max_pixels:
        raise ImageLimitError(
            f"{what} {cols}×{rows} = {rows * cols} pixels per frame", "max_pixels", source=source
        )
    total = math.prod(dims if whole else dims[1:]) * max(1, itemsize)
    if total > caps.max_image_bytes:
        raise ImageLimitError(f"{what} {shown}, {total} bytes decoded", "max_image_bytes", source=source)
    ratio = max(rows, cols) / min(rows, cols)
    if ratio > caps.max_aspect_ratio:
        raise ImageLimitError(
            f"{what} frames of {cols}×{rows} pixels (aspect ratio {ratio:.0f}:1; a letterboxed frame "
            "would be almost all padding)",
            "max_aspect_ratio",
            source=source,
        )


def _decompressor(encoding: str) -> Any:
    if encoding in ("gzip", "gz", "zlib"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
    if encoding in ("bzip2", "bz2"):
        return bz2.BZ2Decompressor()
    if encoding == "raw-deflate":
        return zlib.decompressobj(-zlib.MAX_WBITS)
    raise ImageInputError(f"unsupported compression {encoding!r}")


def _feed(decoder: Any, data: bytes, room: int) -> bytes:
    """At most ``room`` bytes out of ``data`` (plus what the decoder buffered)."""
    if isinstance(decoder, bz2.BZ2Decompressor):
        return decoder.decompress(data, max_length=room)
    return decoder.decompress(data, room)


def _pending(decoder: Any) -> bytes:
    return b"" if isinstance(decoder, bz2.BZ2Decompressor) else decoder.unconsumed_tail


def inflate_into(handle: BinaryIO, out: np.ndarray, encoding: str, source: str, *, skip: int = 0) -> bool:
    """Decompress ``handle`` into the preallocated ``out`` (its bytes), chunk by chunk.

    Stops as soon as ``out`` is full: the rest (a bomb's remainder) is never decoded; if the stream
    would inflate further the file is refused. Returns True when undecodable trailing bytes
    remained. Truncated or corrupt data → `ImageInputError`.
    """
    target = memoryview(out.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
    need, filled = target.nbytes, 0
    decoder = _decompressor(encoding)
    data = b""
    try:
        while filled < need:
            if not data:
                data = handle.read(CHUNK)
                if not data:
                    break
            room = need - filled + skip
            piece = _feed(decoder, data, min(room, 4 * CHUNK))
            data = _pending(decoder)
            if skip:
                cut = min(skip, len(piece))
                piece, skip = piece[cut:], skip - cut
            target[filled : filled + len(piece)] = piece
            filled += len(piece)
            if getattr(decoder, "eof", False) and filled < need:
                break
    except (zlib.error, OSError, EOFError, ValueError) as error:
        raise ImageInputError(f"corrupt {encoding} data ({error_text(error)})", source=source) from None
    if filled < need:
        raise ImageInputError(
            f"{encoding} data truncated: {filled} of the {need} bytes the header declares", source=source
        )
    if getattr(decoder, "eof", False):
        return False
    try:  # one more piece tells a stream that ends here from one that goes on (a bomb)
        more = _feed(decoder, data or handle.read(CHUNK), CHUNK)
    except (zlib.error, OSError, EOFError, ValueError):
        return True
    if more:
        raise ImageInputError(
            f"{encoding} data inflates past the {need} bytes the header declares (a decompression "
            "bomb or a corrupt file); decoding stopped there",
            source=source,
        )
    return bool(data)


def inflate_count(handle: BinaryIO, encoding: str, cap: int, *, keep: int = 0) -> tuple[int, bytes]:
    """Bytes a compressed stream inflates to (stopping just past ``cap``), and its first ``keep`` bytes.

    Memory stays at one chunk: output is counted, not kept (except the prefix).
    """
    decoder = _decompressor(encoding)
    total, prefix = 0, bytearray()
    data = handle.read(CHUNK)
    while data and total <= cap:
        piece = _feed(decoder, data, 4 * CHUNK)
        data = _pending(decoder) or handle.read(CHUNK)
        if len(prefix) < keep:
            prefix += piece[: keep - len(prefix)]
        total += len(piece)
        if getattr(decoder, "eof", False):
            break
    return total, bytes(prefix)


def checked_spacing(
    spacing: Sequence[float] | None, notes: list[str], *, what: str = "spacing"
) -> tuple[float, float, float] | None:
    """Spacing that can be used in mm, or None (with a note) when any component cannot be true."""
    if spacing is None:
        return None
    values = tuple(float(s) for s in spacing)
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        shown = "×".join(f"{v:g}" for v in values)
        notes.append(f"{what} {shown} mm is not usable (NaN, infinite, zero or negative): treated as unknown")
        return None
    return values  # type: ignore[return-value]


def finite_frames(frames: np.ndarray, notes: list[str], source: str) -> np.ndarray:
    """Frames with every NaN/Inf replaced by the finite extremes, noted once on the series.

    A frame recipe fed NaN scales every pixel to NaN (a black or garbage frame sent to the model);
    a measurement would be NaN mm. The replacement keeps the image readable and visibly flagged.
    """
    if frames.dtype.kind != "f":
        return frames
    bad = ~np.isfinite(frames)
    count = int(np.count_nonzero(bad))
    if not count:
        return frames
    good = frames[~bad]
    if good.size == 0:
        raise ImageInputError("every voxel of the requested frames is NaN or infinite", source=source)
    lo, hi = float(good.min()), float(good.max())
    fixed = np.nan_to_num(frames, nan=lo, posinf=hi, neginf=lo)
    if not any("non-finite voxel values" in n for n in notes):
        notes.append(
            f"non-finite voxel values (NaN/Inf) in the image ({count} in frames read): "
            "shown as the lowest/highest finite value"
        )
    return fixed


def note_nonfinite(read: Any, frame_count: int, notes: list[str], *, chunk: int = 16) -> None:
    """Scan a float volume for NaN/Inf once at load (``chunk`` frames at a time, so memory stays at
    a few frames), so the series' note is there before anything is described or measured."""
    bad = 0
    for start in range(0, frame_count, chunk):
        block = np.asarray(read(range(start, min(frame_count, start + chunk))))
        bad += int(block.size - np.count_nonzero(np.isfinite(block)))
    if bad:
        notes.append(
            f"{bad} non-finite voxel values (NaN/Inf) in the image: shown as the lowest/highest finite "
            "value; intensities near them are not trustworthy"
        )
