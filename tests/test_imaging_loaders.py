"""Loaders on real data: the GE head CT, pydicom's CR/CT/MR files, the brain MR NRRD, pictures."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from imaging_support import TEST_DATA, dicom_testfile, shared_ct_head, write_dicom_series

from medboard.errors import ImageInputError
from medboard.tools.imaging.load import load_image


def test_head_ct_sorted_by_position_in_hu(tmp_path: Path) -> None:
    # Copy under shuffled names so that file-name order is wrong and only headers can sort.
    source = shared_ct_head()
    files = sorted(source.glob("*.dcm"))
    for n, path in enumerate(files):
        shutil.copy(path, tmp_path / f"x{(n * 11) % len(files):02d}_{n}")
    ct = load_image(tmp_path)
    assert ct.modality == "CT" and ct.units == "HU" and ct.frame_count == 28
    assert ct.shape == (28, 512, 512)
    assert ct.positions is not None and np.all(np.diff(ct.positions) > 0)
    # Instance numbers of this series increase with position: position sort recovers them.
    assert ct.instance_numbers == sorted(ct.instance_numbers)  # type: ignore[type-var]
    assert ct.spacing is not None and ct.spacing[1:] == pytest.approx((0.48828, 0.48828), abs=1e-4)
    assert any("uneven slice spacing" in n for n in ct.notes)  # 4 mm then 7 mm in this series
    middle = ct.frame(14)
    assert middle.dtype == np.float32
    # Air around the head is about -1000 HU; the skull is bone (> 700 HU).
    air = middle[(middle > -1100) & (middle < -900)]
    assert air.size > 10_000 and float(np.median(air)) == pytest.approx(-1000, abs=30)
    assert float(middle.max()) > 700


def test_synthetic_series_order_ignores_names_and_instance_numbers(tmp_path: Path) -> None:
    positions = write_dicom_series(tmp_path, 12, 8, 8)
    series = load_image(tmp_path)
    assert series.positions == pytest.approx(positions)
    # slice k stores HU k - 1000: frames come back in anatomical order
    assert [float(series.frame(i)[0, 0]) for i in range(12)] == [k - 1000.0 for k in range(12)]
    assert series.spacing == pytest.approx((2.5, 0.5, 0.5))


def test_cr_monochrome1_is_inverted_and_windowed() -> None:
    import pydicom

    path = dicom_testfile("RG1_UNCR.dcm")
    cr = load_image(path)
    assert cr.modality == "CR" and cr.units == "uint8" and cr.kind == "image"
    shown = cr.frame(0)
    stored = pydicom.dcmread(path).pixel_array.astype(np.float64)
    assert shown.shape == stored.shape and shown.dtype == np.uint8
    # MONOCHROME1: high stored values are dark, so display and stored values anti-correlate.
    assert np.corrcoef(shown.ravel()[::97], stored.ravel()[::97])[0, 1] < -0.9
    assert shown.min() == 0 and shown.max() == 255


def test_compressed_transfer_syntaxes_decode_like_uncompressed() -> None:
    plain = load_image(dicom_testfile("emri_small.dcm"))
    j2k = load_image(dicom_testfile("emri_small_jpeg_2k_lossless.dcm"))
    assert plain.frame_count == 10 and plain.shape == (10, 64, 64)
    np.testing.assert_array_equal(plain.frames(range(10)), j2k.frames(range(10)))
    rle = load_image(dicom_testfile("MR_small_RLE.dcm"))
    np.testing.assert_array_equal(rle.array, load_image(dicom_testfile("MR_small.dcm")).array)
    cr_j2k = load_image(dicom_testfile("RG1_J2KR.dcm"))
    np.testing.assert_array_equal(cr_j2k.frame(0), load_image(dicom_testfile("RG1_UNCR.dcm")).frame(0))


def test_multiframe_reads_only_requested_frames() -> None:
    series = load_image(dicom_testfile("emri_small.dcm"))
    both = series.frames([7, 2])
    np.testing.assert_array_equal(both[0], series.frame(7))
    np.testing.assert_array_equal(both[1], series.frame(2))
    assert not np.array_equal(both[0], both[1])


def test_missing_pixel_handler_is_named() -> None:
    with pytest.raises(ImageInputError) as error:
        load_image(dicom_testfile("JPEG-LL.dcm"))
    message = str(error.value)
    assert "JPEG-LL.dcm" in message and "JPEG Lossless" in message and "pylibjpeg" in message


def test_small_ct_is_hu() -> None:
    ct = load_image(dicom_testfile("CT_small.dcm"))
    assert ct.units == "HU" and ct.frame_count == 1
    values = ct.frame(0)
    assert values.min() < -800 and values.max() > 700  # air and bone in pydicom's CT slice


def test_nrrd_volume_and_spacing() -> None:
    mr = load_image(TEST_DATA / "brain1_image.nrrd")
    assert mr.shape == (25, 256, 256) and mr.is_volume
    assert mr.spacing == pytest.approx((6.5, 0.78125, 0.78125))
    assert mr.orientation == pytest.approx((1, 0, 0, 0, -1, 0))


def test_raw_nrrd_is_memory_mapped(tmp_path: Path) -> None:
    import nrrd

    volume = np.arange(40 * 6 * 5, dtype=np.int16).reshape(40, 6, 5)  # (k, j, i)
    header = {"encoding": "raw", "spacings": [0.5, 0.6, 2.0]}
    nrrd.write(str(tmp_path / "v.nrrd"), volume, header, index_order="C")
    series = load_image(tmp_path / "v.nrrd")
    assert series.shape == (40, 6, 5)
    np.testing.assert_array_equal(series.frames([39, 0]), volume[[39, 0]].astype(np.float32))
    assert series.spacing == pytest.approx((2.0, 0.6, 0.5))
    assert not any("decoded whole" in n for n in series.notes)


def test_nifti_matches_nrrd_frames(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel")
    mr = load_image(TEST_DATA / "brain1_image.nrrd")
    data = np.transpose(mr.array, (2, 1, 0))  # back to (i, j, k)
    affine = np.diag([-0.78125, 0.78125, 6.5, 1.0])  # LPS (1,-1) rows flipped into RAS
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / "brain.nii.gz"))
    nifti = load_image(tmp_path / "brain.nii.gz")
    assert nifti.shape == mr.shape
    assert nifti.spacing == pytest.approx(mr.spacing)
    np.testing.assert_allclose(nifti.frames([3, 12]), mr.frames([3, 12]))


def test_pictures() -> None:
    cxr = load_image(TEST_DATA / "00000001_000.png")
    assert cxr.shape == (1, 512, 512) and cxr.kind == "image" and not cxr.is_volume
    fundus = load_image(TEST_DATA / "retina.jpg")
    assert fundus.is_color and fundus.frame(0).shape[-1] == 3


def test_pathology_tile_patches() -> None:
    tile = load_image(TEST_DATA / "he_carcinoma_tile.jpg", patches=True)
    assert tile.kind == "patches" and tile.patch_origins == [(0, 0)]
    assert tile.frame(0).shape == (896, 896, 3)


def test_patches_follow_tissue(tmp_path: Path) -> None:
    from PIL import Image

    # A 2,000 × 3,000 white slide with the real H&E tile pasted at two places.
    he = Image.open(TEST_DATA / "he_carcinoma_tile.jpg").convert("RGB")
    slide = Image.new("RGB", (3000, 2000), (245, 245, 245))
    slide.paste(he, (0, 0))
    slide.paste(he, (1792, 896))
    slide.save(tmp_path / "slide.png")
    series = load_image(tmp_path / "slide.png", patches=True)
    # grid: 2 rows × 3 columns of 896 px; tissue in (0,0) and (896,1792)
    assert series.patch_origins == [(0, 0), (896, 1792)]


def test_enhanced_ct_uses_functional_groups() -> None:
    import pydicom

    path = dicom_testfile("eCT_Supplemental.dcm")
    ct = load_image(path)
    ds = pydicom.dcmread(path)
    shared = ds.SharedFunctionalGroupsSequence[0]
    intercept = float(shared.PixelValueTransformationSequence[0].RescaleIntercept)
    assert ct.units == "HU" and ct.frame_count == 2 and intercept == -1024
    groups = ds.PerFrameFunctionalGroupsSequence
    cosines = [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient]
    normal = np.cross(cosines[:3], cosines[3:])  # (0, 0, -1) here: rows run right-to-left
    along = [
        np.dot(normal, [float(v) for v in g.PlanePositionSequence[0].ImagePositionPatient]) for g in groups
    ]
    order = np.argsort(along)
    assert ct.positions == pytest.approx(sorted(along))
    stored = ds.pixel_array
    for k, i in enumerate(order):  # frames in position order, rescaled by the shared group
        np.testing.assert_array_equal(ct.frame(k), stored[i].astype(np.float32) + intercept)
    pixel = shared.PixelMeasuresSequence[0].PixelSpacing
    assert ct.spacing is not None and ct.spacing[1:] == pytest.approx((float(pixel[0]), float(pixel[1])))
