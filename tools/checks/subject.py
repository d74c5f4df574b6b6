"""Does the cited evidence mention what the statement is about?

The signature of a fabricated finding is a real-looking citation that is about something else:
"history of myocardial infarction" citing a haemoglobin result. The check compares the
statement's content words with everything the cited resources say (code displays, labels, text,
values, one hop of linked resources), after folding spellings, abbreviations and synonyms
(`medboard.tools.checks.text`). It fails only when *no* content word of the statement meets the
evidence — conservative by design: a partial overlap passes here and is left to the other checks
and to the entailment model.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from medboard.models import CheckResult
from medboard.tools.checks.evidence import CitedEvidence, evidence_words
from medboard.tools.checks.extract import Claims, extract_claims
from medboard.tools.checks.text import concept_tokens, folded_tokens, negated_spans, overlap
from medboard.tools.fhir.record import PatientRecord

SUBJECT_MENTIONED = "subject_mentioned"


def statement_terms(statement_text: str, claims: Claims | None = None) -> set[str]:
    """Content tokens of the statement outside numbers, dates and units."""
    claims = claims or extract_claims(statement_text)
    spans = sorted(
        [q.span for q in claims.quantities] + [d.span for d in claims.dates] + [s for _, s in claims.ages]
    )
    kept, cursor = [], 0
    for start, end in spans:
        kept.append(statement_text[cursor:start])
        cursor = max(cursor, end)
    kept.append(statement_text[cursor:])
    return concept_tokens(" ".join(kept))


def evidence_terms(cited: Sequence[CitedEvidence]) -> set[str]:
    return concept_tokens(" ".join(evidence_words([c for c in cited if c.exists])))


def _only_denies(text: str) -> bool:
    """True when every content word of the statement sits under a negation ("No RECIST response
    could be computed"): what a statement denies need not appear in what it cites."""
    folded, spans = folded_tokens(text)
    negations = negated_spans(folded)
    return bool(spans) and all(negations.covers(a, b, slack=1) for _, a, b in spans)


def check_subject(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """At least one content word of the statement appears in what the cited evidence says."""
    del record
    existing = [c for c in cited if c.exists]
    if not existing:
        return CheckResult(name=SUBJECT_MENTIONED, outcome="skip", detail="no resolvable FHIR evidence")
    terms = statement_terms(statement_text, claims or extract_claims(statement_text, case_date))
    if not terms:
        return CheckResult(name=SUBJECT_MENTIONED, outcome="skip", detail="no content words to compare")
    vocabulary = evidence_terms(existing)
    shared = overlap(terms, vocabulary)
    if not shared and _only_denies(statement_text):
        return CheckResult(
            name=SUBJECT_MENTIONED,
            outcome="skip",
            detail="the statement only denies; absence needs no mention",
        )
    evidence = [c.ref for c in existing]
    if shared:
        return CheckResult(
            name=SUBJECT_MENTIONED,
            outcome="pass",
            detail=f"cited evidence mentions {', '.join(sorted(shared)[:6])}",
            evidence=evidence,
        )
    return CheckResult(
        name=SUBJECT_MENTIONED,
        outcome="fail",
        detail=f"cited evidence does not mention {', '.join(sorted(terms)[:6])}",
        evidence=evidence,
    )
