"""NRRD and NIfTI volumes → `ImageSeries` (frames along the last voxel axis).

Frames are ``(k, j, i)`` in C order: frame ``k`` is the plane at the third voxel index, rows run
along the second axis, columns along the first, matching how a DICOM slice is stored. Spacing comes
from the NRRD ``space directions`` (vector norms) or the NIfTI zooms, as (between frames, row,
column) in mm. Orientation is given in DICOM's LPS convention (NIfTI's RAS is flipped).

Memory: raw (uncompressed) NRRD data is memory-mapped and uncompressed NIfTI is read through
nibabel's array proxy, so only the frames a recipe samples are read. gzip-compressed NRRD cannot be
read partially: it is decoded whole once (noted on the series); compress-free files are the way
to keep a very large volume's memory bounded.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medboard.errors import ImageInputError
from medboard.tools.imaging.guards import check_declared, error_text, note_nonfinite
from medboard.tools.imaging.series import ImageSeries, series_key

_NRRD_DTYPES = {
    "signed char": "i1",
    "int8": "i1",
    "int8_t": "i1",
    "uchar": "u1",
    "unsigned char": "u1",
    "uint8": "u1",
    "uint8_t": "u1",
    "short": "i2",
    "short int": "i2",
    "signed short": "i2",
    "signed short int": "i2",
    "int16": "i2",
    "int16_t": "i2",
    "ushort": "u2",
    "unsigned short": "u2",
    "unsigned short int": "u2",
    "uint16": "u2",
    "uint16_t": "u2",
    "int": "i4",
    "signed int": "i4",
    "int32": "i4",
    "int32_t": "i4",
    "uint": "u4",
    "unsigned int": "u4",
    "uint32": "u4",
    "uint32_t": "u4",
    "longlong": "i8",
    "long long": "i8",
    "long long int": "i8",
    "signed long long": "i8",
    "signed long long int": "i8",
    "int64": "i8",
    "int64_t": "i8",
    "ulonglong": "u8",
    "unsigned long long": "u8",
    "unsigned long long int": "u8",
    "uint64": "u8",
    "uint64_t": "u8",
    "float": "f4",
    "double": "f8",
}


def _direction_info(
    directions: np.ndarray, to_lps: np.ndarray
) -> tuple[tuple[float, float, float], tuple[float, ...]]:
    """(frame, row, col) spacing and DICOM-style orientation from 3 axis vectors (i, j, k)."""
    norms = np.linalg.norm(directions, axis=1)
    safe = np.where(norms > 0, norms, 1.0)  # a zero axis keeps spacing 0: `checked_spacing` flags it
    unit = (directions / safe[:, None]) * to_lps
    orientation = tuple(float(v) for v in (*unit[0], *unit[1]))
    return (float(norms[2]), float(norms[1]), float(norms[0])), orientation


def _nrrd_sizes(header: dict[str, Any], source: str) -> list[int]:
    """The header's ``dimension``/``sizes`` as positive ints, or a clean error."""
    try:
        dimension = int(header["dimension"])
        sizes = [int(s) for s in np.ravel(header["sizes"])]
    except KeyError as missing:
        raise ImageInputError(f"NRRD header lacks the required field {missing}", source=source) from None
    except (TypeError, ValueError, OverflowError):
        raise ImageInputError("NRRD 'dimension'/'sizes' are not integers", source=source) from None
    if dimension not in (2, 3):
        raise ImageInputError(
            f"NRRD with {dimension} dimensions; only scalar 2D/3D volumes are supported", source=source
        )
    if len(sizes) != dimension:
        raise ImageInputError(
            f"NRRD 'sizes' has {len(sizes)} values for dimension {dimension}", source=source
        )
    if any(s <= 0 for s in sizes):
        raise ImageInputError(
            f"NRRD 'sizes' {' '.join(map(str, sizes))} has a zero or negative size", source=source
        )
    return sizes if dimension == 3 else [*sizes, 1]


def _nrrd_dtype(header: dict[str, Any], source: str) -> np.dtype[Any]:
    kind = str(header.get("type", "")).strip().lower()
    if kind not in _NRRD_DTYPES:
        shown = kind[:40] or "missing"
        raise ImageInputError(f"NRRD 'type' {shown!r} is not a scalar type this reader knows", source=source)
    dtype = np.dtype(_NRRD_DTYPES[kind])
    if dtype.itemsize > 1:
        endian = str(header.get("endian", "little")).strip().lower()
        if endian not in ("little", "big"):
            raise ImageInputError(f"NRRD 'endian' {endian[:20]!r} is neither little nor big", source=source)
        dtype = dtype.newbyteorder("<" if endian == "little" else ">")
    return dtype


