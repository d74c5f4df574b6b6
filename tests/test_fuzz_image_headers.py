"""Property: an image whose header says anything loads (and yields a frame) or fails with one
clean `MedboardError` line, in bounded memory.

Hypothesis writes NRRD headers (sizes, type, encoding, dimension, spacing), NIfTI-1 headers
(dims, datatype, bitpix, vox_offset, pixdim, magic, random byte damage), PNG IHDR values (width,
height, depth, colour type, interlace) and minimal DICOM datasets through pydicom (rows, columns,
frames, bits, samples, photometric, spacing, pixel data length). The data behind each header is
small, so a loader that trusts the header over the file allocates for a lie; the address space is
capped, so that ends in `MemoryError` (a failure of the property), never on the machine.
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile.fuzz import assert_clean, bounded_memory  # noqa: F401  (fixture)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from medboard.errors import MedboardError
from medboard.tools.imaging.load import load_image

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

sizes = st.one_of(st.integers(1, 16), st.sampled_from([0, -1, -5, 30000, 2**31 - 1, 2**40]))


def _load_and_read(name: str, data: bytes | Callable[[Path], None]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        try:
            image = load_image(path)
            if image.frame_count:
                image.frame(0)
                image.frame(image.frame_count - 1)
        except MedboardError as error:
            assert_clean(error)


@st.composite
def nrrd_file(draw: st.DrawFn) -> bytes:
    dimension = draw(st.sampled_from([2, 3, 3, 4, 0, 17]))
    axes = [draw(sizes) for _ in range(draw(st.integers(1, 4)))]
    type_ = draw(
        st.sampled_from(["uchar", "short", "ushort", "int", "float", "double", "int64", "quaternion", ""])
    )
    encoding = draw(st.sampled_from(["raw", "raw", "gzip", "ascii", "hex", "bzip2", "lzma"]))
    spacing = draw(st.sampled_from(["1", "0.5", "0", "-1", "nan", "inf", "1e308", "x"]))
    header = (
        f"NRRD0004\ntype: {type_}\ndimension: {dimension}\nsizes: {' '.join(map(str, axes))}\n"
        f"spacings: {' '.join([spacing] * len(axes))}\nendian: {draw(st.sampled_from(['little', 'big']))}\n"
        f"encoding: {encoding}\n\n"
    ).encode()
    body = draw(st.binary(max_size=2048))
    if encoding == "gzip" and draw(st.booleans()):
        body = zlib.compress(body)
    return header + body


@pytest.mark.usefixtures("bounded_memory")
@SETTINGS
@given(data=nrrd_file())
def test_any_nrrd_header(data: bytes) -> None:
    _load_and_read("fuzz.nrrd", data)


@st.composite
def nifti_file(draw: st.DrawFn) -> bytes:
    header = bytearray(352)
    struct.pack_into("<i", header, 0, draw(st.sampled_from([348, 348, 540, 0, -1])))
    ndim = draw(st.sampled_from([3, 3, 4, 2, 0, 8, -1]))
    dims = [ndim] + [
        draw(st.one_of(st.integers(1, 8), st.sampled_from([0, -4, 30000, 32767]))) for _ in range(7)
    ]
    struct.pack_into("<8h", header, 40, *dims)
    datatype = draw(st.sampled_from([2, 4, 8, 16, 64, 128, 256, 512, 1536, 9999, 0]))
    struct.pack_into("<hh", header, 70, datatype, draw(st.sampled_from([8, 16, 32, 64, 0, 7])))
    pix = [draw(st.sampled_from([1.0, 0.5, 0.0, -1.0, float("nan"), float("inf"), 1e38])) for _ in range(8)]
    struct.pack_into("<8f", header, 76, *pix)
    struct.pack_into("<f", header, 108, draw(st.sampled_from([352.0, 0.0, 351.0, 1e12, float("nan")])))
    struct.pack_into("<ff", header, 112, draw(st.sampled_from([1.0, 0.0, float("nan")])), 0.0)
    header[344:348] = draw(st.sampled_from([b"n+1\x00", b"ni1\x00", b"xxxx"]))
    for _ in range(draw(st.integers(0, 3))):
        header[draw(st.integers(0, 351))] = draw(st.integers(0, 255))
    data = bytes(header) + draw(st.binary(max_size=2048))
    return data


@pytest.mark.usefixtures("bounded_memory")
@SETTINGS
@given(data=nifti_file(), gz=st.booleans())
def test_any_nifti_header(data: bytes, gz: bool) -> None:
    import gzip

    _load_and_read("fuzz.nii.gz" if gz else "fuzz.nii", gzip.compress(data) if gz else data)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@st.composite
def png_file(draw: st.DrawFn) -> bytes:
    width = draw(st.one_of(st.integers(1, 64), st.sampled_from([0, 140_000, 100_000, 2**31 - 1])))
    height = draw(st.one_of(st.integers(1, 64), st.sampled_from([0, 1, 140_000, 100_000])))
    depth = draw(st.sampled_from([1, 2, 4, 8, 16, 3]))
    colour = draw(st.sampled_from([0, 2, 3, 4, 6, 5]))
    interlace = draw(st.sampled_from([0, 1, 2]))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    rows = draw(st.binary(max_size=4096))
    chunks = [_chunk(b"IHDR", ihdr)]
    if colour == 3:
        chunks.append(_chunk(b"PLTE", bytes(range(48))))
    chunks += [_chunk(b"IDAT", zlib.compress(rows)), _chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


@pytest.mark.usefixtures("bounded_memory")
@SETTINGS
@given(data=png_file())
def test_any_png_header(data: bytes) -> None:
    _load_and_read("fuzz.png", data)


@st.composite
def dicom_writer(draw: st.DrawFn) -> Callable[[Path], None]:
    rows = draw(st.one_of(st.integers(1, 32), st.sampled_from([0, 65535])))
    cols = draw(st.one_of(st.integers(1, 32), st.sampled_from([0, 65535])))
    frames = draw(st.sampled_from([None, 1, 2, 0, 50000]))
    bits = draw(st.sampled_from([8, 16, 16, 32, 1, 12, 0]))
    samples = draw(st.sampled_from([1, 1, 3, 0, 4]))
    photometric = draw(
        st.sampled_from(["MONOCHROME2", "MONOCHROME1", "RGB", "PALETTE COLOR", "YBR_FULL", "XYZ"])
    )
    spacing = draw(st.sampled_from([["0.5", "0.5"], ["nan", "inf"], ["0", "0"], ["-1", "1"], None]))
    pixel_bytes = draw(
        st.one_of(st.integers(0, 4096), st.just(min(rows * cols * max(bits, 8) // 8 * samples, 1 << 16)))
    )
    modality = draw(st.sampled_from(["CT", "MR", "CR", "OT", ""]))

    def write(path: Path) -> None:
        from pydicom.dataset import Dataset, FileMetaDataset
        from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID, ds.StudyInstanceUID = "1.2.3.4", "1.2.3"
        ds.Modality = modality
        ds.Rows, ds.Columns = rows, cols
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, max(bits - 1, 0)
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = samples, photometric, 0
        if frames is not None:
            ds.NumberOfFrames = frames
        if spacing is not None:
            ds.PixelSpacing = spacing
        ds.PixelData = bytes(pixel_bytes + (pixel_bytes % 2))
        ds["PixelData"].VR = "OB" if bits <= 8 else "OW"
        ds.save_as(path, enforce_file_format=True)

    return write


@pytest.mark.usefixtures("bounded_memory")
@SETTINGS
@given(write=dicom_writer())
def test_any_minimal_dicom_dataset(write: Callable[[Path], None]) -> None:
    _load_and_read("fuzz.dcm", write)
