"""The verifier core: every statement checked against its cited sources, rules first.

`verify_statement` runs the deterministic checks (`medboard.tools.checks.registry.DEFAULT_CHECKS`,
or the `checks` given) on one statement — against its cited sources *and* against the whole
clinical picture (`record_global.py`: a statement true of its citation but false of the patient is
contradicted) — and decides:
- **unsupported** — it cites nothing, cites a finding the summary does not have, cites evidence
  missing from the record or belonging to another patient, or cites evidence that does not
  mention its subject;
- **contradicted** — a check whose failure contradicts (a number, unit, date, side,
  status/negation, stage or biomarker) disagrees with the cited record;
- **supported** — the checks that apply passed and every part of the statement is accounted for
  (by a passed check that declares it, see `Check.accounts`, or by a word of the cited evidence);
- **unverifiable** — nothing failed, but the rules cannot account for the whole statement
  (qualitative wording, image-only evidence). `verify_summary` hands these to the entailment
  callback when one is given.

**Structured claims.** A statement with a `claim` (the template's) is also judged on the claim:
`claims.check_claim` compares its fields with the picture (`claim_agrees`). Its text still runs
through every text check above, as the guard that the words say what the evidence says (a
hand-edited sentence under a valid claim must still be caught). They combine as the worse of the
two, in this order:

1. unsupported, as for any statement (citations missing or foreign, nothing checkable said), and
   when a fact the claim rests on is not in this patient's record;
2. contradicted when the claim check fails (its reason first: it names the contradicting source)
   or when a text check whose failure contradicts fails;
3. otherwise the text's verdict: supported when every word is accounted for, unverifiable when
   not. A claim that agrees accounts for the words it states (`claims.claim_vocabulary`: its own
   field values, the name of the cancer the picture assigned it to, its concept's state words
   such as "stale: still ordered"); every other word must still be the evidence's or a passed
   check's.

So a claim never excuses a failed text check: it can only settle the words it itself asserts and
the picture confirmed.

**The picture** is `picture_of(record, case_date=...)` — the cached one the specialists read — at
the case date as given (None: the record's latest date), or the `picture=` passed in.

`verify_summary` (async; `verify_summary_sync` wraps it) also collects cross-source
discrepancies — the verifier's own rules (`discrepancies.py`) and the picture's
(`medboard.tools.reconcile.conflicts`), merged so that one kind citing one set of sources is listed
once (`merge_discrepancies`) — and `apply_verdicts` writes verdicts into a summary and strikes
what failed. Both rule sets remain because they cover different kinds (each module lists its own;
`tests/test_verifier_record_global.py` proves the kinds disjoint): the verifier's compare a
Condition's stage summary with its observations, active orders with their administrations, same-day
numeric labs, two specialists' readings and imaging against reports; the picture's compare
biomarker results, medication resource types, sides, stages within a type, care after death and
disease after resolution.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from medboard.models import (
    CaseSummary,
    CheckResult,
    Discrepancy,
    EvidenceRef,
    Finding,
    Statement,
    StruckStatement,
    Verdict,
    VerdictLabel,
)
from medboard.models.picture import ClinicalPicture
from medboard.tools.checks.base import Check, contradicting
from medboard.tools.checks.claims import (
    CLAIM_AGREES,
    ClaimWords,
    check_claim,
    claim_vocabulary,
    missing_facts,
)
from medboard.tools.checks.confusables import skeleton, was_folded
from medboard.tools.checks.discrepancies import find_discrepancies
from medboard.tools.checks.entailment import (
    ENTAILMENT,
    EntailmentCallback,
    EntailmentJudgement,
    EntailmentRequest,
    EvidenceQuote,
    evidence_quotes,
    judge,
    untrusted_text,
)
from medboard.tools.checks.evidence import (
    CitedEvidence,
    check_evidence_exists,
    fact_words,
    resolve_citations,
    to_date,
)
from medboard.tools.checks.extract import Claims, extract_claims
from medboard.tools.checks.picture import judged_against
from medboard.tools.checks.registry import DEFAULT_CHECKS
from medboard.tools.checks.subject import SUBJECT_MENTIONED, evidence_terms
from medboard.tools.checks.text import concept_tokens, overlap
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile import picture_of

__all__ = [  # the entailment contract is re-exported: callers import it from here
    "CONTRADICTING",
    "ENTAILMENT",
    "EntailmentCallback",
    "EntailmentJudgement",
    "EntailmentRequest",
    "EvidenceQuote",
    "VerifyReport",
    "apply_verdicts",
    "claims_present",
    "evidence_quotes",
    "merge_discrepancies",
    "picture_day",
    "revision_feedback",
    "statement_evidence",
    "untrusted_text",
    "verify_statement",
    "verify_summary",
    "verify_summary_sync",
]

log = logging.getLogger(__name__)

FINDINGS_EXIST = "findings_exist"
TEXT_FOLDED = "text_folded"
FAILING = frozenset({VerdictLabel.unsupported, VerdictLabel.contradicted})

# The default checks whose failure means the statement disagrees with its evidence.
CONTRADICTING = contradicting(DEFAULT_CHECKS)


# --------------------------------------------------------------------------------- report


class VerifyReport(BaseModel):
    """What the verifier says about one summary: exactly one verdict per statement."""

    verdicts: list[Verdict] = Field(default_factory=list)
    discrepancies: list[Discrepancy] = Field(default_factory=list)

    def failing(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict in FAILING]

    def counts(self) -> dict[str, int]:
        out = {label.value: 0 for label in VerdictLabel}
        for verdict in self.verdicts:
            out[verdict.verdict.value] += 1
        return out

    @property
    def ok(self) -> bool:
        """True when nothing is contradicted or unsupported (the CI gate)."""
        return not self.failing()


# ----------------------------------------------------------------------------------- statement


def statement_evidence(statement: Statement, findings: Mapping[str, Finding]) -> list[EvidenceRef]:
    """The statement's own evidence plus the evidence of the findings it cites."""
    refs = list(statement.evidence)
    for finding_id in statement.finding_ids:
        finding = findings.get(finding_id)
        if finding is not None:
            refs.extend(finding.evidence)
    return refs


