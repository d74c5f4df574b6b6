"""The imaging reader agent on real images: deterministic core, a fake vision model, faults.

Images are real (tests/data/imaging, pydicom-data, the shared 28-slice head CT); the FHIR record
around them is hand-written (`imaging_case_support`) so each test knows what must be cited.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_openai import FakeOpenAIServer
from imaging_case_support import (
    MR_CONCLUSION,
    cxr_entries,
    mr_entry,
    user_parts,
    vision_responder,
    write_case,
)
from imaging_support import TEST_DATA, dicom_testfile, shared_ct_head
from sample_records import tiny_record

from medboard.agents.case import CaseContext, CaseInput
from medboard.agents.imaging.overlays import save_overlays
from medboard.agents.imaging.specialist import ImagingAgent
from medboard.agents.node import run_node
from medboard.agents.specialist import SpecialistReport
from medboard.llm.calls import ModelCaller
from medboard.llm.client import make_chat_client
from medboard.llm.endpoint import ModelEndpoint
from medboard.models import SectionKind, VerdictLabel
from medboard.orchestrator.case import load_case
from medboard.orchestrator.flow import run_case_flow
from medboard.tools.imaging import load_image, measure_mask, sample_indices
from medboard.tools.imaging.boxes import box_pixels


def caller_for(base_url: str, **overrides: Any) -> ModelCaller:
    settings: dict[str, Any] = {
        "base_url": base_url,
        "model": "fake-vision",
        "timeout_s": 10.0,
        "max_retries": 1,
        "backoff_s": 0.01,
        "context_length": 32768,
        "images_per_prompt": 8,
    }
    settings.update(overrides)
    endpoint = ModelEndpoint(**settings)
    return ModelCaller(make_chat_client(endpoint), endpoint)


async def run_imaging(
    case: CaseInput, caller: ModelCaller | None = None
) -> tuple[CaseContext, SpecialistReport]:
    context = CaseContext(case=case, caller=caller)
    report = await run_node(ImagingAgent(context), context)
    assert isinstance(report, SpecialistReport)
    return context, report


def imaging_requests(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        b
        for b in bodies
        if b.get("response_format", {}).get("json_schema", {}).get("name") == "ImagingReading"
    ]


# ------------------------------------------------------------------------------ no model


async def test_no_model_flow_has_a_cited_imaging_section(tmp_path: Path) -> None:
    case = load_case(write_case(tmp_path, [mr_entry(), *cxr_entries()]))
    summary = await run_case_flow(case)

    imaging = summary.section(SectionKind.imaging)
    assert imaging is not None and imaging.status == "ok"
    by_id = {f.id: f for f in summary.findings}
    loaded = {load_image(e["path"]).id: load_image(e["path"]) for e in case.images}
    # Every image citation names a loaded series and a frame inside it; none was struck.
    for statement in imaging.statements:
        for ref in statement.evidence:
            if ref.kind == "image":
                assert ref.series in loaded and 0 <= (ref.frame or 0) < loaded[ref.series].frame_count
        assert statement.verdict is not None and statement.verdict.verdict != VerdictLabel.unsupported
    assert not [s for s in summary.struck if s.section == SectionKind.imaging]

    # The radiology report's conclusion is a supported, cited imaging statement.
    report = next(s for s in imaging.statements if MR_CONCLUSION in s.text)
    assert report.verdict is not None and report.verdict.verdict == VerdictLabel.supported
    cited = {e.reference: e for e in report.evidence}
    assert cited["DiagnosticReport/mr-report"].quote == MR_CONCLUSION
    assert "ImagingStudy/mr-1" in cited and "image:brain1_image#frame=12" in cited

    # What the MR series is, from its header: slices, size, spacing, the linked study cited.
    mr = load_image(TEST_DATA / "brain1_image.nrrd")
    described = next(
        by_id[i] for s in imaging.statements for i in s.finding_ids if "series brain1_image" in s.text
    )
    assert f"{mr.frame_count} slices of {mr.shape[1]}×{mr.shape[2]} pixels" in described.text
    assert f"{mr.spacing[1]:.3g} × {mr.spacing[2]:.3g} mm" in described.text and "MR Brain" in described.text
    assert {e.reference for e in described.evidence} == {mr.ref(mr.frame_count // 2), "ImagingStudy/mr-1"}

    # The CT study the case has no images for is listed from the record alone — done before the
    # diagnosis, it is the cancer's work-up, so the board states it in the cancer's section.
    cancer = summary.section(SectionKind.cancer)
    assert cancer is not None
    ct = next(s for s in cancer.statements if "CT Abdomen" in s.text)
    assert "1 series, 120 instances (images not available to this summary)" in ct.text
    assert [e.reference for e in ct.evidence] == ["ImagingStudy/ct-old"]
    assert ct.verdict is not None and ct.verdict.verdict != VerdictLabel.unsupported


async def test_mask_measurement_finding_cites_the_frame_of_the_diameter(tmp_path: Path) -> None:
    case = load_case(write_case(tmp_path, [mr_entry()]))
    _, report = await run_imaging(case)
    finding = next(f for f in report.findings if "measurement" in f.tags)

    mr = load_image(TEST_DATA / "brain1_image.nrrd")
    labels = load_image(TEST_DATA / "brain1_label.nrrd")
    mask = np.rint(labels.array).astype(int) != 0
    expected = measure_mask(mask, labels.spacing)
    assert finding.unit == "mm" and finding.value == round(expected.max_inplane_diameter_mm, 1)
    assert f"{int(mask.sum())} voxels" in finding.text
    assert f"volume {mask.sum() * np.prod(labels.spacing):.0f} mm³" in finding.text
    (ref,) = finding.evidence
    assert ref.reference == mr.ref(expected.diameter_frame) and ref.box is not None
    # Independent bounds on that frame: the lesion's extent along a row or a column is a chord of
    # it (≤ the diameter), and the diameter fits in its bounding box's diagonal (+ one pixel).
    rows, cols = np.nonzero(mask[expected.diameter_frame])
    row_mm, col_mm = labels.spacing[1], labels.spacing[2]
    height, width = (np.ptp(rows) + 1) * row_mm, (np.ptp(cols) + 1) * col_mm
    assert max(height, width) - 1e-6 <= expected.max_inplane_diameter_mm <= np.hypot(height, width) + 1e-6
    # Its box (normalised on the source frame) holds the diameter's end points, in pixels.
    y0, x0, y1, x1 = box_pixels(ref.box, mr.shape[1], mr.shape[2])
    assert rows.min() - 1 <= y0 <= y1 <= rows.max() + 2 and cols.min() - 1 <= x0 <= x1 <= cols.max() + 2


async def test_a_case_without_imaging_costs_nothing() -> None:
    case = CaseInput(case_id="tiny", record=tiny_record())
    started = time.perf_counter()
    context, report = await run_imaging(case)
    assert time.perf_counter() - started < 1.0
    assert report.status == "skipped" and not report.findings and "no images" in (report.error or "")
    assert context.image_series == {} and context.image_loading is None


async def test_broken_image_degrades_the_imaging_section_and_keeps_the_rest(tmp_path: Path) -> None:
    broken = tmp_path / "broken_scan.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a PNG signature, then nothing usable
    case = load_case(write_case(tmp_path / "case", [mr_entry(mask=False), {"path": str(broken)}]))
    summary = await run_case_flow(case)

    imaging = summary.section(SectionKind.imaging)
    assert imaging is not None and imaging.status == "degraded"
    assert imaging.error and "broken_scan.png" in imaging.error
    assert any("series brain1_image" in s.text for s in imaging.statements), "the readable image stays"
    run = next(a for a in summary.run.agents if a.agent == "imaging")
    assert run.status == "degraded" and "broken_scan.png" in (run.error or "")
    # the imaging section is laid out, so it alone carries the mark (not the headline)
    assert [s.kind for s in summary.sections if "imaging degraded" in (s.error or "")] == ["imaging"]
    for kind in (SectionKind.headline, SectionKind.cancer, SectionKind.key_labs):
        section = summary.section(kind)
        assert section is not None and section.status == "ok" and section.statements


# ---------------------------------------------------------------------------- with a model


async def test_ct_request_follows_the_recipe_and_answers_map_to_frames(tmp_path: Path) -> None:
    ct_dir = shared_ct_head()
    reading = [
        {"text": "Hyperdense focus in the left frontal lobe.", "slice": 3, "box": [100, 200, 300, 400]},
        {"text": "Ventricles are normal in size.", "slice": 8, "box": None, "laterality": None},
    ]
    case = load_case(write_case(tmp_path, [{"path": str(ct_dir), "recipe": "ct"}]))
    with FakeOpenAIServer(vision_responder(reading=reading), models=["fake-vision"]) as server:
        caller = caller_for(server.base_url, images_per_prompt=8)
        context, report = await run_imaging(case, caller)
        await caller.close()
        (body,) = imaging_requests(list(server.requests))

    series = load_image(ct_dir)
    assert body["messages"][0]["role"] == "system"
    parts = user_parts(body)
    # instruction, then (slice, "SLICE i") × 8 (the endpoint allows 8 images), the question last
    assert parts[0]["type"] == "text" and "CT series" in parts[0]["text"]
    middle = parts[1:-1]
    assert [p["type"] for p in middle] == ["image_url", "text"] * 8
    assert [p["text"] for p in middle[1::2]] == [f"SLICE {i}" for i in range(1, 9)]
    assert parts[-1]["type"] == "text" and "describe the key findings" in parts[-1]["text"]
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["$defs"]["ImagingReadingFinding"]["properties"]["slice"]["maximum"] == 8
    # the downsampling to the endpoint's limit is noted, not silent
    assert any("8 sampled evenly" in w for w in context.warnings)

    sampled = sample_indices(series.frame_count, 8)  # what SLICE i stands for
    focus = next(f for f in report.findings if f.text.startswith("Hyperdense"))
    assert focus.method == "model" and focus.laterality is None
    (ref,) = focus.evidence
    assert ref.reference == series.ref(sampled[2])
    rows, cols = series.shape[1:3]
    side = max(rows, cols)
    top, left = (side - rows) // 2, (side - cols) // 2
    expected = (
        round((100 * side / 1000 - top) / rows * 1000),
        round((200 * side / 1000 - left) / cols * 1000),
        round((300 * side / 1000 - top) / rows * 1000),
        round((400 * side / 1000 - left) / cols * 1000),
    )
    assert ref.box == expected
    assert any("pixels" in n for n in focus.notes)
    ventricles = next(f for f in report.findings if f.text.startswith("Ventricles"))
    assert ventricles.evidence[0].reference == series.ref(sampled[7]) and ventricles.evidence[0].box is None
    assert context.agent_runs["imaging"].model_calls == 1


async def test_cxr_boxes_map_back_to_source_pixels_and_overlay(tmp_path: Path) -> None:
    cr = dicom_testfile("RG1_UNCR.dcm")  # PA chest CR, 1955 × 1841: not square
    reading = [
        {
            "text": "Opacity in the right lower zone.",
            "slice": 1,
            "box": [600, 100, 800, 400],
            "laterality": "right",
        },
        {"text": "Box in the black padding.", "slice": 1, "box": [100, 0, 200, 20]},
        {"text": "Upside-down box.", "slice": 1, "box": [500, 500, 400, 600]},
    ]
    case = load_case(write_case(tmp_path, [{"path": cr}]))
    with FakeOpenAIServer(vision_responder(reading=reading), models=["fake-vision"]) as server:
        caller = caller_for(server.base_url, images_per_prompt=1)
        context, report = await run_imaging(case, caller)
        await caller.close()
        (body,) = imaging_requests(list(server.requests))

    assert [p["type"] for p in user_parts(body)] == ["text", "image_url"]  # X-ray: text, then image
    series = context.image_series[load_image(cr).id]
    assert series.modality == "CR"
    rows, cols = series.shape[1:3]
    left = (rows - cols) // 2  # taller than wide: padding left and right
    opacity = next(f for f in report.findings if f.text.startswith("Opacity"))
    assert opacity.laterality == "right"
    y0, x0, y1, x1 = opacity.evidence[0].box
    assert y0 == round(600 * rows / 1000 / rows * 1000) and y1 == 800
    assert x0 == round((100 * rows / 1000 - left) / cols * 1000)
    assert x1 == round((400 * rows / 1000 - left) / cols * 1000)
    padding = next(f for f in report.findings if f.text.startswith("Box in"))
    assert padding.evidence[0].box is None and any("padding" in n for n in padding.notes)
    upside = next(f for f in report.findings if f.text.startswith("Upside"))
    assert upside.evidence[0].box is None and any("discarded" in n for n in upside.notes)

    written = save_overlays(report.findings, context.image_series, tmp_path / "overlays")
    assert len(written) == 1 and written[0].suffix == ".png"
    from PIL import Image

    overlay = np.asarray(Image.open(written[0]).convert("RGB"))
    assert overlay.shape[:2] == (rows, cols)
    py0, px0, _, _ = (round(v) for v in box_pixels(opacity.evidence[0].box, rows, cols))
    assert tuple(overlay[py0 + 1, px0 + 1]) == (255, 64, 64), "the box outline is drawn on the source frame"


async def test_text_only_endpoint_skips_the_model_reading_visibly(tmp_path: Path) -> None:
    case = load_case(write_case(tmp_path, [mr_entry(), *cxr_entries()]))
    with FakeOpenAIServer(vision_responder(), models=["fake-vision"]) as server:
        caller = caller_for(server.base_url, vision=False)
        summary = await run_case_flow(case, caller=caller)
        await caller.close()
        bodies = list(server.requests)

    assert not imaging_requests(bodies) and all(
        "image_url" not in str(m.get("content")) for b in bodies for m in b["messages"]
    )
    run = next(a for a in summary.run.agents if a.agent == "imaging")
    assert run.status == "ok" and run.model_calls == 0
    assert any(
        "imaging: images not read by the model" in w and "text-only" in w for w in summary.run.warnings
    )
    imaging = summary.section(SectionKind.imaging)
    assert imaging is not None and imaging.status == "ok" and imaging.statements


async def test_a_failing_model_degrades_imaging_but_keeps_its_deterministic_findings(tmp_path: Path) -> None:
    case = load_case(write_case(tmp_path, [mr_entry()]))
    with FakeOpenAIServer(vision_responder(fail="ImagingReading"), models=["fake-vision"]) as server:
        caller = caller_for(server.base_url)
        _, report = await run_imaging(case, caller)
        await caller.close()
    assert report.status == "degraded" and "model reading of brain1_image failed" in (report.error or "")
    assert "500" in (report.error or "")
    assert any("measurement" in f.tags for f in report.findings)
    assert any(MR_CONCLUSION in f.text for f in report.findings)


@pytest.mark.parametrize("images_per_prompt", [0])
async def test_endpoint_without_image_slots_skips_reading(tmp_path: Path, images_per_prompt: int) -> None:
    case = load_case(write_case(tmp_path, [{"path": str(TEST_DATA / "retina.jpg"), "recipe": "image"}]))
    with FakeOpenAIServer(vision_responder(), models=["fake-vision"]) as server:
        caller = caller_for(server.base_url, images_per_prompt=images_per_prompt)
        context, report = await run_imaging(case, caller)
        await caller.close()
        assert not imaging_requests(list(server.requests))
    assert report.status == "ok" and any("accepts no images" in w for w in context.warnings)


def test_schema_free_localisation_answer_is_parsed_and_mapped() -> None:
    from medboard.agents.imaging.reader import parse_localisation
    from medboard.tools.imaging import cxr_layout
    from medboard.tools.imaging.boxes import map_box

    answer = (
        "<unused94>thinking about the lungs<unused95>Here are the findings:\n```json\n"
        '[{"box_2d": [600, 100, 800, 400], "label": "right lower zone opacity"},\n'
        ' {"box_2d": [900, 900, 100, 100], "label": "reversed"},\n'
        ' {"label": "no box at all"}]\n```'
    )
    boxes, skipped = parse_localisation(answer)
    assert boxes == [("right lower zone opacity", (600, 100, 800, 400))]
    assert len(skipped) == 2 and "0–1000" in skipped[0] and "no [y0, x0, y1, x1] box" in skipped[1]
    assert parse_localisation("I cannot localise anything.")[0] == []

    series = load_image(dicom_testfile("RG1_UNCR.dcm"))
    (part,) = cxr_layout(series).images
    box, note = map_box(part, boxes[0][1])
    rows, cols = series.shape[1:3]
    assert box is not None and box[0] == 600 and box[2] == 800  # taller than wide: rows unpadded
    assert box[1] == round((100 * rows / 1000 - (rows - cols) // 2) / cols * 1000) and "pixels" in note


async def test_mri_reading_in_the_flow_lands_in_the_imaging_section(tmp_path: Path) -> None:
    """Repo data only (runs where the shared CT is absent): the MRI recipe's order and the flow."""
    reading = [{"text": "Enhancing mass in the left frontal lobe.", "slice": 4, "box": [300, 550, 500, 750]}]
    case = load_case(write_case(tmp_path, [mr_entry()]))
    with FakeOpenAIServer(vision_responder(reading=reading), models=["fake-vision"]) as server:
        caller = caller_for(server.base_url, images_per_prompt=6)
        summary = await run_case_flow(case, caller=caller)
        await caller.close()
        (body,) = imaging_requests(list(server.requests))

    parts = user_parts(body)
    assert parts[0]["type"] == "text" and "MRI series" in parts[0]["text"]
    assert [p["type"] for p in parts[1:-1]] == ["image_url", "text"] * 6
    assert [p["text"] for p in parts[2:-1:2]] == [f"SLICE {i}" for i in range(1, 7)]
    assert "describe the key findings" in parts[-1]["text"] and "SLICE" in parts[-1]["text"]

    mr = load_image(TEST_DATA / "brain1_image.nrrd")
    finding = next(f for f in summary.findings if f.method == "model" and f.agent == "imaging")
    assert finding.evidence[0].reference == mr.ref(sample_indices(mr.frame_count, 6)[3])
    assert finding.evidence[0].box == (300, 550, 500, 750)  # square frames: same box on the source
    imaging = summary.section(SectionKind.imaging)
    assert imaging is not None and imaging.status == "ok"
    statement = next(s for s in imaging.statements if finding.id in s.finding_ids)
    assert statement.verdict is not None and statement.verdict.verdict == VerdictLabel.unverifiable
    assert "image evidence only" in statement.verdict.reason  # resolved, but rules cannot read images
    run = next(a for a in summary.run.agents if a.agent == "imaging")
    assert run.model_calls == 1 and run.prompt_tokens > 0


