"""Numbers in a statement against the cited values, unit-aware.

Each quantity the statement states must be one of the cited facts' values (or a reference-range
bound, a medication's dose, a relative's onset age), after unit conversion with `pint`. A number
with a unit that no cited value can be converted to is a unit error; a convertible one that matches
no value is a value error. Bare numbers are read in the record's unit; as free text carries counts
("4 cycles") and scores ("Gleason 4+3"), bare numbers only fail when *none* of them matches a
cited value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from medboard.models import CheckResult, Fact
from medboard.models.fact_kinds import FamilyHistoryDetails, MedicationDetails
from medboard.tools.checks.base import Part
from medboard.tools.checks.evidence import NUMERIC_KINDS, CitedEvidence, Scope
from medboard.tools.checks.extract import Claims, Quantity, extract_claims, extract_quantities
from medboard.tools.checks.units import Comparison, compare, loinc_of
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.units import is_time_unit, registry, try_parse_unit

NUMBERS_AGREE = "numbers_agree"


@dataclass(frozen=True)
class _Candidate:
    fact: Fact
    value: float
    unit: str | None
    what: str  # "value" | "dose" | "onset age" | "reference low" | "reference high"


def _candidates(facts: Sequence[Fact]) -> list[_Candidate]:
    out: list[_Candidate] = []
    for fact in facts:
        dosage = fact.details.dosage if isinstance(fact.details, MedicationDetails) else None
        if isinstance(dosage, str):  # "1mg orally once daily", "175 mg/m² IV"
            for quantity in extract_quantities(dosage.replace("²", "2"), []):
                out.append(_Candidate(fact, quantity.value, quantity.unit, "dose"))
        onset = fact.details if isinstance(fact.details, FamilyHistoryDetails) else None
        if onset is not None and onset.onset_age is not None:  # a relative's age, not a patient value
            out.append(_Candidate(fact, onset.onset_age, onset.onset_unit, "onset age"))
        if fact.kind not in NUMERIC_KINDS:
            continue
        # Prefer the UCUM code when pint reads it; the display unit ("Recurrence score") often not.
        unit = fact.unit_code if try_parse_unit(fact.unit_code) is not None else fact.unit
        if isinstance(fact.value, int | float) and not isinstance(fact.value, bool):
            out.append(_Candidate(fact, float(fact.value), unit, "value"))
        if fact.reference_range:
            rr_unit = fact.reference_range.unit or unit
            for bound, what in (
                (fact.reference_range.low, "reference low"),
                (fact.reference_range.high, "reference high"),
            ):
                if bound is not None:
                    out.append(_Candidate(fact, float(bound), rr_unit, what))
    return out


#: What a cited fact states as a number (a reference-range bound is a bound, not a result).
_STATED = frozenset({"value", "dose", "onset age"})


def _describe(candidate: _Candidate) -> str:
    unit = f" {candidate.unit}" if candidate.unit else ""
    return f"{candidate.fact.id} {candidate.what} {candidate.value:g}{unit}"


def _match(
    quantity: Quantity, candidates: list[_Candidate]
) -> tuple[_Candidate | None, list[tuple[_Candidate, Comparison]]]:
    comparisons: list[tuple[_Candidate, Comparison]] = []
    for candidate in candidates:
        result = compare(
            quantity.value,
            quantity.number_text,
            quantity.unit,
            candidate.value,
            candidate.unit,
            analyte_label=" ".join([candidate.fact.label, *(c.display or "" for c in candidate.fact.codes)]),
            loinc=loinc_of(candidate.fact.codes),
        )
        comparisons.append((candidate, result))
        if result.agrees:
            return candidate, comparisons
    return None, comparisons


def _is_derived(quantity: Quantity, candidates: list[_Candidate]) -> bool:
    """A rate of a cited quantity (ng/mL per year) or a signed percent change of a non-% value."""
    unit = try_parse_unit(quantity.unit)
    if unit is None:
        return False
    cited_units = [try_parse_unit(c.unit) for c in candidates if c.unit]
    dims = [u.dimensionality for u in cited_units if u is not None]
    if unit.dimensionality in dims:
        return False
    per_time = [d / registry().second.dimensionality for d in dims]
    if unit.dimensionality in per_time:
        return True
    signed = quantity.text.lstrip()[:1] in {"+", "-", "−"} or quantity.value < 0
    return bool(quantity.unit and quantity.unit.strip() in {"%", "percent"} and signed)


def unjudged_quantities(quantities: Sequence[Quantity], candidates: list[_Candidate]) -> list[Quantity]:
    """Quantities the number check leaves alone: durations ("for 5 years") when nothing cited is a
    time, and rates or signed percent changes derived from the cited values. They stay for the
    arithmetic check or the entailment model; they are never compared as record values."""
    any_time_fact = any(is_time_unit(c.unit) for c in candidates)
    return [
        q
        for q in quantities
        if (q.unit and is_time_unit(q.unit) and not any_time_fact) or q.count_of or _is_derived(q, candidates)
    ]


def unjudged(claims: Claims, cited: Sequence[CitedEvidence]) -> list[Quantity]:
    """`unjudged_quantities` for a statement's claims and citations."""
    return unjudged_quantities(claims.quantities, _candidates(Scope.of(cited).facts))