def _nrrd_directions(header: dict[str, Any], dimension: int, notes: list[str]) -> np.ndarray | None:
    """3 axis vectors (i, j, k) in mm (a 'none' row → zero: its spacing is then unusable), or None
    when the header has no spacing at all (it is unknown, not 1 mm)."""
    directions = header.get("space directions")
    if directions is not None:
        rows = []
        for d in list(directions)[:3]:
            vector = np.zeros(3) if d is None else np.asarray(d, float).ravel()[:3]
            rows.append(np.pad(vector, (0, 3 - vector.size)))
        dirs = np.array(rows, float).reshape(-1, 3)
        if dirs.shape[0] == 2:
            dirs = np.vstack([dirs, [0.0, 0.0, 1.0]])
        if dirs.shape[0] != 3:
            raise ValueError("space directions")
        return dirs
    spacings = [float(s) for s in np.ravel(header.get("spacings", []))][:dimension]
    if len(spacings) < dimension:
        notes.append("no space directions or spacings in header: voxel spacing unknown")
        return None
    notes.append("no space directions in header; spacing from 'spacings'")
    return np.diag(([*spacings, 1.0, 1.0])[:3])


def _nrrd_data_file(path: Path, header: dict[str, Any], data_offset: int) -> tuple[Path, int]:
    """(file holding the data, offset of the data in it): attached, or one detached file."""
    detached = header.get("data file", header.get("datafile"))
    if detached is None:
        return path, data_offset
    name = str(detached).strip()
    if name.upper().startswith("LIST") or " " in name or "%" in name:
        raise ImageInputError("NRRD with a multi-file detached data list is not supported", source=str(path))
    from medboard.tools.imaging.guards import check_path

    target = check_path(path.parent / name)
    if target.is_dir():
        raise ImageInputError(f"NRRD data file {name!r} is a folder", source=str(path))
    return target, 0


def load_nrrd(path: str | Path, *, series_id: str | None = None, modality: str | None = None) -> ImageSeries:
    """A 2D or 3D scalar NRRD volume (e.g. a 3D Slicer / pyradiomics image or label map).

    Every header field is validated and the declared size checked against the caps before any
    allocation; compressed data is inflated in chunks into the declared array and never past it.
    """
    import nrrd

    from medboard.tools.imaging.guards import checked_spacing, inflate_into

    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as fh, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            header = nrrd.read_header(fh)
            data_offset = fh.tell()
        if any(issubclass(w.category, RuntimeWarning) for w in caught):  # NaN/huge numbers cast to int
            raise ImageInputError(
                "NRRD header holds numbers that are NaN, infinite or out of range", source=source
            )
    except OSError as error:
        raise ImageInputError(f"cannot read NRRD ({error.strerror or error})", source=source) from None
    except ImageInputError:
        raise
    except Exception as error:  # pynrrd's field parsers raise NRRDError, ValueError, IndexError, ...
        raise ImageInputError(f"unreadable NRRD header ({error_text(error)})", source=source) from None
    sizes = _nrrd_sizes(header, source)
    dtype = _nrrd_dtype(header, source)
    i, j, k = sizes
    shape = (k, j, i)
    check_declared(shape, max(dtype.itemsize, 4), source)
    notes: list[str] = []
    try:
        dirs = _nrrd_directions(header, len(header["sizes"]), notes)
    except (TypeError, ValueError):
        raise ImageInputError("NRRD 'space directions'/'spacings' are not numbers", source=source) from None
    space = str(header.get("space", "left-posterior-superior"))
    to_lps = np.array([-1.0, -1.0, 1.0]) if space.startswith("right-anterior") else np.ones(3)
    with np.errstate(all="ignore"):
        raw_spacing, orientation = _direction_info(dirs if dirs is not None else np.eye(3), to_lps)
    spacing = checked_spacing(raw_spacing, notes, what="NRRD spacing") if dirs is not None else None
    if dirs is None or not all(np.isfinite(orientation)):
        orientation = None  # type: ignore[assignment]

    encoding = str(header.get("encoding", "raw")).strip().lower()
    data_path, offset = _nrrd_data_file(path, header, data_offset)
    try:
        skip = int(header.get("byte skip", 0))
    except (TypeError, ValueError):
        raise ImageInputError("NRRD 'byte skip' is not an integer", source=source) from None
    need = int(np.prod(shape)) * dtype.itemsize
    volume: Any
    if encoding == "raw":
        size = data_path.stat().st_size
        start = size - need if skip == -1 else offset + max(skip, 0)
        if start < 0 or size < start + need:
            raise ImageInputError(
                f"NRRD data truncated: {size} bytes, header needs {offset + need}", source=source
            )
        volume = np.memmap(data_path, dtype=dtype, mode="r", offset=start, shape=shape)
    elif encoding in ("gzip", "gz", "bzip2", "bz2"):
        volume = _allocate(shape, dtype, source)
        with data_path.open("rb") as fh:
            fh.seek(offset)
            extra = inflate_into(fh, volume, encoding, source, skip=max(skip, 0))
        if extra:
            notes.append(f"bytes after the end of the {encoding} stream: ignored")
        notes.append(f"{encoding}-encoded NRRD decoded whole (not memory-mapped)")
    elif encoding in ("ascii", "text", "txt", "hex"):
        try:
            volume = nrrd.read(source, index_order="C")[0].reshape(shape)
        except Exception as error:  # a bad number, too few values, ...
            raise ImageInputError(
                f"unreadable NRRD {encoding} data ({type(error).__name__})", source=source
            ) from None
        notes.append(f"{encoding}-encoded NRRD decoded whole (not memory-mapped)")
    else:
        raise ImageInputError(f"NRRD 'encoding' {encoding[:20]!r} is not supported", source=source)

    def read(indices: Sequence[int]) -> np.ndarray:
        try:
            return np.asarray(volume[list(indices)], dtype=np.float32)
        except OSError as error:
            raise ImageInputError(
                f"NRRD data unreadable ({error.strerror or error})", source=source
            ) from None

    if dtype.kind == "f":
        note_nonfinite(lambda ks: volume[list(ks)], k, notes)

    return ImageSeries(
        id=series_id or series_key(path.name.removesuffix(".nrrd").removesuffix(".nhdr")),
        source=source,
        kind="volume",
        units="raw",
        shape=shape,
        read_frames=read,
        modality=modality,
        spacing=spacing,
        orientation=orientation,
        notes=notes,
    )


