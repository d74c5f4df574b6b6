"""Fuzzing the image loaders: every malformed header, truncation or bit flip ends in one clean error.

Bases are real files (brain1 NRRD, a NIfTI written from it, pydicom-data's CT/MR/deflated DICOM,
a ChestX-ray14 PNG reduced to 64 px). Each variant is loaded and, when it loads, run through its
frame recipe: the only exception allowed is `MedboardInputError` (the CLI's one line, exit 2), and
frames that come out are finite. Caps are lowered so that no variant can allocate much.
"""

from __future__ import annotations

import gzip
import io
import random
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imaging_support import (
    BRAIN_IMAGE,
    BRAIN_LABEL,
    TEST_DATA,
    dicom_testfile,
    write_nifti,
    write_nrrd_variant,
)

from medboard.errors import MedboardInputError
from medboard.limits import limits
from medboard.tools.imaging.layouts import build_layout, default_recipe
from medboard.tools.imaging.load import load_image

SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(autouse=True)
def _small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDBOARD_MAX_IMAGE_BYTES", str(256 << 20))
    monkeypatch.setenv("MEDBOARD_MAX_PIXELS", str(4_000_000))
    limits.cache_clear()
    yield
    limits.cache_clear()


def exercise(path: Path) -> None:
    """Load and build the default layout; only a clean input error may escape."""
    try:
        series = load_image(path)
        recipe = default_recipe(series)
        options = {"max_slices": 4} if recipe in ("ct", "mri") else {}
        layout = build_layout(recipe, series, **options)
    except MedboardInputError as error:
        assert str(error).strip() and "\n" not in str(error)
        assert path.name in str(error) or "NUL" in str(error)
        return
    assert layout.images
    for part in layout.images:
        assert np.asarray(part.image).shape == (896, 896, 3)


def _png_64() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(TEST_DATA / "00000001_000.png").convert("L").resize((64, 64)).save(buffer, "PNG")
    return buffer.getvalue()


def _bases(tmp_path: Path) -> dict[str, bytes]:
    nifti = write_nifti(tmp_path / "base.nii")
    return {
        "label.nrrd": BRAIN_LABEL.read_bytes(),
        "label.nii.gz": gzip.compress(nifti.read_bytes()),
        "ct.dcm": Path(dicom_testfile("CT_small.dcm")).read_bytes(),
        "mr.dcm": Path(dicom_testfile("MR_small.dcm")).read_bytes(),
        "dfl.dcm": Path(dicom_testfile("image_dfl.dcm")).read_bytes(),
        "cxr.png": _png_64(),
    }


def test_truncation_at_every_header_offset(tmp_path: Path) -> None:
    """Every cut in the first 600 bytes (the headers and first data), then every 251st to the end."""
    for name, data in _bases(tmp_path).items():
        target = tmp_path / name
        for offset in sorted({*range(min(600, len(data))), *range(600, len(data), 251)}):
            target.write_bytes(data[:offset])
            exercise(target)


def test_bit_flips(tmp_path: Path) -> None:
    rng = random.Random(15)
    for name, data in _bases(tmp_path).items():
        target = tmp_path / name
        for _ in range(80):
            flipped = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(min(len(data), 2048)) if rng.random() < 0.8 else rng.randrange(len(data))
                flipped[i] ^= 1 << rng.randrange(8)
            target.write_bytes(bytes(flipped))
            exercise(target)


# ------------------------------------------------------------------ Hypothesis over header fields

numbers = st.one_of(
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: f"{f}"),
    st.text(alphabet="0123456789-+.e naNINF", max_size=12),
)
sizes = st.lists(numbers, min_size=0, max_size=4).map(" ".join)
vectors = st.lists(
    st.tuples(numbers, numbers, numbers).map(lambda t: f"({t[0]},{t[1]},{t[2]})") | st.just("none"),
    min_size=0,
    max_size=4,
).map(" ".join)
nrrd_types = st.sampled_from(["short", "int", "uchar", "float", "double", "int64", "block", "quaternion", ""])


