"""Helpers for the imaging tests and benchmarks: locate real data, write synthetic DICOM series."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

TEST_DATA = Path(__file__).parent / "data" / "imaging"
SHARED_IMAGING = Path(__file__).resolve().parents[2] / "shared" / "data" / "imaging"
CT_HEAD = SHARED_IMAGING / "ct_head_ge"


def shared_ct_head() -> Path:
    """The 28-slice GE head CT from ../shared/data (too large to copy into the repo)."""
    if not (CT_HEAD / "01.dcm").exists():
        pytest.skip(f"shared head CT not found at {CT_HEAD}")
    return CT_HEAD


def dicom_testfile(name: str) -> str:
    """A file from pydicom / pydicom-data."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} not installed")
    return str(path)


def write_dicom_series(
    folder: Path,
    count: int,
    rows: int = 64,
    cols: int = 64,
    *,
    spacing: float = 2.5,
    series_uid: str | None = None,
    study_uid: str | None = None,
    modality: str = "CT",
    shuffle_names: bool = True,
    pixels: Callable[[int], np.ndarray] | None = None,
    seed: int = 0,
) -> list[float]:
    """Write ``count`` single-frame CT slices; slice k stores HU ``k - 1000`` unless ``pixels`` given.

    File names are shuffled (so sorting by name is wrong) and InstanceNumber runs *against* the
    position for the second half, so only position sorting recovers anatomical order. Returns
    the z positions in true order. Slope 1, intercept -1024 (stored = HU + 1024).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    names = list(range(count))
    if shuffle_names:
        random.Random(seed).shuffle(names)
    positions = [-100.0 + k * spacing for k in range(count)]
    for k in range(count):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.Modality = modality
        ds.BodyPartExamined = "HEAD"
        ds.StudyDate = "20240105"
        ds.InstanceNumber = k + 1 if k < count // 2 else count + count // 2 - k
        ds.ImagePositionPatient = [0.0, 0.0, positions[k]]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.5, 0.5]
        ds.SliceThickness = spacing
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        hu = pixels(k) if pixels is not None else np.full((rows, cols), k - 1000, np.int16)
        ds.PixelData = (np.asarray(hu, np.int32) + 1024).astype(np.int16).tobytes()
        ds.save_as(folder / f"img{names[k]:05d}", enforce_file_format=True)
    return positions


def write_dicom_seg(
    path: Path, masks: dict[int, np.ndarray], positions: list[float], *, pixel_mm: float = 0.5
) -> Path:
    """A BINARY DICOM SEG: one frame per (segment, slice with any voxel), as a scanner would write.

    ``masks`` maps segment number → boolean (slices, rows, cols) on the series written by
    `write_dicom_series` (axial, z positions ``positions``).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.pixels import pack_bits
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    seg_class = "1.2.840.10008.5.1.4.1.1.66.4"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = seg_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = seg_class, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SegmentationType = "SEG", "BINARY"
    ds.SeriesInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    frames, groups, segments = [], [], []
    for number, mask in sorted(masks.items()):
        item = Dataset()
        item.SegmentNumber, item.SegmentLabel = number, f"segment {number}"
        segments.append(item)
        for k in np.nonzero(mask.any(axis=(1, 2)))[0]:
            frames.append(mask[k])
            group = Dataset()
            plane, ident = Dataset(), Dataset()
            plane.ImagePositionPatient = [0.0, 0.0, positions[k]]
            ident.ReferencedSegmentNumber = number
            group.PlanePositionSequence = Sequence([plane])
            group.SegmentIdentificationSequence = Sequence([ident])
            groups.append(group)
    shared, orientation, measures = Dataset(), Dataset(), Dataset()
    orientation.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    measures.PixelSpacing = [pixel_mm, pixel_mm]
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.PerFrameFunctionalGroupsSequence = Sequence(groups)
    ds.SegmentSequence = Sequence(segments)
    ds.NumberOfFrames = len(frames)
    ds.Rows, ds.Columns = frames[0].shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
    ds.PixelData = pack_bits(np.stack(frames).astype(np.uint8))
    ds.save_as(path, enforce_file_format=True)
    return path


# ------------------------------------------------------------------ hostile variants of real files
#
# Each writes into a test's tmp_path a bad variant *derived from a real file* of tests/data/imaging
# or pydicom-data: the header of the real file, a lying size, a zero stream, a truncation...