def _allocate(shape: tuple[int, ...], dtype: np.dtype[Any], source: str) -> np.ndarray:
    try:
        return np.empty(shape, dtype)
    except MemoryError:
        raise ImageInputError(
            f"not enough memory for the declared {'×'.join(map(str, shape))} volume", source=source
        ) from None


@contextlib.contextmanager
def _nibabel_quiet(notes: list[str] | None) -> Iterator[None]:
    """nibabel logs the header fixes it makes ("pixdim[1,2,3] should be non-zero") at WARNING/ERROR
    on stderr; they become notes of the series (a CLI prints one line, not a log around it)."""
    messages: list[str] = []

    def keep(record: logging.LogRecord) -> bool:
        messages.append(record.getMessage())
        return False

    logger = logging.getLogger("nibabel")
    handlers = [logger, *(logging.getLogger(n) for n in ("nibabel.global",))]
    for item in handlers:
        item.addFilter(keep)
    try:
        yield
    finally:
        for item in handlers:
            item.removeFilter(keep)
    if notes is not None:
        for message in dict.fromkeys(messages):
            notes.append(f"NIfTI header: {' '.join(message.split())[:160]}")


def load_nifti(path: str | Path, *, series_id: str | None = None, modality: str | None = None) -> ImageSeries:
    """A 3D NIfTI-1/2 volume through nibabel's lazy array proxy (scaling applied).

    The header's dimensions are checked against the caps before any voxel is read; a truncated or
    corrupt (gzip) data block is a clean error when its frames are read.
    """
    import nibabel as nib

    from medboard.tools.imaging.guards import checked_spacing

    path = Path(path)
    source = str(path)
    notes: list[str] = []
    try:
        with _nibabel_quiet(notes):
            image: Any = nib.load(source)
        proxy = image.dataobj
        dims = tuple(int(d) for d in image.shape)
        affine = np.asarray(image.affine, float)[:3, :3].T  # rows = axis vectors i, j, k (RAS)
    except Exception as error:  # nibabel raises ImageFileError, ValueError, OSError, EOFError...
        raise ImageInputError(f"unreadable NIfTI ({error_text(error)})", source=source) from None
    if len(dims) == 4 and dims[3] == 1:
        dims = dims[:3]
    if len(dims) == 2:
        dims = (*dims, 1)
    if len(dims) != 3:
        raise ImageInputError(f"NIfTI of shape {image.shape}; only 3D volumes are supported", source=source)
    i, j, k = dims
    check_declared((k, j, i), 4, source)
    with np.errstate(all="ignore"):
        raw_spacing, orientation = _direction_info(affine, np.array([-1.0, -1.0, 1.0]))
    spacing = checked_spacing(raw_spacing, notes, what="NIfTI spacing")
    if not all(np.isfinite(orientation)):
        orientation = None  # type: ignore[assignment]

    def read(indices: Sequence[int]) -> np.ndarray:
        out = np.empty((len(indices), j, i), np.float32)
        try:
            with _nibabel_quiet(None):
                for n, kk in enumerate(indices):
                    plane = proxy[:, :, kk] if len(image.shape) == 3 else proxy[:, :, kk, 0]
                    out[n] = np.asarray(plane, dtype=np.float32).reshape(i, j).T
        except MemoryError:
            raise ImageInputError("not enough memory to read the NIfTI frames", source=source) from None
        except Exception as error:  # truncated gzip (EOFError), zlib.error, short file (ValueError/OSError)
            raise ImageInputError(
                f"NIfTI data unreadable or truncated ({error_text(error, 120)})",
                source=source,
            ) from None
        return out

    slope, inter = image.header.get_slope_inter()
    scaled = any(v is not None and (not np.isfinite(v) or v not in (0, 1)) for v in (slope, inter))
    if image.get_data_dtype().kind == "f" or scaled:
        note_nonfinite(read, k, notes)

    stem = path.name.removesuffix(".gz").removesuffix(".nii")
    return ImageSeries(
        id=series_id or series_key(stem),
        source=source,
        kind="volume",
        units="raw",
        shape=(k, j, i),
        read_frames=read,
        modality=modality,
        spacing=spacing,
        orientation=orientation,
        notes=notes,
    )