def _findings_check(statement: Statement, findings: Mapping[str, Finding]) -> CheckResult:
    if not statement.finding_ids:
        return CheckResult(name=FINDINGS_EXIST, outcome="skip", detail="the statement cites no finding")
    missing = [f for f in statement.finding_ids if f not in findings]
    if missing:
        return CheckResult(
            name=FINDINGS_EXIST,
            outcome="fail",
            detail=f"cites finding(s) not in the summary: {', '.join(missing)}",
        )
    return CheckResult(
        name=FINDINGS_EXIST, outcome="pass", detail=f"{len(statement.finding_ids)} finding(s) present"
    )


def _uncovered(
    text: str,
    claims: Claims,
    results: Mapping[str, CheckResult],
    cited: Sequence[CitedEvidence],
    checks: Sequence[Check],
    claimed: ClaimWords | None = None,
) -> list[str]:
    """Parts of the statement no passed check and no evidence word accounts for.

    Each check declares the parts it answers for (`Check.accounts`); a part is open unless a
    check that answers for it passed. Declared spans are cut out either way, and what remains
    must be words of the cited evidence, or words a passed check settles (`Check.words`), or —
    for a statement whose structured claim agrees with the picture — words the claim settles
    (`claims.claim_vocabulary`: its fields, its cancer's name, its concept's state words).
    """
    passed = {name for name, c in results.items() if c.outcome == "pass"}
    left: list[str] = []
    spans: list[tuple[int, int]] = []
    settled: set[str] = set(claimed.tokens) if claimed is not None else set()
    for check in checks:
        for part in check.accounts(text, claims, cited):
            if part.span is not None:
                spans.append(part.span)
            if passed & ({check.name} if part.by is None else part.by):
                continue
            if claimed is not None and claimed.settles(part.shown):
                continue
            left.append(part.shown)
        if check.name in passed:
            settled |= check.words
    rest, cursor = [], 0
    for start, end in sorted(spans):
        rest.append(text[cursor:start])
        cursor = max(cursor, end)
    rest.append(text[cursor:])
    terms = concept_tokens(" ".join(rest)) - settled
    if terms:
        vocabulary = evidence_terms(cited)
        left.extend(sorted(terms - overlap(terms, vocabulary)))
    return left