@SETTINGS
@given(
    dimension=st.one_of(st.integers(-2, 5).map(str), st.just("x")),
    size_text=sizes,
    kind=nrrd_types,
    encoding=st.sampled_from(["gzip", "raw", "bzip2", "ascii", "hex", "lzma", ""]),
    directions=vectors,
    endian=st.sampled_from(["little", "big", "middle"]),
    skip=st.one_of(st.none(), st.integers(-5, 10**9).map(str)),
)
def test_nrrd_header_fields(
    tmp_path: Path,
    dimension: str,
    size_text: str,
    kind: str,
    encoding: str,
    directions: str,
    endian: str,
    skip: str | None,
) -> None:
    path = write_nrrd_variant(
        tmp_path / "fuzz.nrrd",
        {
            "dimension": dimension,
            "sizes": size_text,
            "type": kind,
            "encoding": encoding,
            "space directions": directions,
            "endian": endian,
            "byte skip": skip,
        },
        source=BRAIN_LABEL,
    )
    exercise(path)


def _nifti_base(tmp_path: Path) -> bytes:
    crop = (slice(96, 160), slice(96, 160), slice(8, 16))  # the tumour region, 64×64×8
    return write_nifti(tmp_path / "nifti_base.nii", source=BRAIN_IMAGE, crop=crop).read_bytes()


@SETTINGS
@given(
    dims=st.lists(st.integers(-5, 32767), min_size=8, max_size=8),
    datatype=st.sampled_from([0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 2304, 7, 9999]),
    pixdim=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=8, max_size=8),
    vox_offset=st.floats(-1e6, 1e9, width=32) | st.just(float("nan")),
    slope=st.floats(allow_nan=True, allow_infinity=True, width=32),
    compressed=st.booleans(),
)
def test_nifti_header_fields(
    tmp_path: Path,
    dims: list[int],
    datatype: int,
    pixdim: list[float],
    vox_offset: float,
    slope: float,
    compressed: bool,
) -> None:
    raw = bytearray(_nifti_base(tmp_path))
    raw[40:56] = struct.pack("<8h", *dims)
    raw[70:72] = struct.pack("<h", datatype)
    raw[76:108] = struct.pack("<8f", *pixdim)
    raw[108:112] = struct.pack("<f", vox_offset)
    raw[112:116] = struct.pack("<f", slope)
    path = tmp_path / ("fuzz.nii.gz" if compressed else "fuzz.nii")
    path.write_bytes(gzip.compress(bytes(raw), 1) if compressed else bytes(raw))
    exercise(path)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@SETTINGS
@given(
    width=st.integers(0, 2**31),
    height=st.integers(0, 2**31),
    depth=st.sampled_from([1, 2, 4, 8, 16, 3, 0]),
    colour=st.sampled_from([0, 2, 3, 4, 6, 1, 7]),
)
def test_png_header_fields(tmp_path: Path, width: int, height: int, depth: int, colour: int) -> None:
    data = _png_64()
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    rewritten = data[:8] + _png_chunk(b"IHDR", ihdr) + data[8 + 25 :]
    path = tmp_path / "fuzz.png"
    path.write_bytes(rewritten)
    exercise(path)


@SETTINGS
@given(
    rows=st.integers(0, 65535),
    cols=st.integers(0, 65535),
    bits=st.sampled_from([0, 1, 8, 12, 16, 32, 64, 7]),
    frames=st.one_of(st.none(), st.integers(-3, 100000).map(str), st.just("x")),
    samples=st.sampled_from([1, 3, 4, 0]),
    slope=st.sampled_from(["1", "0", "-1", "1e300", "NaN", "inf", "2.5"]),
)
def test_dicom_image_fields(
    tmp_path: Path, rows: int, cols: int, bits: int, frames: str | None, samples: int, slope: str
) -> None:
    import warnings

    import pydicom

    ds = pydicom.dcmread(dicom_testfile("CT_small.dcm"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = tmp_path / "fuzz.dcm"
        try:
            ds.Rows, ds.Columns, ds.BitsAllocated, ds.SamplesPerPixel = rows, cols, bits, samples
            ds.RescaleSlope = slope
            if frames is not None:
                ds.NumberOfFrames = frames
            ds.save_as(path)
        except Exception:  # pydicom itself refuses to write such a dataset: nothing to read
            return
    exercise(path)
