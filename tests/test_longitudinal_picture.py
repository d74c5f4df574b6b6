"""The longitudinal findings read the clinical picture: on the shared mCODE and Synthea records.

Each test names the trap the old whole-record reading fell into (a line "ongoing" in a patient
who died years ago, a PSA read as the "response" of a lung-cancer regimen, eGFR in two units merged
into one series, an impossible protein value in a trend) and shows the trap is in the data, then
that the findings do not fall into it. Variations are planted in a copy of a shared bundle (as
`test_reconcile_labs.py` does), never in the shared files.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from medboard.agents.ehr.core import ehr_findings
from medboard.agents.longitudinal.core import longitudinal_findings
from medboard.models import Finding, FindingCategory
from medboard.models.claims import LineClaim, ResultClaim
from medboard.tools.fhir import load_record
from medboard.tools.longitudinal.timeline import annotate_lines, build_timeline
from medboard.tools.longitudinal.trends import compute_trends
from medboard.tools.reconcile import build_picture, picture_of

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir"
SYNTHEA = sorted((SHARED / "synthea").glob("*.json"))
BUNDLES = SYNTHEA + sorted((SHARED / "mcode").glob("Bundle-*.json"))
JENNY = SHARED / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/fhir not available")

EGFR, PROTEIN, PSA, CA15_3 = "33914-3", "2885-2", "2857-1", "6875-9"


def _lines(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if "line-of-therapy" in f.tags]


def _on_line(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if "marker-on-line" in f.tags]


def _trends_of(findings: list[Finding], code: str) -> list[Finding]:
    return [f for f in findings if f.category == FindingCategory.trend and f"(LOINC {code}" in f.text]


def _bundle(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _observations(bundle: dict[str, Any], loinc: str) -> list[dict[str, Any]]:
    found = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and "valueQuantity" in e["resource"]
        and any(c.get("code") == loinc for c in e["resource"]["code"]["coding"])
    ]
    return sorted(found, key=lambda r: r["effectiveDateTime"])


def _add_observation(
    bundle: dict[str, Any], ident: str, loinc: str, label: str, value: float, unit: str, when: str
) -> str:
    """Plant a laboratory Observation of the bundle's patient; its `Type/id`."""
    patient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    subject = patient.get("fullUrl") or f"Patient/{patient['resource']['id']}"
    resource = {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": label}], "text": label},
        "subject": {"reference": subject},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }
    bundle["entry"].append({"fullUrl": f"urn:uuid:{ident}", "resource": resource})
    return f"Observation/{ident}"


def _load(bundle: dict[str, Any], tmp_path: Path, name: str = "planted.json") -> Any:
    path = tmp_path / name
    path.write_text(json.dumps(bundle))
    return load_record(path)


def _mentions(finding: Finding, reference: str) -> bool:
    """Whether a finding says anything about the resource: text, evidence, notes or claim."""
    claimed = finding.claim.model_dump_json() if finding.claim is not None else ""
    return (
        any(e.reference == reference for e in finding.evidence)
        or any(reference in note for note in finding.notes)
        or reference in claimed
        or reference.split("/", 1)[1] in finding.text
    )


# --- lines of a deceased patient -------------------------------------------------------------


def test_no_line_of_a_deceased_synthea_patient_is_current_or_ongoing() -> None:
    deceased, lines, trapped = [], 0, []
    for path in SYNTHEA:
        record = load_record(path)
        if not picture_of(record).patient.deceased:
            continue
        deceased.append(path.name)
        # the trap: the record's own timeline leaves a line "ongoing" (its orders still read active)
        if any(line.ongoing for line in build_timeline(record.facts).lines):
            trapped.append(path.name)
        for finding in _lines(longitudinal_findings(record)):
            lines += 1
            assert "ongoing" not in finding.text and "current" not in finding.text, finding.text
            assert isinstance(finding.claim, LineClaim) and finding.claim.status != "current"
    assert len(deceased) >= 3 and lines >= 3 and trapped, (deceased, lines, trapped)


