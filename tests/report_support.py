"""Real cases for the HTML report tests: run (no model), rendered, written to files.

* `jenny_case` — the embedded default case (mCODE "Jenny M", a board question, two lines of
  therapy, surgery, radiotherapy, a stage discrepancy).
* `synthea_case` — a shared Synthea record with a tumour marker series (PSA), a line of therapy,
  surgery, key-lab series and a recorded death (loyd_connelly).
* `imaging_case` — the brain MR with its lesion mask and two chest X-rays (tests/data/imaging):
  the mask measurement cites its frame with a box, so the report has a key image with an overlay.
* `hostile_case` — Jenny M carrying script, event-handler and ``javascript:`` text in the record
  (patient name, cancer display, a radiology conclusion, a note), the board question, and in the
  summary (a statement, a struck statement, a run warning, the model's name and endpoint): what a
  hostile record or model could put there.

Each returns a `Rendered` (case, summary, html); `write_report` puts the HTML in a file.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from imaging_case_support import cxr_entries, mr_entry, write_case

from medboard.agents.case import CaseInput
from medboard.api import run_case_sync
from medboard.examples import DEFAULT_CASE
from medboard.models import (
    CaseSummary,
    EvidenceRef,
    ModelRun,
    Statement,
    StruckStatement,
    Verdict,
    VerdictLabel,
)
from medboard.orchestrator.case import load_case
from medboard.report.html import render_report

SHARED_FHIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
SYNTHEA_WITH_MARKERS = SHARED_FHIR / "synthea" / "loyd_connelly.json"
JENNY_BUNDLE = DEFAULT_CASE.parent / "bundle.json"

#: Each sets a global or the title if it ever runs; the tests check that none did.
SCRIPT = "<script>window.__pwned = 'script'; document.title = 'pwned';</script>"
ONERROR = "<img src=x onerror=\"window.__pwned = 'onerror'\">"
JS_URL = "javascript:window.__pwned='link'"
SVG_ONLOAD = "<svg onload=\"window.__pwned = 'svg'\"></svg>"
AMP = "Smith & <Jones>"
#: Short enough to label the timeline whole (labels are cut at 40 characters).
SURGERY = "Excision <script>x</script> & more"
NOTE_TEXT = f"Progress note. {SCRIPT} Patient stable. {ONERROR}"
HOSTILE_STATEMENT = f'Model says {SCRIPT} then {ONERROR} and <a href="{JS_URL}">click</a> {SVG_ONLOAD}'
STRUCK_TEXT = f"Struck claim {SCRIPT}"
STRUCK_REASON = f"no source says so {ONERROR}"
WARNING = f"warning from a model {SVG_ONLOAD} {JS_URL}"
ENDPOINT = "http://alice:s3cret-pass@gpu-host:8000/v1?api_key=k3y-value"
NOTE_ID = "hostile-note"


@dataclass
class Rendered:
    case: CaseInput
    summary: CaseSummary
    html: str


def run(case: CaseInput, **kwargs: Any) -> CaseSummary:
    return run_case_sync(case, model="none", **kwargs)


def jenny_case() -> Rendered:
    case = load_case(DEFAULT_CASE)
    summary = run(case)
    return Rendered(case, summary, render_report(summary, case))


def synthea_case() -> Rendered:
    case = load_case(SYNTHEA_WITH_MARKERS)
    summary = run(case)
    return Rendered(case, summary, render_report(summary, case))


def imaging_case(folder: Path) -> Rendered:
    """The MR with its mask and two chest X-rays; the overlays the run writes go in
    ``folder/out/images`` and the report reuses them, as `medboard run --out` does."""
    case = load_case(write_case(folder / "case", [mr_entry(), *cxr_entries()]))
    images = folder / "out" / "images"
    summary = run(case, overlay_dir=images)
    return Rendered(case, summary, render_report(summary, case, images_dir=images))


def hostile_bundle() -> dict[str, Any]:
    bundle = json.loads(JENNY_BUNDLE.read_text())
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            resource["name"][0]["given"] = [f"Jenny {SCRIPT}"]
        elif resource["id"] == "primary-cancer-condition-jenny-m":
            coding = resource["code"]["coding"][0]
            coding["display"] = f"Malignant neoplasm of breast {ONERROR} {AMP}"
            resource["code"]["text"] = coding["display"]
        elif resource["id"] == "cancer-related-surgical-procedure-jenny-m":
            resource["code"]["text"] = resource["code"]["coding"][0]["display"] = SURGERY
    report = {
        "resourceType": "DiagnosticReport",
        "id": "hostile-report",
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}
        ],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "24606-6", "display": "MG Breast Screening"}]
        },
        "subject": {"reference": "Patient/cancer-patient-jenny-m"},
        "effectiveDateTime": "2018-03-01",
        "conclusion": f'No mass. <a href="{JS_URL}">see prior</a> {SVG_ONLOAD}',
    }
    note = {
        "resourceType": "DocumentReference",
        "id": NOTE_ID,
        "status": "current",
        "subject": {"reference": "Patient/cancer-patient-jenny-m"},
        "date": "2018-04-02T10:00:00Z",
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "title": f"note {SCRIPT}",
                    "data": base64.b64encode(NOTE_TEXT.encode()).decode(),
                }
            }
        ],
    }
    bundle["entry"] += [
        {"fullUrl": "DiagnosticReport/hostile-report", "resource": report},
        {"fullUrl": f"DocumentReference/{NOTE_ID}", "resource": note},
    ]
    return bundle


def hostile_case(folder: Path) -> Rendered:
    """Jenny M with hostile text in the record, the question and the summary (see the module doc)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bundle.json").write_text(json.dumps(hostile_bundle()))
    spec = {"id": "hostile-jenny", "record": "bundle.json", "question": f"{SCRIPT} Is she a candidate?"}
    (folder / "case.yaml").write_text(yaml.safe_dump(spec))
    case = load_case(folder / "case.yaml")
    summary = plant_in_summary(run(case))
    return Rendered(case, summary, render_report(summary, case))


def plant_in_summary(summary: CaseSummary) -> CaseSummary:
    """What a hostile model could write: a statement, a struck statement, a warning, its name."""
    summary = summary.model_copy(deep=True)
    cited = [EvidenceRef(reference=f"DocumentReference/{NOTE_ID}", quote=f"quoted {SCRIPT}")]
    statement = Statement(
        id="hostile-1",
        text=HOSTILE_STATEMENT,
        evidence=cited,
        verdict=Verdict(statement_id="hostile-1", verdict=VerdictLabel.unverifiable, reason=f"why {ONERROR}"),
    )
    headline = summary.section("headline")
    assert headline is not None
    headline.statements.append(statement)
    struck = Statement(id="hostile-2", text=STRUCK_TEXT, evidence=cited)
    summary.struck.append(StruckStatement(statement=struck, section="headline", reason=STRUCK_REASON))
    summary.run.warnings.append(WARNING)
    summary.run.model = ModelRun(name=f"medgemma {AMP}", endpoint=ENDPOINT)
    return summary


def write_report(rendered: Rendered, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.html"
    path.write_text(rendered.html, encoding="utf-8")
    return path
