"""The headline on the shared real records: what it must say, within 100 words, every clause cited
and checked by the verifier."""

from __future__ import annotations

import pytest
from board_story_support import RECORDS, board, case, needs_shared, verdict

from medboard.agents.synthesizer.board.casefacts import short
from medboard.agents.synthesizer.board.headline import (
    MAX_WORDS,
    REQUIRED,
    Clause,
    fit_budget,
    headline,
    headline_statements,
)
from medboard.models import SectionKind, VerdictLabel

pytestmark = needs_shared

FAILING = {VerdictLabel.unsupported, VerdictLabel.contradicted}


def _texts(name: str, **kwargs: object) -> list[str]:
    return [s.text for s in headline_statements(board(name), **kwargs)]  # type: ignore[arg-type]


@pytest.mark.parametrize("name", RECORDS)
def test_board_checklist_on_every_record(name: str) -> None:
    """Each cancer, its stage (or that none is recorded), vital status and therapy; ≤ 100 words."""
    _, picture, found = case(name)
    b = board(name)
    (sec,) = headline(b)
    assert sec.kind == SectionKind.headline and sec.status == "ok"
    text = " ".join(s.text for s in sec.statements)
    assert len(text.split()) <= MAX_WORDS
    for cancer in picture.cancers:
        assert short(cancer.name) in text
        for stage in cancer.stages:
            assert stage.group in text
        if not cancer.stages:
            assert f"{short(cancer.name)} " in text and "stage not recorded" in text
    if picture.patient.deceased:
        assert f"deceased {picture.patient.deceased_date[:10]}" in text
    else:
        assert "alive" in text
    assert any(
        s.text.startswith(("Current line:", "Therapy now: none", "Lines of therapy for"))
        for s in sec.statements
    )
    ids = {f.id for f in found}
    for statement in sec.statements:
        assert statement.finding_ids and set(statement.finding_ids) <= ids
        assert statement.evidence  # the cited findings' evidence, denormalised
    assert not b.used  # the headline restates; it takes nothing


@pytest.mark.parametrize("name", RECORDS)
def test_no_headline_statement_fails_verification(name: str) -> None:
    """Nothing the headline says is contradicted or unsupported by the record; what the rules leave
    open is only what they cannot read (a living patient's "alive", a stage read from a diagnosis'
    own name)."""
    for statement in headline_statements(board(name)):
        result = verdict(name, statement)
        assert result.verdict not in FAILING, (statement.text, result.reason)
        if result.verdict == VerdictLabel.unverifiable:
            assert "alive" in statement.text or "stage I (" in statement.text, (statement.text, result.reason)


def test_jenny_headline_says_each_clause_and_is_verified() -> None:
    statements = headline_statements(board("jenny"))
    texts = [s.text for s in statements]
    assert texts[0] == "Jenny M, 53-year-old female (born 1965-01-01), alive."
    assert texts[1] == (
        "Primary malignant neoplasm of female left breast (Infiltrating duct carcinoma, remission, onset "
        "2018-03-16): clinical stage IIB, cT3 cN0 cM0 (staging Observation, 2018-03-16); stage IIIC "
        "(Condition, 2018-03-16)."
    )
    assert texts[2].startswith("ER Positive, PR Negative, HER2 Negative")  # predictive first, in order
    assert "Current line: anastrozole (since 2018-09-30)." in texts
    assert "ECOG 0 (2018-04-12)." in texts
    for statement in statements[1:]:
        assert verdict("jenny", statement).verdict == VerdictLabel.supported, statement.text
    # the vital-status statement carries its structured claim (alive, from the Patient resource)
    assert statements[0].claim is not None and statements[0].claim.concept == "vital_status"
    assert statements[0].claim.deceased is False


