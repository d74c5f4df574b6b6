"""Dates and intervals in a statement against the cited evidence's dates.

A statement date is an interval at the precision it was written ("2019-04-02" one day, "March
2021" a month, "2018" a year, "3 months ago" the case date minus three months with rounding
slack). It agrees when it overlaps one of the cited dates or periods, widened by a tolerance
(one day: times with zones fall on neighbouring days; the date fields of one resource differ a
little: issued vs effective). Every stated date must agree with some cited date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from medboard.models import CheckResult, EvidenceRef
from medboard.tools.checks.base import Part
from medboard.tools.checks.evidence import CitedEvidence, evidence_intervals, parse_fhir_date
from medboard.tools.checks.extract import Claims, DateMention, extract_claims
from medboard.tools.fhir.record import PatientRecord

DATES_AGREE = "dates_agree"

TOLERANCE = {
    "day": timedelta(days=1),
    "month": timedelta(days=0),
    "year": timedelta(days=0),
    "relative": timedelta(0),
}


def _agrees(mention: DateMention, intervals: list[tuple[date, date]]) -> bool:
    slack = TOLERANCE.get(mention.precision, timedelta(days=1))
    for lo, hi in mention.candidates:
        for elo, ehi in intervals:
            if lo <= ehi + slack and elo - slack <= hi:
                return True
    return False


def check_dates(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """Every date in the statement falls on (or within) a date the cited evidence carries."""
    del record
    claims = claims or extract_claims(statement_text, case_date)
    if not claims.dates:
        return CheckResult(name=DATES_AGREE, outcome="skip", detail="no dates in the statement")
    intervals = evidence_intervals(cited, with_linked=True)
    if not intervals:
        return CheckResult(name=DATES_AGREE, outcome="skip", detail="the cited evidence carries no date")
    evidence = [c.ref for c in cited if c.exists]
    bad = [m for m in claims.dates if not _agrees(m, intervals)]
    if bad:
        shown = sorted({lo.isoformat() if lo == hi else f"{lo}..{hi}" for lo, hi in intervals})[:6]
        details = []
        for mention in bad:
            if mention.precision == "relative":
                lo, hi = mention.candidates[0]
                details.append(f"{mention.text!r} (≈ {lo}..{hi} before case date {case_date})")
            else:
                details.append(repr(mention.text))
        return CheckResult(
            name=DATES_AGREE,
            outcome="fail",
            detail=f"statement date {', '.join(details)} matches no cited date ({', '.join(shown)})",
            evidence=evidence,
        )
    return CheckResult(
        name=DATES_AGREE,
        outcome="pass",
        detail=f"{len(claims.dates)} date(s) agree with the cited evidence",
        evidence=evidence,
    )


AGE_AGREES = "age_agrees"


def _age_at(birth: date, when: date) -> int:
    return when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day))


def check_age(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """An age ("62-year-old", "aged 62") against the birth date, at the case date or a cited date.

    Summaries state age at presentation or at an event, so any of the case date, the statement's
    own dates and the cited evidence's dates may be meant; the stated age must be one of them.
    """
    claims = claims or extract_claims(statement_text, case_date)
    if not claims.ages:
        return CheckResult(name=AGE_AGREES, outcome="skip", detail="no age stated")
    patient = record.patient or {}
    born = parse_fhir_date(patient.get("birthDate"))
    if born is None:
        return CheckResult(name=AGE_AGREES, outcome="skip", detail="the record has no birth date")
    moments = [case_date] if case_date else []
    moments += [hi for mention in claims.dates for _, hi in mention.candidates]
    moments += [hi for _, hi in evidence_intervals(cited, with_linked=True)]
    ages = {_age_at(born[0], m) for m in moments if m and m >= born[0]}
    if not ages:
        return CheckResult(name=AGE_AGREES, outcome="skip", detail="no date to compute the age at")
    evidence = [EvidenceRef(reference=record.patient_ref or "Patient/unknown", path="birthDate")]
    bad = [age for age, _ in claims.ages if not any(abs(age - a) <= 1 for a in ages)]
    if bad:
        return CheckResult(
            name=AGE_AGREES,
            outcome="fail",
            detail=f"statement says age {', '.join(map(str, bad))}; born {patient.get('birthDate')}, "
            f"so {min(ages)}–{max(ages)} over the dates in question",
            evidence=evidence,
        )
    return CheckResult(
        name=AGE_AGREES, outcome="pass", detail="age agrees with the birth date", evidence=evidence
    )


def date_parts(statement_text: str, claims: Claims, cited: Sequence[CitedEvidence]) -> list[Part]:
    """Every date and interval the statement states ("2019-04-02", "3 months ago")."""
    del statement_text, cited
    return [Part(d.text.strip(), d.span) for d in claims.dates]


def age_parts(statement_text: str, claims: Claims, cited: Sequence[CitedEvidence]) -> list[Part]:
    """Every age the statement states ("62-year-old"), shown as written."""
    del cited
    return [Part(statement_text[start:end], (start, end)) for _, (start, end) in claims.ages]
