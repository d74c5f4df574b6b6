"""Deflated DICOM (Explicit VR Little Endian, zlib-deflated dataset) read within the caps.

pydicom inflates a deflated dataset whole, in memory, before reading even its header
(``zlib.decompress(fp.read())``), so a 1 MB file of zeros becomes gigabytes before any check can
run. `guard_deflated` inflates the stream first in 1 MB chunks, keeping only the first few MB
(enough to parse the header up to the pixel data), and counts the rest without keeping it:

* the header's Rows × Columns × frames × samples is checked against the caps (`check_declared`);
* the dataset may inflate to at most those pixel bytes plus a margin for the other elements;
  past that it is refused, and inflating stops right there (time and memory ~ the declared image).

Only then does pydicom read the file; `dcmread` does both.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from medboard.errors import ImageInputError
from medboard.limits import limits
from medboard.tools.imaging.guards import (
    CHUNK,
    ImageLimitError,
    _decompressor,
    _feed,
    _pending,
    check_declared,
)

DEFLATED = "1.2.840.10008.1.2.1.99"
#: Inflated bytes kept to parse the header (elements before the pixel data).
HEADER_PREFIX = 4 * 1024 * 1024
#: Non-pixel elements a real deflated dataset may carry beyond its declared pixel bytes.
MARGIN = 16 * 1024 * 1024


def _deflated_start(path: Path) -> int | None:
    """Offset of the deflated dataset, or None when the file is not a deflated DICOM file."""
    from pydicom.filereader import _read_file_meta_info, read_preamble

    try:
        with path.open("rb") as fh:
            if read_preamble(fh, False) is None:
                return None
            meta = _read_file_meta_info(fh)
            if str(meta.get("TransferSyntaxUID", "")) != DEFLATED:
                return None
            return fh.tell()
    except Exception:  # not DICOM, or a broken meta header: the ordinary reader reports it
        return None


def _declared_pixel_bytes(prefix: bytes, source: str) -> int | None:
    """Pixel bytes the dataset's header declares (None when the prefix has no image header)."""
    from pydicom.filereader import _at_pixel_data, read_dataset

    try:
        ds: Any = read_dataset(io.BytesIO(prefix), False, True, stop_when=_at_pixel_data)
        rows, cols = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
        frames = int(ds.get("NumberOfFrames") or 1)
        samples = int(ds.get("SamplesPerPixel") or 1)
        bits = int(ds.get("BitsAllocated") or 16)
    except Exception:
        return None
    if not rows or not cols:
        return None
    check_declared((frames, rows, cols, samples), max(4, math.ceil(bits / 8)), source)
    return frames * rows * cols * samples * max(1, bits) // 8


def guard_deflated(path: str | Path) -> None:
    """Refuse a deflated dataset that inflates past its declared image or the caps (see module)."""
    path = Path(path)
    start = _deflated_start(path)
    if start is None:
        return
    source = str(path)
    cap = limits().max_image_bytes
    allowed = cap
    decoder = _decompressor("raw-deflate")
    prefix = bytearray()
    total, parsed = 0, False
    try:
        with path.open("rb") as fh:
            fh.seek(start)
            data = fh.read(CHUNK)
            while data:
                piece = _feed(decoder, data, 4 * CHUNK)
                data = _pending(decoder) or fh.read(CHUNK)
                total += len(piece)
                if len(prefix) < HEADER_PREFIX:
                    prefix += piece[: HEADER_PREFIX - len(prefix)]
                if not parsed and (len(prefix) >= HEADER_PREFIX or not data or decoder.eof):
                    parsed = True
                    declared = _declared_pixel_bytes(bytes(prefix), source)
                    if declared is not None:
                        allowed = min(cap, declared + MARGIN)
                if total > allowed:
                    break
                if decoder.eof:
                    break
    except ImageInputError:
        raise
    except Exception as error:  # zlib.error, OSError
        raise ImageInputError(
            f"corrupt deflated DICOM dataset ({type(error).__name__})", source=source
        ) from None
    if total > cap:
        raise ImageLimitError(
            f"deflated DICOM dataset inflates to more than {cap} bytes", "max_image_bytes", source=source
        )
    if total > allowed:
        raise ImageInputError(
            f"deflated DICOM dataset inflates to more than {allowed} bytes, beyond the pixel data its "
            "header declares (a decompression bomb or a corrupt file); inflating stopped there",
            source=source,
        )


def dcmread(path: str | Path, **options: Any) -> Any:
    """`pydicom.dcmread` after `guard_deflated` (a no-op for every other transfer syntax)."""
    import pydicom

    guard_deflated(path)
    return pydicom.dcmread(path, **options)
