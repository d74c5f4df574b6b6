"""Key labs as one table (`agents/synthesizer/board/key_labs.py`) on real records.

Loyd Connelly (Synthea): dead on 2012-06-16, a docetaxel + leuprolide line from 2004-05-28, blood
counts last in 2008, chemistry two days before the death, urine dipsticks and lipids besides.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from board_support import (
    ALL_RECORDS,
    JENNY,
    LOYD,
    Case,
    add,
    bundle,
    lab,
    observations,
    planted,
    shared_synthea,
)

from medboard.agents.synthesizer.board.key_labs import COLUMNS, STALE_DAYS
from medboard.models.claims import ResultClaim
from medboard.tools.fhir import load_record
from medboard.tools.reconcile.key_analytes import KEY_ANALYTES, key_analyte

HB, URINE_BILIRUBIN, BILIRUBIN = "718-7", "20505-4", "1975-2"


@pytest.fixture(scope="module")
def loyd() -> Case:
    return Case(LOYD)


def test_one_row_per_key_series_in_board_order_and_nothing_else(loyd: Case) -> None:
    rows = loyd.section("key_labs").statements
    tests = [r.cells[0] for r in rows if r.cells]
    assert tests == [
        "Hb",
        "WBC",
        "Platelets",
        "Creatinine",
        "eGFR",
        "Bilirubin",
        "ALT",
        "AST",
        "ALP",
        "Albumin",
    ]
    assert loyd.section("key_labs").columns == COLUMNS
    assert all(len(r.cells or []) == len(COLUMNS) for r in rows)
    # by code: urine dipstick bilirubin, lipids, electrolytes are not key labs
    claimed = {r.claim.code for r in rows if isinstance(r.claim, ResultClaim)}
    assert URINE_BILIRUBIN not in claimed and BILIRUBIN in claimed
    assert not any("Cholesterol" in r.text or "Urine" in r.text or "Sodium" in r.text for r in rows)


def test_each_row_states_the_latest_point_and_cites_it(loyd: Case) -> None:
    for row in loyd.section("key_labs").statements:
        assert isinstance(row.claim, ResultClaim)
        series = next(s for s in loyd.picture.labs if s.code == row.claim.code and s.name == row.claim.name)
        latest = series.points[-1]
        assert row.claim.results[0].source == latest.source
        assert latest.source in {e.reference for e in row.evidence}
        assert latest.date[:10] in row.text


def test_every_row_is_supported_by_the_verifier(loyd: Case) -> None:
    for row in loyd.section("key_labs").statements:
        verdict = loyd.verdict(row)
        assert verdict.verdict == "supported", (row.text, verdict.reason)


@pytest.mark.parametrize("path", ALL_RECORDS, ids=lambda p: p.stem)
def test_rows_are_supported_on_every_shared_record(path: Path) -> None:
    case = Case(path)
    for row in case.section("key_labs").statements:
        verdict = case.verdict(row)
        # "lowest" is left open only when an off-treatment latest value is lower still
        assert verdict.verdict in {"supported", "unverifiable"}, (row.text, verdict.reason)
        if verdict.verdict == "unverifiable":
            assert "lowest" in verdict.reason


def test_old_values_are_flagged_and_recent_ones_are_not(loyd: Case) -> None:
    rows = {r.cells[0]: r for r in loyd.section("key_labs").statements if r.cells}
    assert rows["Hb"].cells[4] == "4 y" and rows["Hb"].cells[3].startswith("old")
    assert "4 years before the case date; old" in rows["Hb"].text
    assert rows["Creatinine"].cells[4] == "2 d" and "old" not in rows["Creatinine"].cells[3]
    assert "2 days before the case date)" in rows["Creatinine"].text
    assert STALE_DAYS == 90


def test_the_finding_of_the_latest_value_is_taken_so_the_appendix_does_not_repeat_it(loyd: Case) -> None:
    hb_latest = next(
        f
        for f in loyd.findings
        if f.category == "lab" and isinstance(f.claim, ResultClaim) and f.claim.code == HB
    )
    row = next(r for r in loyd.section("key_labs").statements if r.cells and r.cells[0] == "Hb")
    assert hb_latest.id in row.finding_ids
    assert hb_latest.text not in loyd.texts("appendix")
    # what is not a key lab is kept whole in the appendix: the urine dipstick, the trend arithmetic
    appendix = " ".join(loyd.texts("appendix"))
    assert "in Urine by Test strip" in appendix and "Total Cholesterol" in appendix


def test_on_treatment_value_comes_from_the_lines_span_and_is_cited(loyd: Case) -> None:
    row = next(r for r in loyd.section("key_labs").statements if r.cells and r.cells[0] == "Platelets")
    # docetaxel + leuprolide from 2004-05-28: the value that day is the baseline, 2004-08-26 is on it
    assert "; on docetaxel + leuprolide from 2004-05-28, 260.3 10*3/uL on 2004-08-26." in row.text
    series = next(s for s in loyd.picture.labs if s.code == "777-3")
    on_treatment = next(p for p in series.points if p.date.startswith("2004-08-26"))
    baseline = next(p for p in series.points if p.date.startswith("2004-05-28"))
    cited = {e.reference for e in row.evidence}
    assert on_treatment.source in cited and baseline.source not in cited


def test_the_lowest_of_several_on_treatment_values_is_stated_and_verified(tmp_path: Path) -> None:
    data = bundle(LOYD)
    add(
        data,
        lab("planted-hb-low", HB, "Hemoglobin [Mass/volume] in Blood", 9.1, "g/dL", "2004-10-01T10:00:00Z"),
    )
    case = Case(planted(data, tmp_path))
    row = next(r for r in case.section("key_labs").statements if r.cells and r.cells[0] == "Hb")
    assert "lowest 9.1 g/dL on 2004-10-01" in row.text
    assert "Observation/planted-hb-low" in {e.reference for e in row.evidence}
    assert [r.value for r in row.claim.results] == [pytest.approx(15.1783, rel=1e-3), 9.1]  # type: ignore[union-attr]
    assert case.verdict(row).verdict == "supported"


def test_analytes_are_chosen_by_code_never_by_display(tmp_path: Path) -> None:
    data = bundle(LOYD)
    # a haemoglobin under an unhelpful display is still haemoglobin ...
    for obs in observations(data, HB):
        obs["code"]["coding"][0]["display"] = "Blood panel item"
        obs["code"].pop("text", None)
    # ... and a "Hemoglobin" display on a code that is not one is not
    add(data, lab("planted-not-hb", "99999-9", "Hemoglobin", 3.0, "g/dL", "2012-06-10T10:00:00Z"))
    case = Case(planted(data, tmp_path))
    rows = [r for r in case.section("key_labs").statements if r.cells and r.cells[0] == "Hb"]
    assert len(rows) == 1 and "15.18 g/dL" in rows[0].text
    assert all(
        "Observation/planted-not-hb" not in {e.reference for e in r.evidence}
        for r in case.section("key_labs").statements
    )


def test_a_count_before_the_current_line_is_flagged(tmp_path: Path) -> None:
    # At 2004-07-01 the docetaxel line (2004-05-28) is current: the only count is its baseline day.
    case = Case(LOYD, case_date="2004-07-01")
    row = next(r for r in case.section("key_labs").statements if r.cells and r.cells[0] == "Hb")
    assert "taken before the current line of docetaxel + leuprolide started on 2004-05-28" in row.text
    assert "before current line" in row.cells[3]
    assert case.verdict(row).verdict == "supported", case.verdict(row).reason


def test_missing_key_analytes_are_open_questions() -> None:
    loyd = Case(LOYD)
    assert loyd.section("key_labs").open_questions == ["No blood count result for ANC."]
    jenny = Case(JENNY)
    questions = jenny.section("key_labs").open_questions
    assert any("ANC: implausible values only" in q for q in questions)
    assert not jenny.section("key_labs").statements  # no plausible blood count, renal or liver value


def test_a_marker_its_cancer_section_states_gets_no_row(loyd: Case) -> None:
    psa = next(s for s in loyd.picture.labs if s.code == "2857-1")
    assert psa.points
    assert not any(r.cells and r.cells[0] == "PSA" for r in loyd.section("key_labs").statements)
    # its cancer section states the course, by the short name the record's label says
    # ("Prostate specific Ag" → PSA), citing every value
    values = {p.source for p in psa.points}
    course = [s for s in loyd.section("cancer").statements if values <= {e.reference for e in s.evidence}]
    assert [s.text.split(":")[0] for s in course] == ["PSA"]


def test_a_marker_no_cancer_owns_is_a_row_without_a_treatment_window() -> None:
    case = Case(shared_synthea("austin_franecki"))  # lung cancer on cisplatin; a PSA on file
    row = next(r for r in case.section("key_labs").statements if r.cells and r.cells[0] == "PSA")
    assert " on cisplatin" not in row.text and row.cells[5] == "—"


def test_the_concept_table_is_by_loinc_and_covers_both_egfr_units() -> None:
    assert key_analyte("33914-3").key == "egfr"  # type: ignore[union-attr]
    assert key_analyte("62238-1").key == "egfr"  # type: ignore[union-attr]
    assert key_analyte("98979-8").key == "egfr"  # type: ignore[union-attr]
    assert key_analyte("751-8").key == "anc"  # type: ignore[union-attr]
    assert key_analyte(URINE_BILIRUBIN) is None and key_analyte("5794-3") is None
    assert key_analyte("2857-1").group == "marker"  # type: ignore[union-attr]
    codes = [c for a in KEY_ANALYTES for c in a.codes]
    assert len(codes) == len(set(codes))


def test_an_egfr_in_the_other_unit_is_its_own_row(tmp_path: Path) -> None:
    data = bundle(LOYD)
    add(
        data,
        lab(
            "planted-egfr",
            "62238-1",
            "Glomerular filtration rate/1.73 sq M.predicted (CKD-EPI)",
            12.0,
            "mL/min/{1.73_m2}",
            "2012-06-15T08:00:00Z",
        ),
    )
    case = Case(planted(data, tmp_path))
    egfr = [r for r in case.section("key_labs").statements if r.cells and r.cells[0] == "eGFR"]
    assert {r.cells[1] for r in egfr} == {"8.301 mL/min", "12 mL/min/{1.73_m2}"}
    assert all(case.verdict(r).verdict == "supported" for r in egfr)


def test_key_labs_are_a_small_share_of_the_board() -> None:
    case = Case(load_record(LOYD))
    total = sum(len(s.statements) for s in case.sections if s.kind != "appendix")
    assert len(case.section("key_labs").statements) <= 12 < total


def test_no_latest_value_finding_of_a_row_is_left_for_the_appendix(loyd: Case) -> None:
    # Creatinine has two results on 2012-06-14; the specialist's finding cites the other one.
    rows = loyd.section("key_labs").statements
    codes = {r.claim.code for r in rows if isinstance(r.claim, ResultClaim)}
    cited = {fid for r in rows for fid in r.finding_ids}
    latest_findings = [
        f
        for f in loyd.findings
        if f.category == "lab" and isinstance(f.claim, ResultClaim) and f.claim.code in codes
    ]
    assert len(latest_findings) == len(codes)
    assert {f.id for f in latest_findings} <= cited
    assert not any(t.startswith("Creatinine: ") for t in loyd.texts("appendix"))
