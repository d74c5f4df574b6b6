"""Treatment timeline: lines of therapy from the mCODE patients' cancer medications, and the rules."""

from __future__ import annotations

import json

import pytest
from longitudinal_support import JENNY, MCODE, lab, resources, synthea

from medboard.models import Coding, EvidenceRef, Fact, FactKind
from medboard.tools.longitudinal.timeline import (
    annotate_lines,
    build_timeline,
    drug_name,
    last_treatment_change,
)
from medboard.tools.longitudinal.trends import compute_trends


def _raw_medications(patient: str) -> list[tuple[str, str, str]]:
    """(display, start date, status) of every mCODE medication resource of one patient, from raw JSON."""
    seen: dict[str, tuple[str, str, str]] = {}
    for path in [*sorted(MCODE.glob("*.json")), JENNY]:
        for r in resources(path):
            if r["resourceType"] not in ("MedicationRequest", "MedicationAdministration"):
                continue
            if r.get("subject", {}).get("reference") != f"Patient/{patient}":
                continue
            display = r["medicationCodeableConcept"]["coding"][0]["display"].lower()
            seen[r["id"]] = (display, r.get("authoredOn") or r.get("effectiveDateTime"), r["status"])
    return list(seen.values())


@pytest.mark.parametrize(
    "patient", ["cancer-patient-jenny-m", "cancer-patient-john-anyperson", "cancer-patient-brian-l"]
)
def test_lines_cover_every_cancer_medication_of_the_mcode_patients(patient: str) -> None:
    from medboard.tools.fhir import load_record

    source = JENNY if patient == "cancer-patient-jenny-m" else MCODE
    record = load_record(source, patient=patient)
    timeline = build_timeline(record.facts)
    raw = _raw_medications(patient)
    drugs = [d for line in timeline.lines for d in line.drugs]
    assert raw and len(drugs) == len(set(drugs))
    # every raw medication is in exactly one line, under a drug its display names
    for display, _, _ in raw:
        assert sum(drug in display for drug in drugs) == 1, display
    assert all(any(drug in display for display, _, _ in raw) for drug in drugs)
    # each line starts at its earliest record; records of a line are cited
    for line in timeline.lines:
        starts = [day for display, day, _ in raw if any(d in display for d in line.drugs)]
        assert line.start == min(starts)[:10]
        assert len(line.evidence) == len(starts)
    assert not [e for e in timeline.excluded if e.reference.startswith("Medication")]


def test_jenny_m_chemotherapy_then_endocrine_therapy_surgery_and_radiotherapy() -> None:
    from medboard.tools.fhir import load_record

    path = JENNY
    timeline = build_timeline(load_record(path).facts)
    first, second = timeline.lines
    assert sorted(first.drugs) == ["cyclophosphamide", "doxorubicin", "paclitaxel"]  # one regimen (AC-T)
    assert second.drugs == ["anastrozole"] and second.ongoing and second.end is None
    # the raw bundle: anastrozole authored more than the 28-day regimen window after the chemotherapy
    raw = {r["id"]: r for r in resources(path)}
    assert raw["cancer-related-medication-request-anastrozole-jenny-m"]["authoredOn"] == second.start
    kinds = [(p.kind, p.start) for p in timeline.procedures]
    surgery = raw["cancer-related-surgical-procedure-jenny-m"]["performedDateTime"][:10]
    radiotherapy = raw["radiotherapy-treatment-summary-chest-wall-jenny-m"]["performedPeriod"]
    assert ("surgery", surgery) in kinds and ("radiotherapy", radiotherapy["start"]) in kinds
    change = last_treatment_change(timeline)
    assert change.date == radiotherapy["end"] and "radiotherapy" in change.description
    assert (
        last_treatment_change(timeline, on_or_before="2018-09-01").description
        == "start of radiotherapy course"
    )


def test_synthea_monthly_chemoradiation_is_one_line_and_one_course() -> None:
    from medboard.tools.fhir import load_record

    path = synthea("austin_franecki.json")
    record = load_record(path)
    timeline = annotate_lines(build_timeline(record.facts), compute_trends(record.facts))
    raw = [r for r in resources(path) if r["resourceType"] == "MedicationRequest"]
    chemo = sorted(r["authoredOn"] for r in raw if "cisplatin" in json.dumps(r).lower())
    (line,) = timeline.lines
    assert sorted(line.drugs) == ["cisplatin", "paclitaxel"]
    assert (line.start, line.end) == (chemo[0][:10], chemo[-1][:10])  # all records "stopped"
    (course,) = [p for p in timeline.procedures if p.kind == "radiotherapy"]
    assert course.records == len(chemo)
    # the PSA course during the line is compared with the last value before it
    (psa,) = line.marker_trends
    assert psa.before_line.day <= line.start < psa.on_line[0].day
    assert psa.change == pytest.approx(psa.on_line[-1].value - psa.before_line.value)
    # the non-cancer medication is listed with its reason, not dropped
    assert any("not recognised as cancer therapy" in e.reason for e in timeline.excluded)


