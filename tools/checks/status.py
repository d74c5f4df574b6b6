"""Negation and status: what a statement says is present, absent, active, resolved, current, stopped.

Compared with the record's codes, not its prose:
- a Condition's clinicalStatus (active/recurrence/relapse vs inactive/remission/resolved, or an
  abatement date) and verificationStatus (refuted);
- a MedicationRequest/Statement's status (active vs stopped/completed/cancelled, or an end date
  before the case date); an administration that was not done. A status word the order's own
  status disputes still holds when the clinical picture gives its line or ingredient that status
  and the source that decided it is cited too (`_reconciled`);
- a qualitative result (Present/Absent, Detected/Not detected, Positive/Negative);
- record-wide: "no metastasis" while an active secondary cancer Condition exists anywhere in the
  record, cited or not (an omission the summary must not paper over).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from medboard.models import CheckResult, EvidenceRef, Fact, FactKind
from medboard.models.fact_kinds import ConditionDetails, MedicationDetails, TumorMarkerDetails
from medboard.tools.checks.base import Part
from medboard.tools.checks.evidence import CitedEvidence, Scope, evidence_words, parse_fhir_date
from medboard.tools.checks.extract import Claims, extract_claims
from medboard.tools.checks.staging import STAGING_AGREES
from medboard.tools.checks.text import (
    SpanList,
    concept_tokens,
    fold,
    name_spans,
    negated_concepts,
    negated_spans,
)
from medboard.tools.fhir import medication_status
from medboard.tools.fhir.record import PatientRecord

STATUS_AGREES = "status_agrees"

ACTIVE_CONDITION = {"active", "recurrence", "relapse"}
INACTIVE_CONDITION = {"inactive", "remission", "resolved"}
NOT_CURRENT_MEDICATION = medication_status.NOT_CURRENT
CURRENT_MEDICATION = medication_status.TAKING

_SAYS_INACTIVE = re.compile(
    r"\b(?:resolved|in (?:complete |partial )?remission|remission|inactive|cured|healed|abated|"
    r"no longer (?:present|active|has))\b",
    re.I,
)
_SAYS_ACTIVE = re.compile(
    r"\b(?:active|ongoing|current(?:ly)?|persistent|persists|unresolved|still (?:present|has)|"
    r"recurren(?:t|ce)(?!\s+(?:score|risk))|relapsed?)\b",
    re.I,
)
_MED_CURRENT = re.compile(
    r"\b(?:currently (?:on|taking|receiving|prescribed)|current|ongoing|continues|continuing|remains on|"
    r"is (?:on|taking|receiving)|still (?:on|taking|receiving)|active)\b",
    re.I,
)
_MED_STOPPED = re.compile(
    r"\b(?:stopped|discontinued|ceased|completed|finished|no longer (?:on|taking|receiving)|"
    r"held|withdrawn|previously (?:on|received|took|treated)|formerly|was taken off)\b",
    re.I,
)
_MED_GIVEN = re.compile(r"\b(?:received|administered|given|infused|took)\b", re.I)
_SAYS_POSITIVE = re.compile(r"\b(?:positive|present|detected|identified|reactive|found)\b", re.I)
_SAYS_NEGATIVE = re.compile(
    r"\b(?:negative|absent|not (?:detected|present|identified|found)|undetected|non-?reactive)\b", re.I
)

_POSITIVE_VALUES = {"positive", "present", "detected", "reactive", "yes", "abnormal"}
_NEGATIVE_VALUES = {
    "negative",
    "absent",
    "not detected",
    "non-reactive",
    "nonreactive",
    "no",
    "normal",
    "undetected",
}
_BIOMARKER_RE = re.compile(r"\b(?:estrogen|oestrogen|progesterone|her2|erbb2)\b", re.I)


def _result(outcome: str, detail: str, evidence: list[EvidenceRef] | None = None) -> CheckResult:
    return CheckResult(name=STATUS_AGREES, outcome=outcome, detail=detail, evidence=evidence or [])  # type: ignore[arg-type]


def condition_state(fact: Fact, case_date: date | None = None) -> str | None:
    """`active`, `inactive`, `refuted` or None (unknown) for a condition fact."""
    if (fact.verification_status or "").lower() in {"refuted", "entered-in-error"}:
        return "refuted"
    status = (fact.status or "").lower()
    if status in ACTIVE_CONDITION:
        return "active"
    if status in INACTIVE_CONDITION:
        return "inactive"
    end = parse_fhir_date(fact.end_date)
    if end and (case_date is None or end[0] <= case_date):
        return "inactive"
    return None


def medication_state(fact: Fact, case_date: date | None = None) -> str | None:
    """`current`, `not_current`, `not_given` or None for a medication fact."""
    status = (fact.status or "").lower()
    declared = fact.details.resource_type if isinstance(fact.details, MedicationDetails) else None
    resource_type = str(declared or fact.evidence.resource_type or "")
    if resource_type == "MedicationAdministration":
        if status in {"not-done", "entered-in-error"}:
            return "not_given"
        return "current" if status == "in-progress" and not fact.end_date else None
    if status in NOT_CURRENT_MEDICATION:
        return "not_current"
    end = parse_fhir_date(fact.end_date)
    if end and case_date and end[1] < case_date:
        return "not_current"
    if status in CURRENT_MEDICATION:
        return "current"
    return None


def _value_polarity(fact: Fact) -> str | None:
    texts = [fact.value] if isinstance(fact.value, str) else []
    texts += [c.display for c in fact.value_codes if c.display]
    for text in texts:
        low = re.sub(r"\s*\(.*?\)\s*", " ", str(text)).strip().lower()
        if low in _POSITIVE_VALUES:
            return "positive"
        if low in _NEGATIVE_VALUES:
            return "negative"
    if isinstance(fact.value, bool):
        return "positive" if fact.value else "negative"
    return None


def _subject(fact: Fact) -> set[str]:
    return concept_tokens(" ".join(fact_names(fact)))


def fact_names(*facts: Fact) -> list[str]:
    """The record's own names for the facts (label, code displays): quoted whole in a statement,
    their words, negation words included ("... without heart failure"), are the name's."""
    return [name for fact in facts for name in (fact.label, *(c.display or "" for c in fact.codes)) if name]