async def test_pathology_prompt_comes_first_then_the_patches(tmp_path: Path) -> None:
    tile = TEST_DATA / "he_carcinoma_tile.jpg"
    reading = [{"text": "Infiltrating glands of carcinoma.", "slice": 1, "box": None}]
    entry = {"path": str(tile), "recipe": "wsi", "body_site": "breast"}
    case = load_case(write_case(tmp_path, [entry]))
    with FakeOpenAIServer(vision_responder(reading=reading), models=["fake-vision"]) as server:
        caller = caller_for(server.base_url)
        context, report = await run_imaging(case, caller)
        await caller.close()
        (body,) = imaging_requests(list(server.requests))

    patches = load_image(tile, patches=True)
    parts = user_parts(body)
    assert [p["type"] for p in parts] == ["text"] + ["image_url"] * patches.frame_count
    assert "tissue: breast" in parts[0]["text"] and "histopathology" in parts[0]["text"]
    finding = next(f for f in report.findings if f.method == "model")
    assert finding.evidence[0].reference == patches.ref(0)
    assert any("source tile" in n for n in finding.notes)
    assert patches.id in context.image_series and context.image_series[patches.id].kind == "patches"


def test_run_cli_writes_key_images_with_boxes_next_to_the_report(tmp_path: Path) -> None:
    """`medboard run --out` puts boxed key frames in images/ and links them from summary.md."""
    from medboard.cli.main import main

    reading = [{"text": "Opacity in the right lower zone.", "slice": 1, "box": [600, 100, 800, 400]}]
    case = write_case(tmp_path, [{"path": dicom_testfile("RG1_UNCR.dcm")}])
    out = tmp_path / "out"
    with FakeOpenAIServer(vision_responder(reading=reading), models=["fake-vision"]) as server:
        code = main(
            ["run", str(case), "--model", server.base_url, "--model-name", "fake-vision", "--out", str(out)]
        )
    assert code == 0
    images = sorted((out / "images").glob("*.png"))
    assert len(images) == 1
    markdown = (out / "summary.md").read_text()
    assert "## Key images" in markdown and f"images/{images[0].name}" in markdown
    report = (out / "report.html").read_text()
    assert '<figure class="key-image">' in report and '<img src="data:image/png;base64,' in report
    assert "Opacity in the right lower zone." in report, "the box's finding is its legend"
    assert not list(tmp_path.glob(".medboard-*")), "the staging folder is gone"