def test_deceased_patients_date_age_cause_and_last_line() -> None:
    austin = _texts("austin_franecki")
    assert austin[0] == (
        "Austin Franecki, male, born 1920-04-23, deceased 1989-07-25 aged 69; cause of death: "
        "Non-small cell lung cancer."
    )
    assert "Therapy now: none; last line: cisplatin + paclitaxel (1985-07-26 – 1989-07-20)." in austin
    loyd = _texts("loyd_connelly")
    assert loyd[0] == "Loyd Connelly, male, born 1932-06-09, deceased 2012-06-16 aged 80."
    # a stale line: still ordered, no evidence since it started
    assert (
        "Therapy now: none; last line: docetaxel + leuprolide (since 2004-05-28, last evidence 2004-05-28)."
        in loyd
    )


def test_marker_course_first_nadir_latest() -> None:
    assert "PSA 0.666 ng/mL (2003-05-29), latest 5.25 ng/mL (2004-05-28)." in _texts("loyd_connelly")
    # two cancers (a primary and its metastasis): clauses about one of them name it
    assert (
        "Neoplasm of prostate: PSA 2.64 ng/mL (1998-03-03), nadir 0.688 ng/mL (2001-03-14), "
        "latest 5.14 ng/mL (2003-03-26)." in _texts("adan_pulido")
    )


def test_no_doubling_time_in_the_headline_unless_the_fit_supports_one() -> None:
    """adan_pulido's PSA is not rising over the window: no doubling time. The same finding with a
    supported doubling time (value set, fit in its notes) is stated with its fit quality."""
    assert not any("doubling" in t for t in _texts("adan_pulido"))
    _, _, found = case("adan_pulido")
    (kinetics,) = [f for f in found if "kinetics" in f.tags]
    supported = kinetics.model_copy(
        update={
            "value": 6.02,
            "unit": "months",
            "notes": ["doubling-time fit: n=6; r_squared=0.97123; supported=True"],
        }
    )
    findings = [supported if f.id == kinetics.id else f for f in found]
    texts = [s.text for s in headline_statements(board("adan_pulido", findings=findings))]
    assert "PSA doubling time 6.02 months (R² 0.97, n = 6)." in texts


def test_organ_function_only_when_recent() -> None:
    """andy_schaden's creatinine is from the case date; a year and more later it no longer describes
    the organ function a treatment decision faces, and the headline leaves it out."""
    assert "creatinine 0.704 mg/dL (2021-02-25)." in _texts("andy_schaden")
    later = board("andy_schaden")
    later.picture = later.picture.model_copy(update={"case_date": "2022-03-01"})
    assert not any("creatinine" in s.text for s in headline_statements(later))
    # eGFR says what creatinine would: only one of them
    loyd = " ".join(_texts("loyd_connelly"))
    assert "eGFR 8.3 mL/min" in loyd and "creatinine" not in loyd


def test_budget_drops_optional_clauses_then_compacts_then_names_the_rest() -> None:
    def clause(text: str, priority: int = REQUIRED, compact: str | None = None, order: int = 0) -> Clause:
        return Clause(text=text, findings=[], priority=priority, compact=compact, order=order)

    words = " ".join(["w"] * 40)  # three required clauses of ~42 words: over budget on their own
    clauses = [
        clause(f"Patient {words}.", order=0),
        clause(f"Cancer A: {words}.", compact="Cancer A: stage I.", order=1),
        clause(f"Cancer B: {words}.", compact="Cancer B: stage II.", order=2),
        clause(f"Biomarkers {words}.", priority=1, order=3),
        clause(f"Fitness {words}.", priority=3, order=4),
    ]
    kept = fit_budget(clauses, max_words=100)
    assert [c.text.split()[0] for c in kept] == ["Patient", "Cancer", "Cancer"]  # optional ones went first
    assert sum(len(c.text.split()) for c in kept) <= 100
    assert kept[1].text == "Cancer A: stage I."  # compact wording once optional ones are gone
    many = [clause(f"Patient {words}.", order=0)] + [
        clause(f"Cancer {i}: {words}.", compact=f"Cancer {i}: {' '.join(['s'] * 20)}.", order=i)
        for i in range(1, 6)
    ]
    kept = fit_budget(many, max_words=100)
    assert sum(len(c.text.split()) for c in kept) <= 100
    assert kept[-1].text.startswith("Also recorded: Cancer ")  # the cancers beyond the budget, named