def quoted_texts(*facts: Fact) -> list[str]:
    """Names plus the record's own value texts ("Not Applicable", "negative for presence of
    cancer"): a negation quoted verbatim from the cited value is the record's, already compared."""
    values = [fact.value for fact in facts if isinstance(fact.value, str)]
    values += [c.display for fact in facts for c in fact.value_codes if c.display]
    return fact_names(*facts) + values


def _settle(
    hard: list[CheckResult], word_fails: list[CheckResult], word_passes: list[CheckResult]
) -> list[CheckResult]:
    """A status word ("ongoing", "resolved") is about *something* the statement names: it fails only
    when no named item has that status ("Line 1: cisplatin + gefitinib, ongoing" holds while
    gefitinib is active). Negations and refutations always count."""
    return hard + (word_passes if word_passes else word_fails)


def _check_conditions(text: str, facts: list[Fact], case_date: date | None) -> list[CheckResult]:
    hard: list[CheckResult] = []
    word_fails: list[CheckResult] = []
    word_passes: list[CheckResult] = []
    says_inactive = bool(_SAYS_INACTIVE.search(text))
    says_active = bool(_SAYS_ACTIVE.search(text)) and not says_inactive
    for fact in facts:
        state = condition_state(fact, case_date)
        mentioned, negated = negated_concepts(text, _subject(fact), fact_names(fact))
        if not mentioned:
            continue  # status words about something else in the sentence
        evidence = [fact.evidence]
        label = fact.label
        recorded = fact.status or fact.verification_status
        if negated and state in {"active", None} and recorded:
            hard.append(
                _result("fail", f"statement negates {label!r}; the record has it ({recorded})", evidence)
            )
        elif negated and state == "inactive" and not says_inactive and not _qualified_negation(text):
            # "no breast cancer" about a cancer in remission: the diagnosis was made; only a
            # qualified denial ("no active/residual/recurrent ...", "in remission") is true.
            hard.append(
                _result(
                    "fail",
                    f"statement denies {label!r}; the record has the diagnosis ({recorded or 'abated'})",
                    evidence,
                )
            )
        elif not negated and state == "refuted":
            hard.append(_result("fail", f"statement asserts {label!r}; the record refutes it", evidence))
        elif negated and state in {"refuted", "inactive"}:
            hard.append(_result("pass", f"{label!r}: status {recorded} agrees with the negation", evidence))
        elif says_inactive and state == "active":
            detail = f"statement calls {label!r} resolved/inactive; clinicalStatus is {fact.status}"
            word_fails.append(_result("fail", detail, evidence))
        elif says_active and state == "inactive":
            ended = f"clinicalStatus is {fact.status}" if fact.status else f"abated {fact.end_date}"
            word_fails.append(_result("fail", f"statement calls {label!r} active/current; {ended}", evidence))
        elif (says_inactive and state == "inactive") or (says_active and state == "active"):
            word_passes.append(_result("pass", f"{label!r}: status {recorded} agrees", evidence))
    return _settle(hard, word_fails, word_passes)


_LINE_WORDS = re.compile(r"\b(?:line|regimen)s?\b", re.I)