# --- the rules, on constructed facts --------------------------------------------------------


def med(
    ref: str,
    label: str,
    day: str | None,
    status: str = "completed",
    end: str | None = None,
    **details: object,
) -> Fact:
    return Fact(
        id=ref,
        kind=FactKind.medication,
        label=label,
        status=status,
        date=day,
        end_date=end,
        codes=[Coding(system="http://www.nlm.nih.gov/research/umls/rxnorm", display=label)],
        details={"resource_type": "MedicationRequest", **details},
        evidence=EvidenceRef(reference=ref),
    )


def test_drug_names_from_rxnorm_displays() -> None:
    assert (
        drug_name(
            med("MedicationRequest/a", "10 ML doxorubicin hydrochloride 2 MG/ML Injection", "2020-01-01")
        )
        == "doxorubicin"
    )
    assert (
        drug_name(
            med("MedicationRequest/b", "0.25 ML Leuprolide Acetate 30 MG/ML Prefilled Syringe", "2020-01-01")
        )
        == "leuprolide"
    )
    assert drug_name(med("MedicationRequest/c", "Simvistatin 10 MG", "2020-01-01")) == "simvistatin"


def test_regimen_window_gap_rule_and_switch() -> None:
    facts = [
        med("MedicationRequest/c1", "carboplatin", "2020-01-01"),
        med("MedicationRequest/p1", "paclitaxel", "2020-01-15"),  # within 28 days: same regimen
        med("MedicationRequest/c2", "carboplatin", "2020-02-01"),
        med("MedicationRequest/c3", "carboplatin", "2020-03-01"),
        med("MedicationRequest/pem", "pemetrexed", "2020-06-01"),  # new drug later: line 2
        med("MedicationRequest/pem2", "pemetrexed", "2021-06-01", status="active"),  # > 90-day gap: line 3
        med("MedicationRequest/statin", "atorvastatin 20 MG", "2020-01-01"),
        med("MedicationRequest/cancelled", "docetaxel", "2020-04-01", status="cancelled"),
        med("MedicationRequest/undated", "docetaxel", None),
        med("MedicationRequest/marked", "dexamethasone", "2020-06-02", cancer_related=True),
    ]
    timeline = build_timeline(facts)
    assert [(line.drugs, line.start, line.end) for line in timeline.lines] == [
        (["carboplatin", "paclitaxel"], "2020-01-01", "2020-03-01"),
        (["pemetrexed", "dexamethasone"], "2020-06-01", "2020-06-02"),
        (["pemetrexed"], "2021-06-01", None),
    ]
    assert timeline.lines[2].ongoing
    excluded = {e.reference: e.reason for e in timeline.excluded}
    assert excluded["MedicationRequest/statin"] == "medication not recognised as cancer therapy"
    assert excluded["MedicationRequest/cancelled"] == "status cancelled: not given"
    assert "no date" in excluded["MedicationRequest/undated"]
    assert [c.description for c in timeline.changes()][:2] == [
        "start of line 1 (carboplatin + paclitaxel)",
        "end of line 1 (carboplatin + paclitaxel)",
    ]


def test_ongoing_line_is_closed_by_the_next_and_markers_follow_lines() -> None:
    facts = [
        med("MedicationRequest/a", "leuprolide", "2020-01-01", status="active"),
        med("MedicationRequest/b", "enzalutamide", "2021-01-01", status="active"),
        *[
            lab(f"Observation/psa{i}", "2857-1", v, "ng/mL", d, kind=FactKind.tumor_marker, label="PSA")
            for i, (d, v) in enumerate(
                [("2019-12-01", 20.0), ("2020-06-01", 2.0), ("2020-12-01", 6.0), ("2021-06-01", 1.0)]
            )
        ],
    ]
    timeline = annotate_lines(build_timeline(facts), compute_trends(facts), responses=[("2020-06-15", "PR")])
    first, second = timeline.lines
    assert first.end == "2021-01-01" and "taken to end when line 2 started" in first.notes[0]
    (psa1,) = first.marker_trends
    assert (
        psa1.before_line.reference == "Observation/psa0" and psa1.on_line[-1].reference == "Observation/psa2"
    )
    assert psa1.change == -14.0 and psa1.percent_change == -70.0 and psa1.direction == "falling"
    (psa2,) = second.marker_trends
    assert psa2.before_line.reference == "Observation/psa2" and psa2.direction == "falling"
    assert first.responses == [("2020-06-15", "PR")] and second.responses == []
    assert "20 ng/mL on 2019-12-01" in first.describe() and "RECIST: PR on 2020-06-15" in first.describe()
