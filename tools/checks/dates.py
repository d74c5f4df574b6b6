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

from medboard.models import CheckResult
from medboard.tools.checks.evidence import CitedEvidence, evidence_intervals
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