def verify_statement(
    statement: Statement,
    summary_findings: Iterable[Finding] | Mapping[str, Finding],
    record: PatientRecord,
    case_date: str | date | datetime | None = None,
    *,
    image_series: set[str] | None = None,
    checks: Sequence[Check] = DEFAULT_CHECKS,
    picture: ClinicalPicture | None = None,
) -> Verdict:
    """Rules-only verdict on one statement (see the module docstring for the decision).

    `checks` is the registry to run (`medboard.tools.checks.registry.DEFAULT_CHECKS`); `picture`
    the clinical picture to judge against (default: `picture_of(record, case_date=...)`).
    """
    if picture is None:
        picture = picture_of(record, case_date=picture_day(case_date))
    verdict, _ = _verify_statement(
        statement, _finding_map(summary_findings), record, to_date(case_date), image_series, checks, picture
    )
    return verdict


def picture_day(case_date: str | date | datetime | None) -> str | None:
    """The case date as `picture_of` keys it: a FHIR date string as given (so the verifier reads the
    very picture the specialists built from the case's date), a date as its ISO day, else None
    (the record's latest date)."""
    if isinstance(case_date, datetime):
        return case_date.date().isoformat()
    if isinstance(case_date, date):
        return case_date.isoformat()
    if isinstance(case_date, str) and to_date(case_date) is not None:
        return case_date.strip()
    return None


def _finding_map(findings: Iterable[Finding] | Mapping[str, Finding]) -> Mapping[str, Finding]:
    if isinstance(findings, Mapping):
        return findings
    return {f.id: f for f in findings}


def _verify_statement(
    statement: Statement,
    findings: Mapping[str, Finding],
    record: PatientRecord,
    case_date: date | None,
    image_series: set[str] | None,
    registry: Sequence[Check] = DEFAULT_CHECKS,
    picture: ClinicalPicture | None = None,
) -> tuple[Verdict, list[CitedEvidence]]:
    if picture is None:
        picture = picture_of(record, case_date=case_date.isoformat() if case_date else None)
    # Every textual check reads the Unicode skeleton: look-alike letters cannot dodge a check.
    text = skeleton(statement.text)
    checks: list[CheckResult] = [_findings_check(statement, findings)]
    if was_folded(statement.text, text):
        checks.append(
            CheckResult(
                name=TEXT_FOLDED,
                outcome="skip",
                detail="look-alike or compatibility characters folded before checking (NFKC + confusables)",
            )
        )
    refs = statement_evidence(statement, findings)
    cited = resolve_citations(refs, record)
    checks.append(check_evidence_exists(text, cited, record, case_date=case_date, image_series=image_series))
    mask = [skeleton(w) for c in cited for f in c.all_facts() for w in fact_words(f)]  # as the text
    claims = extract_claims(text, case_date, mask=mask)
    usable = [c for c in cited if c.exists]
    if usable:
        with judged_against(picture):  # record-global checks read this picture
            for check in registry:
                result = check.run(text, usable, record, case_date=case_date, claims=claims)
                if result.name != check.name:  # the registry's declarations would not apply to it
                    raise ValueError(f"check {check.name!r} returned a result named {result.name!r}")
                checks.append(result)
    missing = missing_facts(statement.claim, record) if statement.claim is not None else []
    if statement.claim is not None:
        checks.append(check_claim(statement.claim, picture, record))
    by_name = {c.name: c for c in checks}
    ran = list(registry) if usable else []

    def verdict(label: VerdictLabel, reason: str) -> Verdict:
        return Verdict(statement_id=statement.id, verdict=label, reason=reason[:500], checks=checks)

    if by_name[FINDINGS_EXIST].outcome == "fail":
        return verdict(VerdictLabel.unsupported, by_name[FINDINGS_EXIST].detail), cited
    if not refs:
        return verdict(VerdictLabel.unsupported, "the statement cites no evidence"), cited
    if by_name["evidence_exists"].outcome == "fail":
        return verdict(VerdictLabel.unsupported, by_name["evidence_exists"].detail), cited
    if missing:
        return verdict(VerdictLabel.unsupported, by_name[CLAIM_AGREES].detail), cited
    # A check whose failure unsupports (the evidence is not about the statement) decides first.
    failed = [by_name[c.name] for c in ran if c.on_fail == VerdictLabel.unsupported]
    failed = [c for c in failed if c.outcome == "fail"]
    if failed:
        return verdict(VerdictLabel.unsupported, "; ".join(c.detail for c in failed)), cited
    subject = by_name.get(SUBJECT_MENTIONED)
    decided = any(by_name[c.name].outcome != "skip" for c in ran if c.contradicts)
    if subject is not None and subject.outcome == "skip" and not claims_present(claims) and not decided:
        # "a", "yes", "see above": citations dressed on a sentence that claims nothing.
        return verdict(VerdictLabel.unsupported, "the statement says nothing that can be checked"), cited
    failed = [by_name[c.name] for c in ran if c.contradicts and by_name[c.name].outcome == "fail"]
    if CLAIM_AGREES in by_name and by_name[CLAIM_AGREES].outcome == "fail":
        failed.insert(0, by_name[CLAIM_AGREES])  # the claim's reason names the contradicting source
    if failed:
        return verdict(VerdictLabel.contradicted, "; ".join(c.detail for c in failed)), cited
    if not usable:
        return verdict(VerdictLabel.unverifiable, "image evidence only: the rules cannot read images"), cited
    claimed = None
    if statement.claim is not None and by_name[CLAIM_AGREES].outcome == "pass":
        claimed = claim_vocabulary(statement.claim, picture)
    left = _uncovered(text, claims, by_name, usable, ran, claimed)
    if left:
        shown = ", ".join(dict.fromkeys(left))
        return verdict(VerdictLabel.unverifiable, f"rules cannot decide: {shown[:200]}"), cited
    passed = [
        c.name for c in checks if c.outcome == "pass" and c.name not in {FINDINGS_EXIST, "evidence_exists"}
    ]
    return verdict(VerdictLabel.supported, f"cited evidence agrees ({', '.join(passed)})"), cited