def _reconciled(
    fact: Fact, text: str, cited: set[str], record: PatientRecord, case_date: date | None
) -> tuple[str, str] | None:
    """(status, reason) the clinical picture gives what `fact` belongs to — its line when the
    statement speaks of a line, else its ingredient — when the source that decided that status is
    among the statement's citations (None otherwise).

    One order's own status is one source; the picture weighs them all. An order still marked
    "active" whose line the picture has *completed* from the administrations the statement also
    cites is not evidence against "completed": the cited evidence, read together, says it.
    """
    # here, not at the top: medboard.tools.reconcile uses this module (its conflict rules)
    from medboard.tools.checks.picture import picture_for
    from medboard.tools.reconcile.index import index_of

    index = index_of(picture_for(record, case_date))
    concepts = index.of(fact.reference)
    if concepts.lines and _LINE_WORDS.search(text):
        for _, line in concepts.lines:
            basis = index.line_basis(line)
            if cited & set(basis.sources):
                return line.status, basis.reason
        return None
    for medication in concepts.medications:
        basis = index.medication_basis(medication)
        if cited & set(basis.sources):
            return medication.status, basis.reason
    return None


def _check_medications(
    text: str, facts: list[Fact], case_date: date | None, record: PatientRecord | None = None
) -> list[CheckResult]:
    hard: list[CheckResult] = []
    word_fails: list[CheckResult] = []
    word_passes: list[CheckResult] = []
    says_stopped = bool(_MED_STOPPED.search(text))
    says_current = bool(_MED_CURRENT.search(text)) and not says_stopped
    says_given = bool(_MED_GIVEN.search(text))
    cited = {f.reference for f in facts}
    for fact in facts:
        mentioned, _ = negated_concepts(text, _subject(fact), fact_names(fact))
        if not mentioned:
            continue  # status words about something else in the sentence
        state = medication_state(fact, case_date)
        evidence = [fact.evidence]
        label = fact.label
        disagrees = (says_current and state == "not_current") or (says_stopped and state == "current")
        reconciled = _reconciled(fact, text, cited, record, case_date) if disagrees and record else None
        picture_agrees = reconciled is not None and (
            (says_current and reconciled[0] == "current")
            or (says_stopped and reconciled[0] in {"stopped", "completed"})
        )
        if reconciled is not None and picture_agrees:
            status, reason = reconciled
            word_passes.append(
                _result("pass", f"{label!r}: the picture has it {status} ({reason})", evidence)
            )
        elif says_current and state == "not_current":
            end = f", ended {fact.end_date}" if fact.end_date else ""
            detail = f"statement calls {label!r} current; its status is {fact.status}{end}"
            word_fails.append(_result("fail", detail, evidence))
        elif says_stopped and state == "current":
            detail = f"statement calls {label!r} stopped; its status is {fact.status}"
            word_fails.append(_result("fail", detail, evidence))
        elif says_given and state == "not_given":
            detail = f"statement says {label!r} was given; administration status {fact.status}"
            hard.append(_result("fail", detail, evidence))
        elif (says_current and state == "current") or (says_stopped and state == "not_current"):
            word_passes.append(_result("pass", f"{label!r}: status {fact.status} agrees", evidence))
    return _settle(hard, word_fails, word_passes)


# Words that make a denial about the current or a further state, not about the diagnosis itself.
_QUALIFIED_NEGATION = re.compile(
    r"\b(?:no|not|without|free of|negative for|denies)\b[^.;:]{0,40}?\b(?:active|current(?:ly)?|"
    r"ongoing|residual|recurren\w*|persistent|remaining|new|further|progressi\w*|metastasis)\b"
    r"|\bno longer\b|\bno evidence of (?:disease|recurren\w*)\b",
)


def _qualified_negation(text: str) -> bool:
    return bool(_QUALIFIED_NEGATION.search(fold(text)))


def stated_polarity(text: str) -> str | None:
    """`positive` / `negative` as the statement words a qualitative result, negation-aware.

    "not detected", "absent", "negative" read negative; "present", "detected", "positive" read
    positive; a cue before either flips it ("not positive" → negative, "not negative" → positive,
    "no DCIS detected" → negative). None when the statement says neither, or both.
    """
    folded = fold(text)
    negations = negated_spans(folded)
    polarities: set[str] = set()
    negative_spans: list[tuple[int, int]] = []
    for m in _SAYS_NEGATIVE.finditer(folded):
        negative_spans.append(m.span())
        polarities.add("positive" if negations.covers(m.start(), m.end(), slack=1) else "negative")
    guard = SpanList(negative_spans)
    for m in _SAYS_POSITIVE.finditer(folded):
        if guard.covers(m.start(), m.end()):
            continue
        polarities.add("negative" if negations.covers(m.start(), m.end(), slack=1) else "positive")
    return polarities.pop() if len(polarities) == 1 else None