def test_micah_schinner_line_is_stale_with_its_last_evidence() -> None:
    """Died 2020-11-24; FOLFOX ordered once, 2017-12-23, the order never closed."""
    record = load_record(SHARED / "synthea" / "micah_schinner.json")
    (line,) = _lines(longitudinal_findings(record))
    assert line.text == (
        "Line 1 for Secondary malignant neoplasm of colon (2017-12-23 – , stale: still ordered, "
        "last evidence 2017-12-23): leucovorin + oxaliplatin."
    )
    (cancer,) = picture_of(record).cancers
    assert line.claim == LineClaim(
        cancer=cancer.condition,
        drugs=["leucovorin", "oxaliplatin"],
        start="2017-12-23",
        end=None,
        status="stale",
        facts=cancer.lines[0].sources,
    )


# --- markers belong to their cancer -------------------------------------------------------------


def test_lung_cancer_line_gets_no_psa_response() -> None:
    """austin_franecki: non-small cell lung cancer, no prostate cancer, nine PSA values."""
    record = load_record(SHARED / "synthea" / "austin_franecki.json")
    picture = picture_of(record)
    (cancer,) = picture.cancers
    assert "lung" in cancer.name.lower() and not cancer.markers
    # the trap: pairing every marker with every line gives this lung regimen a PSA "response"
    old = annotate_lines(build_timeline(record.facts), compute_trends(record.facts))
    assert any(m.loinc == PSA for line in old.lines for m in line.marker_trends)

    findings = longitudinal_findings(record)
    (line,) = _lines(findings)
    assert "PSA" not in line.text and "Prostate" not in line.text
    assert {e.reference for e in line.evidence} == set(cancer.lines[0].sources)
    assert not _on_line(findings)
    assert not [f for f in findings if f.text.startswith(("PSA doubling time", "PSA velocity"))]
    # still trended, as a lab of nobody's cancer
    (psa,) = _trends_of(findings, PSA)
    assert isinstance(psa.claim, ResultClaim) and psa.claim.kind == "lab" and psa.claim.cancer is None


def test_marker_course_comes_only_from_the_lines_own_cancer(tmp_path: Path) -> None:
    """Jenny M (left breast cancer, AC-T then anastrozole) with CA 15-3 — a breast marker — and a
    PSA planted: each line gets the CA 15-3 course, neither gets the PSA."""
    bundle = _bundle(JENNY)
    before = _add_observation(bundle, "ca153-a", CA15_3, "CA 15-3", 40.0, "U/mL", "2018-09-01")
    on_line_2 = _add_observation(bundle, "ca153-b", CA15_3, "CA 15-3", 25.0, "U/mL", "2018-10-25")
    psa = _add_observation(bundle, "psa-a", PSA, "PSA", 3.1, "ng/mL", "2018-10-20")
    record = _load(bundle, tmp_path)
    (cancer,) = picture_of(record).cancers
    assert [m.name for m in cancer.markers] == ["CA 15-3"]

    findings = longitudinal_findings(record)
    courses = _on_line(findings)
    assert [f.text.split(":")[0] for f in courses] == [
        f"CA 15-3 on line 1 for {cancer.name} (cyclophosphamide + doxorubicin + paclitaxel)",
        f"CA 15-3 on line 2 for {cancer.name} (anastrozole)",
    ]
    first, second = courses
    assert "one value during the line, 40 U/mL on 2018-09-01" in first.text
    assert "before the line 40 U/mL on 2018-09-01, last on the line 25 U/mL on 2018-10-25" in second.text
    assert "(-37.5 %), falling" in second.text
    assert isinstance(second.claim, ResultClaim)
    assert (second.claim.kind, second.claim.cancer) == ("marker", cancer.condition)
    assert [(r.source, r.value) for r in second.claim.results] == [(before, 40.0), (on_line_2, 25.0)]
    assert all(not _mentions(f, psa) for f in _lines(findings) + courses)