def claims_present(claims: Any) -> bool:
    """Whether the extracted claims hold anything checkable (a number, a date or an age)."""
    return bool(
        getattr(claims, "quantities", None) or getattr(claims, "dates", None) or getattr(claims, "ages", None)
    )


# ----------------------------------------------------------------------------------- summary


def _image_series(images: Iterable[Any] | None) -> set[str] | None:
    """Series ids of the case's images (`ImageSeries.id`); None when images were not given."""
    if images is None:
        return None
    names: set[str] = set()
    for image in images:
        for attr in ("series_id", "id", "uid", "name"):
            value = getattr(image, attr, None) or (image.get(attr) if isinstance(image, dict) else None)
            if isinstance(value, str):
                names.add(value)
                break
    return names


async def verify_summary(
    summary: CaseSummary,
    record: PatientRecord,
    *,
    case_date: str | date | datetime | None = None,
    entailment: EntailmentCallback | None = None,
    images: Iterable[Any] | None = None,
    neutral_verdict: VerdictLabel = VerdictLabel.unverifiable,
    max_concurrency: int = 4,
    checks: Sequence[Check] = DEFAULT_CHECKS,
    picture: ClinicalPicture | None = None,
) -> VerifyReport:
    """Verify every statement of `summary` (one verdict each, in order) and find discrepancies.

    `case_date` is the case's "now" for relative dates (default: the record's latest date).
    Statements the rules leave `unverifiable` go to `entailment` when given (an
    `EntailmentCallback`; `medboard.agents.verifier.model_entailment(caller)` builds the model's);
    `neutral_verdict` is what a "neutral" judgement becomes; `checks` is the rules' registry;
    `picture` the clinical picture to judge against (default: `picture_of` at the case date — the
    verifier node passes the case's own, so specialists and verifier read one picture).
    """
    day = to_date(case_date) or to_date(record.latest_date())
    if picture is None:
        picture = picture_of(record, case_date=picture_day(case_date))
    findings = _finding_map(summary.findings)
    series = _image_series(images)
    verdicts: list[Verdict] = []
    pending: list[tuple[int, EntailmentRequest]] = []
    for statement in summary.statements():
        verdict, cited = _verify_statement(statement, findings, record, day, series, checks, picture)
        verdicts.append(verdict)
        if verdict.verdict == VerdictLabel.unverifiable and entailment is not None:
            quotes = evidence_quotes(cited)
            if quotes:
                pending.append(
                    (
                        len(verdicts) - 1,
                        EntailmentRequest(
                            statement.id,
                            statement.text,
                            quotes,
                            tuple(verdict.checks),
                            untrusted=untrusted_text(statement.text, cited),
                        ),
                    )
                )
    if pending and entailment is not None:
        semaphore = asyncio.Semaphore(max_concurrency)
        agreeing = contradicting(checks)  # their pass is the rules' agreement a model cannot overrule
        judged = await asyncio.gather(
            *(
                judge(verdicts[i], request, entailment, semaphore, neutral_verdict, agreeing)
                for i, request in pending
            )
        )
        for (index, _), verdict in zip(pending, judged, strict=True):
            verdicts[index] = verdict
    discrepancies = merge_discrepancies(find_discrepancies(record, summary.findings), picture.discrepancies)
    return VerifyReport(verdicts=verdicts, discrepancies=discrepancies)