def check_numbers(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """Every stated quantity equals a cited value (unit-converted, at the statement's precision)."""
    del record
    claims = claims or extract_claims(statement_text, case_date)
    scope = Scope.of(cited)
    candidates = _candidates(scope.facts)
    quantities = list(claims.quantities)
    if not quantities:
        return CheckResult(name=NUMBERS_AGREE, outcome="skip", detail="no numbers in the statement")
    if not candidates:
        return CheckResult(
            name=NUMBERS_AGREE, outcome="skip", detail="the cited evidence carries no numeric value"
        )
    skipped = set(map(id, unjudged_quantities(quantities, candidates)))
    failures: list[str] = []
    matched: list[str] = []
    bare_checked = bare_matched = 0
    bare_failures: list[str] = []
    evidence = {c.fact.evidence.reference: c.fact.evidence for c in candidates}
    for quantity in quantities:
        if id(quantity) in skipped:
            continue
        hit, comparisons = _match(quantity, candidates)
        if hit is not None:
            matched.append(f"{quantity.text!r} = {_describe(hit)}")
            bare_matched += quantity.unit is None
            bare_checked += quantity.unit is None
            continue
        if quantity.unit is None:
            bare_checked += 1
            bare_failures.append(quantity.text)
            continue
        compatible = [(c, r) for c, r in comparisons if r.compatible and c.what in _STATED]
        if compatible:
            candidate, result = compatible[0]
            shown = f"{result.converted:.4g} {quantity.unit}" if result.converted is not None else ""
            failures.append(f"statement says {quantity.text!r}; {_describe(candidate)} (= {shown})")
        else:
            units = sorted({c.unit or "no unit" for c in candidates if c.what in _STATED})
            failures.append(
                f"statement's unit in {quantity.text!r} does not fit the cited unit(s) {', '.join(units)}"
            )
    if bare_checked and not bare_matched and not matched:
        values = ", ".join(_describe(c) for c in candidates if c.what in _STATED)
        failures.append(
            f"statement number(s) {', '.join(repr(b) for b in bare_failures)} match no cited value ({values})"
        )
    if failures:
        return CheckResult(
            name=NUMBERS_AGREE, outcome="fail", detail="; ".join(failures), evidence=list(evidence.values())
        )
    if not matched:
        return CheckResult(name=NUMBERS_AGREE, outcome="skip", detail="only durations or derived numbers")
    return CheckResult(
        name=NUMBERS_AGREE, outcome="pass", detail="; ".join(matched), evidence=list(evidence.values())
    )


def number_parts(statement_text: str, claims: Claims, cited: Sequence[CitedEvidence]) -> list[Part]:
    """The quantities this check judges; then those it leaves alone (durations, derived rates),
    which no check accounts for (they are the arithmetic check's or the model's). Counts are the
    count check's to declare."""
    del statement_text
    open_quantities = {id(q) for q in unjudged(claims, cited)}
    judged = [Part(q.text.strip(), q.span) for q in claims.quantities if id(q) not in open_quantities]
    unaccounted = [
        Part(q.text.strip(), q.span, by=frozenset())
        for q in claims.quantities
        if id(q) in open_quantities and not q.count_of
    ]
    return judged + unaccounted