def test_two_cancers_lines_neither_interleave_nor_share_a_marker(tmp_path: Path) -> None:
    """loyd_connelly (prostate cancer, PSA) with a colon cancer planted at his 1983 FOLFOX: the
    whole-record timeline ends FOLFOX on the day the prostate regimen starts and gives it the PSA
    rise as its course; per cancer, each line is its own cancer's, and PSA goes to neither FOLFOX."""
    bundle = _bundle(SHARED / "synthea" / "loyd_connelly.json")
    prostate = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Condition" and "Carcinoma in situ of prostate" in json.dumps(e)
    )
    colon = copy.deepcopy(prostate)
    colon["id"] = "planted-colon-cancer"
    display = "Primary malignant neoplasm of colon"
    colon["code"] = {"coding": [{"system": "http://snomed.info/sct", "code": "93761005", "display": display}]}
    colon["code"]["text"] = display
    colon["onsetDateTime"] = "1983-07-01T06:29:54+00:00"
    colon.pop("abatementDateTime", None)
    bundle["entry"].append({"fullUrl": "urn:uuid:planted-colon-cancer", "resource": colon})
    record = _load(bundle, tmp_path)
    # the trap: one timeline over every order
    old = annotate_lines(build_timeline(record.facts), compute_trends(record.facts)).lines
    assert old[0].end == old[1].start and any(m.loinc == PSA for m in old[0].marker_trends)

    picture = picture_of(record)
    by_name = {c.name: c for c in picture.cancers}
    findings = longitudinal_findings(record)
    lines = _lines(findings)
    assert sorted(f.text.split(" (")[0] for f in lines) == [
        "Line 1 for Carcinoma in situ of prostate",
        f"Line 1 for {display}",
    ]
    for finding in lines:
        assert isinstance(finding.claim, LineClaim)
        cancer = next(c for c in picture.cancers if c.condition == finding.claim.cancer)
        assert {e.reference for e in finding.evidence} == set(cancer.lines[0].sources)
    folfox = next(f for f in lines if display in f.text)
    assert isinstance(folfox.claim, LineClaim) and folfox.claim.end != "2004-05-28"
    assert not by_name[display].markers and not _on_line(findings)


# --- trends from the picture's series -----------------------------------------------------------


def test_egfr_in_two_units_gives_two_trends(tmp_path: Path) -> None:
    """adan_pulido's nine eGFR values in mL/min; the last three planted in mL/min/{1.73_m2}."""
    bundle = _bundle(SHARED / "synthea" / "adan_pulido.json")
    egfr = _observations(bundle, EGFR)
    assert len(egfr) >= 6
    for resource in egfr[-3:]:
        resource["valueQuantity"].update(unit="mL/min/{1.73_m2}", code="mL/min/{1.73_m2}")
    record = _load(bundle, tmp_path)
    # the trap: one series by LOINC code converts mL/min/{1.73_m2} to mL/min as if one measurement
    merged = compute_trends(record.facts, loinc=EGFR).analyte(EGFR)
    assert merged is not None and len(merged.points) == len(egfr)

    trends = _trends_of(longitudinal_findings(record), EGFR)
    assert sorted(f.unit for f in trends) == ["mL/min", "mL/min/{1.73_m2}"]
    planted = {f"Observation/{r['id']}" for r in egfr[-3:]}
    for finding in trends:
        cited = {e.reference for e in finding.evidence}
        assert f"series in {finding.unit})" in finding.text
        assert cited == (
            planted if finding.unit == "mL/min/{1.73_m2}" else {f"Observation/{r['id']}" for r in egfr[:-3]}
        )
        assert isinstance(finding.claim, ResultClaim) and finding.claim.kind == "lab"
        assert {r.unit for r in finding.claim.results} == {finding.unit}
        assert {r.source for r in finding.claim.results} <= cited
        latest = max(finding.claim.results, key=lambda r: r.date or "")
        assert finding.date and (latest.value, latest.date) == (finding.value, finding.date[:10])  # as said


