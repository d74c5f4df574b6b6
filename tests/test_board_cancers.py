"""The board's cancer sections on real records (issue: board layout, parts 2 and 5).

Each defect seen on the shared records has a test: the biopsy, staging CT and brain MRI that
established a diagnosis dropped while 19 identical chemoradiation bullets were kept; pathology
(margins, DCIS) under "Labs and trends"; a line's end "ended when line 2 started"; a metastasis of
the same cancer as a section of its own. Expected values are read from the record (which resources
are biopsies, which results a pathology report holds), never typed in. John Anyperson is assembled
from the official mCODE example resources in ../shared/data/fhir/mcode (his NSCLC, brain
metastasis, lobectomy, stopped cisplatin); planted variations add real mCODE resources to a copy
of Jenny M's bundle.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from medboard.agents.ehr.core import ehr_findings
from medboard.agents.longitudinal.core import longitudinal_findings
from medboard.agents.synthesizer.board.scope import day, role_of
from medboard.agents.synthesizer.board.therapy import COLUMNS
from medboard.agents.synthesizer.template import draft_sections
from medboard.models import FactKind, Finding, Section, SectionKind, Statement, VerdictLabel
from medboard.models.claims import DiagnosisClaim, LineClaim
from medboard.models.picture import ClinicalPicture
from medboard.tools.checks.pipeline import verify_statement
from medboard.tools.fhir import PatientRecord, load_record
from medboard.tools.reconcile import build_picture

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir"
MCODE = SHARED / "mcode"
JENNY = MCODE / "Bundle-mcode-patient-bundle-jenny-m.json"
SYNTHEA = sorted((SHARED / "synthea").glob("*.json")) if SHARED.is_dir() else []
pytestmark = pytest.mark.skipif(not SYNTHEA, reason="../shared/data/fhir not available")

# John B. Anyperson's own resources among the mCODE examples (those whose subject is him and that
# do not point at another example patient's conditions).
JOHN = (
    "Patient-cancer-patient-john-anyperson.json",
    "Condition-primary-cancer-condition-nsclc.json",
    "Condition-secondary-cancer-condition-brain-mets.json",
    "Procedure-cancer-related-surgical-procedure-lobectomy.json",
    "MedicationRequest-cancer-related-medication-request-cisplatin-stopped.json",
    "MedicationRequest-cancer-related-medication-request-cisplatin.json",
    "MedicationRequest-cancer-related-medication-request-gefitinib.json",
    "Observation-tumor-marker-test-egf.json",
    "Observation-histologic-behavior-and-type-non-small-cell.json",
    "Observation-histologic-grade-intermediate.json",
    "Specimen-human-specimen-lung.json",
    "Observation-tnm-clinical-stage-group-3c.json",
    "Observation-tnm-clinical-primary-tumor-category-cT3.json",
    "Observation-tnm-clinical-regional-nodes-category-cN3.json",
    "Observation-tnm-clinical-distant-metastases-category-cM0.json",
)
JENNY_ADMINISTRATIONS = (
    "MedicationAdministration-a96613ef-89ea-4d90-a41b-30f707492f3e.json",
    "MedicationAdministration-cancer-related-medication-admin-doxorubicin-jenny-m.json",
    "MedicationAdministration-cancer-related-medication-admin-paclitaxel-jenny-m.json",
)


def bundle_of(resources: list[dict], path: Path) -> Path:  # type: ignore[type-arg]
    entries = [
        {"fullUrl": f"http://example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r}
        for r in resources
    ]
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


@pytest.fixture(scope="module")
def john(tmp_path_factory: pytest.TempPathFactory) -> Path:
    resources = [json.loads((MCODE / name).read_text()) for name in JOHN]
    return bundle_of(resources, tmp_path_factory.mktemp("john") / "john.json")


@pytest.fixture(scope="module")
def jenny_with_administrations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = json.loads(JENNY.read_text())
    resources = [e["resource"] for e in bundle["entry"]]
    resources += [json.loads((MCODE / name).read_text()) for name in JENNY_ADMINISTRATIONS]
    return bundle_of(resources, tmp_path_factory.mktemp("jenny") / "jenny.json")


class Board:
    """The layout of one record, as the no-model synthesizer drafts it, with what it drew on."""

    def __init__(self, path: Path) -> None:
        self.record: PatientRecord = load_record(path)
        self.picture: ClinicalPicture = build_picture(self.record)
        self.findings: list[Finding] = ehr_findings(self.record, self.picture) + longitudinal_findings(
            self.record, self.picture
        )
        self.sections: list[Section] = draft_sections(self.findings, picture=self.picture, record=self.record)

    @property
    def cancers(self) -> list[Section]:
        return [s for s in self.sections if s.kind == SectionKind.cancer]

    def section(self, kind: str) -> Section:
        return next(s for s in self.sections if s.kind == kind)

    def verdict(self, statement: Statement) -> VerdictLabel:
        case_date = self.picture.case_date or self.record.latest_date()
        return verify_statement(statement, self.findings, self.record, case_date).verdict

    def procedures(self, word: str) -> list[str]:
        return [
            f.reference for f in self.record.facts_of(FactKind.procedure) if word.lower() in f.label.lower()
        ]


@functools.cache
def board(path: Path) -> Board:
    return Board(path)


def synthea(name: str) -> Path:
    return SHARED / "synthea" / f"{name}.json"


def cited(statement: Statement) -> set[str]:
    return {e.reference for e in statement.evidence}


def citing(section: Section, reference: str) -> list[Statement]:
    return [s for s in section.statements if reference in cited(s)]


# --- every record -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*SYNTHEA, JENNY], ids=lambda p: p.stem)
def test_cancer_statements_verify(path: Path) -> None:
    """Nothing a cancer section says fails the verifier; what the board composes is supported
    (a specialist's finding restated verbatim is as checkable as its own wording)."""
    layout = board(path)
    assert len(layout.cancers) >= 1
    findings = {f.id: f for f in layout.findings}
    for section in layout.cancers:
        for statement in section.statements:
            verdict = layout.verdict(statement)
            assert verdict not in (VerdictLabel.unsupported, VerdictLabel.contradicted), statement.text
            restated = any(findings[i].text == statement.text for i in statement.finding_ids)
            if not restated:
                assert verdict == VerdictLabel.supported, statement.text


@pytest.mark.parametrize("path", [*SYNTHEA, JENNY], ids=lambda p: p.stem)
def test_each_record_item_is_stated_once(path: Path) -> None:
    """No repetition: a procedure, report or result a cancer section cites is cited by one of its
    statements, and no finding a section stated reaches the appendix."""
    layout = board(path)
    findings = {f.id: f for f in layout.findings}
    appendix = {i for s in layout.section(SectionKind.appendix).statements for i in s.finding_ids}
    for section in layout.cancers:
        counts: dict[str, int] = {}
        for statement in section.statements:
            assert not set(statement.finding_ids) & appendix, statement.text
            if any("kinetics" in findings[i].tags for i in statement.finding_ids if i in findings):
                continue  # kinetics cite the treatment change their window starts at: not a restatement
            for ref in cited(statement):
                counts[ref] = counts.get(ref, 0) + 1
        repeated = {r for r, n in counts.items() if n > 1 and not r.startswith("Condition/")}
        assert not {
            r for r in repeated if r.split("/")[0] in ("Procedure", "DiagnosticReport", "ImagingStudy")
        }


@pytest.mark.parametrize("path", [*SYNTHEA, JENNY], ids=lambda p: p.stem)
def test_therapy_table_has_one_row_per_line(path: Path) -> None:
    layout = board(path)
    for cancer, section in zip(layout.picture.cancers, layout.cancers, strict=False):
        rows = [s for s in section.statements if s.cells]
        if not rows:
            continue
        assert section.columns == COLUMNS
        assert all(len(r.cells or []) == len(COLUMNS) for r in rows)
        for number, line in enumerate(cancer.lines, start=1):
            [row] = [r for r in rows if r.cells and r.cells[0] == str(number)]
            assert isinstance(row.claim, LineClaim)
            assert row.claim.drugs == line.drugs and row.claim.start == line.start
            assert set(line.sources) <= cited(row)


# --- austin_franecki: NSCLC with 48 chemoradiation procedures --------------------------------------


def test_diagnosis_is_established_by_the_biopsy_and_its_workup_is_cited() -> None:
    layout = board(synthea("austin_franecki"))
    [section] = layout.cancers
    onset = day(layout.picture.cancers[0].onset)
    assert onset is not None
    biopsies = [f for f in layout.record.facts_of(FactKind.procedure) if role_of(f) == "biopsy"]
    assert biopsies
    [established] = [s for s in section.statements if s.text.startswith("Diagnosed by")]
    assert {b.reference for b in biopsies} <= cited(established)
    # the imaging of the weeks around the diagnosis (chest X-ray, CT, brain MRI)
    imaging = [
        f.reference
        for f in layout.record.facts_of(FactKind.procedure)
        if role_of(f) == "imaging" and (d := day(f.date)) and abs((d - onset).days) <= 30
    ]
    assert len(imaging) >= 3
    [workup] = [s for s in section.statements if s.text.startswith("Tests around diagnosis")]
    assert set(imaging) <= cited(workup)
    # the screening colonoscopies of other years are not this lung cancer's
    assert not set(layout.procedures("colonoscopy")) & {r for s in section.statements for r in cited(s)}


def test_repeated_procedures_are_one_row_citing_every_record() -> None:
    layout = board(synthea("austin_franecki"))
    [section] = layout.cancers
    courses = layout.procedures("Combined chemotherapy and radiation therapy")
    assert len(courses) > 20
    [row] = [s for s in section.statements if set(courses) & cited(s)]
    assert set(courses) == cited(row)
    assert f"{len(courses)} procedure records" in row.text
    assert row.cells is not None and row.cells[4] == f"{len(courses)} procedures"
    assert layout.verdict(row) == VerdictLabel.supported
    # the specialists' per-procedure findings are cited by the row, so none is stated again
    per_procedure = [f for f in layout.findings if f.text.startswith("Procedure: Combined chemotherapy")]
    assert per_procedure and {f.id for f in per_procedure} <= set(row.finding_ids)
    others = [s for sec in layout.sections for s in sec.statements if s is not row]
    assert not [s for s in others if s.text.startswith(("Procedure: Combined", "Radiotherapy course"))]


def test_expected_tests_are_open_questions_of_the_cancer() -> None:
    [section] = board(synthea("austin_franecki")).cancers
    [question] = [q for q in section.open_questions if "EGFR" in q]
    assert "ALK" in question and "PD-L1" in question and "NCCN" in question


# --- Jenny M: breast cancer with pathology, two lines, surgery and radiotherapy ---------------


def test_pathology_of_the_specimen_is_in_the_cancer_section() -> None:
    layout = board(JENNY)
    [section] = layout.cancers
    reports = [f for f in layout.record.facts_of(FactKind.report) if "patholog" in f.label.lower()]
    assert reports
    results = {
        ref
        for report in reports
        for ref in report.related
        if any(f.kind == FactKind.lab for f in layout.record.facts_citing(ref))
    }
    assert len(results) >= 4  # margins, DCIS, nodes, size, invasion
    stated = {r for s in section.statements for r in cited(s)}
    assert results <= stated
    appendix = {r for s in layout.section(SectionKind.appendix).statements for r in cited(s)}
    assert not results & appendix


def test_an_inferred_end_is_not_a_recorded_stop() -> None:
    layout = board(JENNY)
    [section] = layout.cancers
    first, second = layout.picture.cancers[0].lines[:2]
    assert first.end == second.start  # the reconciliation took the next line's start as the end
    [row] = [s for s in section.statements if s.cells and s.cells[0] == "1"]
    assert row.cells is not None and row.cells[3] == "not recorded"
    assert "then line 2" in row.text and str(first.end) not in row.text
    assert not [s for sec in layout.sections for s in sec.statements if "ended when" in s.text]


def test_surgery_and_radiotherapy_are_rows_in_order_of_start() -> None:
    [section] = board(JENNY).cancers
    rows = [s for s in section.statements if s.cells]
    kinds = [r.cells[0] for r in rows if r.cells]
    assert "surgery" in kinds and "radiotherapy" in kinds
    starts = [r.cells[2] for r in rows if r.cells]
    assert starts == sorted(starts)


def test_breast_receptors_come_first_and_nothing_expected_is_missing() -> None:
    [section] = board(JENNY).cancers
    results = [s for s in section.statements if getattr(s.claim, "kind", None) == "biomarker"]
    assert [getattr(s.claim, "name", "") for s in results[:3]] == ["ER", "PR", "HER2"]
    assert not [q for q in section.open_questions if q.startswith("No ER") or "HER2" in q]


def test_administrations_are_counted_from_the_records(jenny_with_administrations: Path) -> None:
    layout = Board(jenny_with_administrations)
    [section] = layout.cancers
    line = layout.picture.cancers[0].lines[0]
    given = [r for r in line.sources if r.startswith("MedicationAdministration/")]
    assert given
    [row] = [s for s in section.statements if s.cells and s.cells[0] == "1"]
    assert row.cells is not None and f"{len(given)} administrations" in row.cells[4]
    assert f"{len(line.sources)} medication records" in row.text
    assert layout.verdict(row) == VerdictLabel.supported


# --- John Anyperson (mCODE examples): NSCLC, brain metastasis, cisplatin stopped --------------


def test_reason_stopped_comes_from_the_record(john: Path) -> None:
    layout = Board(john)
    [section] = layout.cancers  # the brain metastasis is the same cancer's
    stopped = [
        r
        for r in layout.record.by_type("MedicationRequest")
        if r.get("status") == "stopped" and r.get("statusReason")
    ]
    assert stopped
    reason = stopped[0]["statusReason"]["coding"][0]["display"].replace(" (situation)", "")
    [row] = [s for s in section.statements if s.cells and reason in s.text]
    assert reason in (row.cells or [])[5]
    assert layout.verdict(row) == VerdictLabel.supported


def test_a_metastasis_is_stated_in_its_primary_section(john: Path) -> None:
    layout = Board(john)
    assert len(layout.picture.cancers) == 2
    [section] = layout.cancers
    diagnoses = [s.claim.condition for s in section.statements if isinstance(s.claim, DiagnosisClaim)]
    assert set(diagnoses) == {c.condition for c in layout.picture.cancers}
    assert not [q for q in section.open_questions if "EGFR" in q]  # recorded: EGF receptor Ag
    assert [q for q in section.open_questions if "ALK" in q and "ROS1" in q]  # metastatic: broad panel


def test_adan_metastasis_folds_into_the_prostate_section() -> None:
    layout = board(synthea("adan_pulido"))
    assert len(layout.picture.cancers) == 2
    [section] = layout.cancers
    assert len([s for s in section.statements if isinstance(s.claim, DiagnosisClaim)]) == 2


# --- loyd_connelly: prostate cancer, PSA, heart-failure imaging --------------------------------


def test_marker_course_is_one_statement_citing_every_value() -> None:
    layout = board(synthea("loyd_connelly"))
    [section] = layout.cancers
    [psa] = layout.picture.cancers[0].markers
    sources = {r.source for r in psa.results}
    [course] = [s for s in section.statements if sources <= cited(s)]
    assert sources == cited(course)
    assert "−" not in course.text and "=" not in course.text  # no arithmetic prose
    restating = [f for f in layout.findings if fs(f) and fs(f) <= sources]
    assert restating and {f.id for f in restating} <= set(course.finding_ids)
    # the one other statement citing a value is the marker's kinetics (its own finding, one per
    # marker course): the values since the last treatment change, with that change cited
    kinetics = [f for f in layout.findings if "kinetics" in f.tags]
    others = [s for s in section.statements if s is not course and sources & cited(s)]
    assert [s.finding_ids for s in others] == [[f.id for f in kinetics]]
    assert all(s.text.startswith("PSA kinetics on or after 2004-05-28") for s in others)
    elsewhere = [s for sec in layout.sections if sec.kind != SectionKind.cancer for s in sec.statements]
    assert not [s for s in elsewhere if sources & cited(s) and s.text.startswith("Prostate specific")]


def fs(finding: Finding) -> set[str]:
    return {e.reference for e in finding.evidence if e.kind == "fhir"}


def test_imaging_for_another_condition_stays_out_of_the_cancer_section() -> None:
    layout = board(synthea("loyd_connelly"))
    [section] = layout.cancers
    studies = {f.reference for f in layout.record.facts_of(FactKind.imaging_study)}
    assert studies
    assert not studies & {r for s in section.statements for r in cited(s)}
    [surgery] = [s for s in section.statements if s.cells and s.cells[0] == "surgery"]
    assert set(layout.procedures("prostatectomy")) == cited(surgery)
    assert not [q for q in section.open_questions if q.startswith("No biopsy")]  # biopsy recorded


def test_a_diagnosis_with_no_tissue_is_an_open_question() -> None:
    layout = board(synthea("andy_schaden"))
    [section] = layout.cancers
    assert not [f for f in layout.record.facts_of(FactKind.procedure) if role_of(f) == "biopsy"]
    assert [q for q in section.open_questions if q.startswith("No biopsy")]


def test_laterality_tells_two_cancers_of_one_site_apart(tmp_path: Path) -> None:
    """A right breast cancer planted beside Jenny's left one, and her biopsy's link removed: the
    biopsy's body site (left breast) still makes it the left cancer's, and only the left's."""
    bundle = json.loads(JENNY.read_text())
    resources = [e["resource"] for e in bundle["entry"]]
    left = next(r for r in resources if r["id"] == "primary-cancer-condition-jenny-m")
    right = json.loads(json.dumps(left))
    right["id"] = "primary-cancer-condition-right-breast"
    right["code"] = {
        "coding": [
            {
                "system": "http://snomed.info/sct",
                "code": "372064008",
                "display": "Malignant neoplasm of female right breast (disorder)",
            }
        ]
    }
    right.pop("extension", None)
    biopsy = next(r for r in resources if r["id"] == "us-core-procedure-biopsy-jenny-m")
    biopsy.pop("reasonReference")
    layout = Board(bundle_of([*resources, right], tmp_path / "two-breasts.json"))
    sides = {c.laterality: c.condition for c in layout.picture.cancers}
    assert set(sides) == {"left", "right"}
    by_subject = {s.subject: s for s in layout.cancers}
    biopsy_ref = f"Procedure/{biopsy['id']}"
    assert citing(by_subject[sides["left"]], biopsy_ref)
    assert not citing(by_subject[sides["right"]], biopsy_ref)
