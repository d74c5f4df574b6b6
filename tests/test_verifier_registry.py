"""The verifier's checks as a registry: a check is declared once and the pipeline needs no edit.

On the real mCODE Jenny M bundle: a toy check registered next to `DEFAULT_CHECKS` accounts for a
word the rules could not place (unverifiable → supported), a failing toy check that contradicts
strikes the statement, and one that passes nothing leaves its word open. Also: the registry's
declarations are what the pipeline's hand-kept lists used to say, and tools/checks imports no
agent, orchestrator or model client (the layering rule).
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from medboard.models import (
    CaseSummary,
    CheckResult,
    Fact,
    FactKind,
    RunMetadata,
    Section,
    SectionKind,
    Statement,
    VerdictLabel,
)
from medboard.tools.checks.base import Check, Part
from medboard.tools.checks.entailment import EntailmentJudgement, EntailmentRequest
from medboard.tools.checks.evidence import CitedEvidence
from medboard.tools.checks.extract import Claims
from medboard.tools.checks.pipeline import CONTRADICTING, verify_statement, verify_summary
from medboard.tools.checks.registry import DEFAULT_CHECKS
from medboard.tools.fhir import PatientRecord, load_record

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "fhir"
HEDGE = "hedge_accounted"


@pytest.fixture(scope="module")
def jenny() -> PatientRecord:
    return load_record(DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json")


@pytest.fixture(scope="module")
def weight(jenny: PatientRecord) -> Fact:
    return next(f for f in jenny.facts_of(FactKind.vital) if f.unit_code == "[lb_av]")


def hedge_parts(text: str, claims: Claims, cited: Sequence[CitedEvidence]) -> list[Part]:
    """The toy check answers for the word "reportedly" wherever it stands."""
    return [Part(m[0], m.span()) for m in re.finditer(r"\breportedly\b", text, re.I)]


def hedge_check(outcome: str, *, on_fail: VerdictLabel | None = None) -> Check:
    def run(
        statement_text: str,
        cited: Sequence[CitedEvidence],
        record: PatientRecord,
        *,
        case_date: date | None = None,
        claims: Claims | None = None,
    ) -> CheckResult:
        return CheckResult(name=HEDGE, outcome=outcome, detail=f"toy check: {outcome}")  # type: ignore[arg-type]

    return Check(HEDGE, run, on_fail=on_fail, accounts=hedge_parts)


def hedged(weight: Fact) -> Statement:
    return Statement(
        id="hedged", text=f"Body weight {weight.value} lb, reportedly.", evidence=[weight.evidence]
    )


def test_a_registered_check_accounts_for_the_word_the_rules_left_open(
    jenny: PatientRecord, weight: Fact
) -> None:
    statement = hedged(weight)
    rules = verify_statement(statement, [], jenny)
    assert rules.verdict == VerdictLabel.unverifiable
    assert rules.reason == "rules cannot decide: reportedly"

    verdict = verify_statement(statement, [], jenny, checks=(*DEFAULT_CHECKS, hedge_check("pass")))
    assert verdict.verdict == VerdictLabel.supported
    assert [c.name for c in verdict.checks][-1] == HEDGE
    assert "numbers_agree" in verdict.reason and HEDGE in verdict.reason


def test_a_check_that_did_not_pass_leaves_its_part_open(jenny: PatientRecord, weight: Fact) -> None:
    # Its span is cut from the words either way, so it is listed once, as the part it declared.
    for outcome in ("skip", "fail"):
        verdict = verify_statement(hedged(weight), [], jenny, checks=(*DEFAULT_CHECKS, hedge_check(outcome)))
        assert verdict.verdict == VerdictLabel.unverifiable
        assert verdict.reason == "rules cannot decide: reportedly"


def test_a_failing_contradicting_check_contradicts(jenny: PatientRecord, weight: Fact) -> None:
    toy = hedge_check("fail", on_fail=VerdictLabel.contradicted)
    verdict = verify_statement(hedged(weight), [], jenny, checks=(*DEFAULT_CHECKS, toy))
    assert verdict.verdict == VerdictLabel.contradicted
    assert verdict.reason == "toy check: fail"
    # Only the statement's own failure: the true weight passed its number check alongside.
    assert {c.name: c.outcome for c in verdict.checks}["numbers_agree"] == "pass"


def test_verify_summary_takes_the_registry_and_a_model_cannot_overrule_its_contradicting_pass(
    jenny: PatientRecord, weight: Fact
) -> None:
    summary = CaseSummary(
        case_id="t",
        patient="Patient/cancer-patient-jenny-m",
        sections=[
            Section(
                kind=SectionKind.labs_and_trends,
                title="Labs",
                statements=[
                    hedged(weight),
                    # left open by every check, so the model is asked
                    Statement(id="vague", text="Weight reportedly fine.", evidence=[weight.evidence]),
                ],
            )
        ],
        run=RunMetadata(medboard_version="0", started_at=datetime(2024, 1, 1, tzinfo=UTC)),
    )
    asked: list[str] = []

    async def contradicting_model(request: EntailmentRequest) -> EntailmentJudgement:
        asked.append(request.statement_id)
        return EntailmentJudgement(label="contradicted", reason="stub")

    toy = hedge_check("pass", on_fail=VerdictLabel.contradicted)
    report = asyncio.run(
        verify_summary(summary, jenny, entailment=contradicting_model, checks=(*DEFAULT_CHECKS, toy))
    )
    labels = {v.statement_id: v.verdict for v in report.verdicts}
    assert labels["hedged"] == VerdictLabel.supported and "hedged" not in asked
    assert asked == ["vague"]
    vague = next(v for v in report.verdicts if v.statement_id == "vague")
    # The toy check passed on "reportedly" and declares that its pass is agreement: the rules win.
    assert vague.verdict == VerdictLabel.unverifiable
    assert "overruled" in vague.checks[-1].detail and HEDGE in vague.checks[-1].detail


def test_a_check_must_return_the_name_it_is_registered_under(jenny: PatientRecord, weight: Fact) -> None:
    misnamed = Check("some_other_name", hedge_check("pass").run, accounts=hedge_parts)
    with pytest.raises(ValueError, match="some_other_name"):
        verify_statement(hedged(weight), [], jenny, checks=(*DEFAULT_CHECKS, misnamed))


def test_the_registry_says_what_the_pipeline_lists_said() -> None:
    """The verdict rules of the hand-kept tuples, now read from the declarations."""
    assert CONTRADICTING == (
        "numbers_agree",
        "dates_agree",
        "age_agrees",
        "arithmetic_agrees",
        "laterality_agrees",
        "status_agrees",
        "staging_agrees",
        "sex_agrees",
        "family_history_agrees",  # a relative's death, where only family history is cited
        "record_agrees",  # the record-global check: what the whole record says of the patient
    )
    unsupporting = [c.name for c in DEFAULT_CHECKS if c.on_fail == VerdictLabel.unsupported]
    assert unsupporting == ["subject_mentioned"]
    assert len({c.name for c in DEFAULT_CHECKS}) == len(DEFAULT_CHECKS)
    with pytest.raises(ValueError, match="contradict or unsupport"):
        Check("odd", hedge_check("pass").run, on_fail=VerdictLabel.supported)


FORBIDDEN = ("medboard.agents", "medboard.orchestrator", "medboard.api", "medboard.cli", "autogen", "openai")


def test_tools_checks_import_no_agent_orchestrator_or_model_client() -> None:
    """Every import counts: module level, function level and under TYPE_CHECKING."""
    offenders = []
    for path in sorted((ROOT / "tools" / "checks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.name}:{node.lineno} {name}"
                for name in names
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
            ]
    assert offenders == []
