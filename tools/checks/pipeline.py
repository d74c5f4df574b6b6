"""The verifier stage as the case flow calls it.

`verify_summary` runs the deterministic checks on every statement (and, with a model, the
entailment check for what rules cannot decide); `apply_verdicts` writes the verdicts into the
summary and strikes what failed. The minimum every summary gets, model or not: each cited
evidence reference resolves (FHIR resource in this patient's record, or a frame of a loaded image
series) and each cited finding exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from medboard.models import (
    CaseSummary,
    CheckResult,
    Discrepancy,
    EvidenceRef,
    Statement,
    StruckStatement,
    Verdict,
    VerdictLabel,
)
from medboard.tools.fhir.record import PatientRecord


@dataclass
class VerifyReport:
    verdicts: list[Verdict] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)


def check_evidence_resolves(
    statement: Statement,
    summary: CaseSummary,
    record: PatientRecord,
    image_series: Iterable[str] = (),
) -> CheckResult:
    """Every cited finding exists and every evidence reference resolves in this case."""
    known_series = set(image_series)
    missing: list[str] = []
    findings = {f.id: f for f in summary.findings}
    evidence: list[EvidenceRef] = list(statement.evidence)
    for finding_id in statement.finding_ids:
        finding = findings.get(finding_id)
        if finding is None:
            missing.append(f"finding {finding_id}")
        else:
            evidence.extend(finding.evidence)
    if not evidence:
        return CheckResult(name="evidence_exists", outcome="fail", detail="cites no evidence")
    for ref in evidence:
        if ref.kind == "image":
            if ref.series not in known_series:
                missing.append(ref.reference)
        elif ref.reference not in record:
            missing.append(ref.reference)
    if missing:
        return CheckResult(
            name="evidence_exists",
            outcome="fail",
            detail="does not resolve: " + ", ".join(sorted(set(missing))[:5]),
            evidence=evidence[:10],
        )
    return CheckResult(name="evidence_exists", outcome="pass", evidence=evidence[:10])


async def verify_summary(
    summary: CaseSummary,
    record: PatientRecord,
    *,
    case_date: str | None = None,
    images: Sequence[Any] = (),
    caller: Any = None,
) -> VerifyReport:
    series = [getattr(image, "id", str(image)) for image in images]
    verdicts = []
    for statement in summary.statements():
        check = check_evidence_resolves(statement, summary, record, series)
        if check.outcome == "pass":
            verdict = Verdict(
                statement_id=statement.id,
                verdict=VerdictLabel.supported,
                reason="every cited source resolves in the record",
                checks=[check],
            )
        else:
            verdict = Verdict(
                statement_id=statement.id,
                verdict=VerdictLabel.unsupported,
                reason=check.detail,
                checks=[check],
            )
        verdicts.append(verdict)
    return VerifyReport(verdicts=verdicts)


def apply_verdicts(
    summary: CaseSummary,
    verdicts: Sequence[Verdict],
    *,
    discrepancies: Sequence[Discrepancy] = (),
    strike: bool = True,
) -> CaseSummary:
    """Attach verdicts; with `strike`, move unsupported/contradicted statements to `struck`."""
    result = summary.model_copy(deep=True)
    by_id = {v.statement_id: v for v in verdicts}
    failing = {VerdictLabel.unsupported, VerdictLabel.contradicted}
    for section in result.sections:
        kept = []
        for statement in section.statements:
            statement.verdict = by_id.get(statement.id, statement.verdict)
            if strike and statement.verdict is not None and statement.verdict.verdict in failing:
                result.struck.append(
                    StruckStatement(
                        statement=statement, section=section.kind, reason=statement.verdict.reason
                    )
                )
            else:
                kept.append(statement)
        section.statements = kept
    known = {d.id for d in result.discrepancies}
    result.discrepancies.extend(d for d in discrepancies if d.id not in known)
    return result