def merge_discrepancies(*groups: Iterable[Discrepancy]) -> list[Discrepancy]:
    """One list, in order: a discrepancy of the same kind citing the same set of references as an
    earlier one is the same discrepancy (whatever its wording, element paths or id)."""
    seen: dict[tuple[str, frozenset[str]], Discrepancy] = {}
    for group in groups:
        for discrepancy in group:
            key = (discrepancy.kind, frozenset(s.reference for s in discrepancy.sources))
            seen.setdefault(key, discrepancy)
    return list(seen.values())


def verify_summary_sync(summary: CaseSummary, record: PatientRecord, **kwargs: Any) -> VerifyReport:
    """`verify_summary` for synchronous callers (not from inside a running event loop)."""
    return asyncio.run(verify_summary(summary, record, **kwargs))


# ------------------------------------------------------------------------------ revise loop


def apply_verdicts(
    summary: CaseSummary,
    verdicts: Iterable[Verdict] | VerifyReport,
    *,
    discrepancies: Iterable[Discrepancy] | None = None,
    strike: bool = True,
) -> CaseSummary:
    """A copy of `summary` with each statement's verdict set; failing statements struck.

    With `strike`, contradicted and unsupported statements leave their section and are listed in
    `summary.struck` with the verdict's reason (nothing disappears silently). Discrepancies (from
    the report or `discrepancies`) are merged into `summary.discrepancies` by id.
    """
    if isinstance(verdicts, VerifyReport):
        discrepancies = [*verdicts.discrepancies, *(discrepancies or [])]
        verdicts = verdicts.verdicts
    by_id = {v.statement_id: v for v in verdicts}
    out = summary.model_copy(deep=True)
    for section in out.sections:
        kept: list[Statement] = []
        for statement in section.statements:
            verdict = by_id.get(statement.id)
            if verdict is not None:
                statement.verdict = verdict
            if strike and verdict is not None and verdict.verdict in FAILING:
                out.struck.append(
                    StruckStatement(
                        statement=statement,
                        section=section.kind,
                        reason=f"{verdict.verdict.value}: {verdict.reason}",
                    )
                )
            else:
                kept.append(statement)
        section.statements = kept
        if not kept and section.status == "ok" and any(s.section == section.kind for s in out.struck):
            section.status = "degraded"
            section.error = "every statement was struck by the verifier"
    known = {d.id for d in out.discrepancies}
    for discrepancy in discrepancies or []:
        if discrepancy.id not in known:
            out.discrepancies.append(discrepancy)
            known.add(discrepancy.id)
    return out


def revision_feedback(report: VerifyReport, statement_ids: Iterable[str] | None = None) -> dict[str, str]:
    """statement id → why it failed, for the synthesizer's one revision."""
    wanted = set(statement_ids) if statement_ids is not None else None
    return {
        v.statement_id: f"{v.verdict.value}: {v.reason}"
        for v in report.failing()
        if wanted is None or v.statement_id in wanted
    }
