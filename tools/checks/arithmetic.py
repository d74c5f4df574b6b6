"""Arithmetic written out in a statement, recomputed.

Trend statements show their work ("25.4 − 31.8 = -6.32 U/L (-6.32 / 31.8 = -19.9 %) (falling)",
"ln 2 / 0.0123 = 56.4"). The results are derived numbers, not record values, so the number check
leaves them alone and this check recomputes them instead: each result must equal the operation on
its operands, within the rounding of every number as written (the operands are usually shown
rounded while the result was computed from the exact values). A direction word right after a
percent change ("rising", "falling", "stable") must match its sign, and "stable" its stated band.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date

from medboard.models import CheckResult, Fact, FactKind
from medboard.models.fact_kinds import ImagingStudyDetails
from medboard.tools.checks.base import Part
from medboard.tools.checks.evidence import CitedEvidence
from medboard.tools.checks.extract import Claims, Expression, extract_claims
from medboard.tools.checks.text import stem
from medboard.tools.fhir.record import PatientRecord

ARITHMETIC_AGREES = "arithmetic_agrees"

_DIRECTION_RE = re.compile(r"\s*%?\s*\)?\s*\((?P<word>rising|falling|stable|increasing|decreasing)\b", re.I)
_STABLE_BAND_RE = re.compile(r"stable means within\s*±\s*(?P<band>\d+(?:\.\d+)?)\s*%", re.I)


def _half_step(text: str) -> float:
    """Half a unit of the last written digit: the rounding a displayed number may carry."""
    digits = text.lstrip("+-−")
    return 0.5 * 10 ** (-len(digits.split(".", 1)[1])) if "." in digits else 0.5


def _expected(expression: Expression) -> tuple[float, float] | None:
    """(exact result from the operands as written, tolerance from their rounding)."""
    values = [v for v, _ in expression.operands]
    errors = [_half_step(t) for _, t in expression.operands]
    if expression.op == "-":
        return values[0] - values[1], errors[0] + errors[1]
    if expression.op == "+":
        return values[0] + values[1], errors[0] + errors[1]
    if expression.op == "*":
        a, b = values
        return a * b, abs(a) * errors[1] + abs(b) * errors[0] + errors[0] * errors[1]
    if expression.op in {"/", "/%"}:
        a, b = values
        if abs(b) <= errors[1]:
            return None  # dividing by (nearly) zero: no meaningful check
        scale = 100.0 if expression.op == "/%" else 1.0
        value = scale * a / b
        relative = errors[0] / max(abs(a), errors[0]) + errors[1] / (abs(b) - errors[1])
        return value, abs(value) * relative + scale * errors[0] / abs(b)
    if expression.op == "ln2/":
        (b,) = values
        if abs(b) <= errors[0]:
            return None
        value = math.log(2) / b
        return value, abs(value) * errors[0] / (abs(b) - errors[0])
    return None


def _direction_problem(text: str, expression: Expression) -> str | None:
    if expression.op != "/%":
        return None
    match = _DIRECTION_RE.match(text, expression.span[1])
    if not match:
        return None
    word = match["word"].lower()
    change = expression.result[0]
    band_match = _STABLE_BAND_RE.search(text)
    band = float(band_match["band"]) if band_match else None
    if word in {"rising", "increasing"} and change <= (band or 0.0):
        return f"{expression.result[1]} % is called {word}"
    if word in {"falling", "decreasing"} and change >= -(band or 0.0):
        return f"{expression.result[1]} % is called {word}"
    if word == "stable" and band is not None and abs(change) > band:
        return f"{expression.result[1]} % is called stable (band ±{band:g} %)"
    return None


def check_arithmetic(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """Every worked calculation in the statement comes out as written."""
    del cited, record
    claims = claims or extract_claims(statement_text, case_date)
    if not claims.expressions:
        return CheckResult(name=ARITHMETIC_AGREES, outcome="skip", detail="no calculation in the statement")
    problems: list[str] = []
    checked = 0
    for expression in claims.expressions:
        expected = _expected(expression)
        if expected is None:
            continue
        value, tolerance = expected
        tolerance += _half_step(expression.result[1]) + 1e-9
        checked += 1
        if abs(value - expression.result[0]) > tolerance:
            problems.append(f"{expression.text.strip()!r}: the operands give {value:.4g}")
        direction = _direction_problem(statement_text, expression)
        if direction:
            problems.append(direction)
    if problems:
        return CheckResult(name=ARITHMETIC_AGREES, outcome="fail", detail="; ".join(problems))
    if not checked:
        return CheckResult(name=ARITHMETIC_AGREES, outcome="skip", detail="calculations divide by zero")
    return CheckResult(name=ARITHMETIC_AGREES, outcome="pass", detail=f"{checked} calculation(s) recomputed")


EXTREMES_AGREE = "extremes_agree"

# "latest 25.4 U/L", "nadir 3.67 g/dL", "peak 130 U/L", "baseline 31.8 U/L"
_EXTREME_RE = re.compile(
    r"\b(?P<word>latest|most recent|last|baseline|first|earliest|nadir|lowest|minimum|peak|highest|maximum)"
    r"\b[^.;:\d]{0,20}?(?=[-+−]?\d)",
    re.I,
)
_KIND = {
    "latest": "latest", "most recent": "latest", "last": "latest",
    "baseline": "earliest", "first": "earliest", "earliest": "earliest",
    "nadir": "min", "lowest": "min", "minimum": "min",
    "peak": "max", "highest": "max", "maximum": "max",
}  # fmt: skip
EXTREME_WORDS = frozenset(w for key in _KIND for w in key.split())


def check_extremes(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """ "Latest/baseline/nadir/peak X" is the latest/earliest/lowest/highest cited value.

    Passes when every such value is that extreme of the cited series (one analyte, compared in the
    statement's unit); otherwise it is not judged here (a window the statement does not state may
    have chosen the value), so the words stay for the entailment check.
    """
    from medboard.tools.checks.evidence import Scope, parse_fhir_date
    from medboard.tools.checks.units import compare, loinc_of
    from medboard.tools.units import try_parse_unit

    del record
    claims = claims or extract_claims(statement_text, case_date)
    series = [
        f
        for f in Scope.of(cited).facts
        if isinstance(f.value, int | float) and not isinstance(f.value, bool) and f.date and f.codes
    ]
    codes = {f.codes[0].code for f in series}
    if not series or len(codes) != 1:
        return CheckResult(name=EXTREMES_AGREE, outcome="skip", detail="no single cited series")
    dated = sorted(series, key=lambda f: parse_fhir_date(f.date) or (date.min, date.min))
    pick = {
        "latest": dated[-1],
        "earliest": dated[0],
        "min": min(series, key=lambda f: float(f.value)),  # type: ignore[arg-type]
        "max": max(series, key=lambda f: float(f.value)),  # type: ignore[arg-type]
    }
    checked = 0
    for match in _EXTREME_RE.finditer(statement_text):
        quantity = next((q for q in claims.quantities if q.span[0] >= match.end() - 1), None)
        if quantity is None or quantity.span[0] - match.end() > 3:
            continue
        fact = pick[_KIND[match["word"].lower()]]
        unit = fact.unit_code if try_parse_unit(fact.unit_code) is not None else fact.unit
        if not compare(
            quantity.value,
            quantity.number_text,
            quantity.unit,
            float(fact.value),  # type: ignore[arg-type]
            unit,
            fact.label,
            loinc=loinc_of(fact.codes),
        ).agrees:
            return CheckResult(
                name=EXTREMES_AGREE,
                outcome="skip",
                detail=f"{match['word']} {quantity.text.strip()} not judged",
            )
        checked += 1
    if not checked:
        return CheckResult(
            name=EXTREMES_AGREE, outcome="skip", detail="no latest/baseline/nadir/peak value stated"
        )
    evidence = [f.evidence for f in series]
    return CheckResult(
        name=EXTREMES_AGREE, outcome="pass", detail=f"{checked} extreme value(s) agree", evidence=evidence
    )


COUNTS_AGREE = "counts_agree"

_COUNTED_TYPES = {
    "value": ("Observation",),
    "measurement": ("Observation",),
    "result": ("Observation",),
    "observation": ("Observation",),
    "procedure": ("Procedure",),
    "administration": ("MedicationAdministration",),
    "report": ("DiagnosticReport",),
    "study": ("ImagingStudy",),
    "studies": ("ImagingStudy",),
    "record": None,  # any cited resource
    "entry": None,
    "entries": None,
}


def _study_count(study: Fact, noun: str) -> int:
    """Series or instances of one ImagingStudy fact (numberOfInstances, else the series' sum)."""
    details = study.details if isinstance(study.details, ImagingStudyDetails) else ImagingStudyDetails()
    if noun == "series":
        return len(details.series)
    if details.number_of_instances is not None:
        return details.number_of_instances
    return sum(s.instances or 0 for s in details.series)


def check_counts(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """ "6 values", "3 medication record(s)": the count is the number of cited resources of that kind.

    Passes when every count matches; a count that does not is left open (it may count a subset
    the statement describes), never failed.
    """
    del record
    claims = claims or extract_claims(statement_text, case_date)
    counts = [q for q in claims.quantities if q.count_of]
    if not counts:
        return CheckResult(name=COUNTS_AGREE, outcome="skip", detail="no counts stated")
    references = {c.reference for c in cited if c.reference}
    studies = [f for c in cited for f in c.facts if f.kind == FactKind.imaging_study]
    for quantity in counts:
        noun = (quantity.count_of or "").rstrip("s") if quantity.count_of != "series" else "series"
        if noun in {"series", "instance"} and studies:
            recorded = sum(_study_count(study, noun) for study in studies)
            if recorded != quantity.value:
                return CheckResult(
                    name=COUNTS_AGREE,
                    outcome="skip",
                    detail=f"{quantity.text.strip()} vs {recorded} {noun} in the cited imaging studies",
                )
            continue
        types = _COUNTED_TYPES.get(noun, _COUNTED_TYPES.get(quantity.count_of or "", ()))
        if types == ():
            return CheckResult(
                name=COUNTS_AGREE, outcome="skip", detail=f"{quantity.text.strip()} not counted"
            )
        counted = [r for r in references if types is None or r.split("/", 1)[0] in types]
        if len(counted) != quantity.value:
            return CheckResult(
                name=COUNTS_AGREE,
                outcome="skip",
                detail=f"{quantity.text.strip()} {noun}(s) vs {len(counted)} cited",
            )
    return CheckResult(
        name=COUNTS_AGREE, outcome="pass", detail=f"{len(counts)} count(s) match the citations"
    )


#: Direction words this check settles against the computed change (`_DIRECTION_RE`).
DIRECTION_TERMS = frozenset({"rising", "falling", "stable", "increasing", "decreasing"})


#: The latest/baseline/nadir/peak words as concept tokens (stemmed like the statement's): the
#: extremes check settles them.
EXTREME_TERMS = frozenset(stem(w) for w in EXTREME_WORDS)


def expression_parts(statement_text: str, claims: Claims, cited: Sequence[CitedEvidence]) -> list[Part]:
    """Every worked calculation the statement shows."""
    del statement_text, cited
    return [Part(e.text.strip(), e.span) for e in claims.expressions]


def count_parts(statement_text: str, claims: Claims, cited: Sequence[CitedEvidence]) -> list[Part]:
    """Every count of cited resources the statement states ("6 values")."""
    del statement_text, cited
    return [Part(q.text.strip(), q.span) for q in claims.quantities if q.count_of]
