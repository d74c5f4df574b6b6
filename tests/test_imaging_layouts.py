"""Request layouts in recipe order, on real images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from imaging_support import TEST_DATA, dicom_testfile, shared_ct_head, write_dicom_series

from medboard.errors import ImageInputError
from medboard.models import EvidenceRef
from medboard.tools.imaging.budget import EndpointLimits, ImageBudgetError
from medboard.tools.imaging.frames import ct_rgb
from medboard.tools.imaging.layouts import (
    ImagePart,
    TextPart,
    build_layout,
    ct_layout,
    cxr_layout,
    image_layout,
    mri_layout,
    wsi_layout,
)
from medboard.tools.imaging.load import load_image


def _kinds(layout) -> str:  # type: ignore[no-untyped-def]
    return "".join("I" if isinstance(p, ImagePart) else "T" for p in layout.parts)


def test_ct_layout_on_head_ct() -> None:
    ct = load_image(shared_ct_head())
    layout = ct_layout(ct, instruction="INSTRUCTION", question="QUESTION?")
    assert _kinds(layout) == "T" + "IT" * 28 + "T"
    assert layout.parts[0] == TextPart("INSTRUCTION")
    assert layout.parts[-1] == TextPart("QUESTION?")  # question LAST
    images = layout.images
    labels = [p.text for p in layout.parts[2:-1:2]]  # type: ignore[union-attr]
    assert labels == [f"SLICE {i}" for i in range(1, 29)]
    assert [p.frame for p in images] == list(range(28))  # 28 ≤ 85: every slice, in position order
    assert all(p.image.size == (896, 896) for p in images)
    assert all(EvidenceRef(reference=p.ref).frame == p.frame for p in images)
    # the image shown is the three-window RGB of that very slice (512 → 896, no padding needed)
    expected = ct_rgb(ct.frame(14))
    shown = np.asarray(images[14].image.resize((512, 512)))
    assert np.abs(shown.astype(int) - expected.astype(int)).mean() < 6
    assert layout.image_for_label(15).frame == 14
    content = layout.to_openai_content("jpeg")
    assert [c["type"] for c in content[:3]] == ["text", "image_url", "text"]
    assert content[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_ct_layout_samples_85_of_many(tmp_path: Path) -> None:
    write_dicom_series(tmp_path, 200, 16, 16)
    series = load_image(tmp_path)
    layout = ct_layout(series)
    frames = [p.frame for p in layout.images]
    assert len(frames) == 85 and frames[0] == 0 and frames[-1] == 199
    assert frames == sorted(frames)
    # slice k stores HU k - 1000 → the red channel (−1024..1024) grows with the frame index
    reds = [int(np.asarray(p.image)[448, 448, 0]) for p in layout.images]
    assert reds == sorted(reds) and reds[0] < reds[-1]
    assert any("85 of 200" in n for n in layout.notes)


def test_budget_error_and_downsampling(tmp_path: Path) -> None:
    write_dicom_series(tmp_path, 60, 16, 16)
    series = load_image(tmp_path)
    limits = EndpointLimits(max_model_len=8192, max_images=128, reserve_output=1024)
    with pytest.raises(ImageBudgetError, match="max-model-len 8192"):
        ct_layout(series, limits=limits)
    layout = ct_layout(series, limits=limits, on_overflow="downsample")
    assert 0 < len(layout.images) < 60
    assert layout.prompt_tokens + limits.reserve_output <= limits.max_model_len
    assert any("do not fit" in n for n in layout.notes)
    with pytest.raises(ImageBudgetError, match="allows 10 per prompt"):
        ct_layout(series, limits=EndpointLimits(max_images=10))


def test_mri_layout_per_volume_minmax() -> None:
    mr = load_image(TEST_DATA / "brain1_image.nrrd")
    layout = mri_layout(mr, question="Q")
    assert _kinds(layout) == "T" + "IT" * 25 + "T" and layout.parts[-1] == TextPart("Q")
    maxima = [int(np.asarray(p.image).max()) for p in layout.images]
    # one scale for the whole volume (not per slice): only the brightest slice reaches ~255
    # (bilinear up-sampling 256 → 896 may soften the single brightest voxel slightly)
    assert max(maxima) >= 245 and min(maxima) < 200


def test_cxr_single_and_longitudinal_order() -> None:
    current = load_image(TEST_DATA / "00000001_000.png")
    prior = load_image(dicom_testfile("RG1_UNCR.dcm"))
    single = cxr_layout(current)
    assert _kinds(single) == "TI"
    longitudinal = cxr_layout(current, prior=prior, question="What changed?")
    assert _kinds(longitudinal) == "IIT"
    first, second = longitudinal.images
    assert (first.role, first.series) == ("prior", prior.id)
    assert (second.role, second.series) == ("current", current.id)
    assert longitudinal.parts[-1].text.endswith("What changed?")  # type: ignore[union-attr]
    # the non-square CR is padded, and its boxes map back to its own pixel grid
    assert first.transform.source == (1955, 1841) and first.transform.pad == (0, 57)
    assert first.box_to_source((0, 0, 1000, 1000)) == pytest.approx((0, 0, 1955, 1841))


def test_wsi_prompt_first_then_patches(tmp_path: Path) -> None:
    from PIL import Image

    he = Image.open(TEST_DATA / "he_carcinoma_tile.jpg").convert("RGB")
    slide = Image.new("RGB", (2700, 1800), (250, 250, 250))
    for x, y in ((0, 0), (900, 0), (1800, 900)):
        slide.paste(he, (x, y))
    slide.save(tmp_path / "slide.jpg", quality=90)
    series = load_image(tmp_path / "slide.jpg", patches=True)
    layout = wsi_layout(series, tissue="breast", procedure="core needle biopsy")
    assert _kinds(layout) == "T" + "I" * series.frame_count
    assert "breast" in layout.parts[0].text and "core needle biopsy" in layout.parts[0].text  # type: ignore[union-attr]
    assert all(p.role == "patch" and p.image.size == (896, 896) for p in layout.images)


def test_fundus_generic_layout() -> None:
    fundus = load_image(TEST_DATA / "retina.jpg")
    layout = image_layout(fundus, question="Is there diabetic retinopathy?")
    assert _kinds(layout) == "TI" and layout.images[0].image.size == (896, 896)
    assert build_layout("image", fundus).images[0].ref == f"image:{fundus.id}#frame=0"


def test_volume_recipes_reject_2d_pictures() -> None:
    picture = load_image(TEST_DATA / "00000001_000.png")
    for recipe in ("ct", "mri"):
        with pytest.raises(ImageInputError, match="needs a volume"):
            build_layout(recipe, picture)
    with pytest.raises(ImageInputError, match="unknown recipe"):
        build_layout("pet", picture)


def test_autogen_content_keeps_the_order() -> None:
    from autogen_core import Image
    from autogen_core.models import UserMessage

    from medboard.llm.content import autogen_content

    mr = load_image(TEST_DATA / "brain1_image.nrrd")
    layout = mri_layout(mr, max_slices=3, question="Q")
    content = autogen_content(layout)
    assert [type(c).__name__ for c in content] == [
        "str",
        "Image",
        "str",
        "Image",
        "str",
        "Image",
        "str",
        "str",
    ]
    assert content[2] == "SLICE 1" and content[-1] == "Q"
    assert isinstance(content[1], Image) and content[1].image.size == (896, 896)
    UserMessage(content=content, source="imaging_reader")  # accepted by AutoGen's message model