BRAIN_IMAGE = TEST_DATA / "brain1_image.nrrd"
BRAIN_LABEL = TEST_DATA / "brain1_label.nrrd"


def nrrd_header_lines(path: Path = BRAIN_IMAGE) -> tuple[list[str], bytes]:
    """(header lines without the blank terminator, the data bytes) of a real NRRD file."""
    raw = path.read_bytes()
    end = raw.index(b"\n\n")
    return raw[:end].decode("ascii").splitlines(), raw[end + 2 :]


def write_nrrd_variant(
    target: Path, changes: dict[str, str | None], *, data: bytes | None = None, source: Path = BRAIN_IMAGE
) -> Path:
    """The real NRRD with header fields replaced (value) or removed (None), data kept unless given."""
    lines, original = nrrd_header_lines(source)
    out, seen = [], set()
    for line in lines:
        key = line.split(":", 1)[0].strip() if ":" in line and not line.startswith("#") else None
        if key in changes:
            seen.add(key)
            if changes[key] is not None:
                out.append(f"{key}: {changes[key]}")
            continue
        out.append(line)
    out += [f"{k}: {v}" for k, v in changes.items() if k not in seen and v is not None]
    target.write_bytes("\n".join(out).encode("ascii") + b"\n\n" + (original if data is None else data))
    return target


def zero_stream(handle, total: int, compressor) -> None:  # type: ignore[no-untyped-def]
    """Write ``total`` zero bytes through ``compressor`` (a zlib/bz2 compress object) in 1 MB steps."""
    block = bytes(1 << 20)
    left = total
    while left > 0:
        handle.write(compressor.compress(block[: min(left, len(block))]))
        left -= len(block)
    handle.write(compressor.flush())


def write_nrrd_gzip_bomb(target: Path, inflated: int, sizes: str = "256 256 25") -> Path:
    """brain1's header (``sizes`` as given) over a gzip stream of ``inflated`` zero bytes."""
    import zlib

    write_nrrd_variant(target, {"sizes": sizes, "encoding": "gzip"}, data=b"")
    with target.open("ab") as handle:
        zero_stream(handle, inflated, zlib.compressobj(9, zlib.DEFLATED, 31))
    return target


def write_nifti(
    target: Path, source: Path = BRAIN_LABEL, dtype: str = "int16", crop: tuple[slice, ...] | None = None
) -> Path:
    """A real NIfTI written by nibabel from a real NRRD volume (brain1), with its spacing."""
    import nibabel as nib
    import nrrd

    data, header = nrrd.read(str(source))
    if crop is not None:
        data = data[crop]
    affine = np.eye(4)
    affine[:3, :3] = np.asarray(header["space directions"], float).T * np.array([-1, -1, 1])[:, None]
    nib.save(nib.Nifti1Image(data.astype(dtype), affine), str(target))
    return target


def patch_nifti_dims(path: Path, dims: tuple[int, ...]) -> Path:
    """Rewrite the dim[] field of a NIfTI-1 header (uncompressed file) in place."""
    import struct

    raw = bytearray(path.read_bytes())
    values = [len(dims), *dims] + [1] * (7 - len(dims))
    raw[40:56] = struct.pack("<8h", *values)
    path.write_bytes(bytes(raw))
    return path


def write_deflated_dicom(
    target: Path, pixel_bytes: int, *, rows: int = 512, cols: int = 512, frames: int | None = None
) -> Path:
    """pydicom-data's deflated ``image_dfl.dcm`` with its PixelData replaced by ``pixel_bytes`` zero
    bytes (and Rows/Columns/NumberOfFrames as given), deflated as a stream: a tiny file that
    inflates to ``pixel_bytes``."""
    import struct
    import zlib

    import pydicom
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info

    ds = pydicom.dcmread(dicom_testfile("image_dfl.dcm"))
    del ds.PixelData
    ds.Rows, ds.Columns = rows, cols
    if frames is not None:
        ds.NumberOfFrames = frames
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    meta.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    element = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, pixel_bytes + (pixel_bytes & 1))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    with target.open("wb") as handle:
        handle.write(meta.getvalue())
        handle.write(compressor.compress(body.getvalue() + element))
        zero_stream(handle, pixel_bytes + (pixel_bytes & 1), compressor)
    return target


def write_long_png(target: Path, width: int, height: int) -> Path:
    """A valid PNG of absurd aspect ratio (e.g. 140000 × 1)."""
    from PIL import Image

    Image.new("L", (width, height), 128).save(target)
    return target