def _check_qualitative(text: str, facts: list[Fact], *, markers_named: bool) -> list[CheckResult]:
    """Present/absent, positive/negative wording against coded qualitative results.

    Only when the statement's polarity is unambiguous (it does not say both "positive" and
    "negative"); receptor results are left to the staging check when the statement names them
    ("ER+/PR-" pairs each polarity with its marker).
    """
    worded = stated_polarity(text)
    ambiguous = worded is None and bool(_SAYS_NEGATIVE.search(text) or _SAYS_POSITIVE.search(text))
    results: list[CheckResult] = []
    for fact in facts:
        if fact.kind in {FactKind.condition, FactKind.medication}:
            continue
        marker = fact.details.marker if isinstance(fact.details, TumorMarkerDetails) else None
        if markers_named and (_BIOMARKER_RE.search(fact.label) or marker):
            continue
        polarity = _value_polarity(fact)
        if polarity is None:
            continue
        if ambiguous:
            continue  # both polarities worded: not decidable here
        _, negated = negated_concepts(text, _subject(fact), fact_names(fact))
        stated = worded or ("negative" if negated else None)  # "No DCIS." reads negative
        if stated is None:
            continue
        shown = fact.value if isinstance(fact.value, str) else polarity
        outcome = "pass" if stated == polarity else "fail"
        results.append(
            _result(outcome, f"statement reads {stated}; {fact.label!r} is {shown!r}", [fact.evidence])
        )
    return results


def _denies_metastasis(
    text: str, claims: Claims, record: PatientRecord, case_date: date | None, names: Sequence[str] = ()
) -> CheckResult | None:
    folded = fold(text)
    negations = negated_spans(folded, protected=name_spans(folded, names))
    hit = next(
        (m for m in re.finditer(r"\bmetastasis\b", folded) if negations.contains(m.start())),
        None,
    )
    if hit is None:
        return None
    latest_stated = max((hi for d in claims.dates for _, hi in d.candidates), default=None)
    active: list[Fact] = []
    for fact in record.facts_of(FactKind.condition):
        cancer = fact.details.cancer if isinstance(fact.details, ConditionDetails) else None
        secondary = cancer == "secondary" or "metastasis" in concept_tokens(fact.label)
        if not secondary or condition_state(fact, case_date) in {"inactive", "refuted"}:
            continue
        onset = parse_fhir_date(fact.date)
        if latest_stated and onset and onset[0] > latest_stated:
            continue  # the statement speaks of a time before the metastasis was found
        active.append(fact)
    if not active:
        return None
    labels = "; ".join(f"{f.label!r} ({f.status or 'no status'})" for f in active[:3])
    return _result(
        "fail", f"statement denies metastasis; the record has {labels}", [f.evidence for f in active]
    )


def check_status(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """Presence/absence and status words agree with clinical/medication status and coded results."""
    claims = claims or extract_claims(statement_text, case_date)
    facts = Scope.of([c for c in cited if c.exists]).facts
    own = [f for c in cited for f in c.facts]
    results: list[CheckResult] = []
    metastasis = _denies_metastasis(statement_text, claims, record, case_date, fact_names(*own))
    if metastasis:
        results.append(metastasis)
    results += _check_conditions(statement_text, [f for f in own if f.kind == FactKind.condition], case_date)
    results += _check_medications(
        statement_text, [f for f in own if f.kind == FactKind.medication], case_date, record
    )
    qualitative = [f for f in facts if f.kind != FactKind.staging]
    results += _check_qualitative(statement_text, qualitative, markers_named=bool(claims.markers))
    failed = [r for r in results if r.outcome == "fail"]
    if failed:
        return _result("fail", "; ".join(r.detail for r in failed), [e for r in failed for e in r.evidence])
    if results:
        return _result("pass", "; ".join(r.detail for r in results), [e for r in results for e in r.evidence])
    return _result("skip", "no status or negation to compare")


def status_parts(statement_text: str, claims: Claims, cited: Sequence[CitedEvidence]) -> list[Part]:
    """Status wording the record does not quote ("active", "stopped") and negated words, as one
    part. The staging check answers for it too: receptor and metastasis negation ("HER2
    negative", "no distant metastasis") is staging's to decide."""
    del claims
    said = dict.fromkeys(  # a small vocabulary: deduplicated, each looked up once
        m[0].lower()
        for r in (_SAYS_ACTIVE, _SAYS_INACTIVE, _MED_CURRENT, _MED_STOPPED)
        for m in r.finditer(statement_text)
    )
    evidence_text = " ".join(evidence_words(cited)).lower()
    unquoted = [word for word in said if word not in evidence_text]  # "fully active" quoted from the record
    folded = fold(statement_text)
    cited_names = quoted_texts(*(f for c in cited for f in c.facts))
    negated = negated_spans(folded, protected=name_spans(folded, cited_names))
    if not (unquoted or negated):
        return []
    return [Part("status/negation", by=frozenset({STATUS_AGREES, STAGING_AGREES}))]
