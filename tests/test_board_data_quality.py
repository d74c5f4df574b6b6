"""The data-quality section (`agents/synthesizer/board/data_quality.py`) on real records.

Loyd Connelly: 10 implausible values of 3 analytes (one line each before), 8 medication records
still active after his death, FOLFOX drugs no cancer owns. Jenny M: a chemotherapy line with no
blood count or renal value during it, an implausible neutrophil count.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from board_support import ALL_RECORDS, JENNY, LOYD, Case, add, bundle, lab, observations, planted

from medboard.agents.synthesizer.board.data_quality import DATA_QUALITY_TAGS
from medboard.models import SectionKind

EGFR = "33914-3"
SNOMED = "http://snomed.info/sct"


@pytest.fixture(scope="module")
def loyd() -> Case:
    return Case(LOYD)


def test_implausible_values_are_grouped_per_analyte_with_every_source_cited(loyd: Case) -> None:
    items = [i for i in loyd.picture.data_quality if i.kind == "implausible_value"]
    grouped = [s for s in loyd.section("data_quality").statements if "implausible value" in s.text]
    assert len(items) == 10 and len(grouped) == 3
    cited = {e.reference for s in grouped for e in s.evidence}
    assert cited == {src for i in items for src in i.sources}
    pdw = next(s for s in grouped if s.text.startswith("Platelet distribution width"))
    assert "4 implausible values, 2003-05-29 to 2008-06-26 (e.g. " in pdw.text
    # the verifier agrees with everything but the judgement "implausible" (see the report)
    verdict = loyd.verdict(pdw)
    assert verdict.verdict == "unverifiable" and verdict.reason == "rules cannot decide: implausible"


def test_every_data_quality_finding_is_taken_and_none_is_restated_one_by_one(loyd: Case) -> None:
    tagged = [f for f in loyd.findings if DATA_QUALITY_TAGS & set(f.tags)]
    assert tagged
    section = loyd.section("data_quality")
    cited = {fid for s in section.statements for fid in s.finding_ids}
    assert {f.id for f in tagged} <= cited
    elsewhere = loyd.stated_elsewhere(SectionKind.data_quality)
    assert not any(t.startswith("Data quality (") for t in elsewhere)
    assert not any(s.text.startswith("Data quality (") for s in section.statements)
    assert len(section.statements) <= 6


def test_active_orders_after_death_are_one_supported_statement(loyd: Case) -> None:
    stale = [s for s in loyd.section("data_quality").statements if "not current: " in s.text]
    assert len(stale) == 1
    statement = stale[0]
    # "active" as the orders say, "not current" as the picture decides: the record-global check
    # contradicts "active" alone (it would call the drugs current)
    assert statement.text.startswith(
        "Medication records active after the patient died (2012-06-16), not current: "
    )
    assert "furosemide (last evidence 2012-06-14)" in statement.text
    assert loyd.picture.patient.sources[0] in {e.reference for e in statement.evidence}
    assert loyd.verdict(statement).verdict == "supported"


def test_therapy_no_cancer_owns_is_one_statement(loyd: Case) -> None:
    texts = [t for t in loyd.texts("data_quality") if "no line of a recorded cancer" in t]
    assert texts == ["Leucovorin and oxaliplatin (1983-07-13) belong to no line of a recorded cancer."]


def test_a_chemotherapy_line_without_blood_count_or_renal_value_is_a_monitoring_gap() -> None:
    case = Case(JENNY)
    gap = case.section("data_quality").statements[0]
    assert gap.text == (
        "No blood count and no creatinine or eGFR result during the line of "
        "cyclophosphamide + doxorubicin + paclitaxel from 2018-04-12 to 2018-09-30."
    )
    cited = {e.reference for e in gap.evidence}
    # the start is dated by the line's orders, the end by the next line's start (anastrozole)
    assert "MedicationRequest/cancer-related-medication-request-anastrozole-jenny-m" in cited
    verdict = case.verdict(gap)
    assert verdict.verdict == "unverifiable" and "status/negation" in verdict.reason  # an absence
    assert not [c for c in verdict.checks if c.outcome == "fail"]


def test_a_blood_count_during_the_line_closes_that_part_of_the_gap(tmp_path: Path) -> None:
    data = bundle(JENNY)
    add(data, lab("planted-hb", "718-7", "Hemoglobin [Mass/volume] in Blood", 11.2, "g/dL", "2018-06-01"))
    case = Case(planted(data, tmp_path))
    gaps = [t for t in case.texts("data_quality") if t.startswith("No ")]
    assert gaps == [
        "No creatinine or eGFR result during the line of cyclophosphamide + doxorubicin + paclitaxel "
        "from 2018-04-12 to 2018-09-30."
    ]


def test_endocrine_therapy_alone_needs_no_blood_count() -> None:
    case = Case(JENNY)
    assert not any("anastrozole" in t and t.startswith("No ") for t in case.texts("data_quality"))


def test_a_line_long_past_is_not_a_monitoring_gap(loyd: Case) -> None:
    assert not any(t.startswith("No ") for t in loyd.texts("data_quality"))


def test_a_unit_mixed_series_is_stated_once(tmp_path: Path) -> None:
    data = bundle(LOYD)
    latest = observations(data, EGFR)[-1]
    latest["valueQuantity"].update(unit="mL/min/{1.73_m2}", code="mL/min/{1.73_m2}")
    case = Case(planted(data, tmp_path))
    mixed = [s for s in case.section("data_quality").statements if s.text.startswith("Glomerular filtration")]
    assert len(mixed) == 1
    assert mixed[0].text == (
        "Glomerular filtration rate/1.73 sq M.predicted: 15.19 mL/min on 2004-05-28 to 24.8 mL/min on "
        "2004-08-26; then 8.301 mL/min/{1.73_m2} on 2012-06-14."
    )
    assert case.verdict(mixed[0]).verdict == "supported"


def test_care_after_death_is_stated_once_with_every_resource_cited(tmp_path: Path) -> None:
    data = bundle(LOYD)
    for i, day in enumerate(("2012-07-01", "2012-08-15")):
        add(data, lab(f"planted-after-{i}", "718-7", "Hemoglobin [Mass/volume] in Blood", 13.0, "g/dL", day))
    case = Case(planted(data, tmp_path))
    after = [s for s in case.section("data_quality").statements if "dated after the patient died" in s.text]
    assert len(after) == 1
    # "after the patient died": flagged as after the death, which the record-global check requires
    # of a statement about care dated after it (stated as plain fact, it is contradicted)
    assert after[0].text == (
        "2 observations dated after the patient died (2012-06-16): 2012-07-01 to 2012-08-15, "
        "e.g. Hemoglobin [Mass/volume] in Blood."
    )
    assert case.verdict(after[0]).verdict == "supported"
    cited = {e.reference for e in after[0].evidence}
    assert {"Observation/planted-after-0", "Observation/planted-after-1"} <= cited
    assert case.picture.patient.sources[0] in cited
    assert not any("Observation/planted-after" in t for t in case.stated_elsewhere(SectionKind.data_quality))


def test_records_after_the_case_date_are_one_statement_counting_what_it_cites() -> None:
    case = Case(LOYD, case_date="2011-01-01")
    after = [s for s in case.section("data_quality").statements if "dated after the case date" in s.text]
    assert len(after) == 1
    count = int(after[0].text.split(" ", 1)[0])
    assert count == len({e.reference for e in after[0].evidence}) > 5  # not only the first few
    verdict = case.verdict(after[0])
    # counted, dated and named from the cited records; only "the case date" is left to the model
    assert verdict.verdict == "unverifiable" and verdict.reason == "rules cannot decide: case"
    # the death after the case date is not "after the death" at the case date
    assert not any("(2012-06-16)" in t for t in case.texts("data_quality"))


def test_a_conflict_no_finding_states_is_stated_with_both_sides_cited(tmp_path: Path) -> None:
    data = bundle(JENNY)
    surgery = next(
        e["resource"]
        for e in data["entry"]
        if e["resource"]["resourceType"] == "Procedure" and "Left breast" in json.dumps(e["resource"])
    )
    surgery["bodySite"] = [
        {"coding": [{"system": SNOMED, "code": "73056007", "display": "Right breast structure"}]}
    ]
    case = Case(planted(data, tmp_path))
    [conflict] = [s for s in case.section("data_quality").statements if "says" in s.text]
    assert conflict.text == "Breast: Condition says left; Procedure says right."
    assert {e.reference for e in conflict.evidence} == {
        "Condition/primary-cancer-condition-jenny-m",
        "Procedure/cancer-related-surgical-procedure-jenny-m",
    }
    assert not [c for c in case.verdict(conflict).checks if c.outcome == "fail"]


def test_a_conflict_a_finding_states_with_every_side_is_not_repeated(tmp_path: Path) -> None:
    data = bundle(JENNY)
    her2 = next(
        e["resource"] for e in data["entry"] if e["resource"]["id"] == "tumor-marker-test-her2-jenny-m"
    )
    second = {**copy.deepcopy(her2), "id": "her2-second"}
    second.pop("text", None)
    second["valueCodeableConcept"] = {
        "coding": [{"system": "http://loinc.org", "code": "LA6576-8", "display": "Positive"}]
    }
    data["entry"].append({"fullUrl": "urn:uuid:her2-second", "resource": second})
    case = Case(planted(data, tmp_path))
    assert [d.kind for d in case.picture.discrepancies] == ["discordant_biomarker"]
    assert not any("HER2" in t for t in case.texts("data_quality"))
    assert any("HER2: conflicting results" in t for t in case.stated_elsewhere(SectionKind.data_quality))


@pytest.mark.parametrize("path", ALL_RECORDS, ids=lambda p: p.stem)
def test_no_statement_fails_the_verifier_on_any_shared_record(path: Path) -> None:
    case = Case(path)
    for statement in case.section("data_quality").statements:
        verdict = case.verdict(statement)
        assert verdict.verdict in {"supported", "unverifiable"}, (statement.text, verdict.reason)