def test_planted_implausible_protein_appears_in_no_trend(tmp_path: Path) -> None:
    bundle = _bundle(SHARED / "synthea" / "micah_schinner.json")
    six = _add_observation(bundle, "protein-a", PROTEIN, "Protein", 6.9, "g/dL", "2018-03-01T10:00:00+00:00")
    bad = _add_observation(
        bundle, "protein-b", PROTEIN, "Protein", 76.21, "g/dL", "2018-03-15T10:00:00+00:00"
    )
    seven = _add_observation(
        bundle, "protein-c", PROTEIN, "Protein", 7.3, "g/dL", "2018-04-01T10:00:00+00:00"
    )
    record = _load(bundle, tmp_path)
    quality = [q for q in picture_of(record).data_quality if q.sources == [bad]]
    assert [q.kind for q in quality] == ["implausible_value"] and "76.21 g/dL" in quality[0].description

    findings = longitudinal_findings(record)
    (protein,) = _trends_of(findings, PROTEIN)
    assert [e.reference for e in protein.evidence] == [six, seven]
    assert "76.2" not in protein.text
    trends = [f for f in findings if f.category == FindingCategory.trend]
    assert trends and not [f for f in trends if _mentions(f, bad)]


# --- claims rest on what the finding cites -----------------------------------------------------


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_every_claim_rests_on_the_findings_evidence(path: Path) -> None:
    record = load_record(path)
    picture = picture_of(record)
    lines = {(c.condition, tuple(line.drugs), line.start): line for c in picture.cancers for line in c.lines}
    findings = longitudinal_findings(record)
    for finding in findings:
        cited = {e.reference for e in finding.evidence}
        if isinstance(finding.claim, LineClaim):
            assert set(finding.claim.facts) <= cited, finding.text
            line = lines[(finding.claim.cancer or "", tuple(finding.claim.drugs), finding.claim.start)]
            claim = finding.claim
            assert (claim.end, claim.status, claim.facts) == (line.end, line.status, line.sources)
        elif isinstance(finding.claim, ResultClaim):
            assert set(finding.claim.facts) <= cited, finding.text
            assert {r.source for r in finding.claim.results} <= cited
    assert len(_lines(findings)) == len(lines)


def test_the_case_picture_decides_the_status(tmp_path: Path) -> None:
    """andy_schaden (alive): docetaxel + leuprolide ordered 2000-03-10. At the record's own date
    (2021) the line is stale; in a picture built at a case date a month after the order, current."""
    record = load_record(SHARED / "synthea" / "andy_schaden.json")
    (stale,) = _lines(longitudinal_findings(record))
    assert "stale: still ordered, last evidence 2000-03-10" in stale.text
    assert [f.id for f in longitudinal_findings(record, picture_of(record))] == [
        f.id for f in longitudinal_findings(record)
    ]
    early = build_picture(record, case_date="2000-04-10")
    (current,) = _lines(longitudinal_findings(record, early))
    assert "(2000-03-10 – , current)" in current.text
    assert isinstance(current.claim, LineClaim) and current.claim.status == "current"


def test_therapy_no_cancer_owns_stays_visible_without_an_owner() -> None:
    """loyd_connelly: FOLFOX in 1983 with only a prostate cancer recorded."""
    record = load_record(SHARED / "synthea" / "loyd_connelly.json")
    picture = picture_of(record)
    unassigned = [q for q in picture.data_quality if q.kind == "unassigned_therapy"]
    assert unassigned
    findings = longitudinal_findings(record)
    orders = {ref for q in unassigned for ref in q.sources}
    # The EHR specialist states the picture's data quality, once; the comparer does not repeat it.
    listed = [f for f in ehr_findings(record) if "unassigned_therapy" in f.tags]
    assert len(listed) == len(unassigned)
    assert all({e.reference for e in f.evidence} <= orders for f in listed)
    assert not [f for f in findings if {e.reference for e in f.evidence} & orders]
    # no line of the prostate cancer holds, or ends at, the FOLFOX orders
    for line in _lines(findings):
        assert not {e.reference for e in line.evidence} & orders
        assert "oxaliplatin" not in line.text and "1983" not in line.text
