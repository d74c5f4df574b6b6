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

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medboard.errors import ImageInputError
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
    norms[norms == 0] = 1.0
    unit = (directions / norms[:, None]) * to_lps
    orientation = tuple(float(v) for v in (*unit[0], *unit[1]))
    return (float(norms[2]), float(norms[1]), float(norms[0])), orientation


def load_nrrd(path: str | Path, *, series_id: str | None = None, modality: str | None = None) -> ImageSeries:
    """A 2D or 3D scalar NRRD volume (e.g. a 3D Slicer / pyradiomics image or label map)."""
    import nrrd

    path = Path(path)
    try:
        with path.open("rb") as fh:
            header = nrrd.read_header(fh)
            data_offset = fh.tell()
    except (OSError, nrrd.NRRDError, ValueError, KeyError) as error:
        raise ImageInputError(f"unreadable NRRD header ({error})", source=str(path)) from error
    sizes = [int(s) for s in header["sizes"]]
    if header["dimension"] not in (2, 3):
        raise ImageInputError(
            f"NRRD with {header['dimension']} dimensions; only scalar 2D/3D volumes are supported",
            source=str(path),
        )
    if header["dimension"] == 2:
        sizes = [*sizes, 1]
    i, j, k = sizes
    shape = (k, j, i)
    notes: list[str] = []
    directions = header.get("space directions")
    if directions is not None:
        rows = [np.zeros(3) if d is None or np.any(np.isnan(d)) else np.asarray(d, float) for d in directions]
        dirs = np.array([np.pad(r, (0, 3 - r.size)) for r in rows])
        if dirs.shape[0] == 2:
            dirs = np.vstack([dirs, [0.0, 0.0, 1.0]])
    else:
        spacings = [float(s) for s in header.get("spacings", [])]
        dirs = np.diag(([*spacings, 1.0, 1.0, 1.0])[:3])
        notes.append("no space directions in header; spacing from 'spacings' or 1 mm")
    space = str(header.get("space", "left-posterior-superior"))
    to_lps = np.array([-1.0, -1.0, 1.0]) if space.startswith("right-anterior") else np.ones(3)
    spacing, orientation = _direction_info(dirs, to_lps)

    encoding = str(header.get("encoding", "raw"))
    detached = "data file" in header or "datafile" in header
    if encoding == "raw" and not detached:
        dtype = np.dtype(_NRRD_DTYPES.get(str(header["type"]), str(header["type"])))
        if dtype.itemsize > 1:
            dtype = dtype.newbyteorder("<" if header.get("endian", "little") == "little" else ">")
        expected = data_offset + int(np.prod(shape)) * dtype.itemsize
        if path.stat().st_size < expected:
            raise ImageInputError(
                f"NRRD data truncated: {path.stat().st_size} bytes, header needs {expected}", source=str(path)
            )
        volume: Any = np.memmap(path, dtype=dtype, mode="r", offset=data_offset, shape=shape)
    else:
        try:
            volume = nrrd.read(str(path), index_order="C")[0].reshape(shape)
        except (OSError, nrrd.NRRDError, ValueError, EOFError) as error:
            raise ImageInputError(f"unreadable NRRD data ({error})", source=str(path)) from error
        notes.append(f"{encoding}-encoded NRRD decoded whole (not memory-mapped)")

    def read(indices: Sequence[int]) -> np.ndarray:
        return np.asarray(volume[list(indices)], dtype=np.float32)

    return ImageSeries(
        id=series_id or series_key(path.name.removesuffix(".nrrd").removesuffix(".nhdr")),
        source=str(path),
        kind="volume",
        units="raw",
        shape=shape,
        read_frames=read,
        modality=modality,
        spacing=spacing,
        orientation=orientation,
        notes=notes,
    )


def load_nifti(path: str | Path, *, series_id: str | None = None, modality: str | None = None) -> ImageSeries:
    """A 3D NIfTI-1/2 volume through nibabel's lazy array proxy (scaling applied)."""
    import nibabel as nib

    path = Path(path)
    try:
        image: Any = nib.load(str(path))
    except Exception as error:  # nibabel raises ImageFileError, ValueError, OSError, EOFError...
        raise ImageInputError(
            f"unreadable NIfTI ({type(error).__name__}: {error})", source=str(path)
        ) from error
    proxy = image.dataobj
    dims = tuple(int(d) for d in image.shape)
    if len(dims) == 4 and dims[3] == 1:
        dims = dims[:3]
    if len(dims) == 2:
        dims = (*dims, 1)
    if len(dims) != 3:
        raise ImageInputError(
            f"NIfTI of shape {image.shape}; only 3D volumes are supported", source=str(path)
        )
    i, j, k = dims
    affine = np.asarray(image.affine, float)[:3, :3].T  # rows = axis vectors i, j, k (RAS)
    spacing, orientation = _direction_info(affine, np.array([-1.0, -1.0, 1.0]))

    def read(indices: Sequence[int]) -> np.ndarray:
        out = np.empty((len(indices), j, i), np.float32)
        for n, kk in enumerate(indices):
            plane = proxy[:, :, kk] if len(image.shape) == 3 else proxy[:, :, kk, 0]
            out[n] = np.asarray(plane, dtype=np.float32).T
        return out

    stem = path.name.removesuffix(".gz").removesuffix(".nii")
    return ImageSeries(
        id=series_id or series_key(stem),
        source=str(path),
        kind="volume",
        units="raw",
        shape=(k, j, i),
        read_frames=read,
        modality=modality,
        spacing=spacing,
        orientation=orientation,
    )
