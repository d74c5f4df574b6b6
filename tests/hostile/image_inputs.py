"""Hostile images: decompression bombs, headers that lie about their size, impossible header
fields, truncated files of each format, degenerate geometry, NaN spacing/pixels, a mask that is
not a mask. Real files from tests/data/imaging and pydicom's test data are the starting point."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import zlib
from pathlib import Path

from .bombs import gzip_zeros, raw_deflate_zeros
from .corpus import (
    BAD_INPUT,
    BRAIN_IMAGE,
    CHEST_PNG,
    FLAGS,
    OK,
    TILE_JPG,
    Invocation,
    case_folder,
    hostile,
    run_args,
    write_bytes,
    write_text,
)

GiB = 1024**3


def _frames(path: Path, tmp: Path, *extra: str) -> list[str]:
    return ["image", "frames", str(path), "--out", str(tmp / "frames"), *extra]


def _info(path: Path) -> list[str]:
    return ["image", "info", str(path)]


def _expect_bad(args: list[str], tmp: Path, **kwargs: object) -> Invocation:
    return Invocation(args, expect=(BAD_INPUT,), out=tmp / "frames", **kwargs)  # type: ignore[arg-type]


# --- NRRD -----------------------------------------------------------------------------------


def _nrrd_header(
    sizes: str, *, type_: str = "short", encoding: str = "raw", dimension: int = 3, extra: str = ""
) -> bytes:
    return (
        f"NRRD0004\ntype: {type_}\ndimension: {dimension}\nspace: left-posterior-superior\n"
        f"sizes: {sizes}\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nkinds: domain domain domain\n"
        f"endian: little\nencoding: {encoding}\n{extra}\n"
    ).encode()


@hostile("nrrd")
def gzip_nrrd_bomb_4_gib(tmp: Path) -> Invocation:
    """4 MB on disk, 4 GiB inflated (2048×1024×1024 uint16)."""
    path = write_bytes(
        tmp / "bomb.nrrd", _nrrd_header("1024 1024 2048", encoding="gzip") + gzip_zeros(4 * GiB)
    )
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nrrd")
def gzip_nrrd_bomb_through_image_info(tmp: Path) -> Invocation:
    path = write_bytes(
        tmp / "bomb.nrrd", _nrrd_header("1024 1024 2048", encoding="gzip") + gzip_zeros(4 * GiB)
    )
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("nrrd")
def gzip_nrrd_bomb_in_a_case(tmp: Path) -> Invocation:
    folder = case_folder(tmp, "record: bundle.json\nimages:\n  - path: bomb.nrrd\n    modality: MR\n")
    write_bytes(folder / "bomb.nrrd", _nrrd_header("1024 1024 2048", encoding="gzip") + gzip_zeros(4 * GiB))
    # refused, or the imaging section fails visibly naming the file; never inflated
    return Invocation(
        run_args(folder, tmp / "out"), expect=(OK, BAD_INPUT), out=tmp / "out", flag=r"bomb\.nrrd"
    )


@hostile("nrrd")
def gzip_nrrd_bomb_lying_small_header(tmp: Path) -> Invocation:
    """Header declares 64³ but the gzip stream inflates to 2 GiB: the stream must be cut off."""
    path = write_bytes(tmp / "liar.nrrd", _nrrd_header("64 64 64", encoding="gzip") + gzip_zeros(2 * GiB))
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nrrd")
def raw_nrrd_header_declaring_far_more_than_the_file(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "huge.nrrd", _nrrd_header("30000 30000 30000") + bytes(4096))
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nrrd")
def detached_nrrd_reading_dev_zero(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "zero.nhdr", _nrrd_header("4096 4096 4096", extra="data file: /dev/zero"))
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nrrd")
def detached_nrrd_with_missing_data_file(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "gone.nhdr", _nrrd_header("8 8 8", extra="data file: nowhere.raw"))
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("nrrd")
def nrrd_negative_sizes(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "neg.nrrd", _nrrd_header("-5 10 10") + bytes(1000))
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("nrrd")
def nrrd_zero_sizes(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "zero.nrrd", _nrrd_header("0 10 10") + bytes(1000))
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nrrd")
def nrrd_unknown_type(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "type.nrrd", _nrrd_header("4 4 4", type_="quaternion") + bytes(512))
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("nrrd")
def nrrd_unknown_encoding(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "enc.nrrd", _nrrd_header("4 4 4", encoding="lzma") + bytes(128))
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("nrrd")
def nrrd_sizes_not_integers(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "float.nrrd", _nrrd_header("1e9 2.5 x") + bytes(128))
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("nrrd")
def nrrd_sizes_fewer_than_dimension(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "dims.nrrd", _nrrd_header("16 16") + bytes(512))
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("nrrd")
def nrrd_nan_spacing(tmp: Path) -> Invocation:
    header = _nrrd_header("4 4 4").replace(b"(1,0,0) (0,1,0) (0,0,1)", b"(nan,0,0) (0,inf,0) (0,0,1)")
    path = write_bytes(tmp / "nan.nrrd", header + bytes(128))
    return Invocation(_info(path), expect=(OK, BAD_INPUT), flag=FLAGS["bad-spacing"])


@hostile("nrrd")
def nrrd_nan_pixels_in_a_case(tmp: Path) -> Invocation:
    values = struct.pack("<64f", *([float("nan")] * 32 + [1.0] * 32))
    folder = case_folder(tmp, "record: bundle.json\nimages:\n  - path: nan.nrrd\n    modality: MR\n")
    write_bytes(folder / "nan.nrrd", _nrrd_header("4 4 4", type_="float") + values)
    out = tmp / "out"
    return Invocation(run_args(folder, out), expect=(OK, BAD_INPUT), out=out, flag=FLAGS["nan-pixels"])


@hostile("nrrd")
def truncated_nrrd(tmp: Path) -> Invocation:
    data = BRAIN_IMAGE.read_bytes()
    path = write_bytes(tmp / "cut.nrrd", data[: len(data) // 2])
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nrrd")
def truncated_gzip_nrrd(tmp: Path) -> Invocation:
    body = gzip.compress(bytes(range(256)) * 256)
    path = write_bytes(
        tmp / "cutgz.nrrd", _nrrd_header("64 64 8", type_="uchar", encoding="gzip") + body[:200]
    )
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nrrd")
def mr_image_used_as_its_own_mask(tmp: Path) -> Invocation:
    shutil.copy(BRAIN_IMAGE, tmp / "brain.nrrd")
    return Invocation(
        ["image", "measure", str(tmp / "brain.nrrd"), "--mask", str(tmp / "brain.nrrd")],
        expect=(OK, BAD_INPUT),
        flag=FLAGS["not-a-mask"],
    )


# --- NIfTI --------------------------------------------------------------------------------------


def _nifti_header(
    dims: tuple[int, ...],
    *,
    datatype: int = 4,
    bitpix: int = 16,
    vox_offset: float = 352.0,
    pixdim: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0),
) -> bytes:
    """A NIfTI-1 single-file header (348 bytes + 4-byte extension flag)."""
    header = bytearray(348)
    struct.pack_into("<i", header, 0, 348)
    dim = [len(dims), *dims] + [1] * (7 - len(dims))
    struct.pack_into("<8h", header, 40, *dim)
    struct.pack_into("<hh", header, 70, datatype, bitpix)
    pix = [1.0, *pixdim] + [1.0] * (7 - len(pixdim))
    struct.pack_into("<8f", header, 76, *pix[:8])
    struct.pack_into("<f", header, 108, vox_offset)
    struct.pack_into("<f", header, 112, 1.0)  # scl_slope
    struct.pack_into("<hh", header, 252, 1, 0)  # qform_code scanner, sform 0
    header[344:348] = b"n+1\x00"
    return bytes(header) + b"\x00\x00\x00\x00"


@hostile("nifti")
def nifti_header_claiming_30000_cubed(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "huge.nii", _nifti_header((30000, 30000, 30000)) + bytes(1024))
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nifti")
def nifti_header_claiming_30000_cubed_info(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "huge.nii", _nifti_header((30000, 30000, 30000)) + bytes(1024))
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("nifti")
def nifti_gz_bomb(tmp: Path) -> Invocation:
    """A .nii.gz whose header is honest (2048×1024×1024 int16) and whose data is 4 GiB of zeros."""
    path = write_bytes(tmp / "bomb.nii.gz", gzip_zeros(4 * GiB, _nifti_header((1024, 1024, 2048))))
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nifti")
def nifti_negative_dimension(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "neg.nii", _nifti_header((-4, 4, 4)) + bytes(256))
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("nifti")
def nifti_unknown_datatype(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "dtype.nii", _nifti_header((4, 4, 4), datatype=9999, bitpix=8) + bytes(256))
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("nifti")
def nifti_vox_offset_past_the_end(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "offset.nii", _nifti_header((4, 4, 4), vox_offset=1e12) + bytes(256))
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nifti")
def nifti_nan_pixdim(tmp: Path) -> Invocation:
    path = write_bytes(
        tmp / "nan.nii", _nifti_header((4, 4, 4), pixdim=(float("nan"), 1.0, 1.0)) + bytes(128)
    )
    return Invocation(_info(path), expect=(OK, BAD_INPUT), flag=FLAGS["bad-spacing"])


@hostile("nifti")
def truncated_nii_gz(tmp: Path) -> Invocation:
    """The issue's 'bare Aborted.': a .nii.gz cut mid-stream."""
    data = gzip.compress(_nifti_header((64, 64, 32)) + bytes(range(256)) * 512)
    path = write_bytes(tmp / "cut.nii.gz", data[: len(data) // 2])
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nifti")
def truncated_nii(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "cut.nii", _nifti_header((64, 64, 32)) + bytes(1000))
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("nifti")
def nii_gz_that_is_not_gzip(tmp: Path) -> Invocation:
    path = write_text(tmp / "fake.nii.gz", "this is not gzip at all")
    return Invocation(_info(path), expect=(BAD_INPUT,))


# --- PNG / JPEG ------------------------------------------------------------------------------------


def _png(width: int, height: int, rows: bytes | None = None, *, color_type: int = 0, depth: int = 8) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    idat = zlib.compress(rows if rows is not None else b"", 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@hostile("png")
def png_140000_by_1_through_image_frames(tmp: Path) -> Invocation:
    rows = b"\x00" + bytes(140_000)  # one row: filter byte + 140000 gray pixels
    path = write_bytes(tmp / "wide.png", _png(140_000, 1, rows))
    return Invocation(_frames(path, tmp), expect=(OK, BAD_INPUT), out=tmp / "frames")


@hostile("png")
def png_1_by_140000_through_image_frames(tmp: Path) -> Invocation:
    rows = b"\x00\x00" * 140_000
    path = write_bytes(tmp / "tall.png", _png(1, 140_000, rows))
    return Invocation(_frames(path, tmp, "--recipe", "cxr"), expect=(OK, BAD_INPUT), out=tmp / "frames")


@hostile("png")
def png_header_claiming_100000_squared(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "liar.png", _png(100_000, 100_000))
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("png")
def png_header_claiming_4_billion_wide(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "wide_liar.png", _png(2**31 - 1, 1))
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("png")
def png_zero_width(tmp: Path) -> Invocation:
    path = write_bytes(tmp / "zero.png", _png(0, 10))
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("png")
def png_in_a_case_claiming_100000_squared(tmp: Path) -> Invocation:
    folder = case_folder(tmp, "record: bundle.json\nimages:\n  - path: liar.png\n")
    write_bytes(folder / "liar.png", _png(100_000, 100_000))
    return Invocation(
        run_args(folder, tmp / "out"), expect=(OK, BAD_INPUT), out=tmp / "out", flag=r"liar\.png"
    )


@hostile("png")
def truncated_png(tmp: Path) -> Invocation:
    data = CHEST_PNG.read_bytes()
    path = write_bytes(tmp / "cut.png", data[: len(data) // 3])
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("png")
def truncated_jpeg(tmp: Path) -> Invocation:
    data = TILE_JPG.read_bytes()
    path = write_bytes(tmp / "cut.jpg", data[: len(data) // 3])
    return Invocation(_frames(path, tmp), expect=(OK, BAD_INPUT), out=tmp / "frames")


@hostile("png")
def jpeg_header_claiming_65500_squared(tmp: Path) -> Invocation:
    data = bytearray(TILE_JPG.read_bytes())
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at >= 0:
            struct.pack_into(">HH", data, at + 5, 65500, 65500)
            break
    path = write_bytes(tmp / "liar.jpg", bytes(data))
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("png")
def png_that_is_text(tmp: Path) -> Invocation:
    path = write_text(tmp / "notes.png", "not a picture")
    return Invocation(_info(path), expect=(BAD_INPUT,))


# --- DICOM ------------------------------------------------------------------------------------------


def _ct_small() -> Path:
    from pydicom.data import get_testdata_file

    found = get_testdata_file("CT_small.dcm")
    assert found is not None, "pydicom's CT_small.dcm is needed (pydicom ships it)"
    return Path(found)


def _ct_dataset():  # type: ignore[no-untyped-def]
    import pydicom

    return pydicom.dcmread(_ct_small())


@hostile("dicom")
def deflated_dicom_bomb(tmp: Path) -> Invocation:
    """~1 MB on disk: a Deflated Explicit VR LE dataset whose PixelData inflates to 1 GiB."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = _ct_dataset()
    del ds.PixelData
    ds.Rows, ds.Columns, ds.NumberOfFrames = 16384, 16384, 2
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    meta, dataset = DicomBytesIO(), DicomBytesIO()
    for buffer in (meta, dataset):
        buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
    write_dataset(dataset, ds)
    size = 16384 * 16384 * 2 * 2
    pixel_header = b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", size)
    deflated = raw_deflate_zeros(size, dataset.getvalue() + pixel_header)
    path = write_bytes(tmp / "bomb.dcm", b"\0" * 128 + b"DICM" + meta.getvalue() + deflated)
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("dicom")
def dicom_header_lie_rows_columns_frames(tmp: Path) -> Invocation:
    ds = _ct_dataset()
    ds.Rows, ds.Columns, ds.NumberOfFrames = 65535, 65535, 50000
    path = tmp / "liar.dcm"
    ds.save_as(path, enforce_file_format=True)
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("dicom")
def dicom_zero_rows(tmp: Path) -> Invocation:
    ds = _ct_dataset()
    ds.Rows = 0
    path = tmp / "zero.dcm"
    ds.save_as(path, enforce_file_format=True)
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("dicom")
def dicom_bits_allocated_nonsense(tmp: Path) -> Invocation:
    ds = _ct_dataset()
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 3, 77, 200
    path = tmp / "bits.dcm"
    ds.save_as(path, enforce_file_format=True)
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("dicom")
def truncated_dicom(tmp: Path) -> Invocation:
    data = _ct_small().read_bytes()
    path = write_bytes(tmp / "cut.dcm", data[: int(len(data) * 0.7)])
    return _expect_bad(_frames(path, tmp), tmp)


@hostile("dicom")
def truncated_dicom_header(tmp: Path) -> Invocation:
    data = _ct_small().read_bytes()
    path = write_bytes(tmp / "cuthead.dcm", data[:300])
    return Invocation(_info(path), expect=(BAD_INPUT,))


@hostile("dicom")
def dicom_nan_pixel_spacing(tmp: Path) -> Invocation:
    ds = _ct_dataset()
    ds["PixelSpacing"].value = ["nan", "inf"]
    path = tmp / "nan.dcm"
    ds.save_as(path, enforce_file_format=True)
    return Invocation(_info(path), expect=(OK, BAD_INPUT), flag=FLAGS["bad-spacing"])


@hostile("dicom")
def six_slices_at_one_position(tmp: Path) -> Invocation:
    ds = _ct_dataset()
    folder = tmp / "series"
    folder.mkdir()
    from pydicom.uid import generate_uid

    series = generate_uid()
    for n in range(6):
        ds.SOPInstanceUID = generate_uid()
        ds.SeriesInstanceUID = series
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [-158.0, -179.0, -75.0]
        ds.SliceThickness = 4
        ds.save_as(folder / f"{n}.dcm", enforce_file_format=True)
    return Invocation(_info(folder), expect=(OK, BAD_INPUT), flag=FLAGS["degenerate-slices"])


@hostile("dicom")
def dicom_named_like_a_picture_but_a_symlink_to_dev_zero(tmp: Path) -> Invocation:
    os.symlink("/dev/zero", tmp / "zero.dcm")
    return Invocation(_info(tmp / "zero.dcm"), expect=(BAD_INPUT,))
