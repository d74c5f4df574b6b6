"""Prior versus current imaging in the longitudinal comparer (issue 6, item 4).

Real images: two NIH chest X-rays as prior/current (dated through two ImagingStudy facts), the
brain MR with its tumour mask as baseline, and a follow-up mask made by eroding the real one (so
the expected change is known from two independent `measure_mask` calls).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from fake_openai import FakeOpenAIServer
from imaging_case_support import (
    CXR_CURRENT_CONCLUSION,
    CXR_PRIOR_CONCLUSION,
    cxr_entries,
    cxr_paths,
    decode_image_part,
    mr_entry,
    user_parts,
    vision_responder,
    write_case,
)
from imaging_support import TEST_DATA
from test_imaging_agent import caller_for

from medboard.agents.case import CaseContext, CaseInput
from medboard.agents.images import load_case_images
from medboard.agents.longitudinal.compare import deterministic_comparisons, imaging_pairs, imaging_timepoints
from medboard.agents.longitudinal.specialist import LongitudinalAgent
from medboard.agents.node import run_node
from medboard.agents.specialist import SpecialistReport
from medboard.models import FindingCategory, SectionKind, VerdictLabel
from medboard.orchestrator.case import load_case
from medboard.orchestrator.flow import run_case_flow
from medboard.tools.fhir import load_record
from medboard.tools.imaging import cxr_layout, load_image, measure_mask

SYNTHEA = Path(__file__).parent / "data" / "fhir" / "synthea" / "loyd_connelly.json"


async def run_longitudinal(case: CaseInput, caller: Any = None) -> tuple[CaseContext, SpecialistReport]:
    context = CaseContext(case=case, caller=caller)
    report = await run_node(LongitudinalAgent(context), context)
    assert isinstance(report, SpecialistReport)
    return context, report


def comparisons(report: SpecialistReport) -> list[Any]:
    return [f for f in report.findings if "comparison" in f.tags]


def eroded_mask(source: Path, target: Path, iterations: int) -> Path:
    """The real tumour mask shrunk in-plane by ``iterations`` pixels (a plausible follow-up)."""
    import nrrd

    data, header = nrrd.read(str(source))
    mask = data != 0
    for _ in range(iterations):  # 4-neighbour erosion in the two in-plane (first) axes
        inner = mask.copy()
        inner[1:, :] &= mask[:-1, :]
        inner[:-1, :] &= mask[1:, :]
        inner[:, 1:] &= mask[:, :-1]
        inner[:, :-1] &= mask[:, 1:]
        mask = inner
    nrrd.write(str(target), mask.astype(data.dtype), header)
    return target


def test_studies_pair_by_modality_site_and_date_on_a_real_record() -> None:
    record = load_record(SYNTHEA)
    studies = [f for f in record.facts if f.kind.value == "imaging_study"]
    pairs = imaging_pairs(imaging_timepoints(record.facts, load_case_images([], record.facts)))
    assert pairs, "the record has several studies of one modality and site"
    for pair in pairs:
        assert pair.prior.date < pair.current.date
        assert (pair.prior.modality, pair.prior.site) == (pair.current.modality, pair.current.site)
        same = [s for s in studies if s.details.modalities[0] == pair.current.study.details.modalities[0]]
        assert pair.current.date == max(s.date[:10] for s in same), "current is the latest of its kind"
    # Without reports, images or measurements there is nothing to compare: no empty findings.
    assert deterministic_comparisons(pairs) == []


async def test_reports_compared_side_by_side_without_a_model(tmp_path: Path) -> None:
    case = load_case(write_case(tmp_path, cxr_entries()))
    summary = await run_case_flow(case)

    finding = next(f for f in summary.findings if "comparison" in f.tags)
    assert finding.agent == "longitudinal" and finding.method == "deterministic"
    assert finding.text.index(CXR_PRIOR_CONCLUSION) < finding.text.index(CXR_CURRENT_CONCLUSION)
    assert "2023-03-01" in finding.text and "2023-06-01" in finding.text
    cited = {e.reference: e for e in finding.evidence}
    assert cited["DiagnosticReport/cxr-prior-report"].quote == CXR_PRIOR_CONCLUSION
    assert cited["DiagnosticReport/cxr-current-report"].quote == CXR_CURRENT_CONCLUSION
    prior, current = (load_image(p) for p in cxr_paths())
    assert {prior.ref(0), current.ref(0), "ImagingStudy/cxr-prior", "ImagingStudy/cxr-current"} <= set(cited)
    imaging = summary.section(SectionKind.imaging)
    assert imaging is not None
    statement = next(s for s in imaging.statements if finding.id in s.finding_ids)
    assert statement.verdict is not None and statement.verdict.verdict != VerdictLabel.unsupported


async def test_mask_measurements_give_change_and_recist(tmp_path: Path) -> None:
    follow_up = eroded_mask(TEST_DATA / "brain1_label.nrrd", tmp_path / "follow_label.nrrd", iterations=8)
    later = {
        "path": str(TEST_DATA / "brain1_image.nrrd"),
        "mask": str(follow_up),
        "date": "2023-08-01",
        "modality": "MR",
        "body_site": "Brain",
    }
    case = load_case(write_case(tmp_path / "case", [mr_entry(), later]))
    summary = await run_case_flow(case)

    def measured(path: Path) -> Any:
        labels = load_image(path)
        return measure_mask(np.rint(labels.array) != 0, labels.spacing)

    before, after = measured(TEST_DATA / "brain1_label.nrrd"), measured(follow_up)
    assert after.max_inplane_diameter_mm < before.max_inplane_diameter_mm
    change = next(f for f in summary.findings if "comparison" in f.tags and "measurement" in f.tags)
    delta = after.max_inplane_diameter_mm - before.max_inplane_diameter_mm
    assert change.value == round(delta, 1) and change.unit == "mm"
    assert f"{before.max_inplane_diameter_mm:.1f} mm on 2023-04-02" in change.text
    assert f"{after.max_inplane_diameter_mm:.1f} mm on 2023-08-01" in change.text
    percent = delta / before.max_inplane_diameter_mm * 100
    assert f"{abs(percent):.1f} %" in change.text
    # Both frames cited: the same file loaded twice keeps two distinct series ids.
    assert [e.reference for e in change.evidence] == [
        f"image:brain1_image#frame={before.diameter_frame}",
        f"image:brain1_image-2#frame={after.diameter_frame}",
    ]

    recist = next(
        f for f in summary.findings if f.category == FindingCategory.response and "RECIST" in f.text
    )
    expected = "PR" if percent <= -30 else "SD"  # shrinking: never PD
    assert recist.value == expected and recist.date == "2023-08-01"
    assert {e.reference for e in change.evidence} <= {e.reference for e in recist.evidence}
    # The verifier resolved the image citations against the loaded series (none struck for it).
    assert not [s for s in summary.struck if "names no image series" in s.reason]


async def test_model_compares_prior_then_current_and_cites_both_frames(tmp_path: Path) -> None:
    changes = [
        {
            "text": "Right pleural effusion resolved.",
            "change": "resolved",
            "box": [550, 80, 800, 420],
            "laterality": "right",
        }
    ]
    case = load_case(write_case(tmp_path, cxr_entries()))
    with FakeOpenAIServer(vision_responder(changes=changes), models=["fake-vision"]) as server:
        caller = caller_for(server.base_url, images_per_prompt=2)
        context, report = await run_longitudinal(case, caller)
        await caller.close()
        bodies = [
            b
            for b in server.requests
            if b.get("response_format", {}).get("json_schema", {}).get("name") == "ImagingChange"
        ]

    (body,) = bodies
    parts = user_parts(body)
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]  # prior, current, text
    prior, current = (load_image(p) for p in cxr_paths())
    expected = cxr_layout(current, prior=prior).images
    assert np.array_equal(decode_image_part(parts[0]), np.asarray(expected[0].image))
    assert np.array_equal(decode_image_part(parts[1]), np.asarray(expected[1].image))
    assert "2023-03-01" in parts[2]["text"] and "2023-06-01" in parts[2]["text"]

    model = [f for f in comparisons(report) if f.method == "model"]
    (finding,) = model
    assert [e.reference for e in finding.evidence] == [prior.ref(0), current.ref(0)]
    assert finding.evidence[0].box is None and finding.evidence[1].box == (550, 80, 800, 420)  # square image
    assert finding.laterality == "right" and "resolved" in finding.tags
    assert report.status == "ok" and context.agent_runs["longitudinal"].model_calls == 1


async def test_text_only_or_too_small_endpoints_keep_the_deterministic_comparison(tmp_path: Path) -> None:
    case = load_case(write_case(tmp_path, cxr_entries()))
    with FakeOpenAIServer(vision_responder(), models=["fake-vision"]) as server:
        text_only = caller_for(server.base_url, vision=False)
        context, report = await run_longitudinal(case, text_only)
        await text_only.close()
        one_image = caller_for(server.base_url, images_per_prompt=1)
        _, squeezed = await run_longitudinal(case, one_image)
        await one_image.close()
        assert not [
            b
            for b in server.requests
            if b.get("response_format", {}).get("json_schema", {}).get("name") == "ImagingChange"
        ]

    assert report.status == "ok" and any(f.method == "deterministic" for f in comparisons(report))
    assert any("longitudinal: prior and current images not compared" in w for w in context.warnings)
    assert squeezed.status == "degraded" and "allows 1" in (squeezed.error or "")
    assert any(f.method == "deterministic" for f in comparisons(squeezed))
