"""Medications by ingredient across Request, Statement, Administration and Dispense.

Every medication fact is grouped by its ingredient (`drugs.ingredient_name`: a contained or
referenced Medication's ingredient list, else the RxNorm display, else the label). Each source then
says one or more of these things, read from its resource by the FHIR R4 status value sets
(`medboard.tools.fhir.medication_status`):

- **evidence** (the drug was ordered, taken or given on a day): a Request's ``authoredOn``; a
  Statement's effective start/end and ``dateAsserted``; an Administration's effective time (any
  status but not-done / entered-in-error); a Dispense's ``whenHandedOver`` (completed / in-progress).
  Cancelled, entered-in-error, not-done, declined and draft sources are evidence of nothing.
- **a stop**: a Request or Statement ``stopped``, a Statement ``not-taken``, a Request with
  ``doNotPerform`` — on its end date, else on its last own date (the only day the source gives;
  the reason says the stop date was not recorded);
- **a completion**: a Request or Statement ``completed``, or an active one whose period ended
  (``boundsPeriod`` / ``effectivePeriod`` end) on or before the case date;
- **an active marking**: a Request or Statement active / on-hold / intended, an Administration
  in-progress.

A stop or completion decides the status unless later evidence restarts the drug (a new order or
a dose after the stop); an undated stop cannot be placed and always decides. What remains is
judged by `currency.judge_currency` at the case date, with the window of the drug's kind
(`drugs.therapy_kind`, from the route and dose-form words of the latest evidence). A partial case
date stands for its last day. Evidence after the case date is never current; it is left out of
``last_evidence_date`` and named in the reason; evidence dated after the patient's death is named
in the reason as a data-quality problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from medboard.models import Fact, FactKind
from medboard.models.dates import FhirDate
from medboard.models.fact_kinds import MedicationDetails
from medboard.models.picture import Medication, PatientStatus
from medboard.tools.fhir import medication_status
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile.currency import judge_currency
from medboard.tools.reconcile.drugs import ingredient_name, therapy_kind

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# Sources that are evidence of nothing (never given, never signed, or void); still cited.
VOID = frozenset({"entered-in-error", "cancelled", "not-done", "declined", "draft"})
ACTIVE = medication_status.ON_THE_LIST


def day_of(text: str | None) -> date | None:
    """The calendar day of a FHIR date (the first day of a partial one: the earliest it may be)."""
    parsed = FhirDate.try_parse(text) if text else None
    if parsed is None:
        return None
    return parsed.day or parsed.first_day


def _case_day(text: str | None) -> date | None:
    """The case's day: a partial case date ("2019-05") means its last day (the case is "now")."""
    parsed = FhirDate.try_parse(text) if text else None
    if parsed is None:
        return None
    return parsed.day or parsed.last_day


@dataclass
class _Event:
    day: date | None
    what: str  # "stopped" | "completed"
    source: str
    note: str = ""
    placed: bool = False  # the day is the source's last own date, not a recorded stop date


@dataclass
class _Ingredient:
    name: str
    sources: list[str] = field(default_factory=list)
    evidence: list[tuple[date, str]] = field(default_factory=list)
    ends: list[_Event] = field(default_factory=list)
    active: list[str] = field(default_factory=list)
    words: dict[str, str] = field(default_factory=dict)  # source → its route / dose-form words
    cancer_related: bool = False


def _concept_texts(concept: dict[str, Any] | None) -> list[str]:
    if not isinstance(concept, dict):
        return []
    codings = concept.get("coding", ())
    rx = [c.get("display") for c in codings if c.get("system") == RXNORM and c.get("display")]
    other = [c.get("display") for c in codings if c.get("system") != RXNORM and c.get("display")]
    return [t for t in [*rx, concept.get("text"), *other] if t]


def _medication_resource(record: PatientRecord, resource: dict[str, Any]) -> dict[str, Any] | None:
    reference = (resource.get("medicationReference") or {}).get("reference")
    if not reference:
        return None
    if reference.startswith("#"):
        return next((c for c in resource.get("contained", ()) if c.get("id") == reference[1:]), None)
    return record.get(reference)


def ingredient_of(record: PatientRecord, fact: Fact) -> str:
    """The ingredient name of one medication fact (what lines of therapy can group by too)."""
    return _name(record, fact, record.get(fact.evidence.reference) or {})


def _name(record: PatientRecord, fact: Fact, resource: dict[str, Any]) -> str:
    medication = _medication_resource(record, resource)
    if medication:
        parts = [
            ingredient_name(_concept_texts(i.get("itemCodeableConcept")))
            for i in medication.get("ingredient", ())
            if i.get("isActive", True)
        ]
        names = sorted({p for p in parts if p})
        if names:
            return " / ".join(names)
    codes = [c.display for c in fact.codes if c.system == RXNORM and c.display]
    concept = _concept_texts(resource.get("medicationCodeableConcept"))
    if medication:
        concept += _concept_texts(medication.get("code"))
    return ingredient_name([*codes, *concept, fact.label]) or fact.label.lower()


def _route_words(record: PatientRecord, fact: Fact, resource: dict[str, Any]) -> str:
    words = [fact.label, fact.details.dosage if isinstance(fact.details, MedicationDetails) else None]
    dosages = resource.get("dosageInstruction") or resource.get("dosage") or []
    for dosage in [dosages] if isinstance(dosages, dict) else dosages:
        words += [dosage.get("text"), *_concept_texts(dosage.get("route"))]
    medication = _medication_resource(record, resource)
    if medication:
        words += _concept_texts(medication.get("form")) + _concept_texts(medication.get("code"))
    return " ".join(w for w in words if w)


def _period_end(resource: dict[str, Any]) -> str | None:
    if resource.get("resourceType") == "MedicationRequest":
        ends = [
            ((d.get("timing") or {}).get("repeat") or {}).get("boundsPeriod", {}).get("end")
            for d in resource.get("dosageInstruction", ())
        ]
        return max((e for e in ends if e), default=None)
    return (resource.get("effectivePeriod") or {}).get("end")


def _own_dates(fact: Fact, resource: dict[str, Any]) -> list[str]:
    kind = resource.get("resourceType")
    if kind == "MedicationDispense":
        return [d for d in (resource.get("whenHandedOver"), fact.date) if d]
    if kind == "MedicationStatement":
        return [d for d in (fact.date, fact.end_date, resource.get("dateAsserted")) if d]
    if kind == "MedicationAdministration":
        return [d for d in (fact.date, fact.end_date) if d]
    return [d for d in (fact.date,) if d]


def _status_reason(resource: dict[str, Any]) -> str:
    """Why a source stopped: ``statusReason`` (one concept on a Request, a list on a Statement)."""
    reasons = resource.get("statusReason") or []
    concepts = [reasons] if isinstance(reasons, dict) else reasons
    texts = [t for c in concepts for t in _concept_texts(c)[:1]]
    return f" (reason: {'; '.join(texts)})" if texts else ""


def _read(into: _Ingredient, fact: Fact, resource: dict[str, Any], case_day: date) -> None:
    reference = fact.evidence.reference
    kind = resource.get("resourceType") or ""
    status = (fact.status or "").lower()
    into.sources.append(reference)
    if status in VOID or (status == "unknown" and kind == "MedicationAdministration"):
        return
    days = [d for d in (day_of(t) for t in _own_dates(fact, resource)) if d is not None]
    if resource.get("doNotPerform") is True:  # an order *not* to give the drug: a stop from its date
        into.ends.append(_Event(max(days, default=None), "stopped", reference, "ordered not to be given"))
        return
    end = day_of(_period_end(resource))
    if kind == "MedicationDispense" and status not in {"completed", "in-progress", ""}:
        return
    if kind in {"MedicationRequest", "MedicationStatement"} and status in {"stopped", "not-taken"}:
        when = end or (max(days) if days else None)
        word = "not taken" if status == "not-taken" else "stopped"
        note = f"{word}{_status_reason(resource)}"
        into.ends.append(_Event(when, "stopped", reference, note, placed=end is None))
        into.evidence += [
            (d, reference) for d in days if status != "not-taken" and (when is None or d < when)
        ]
        return
    if kind in {"MedicationRequest", "MedicationStatement"} and status == "completed":
        when = end or (max(days) if days else None)
        into.ends.append(_Event(when, "completed", reference, "completed", placed=end is None))
        into.evidence += [(d, reference) for d in days]
        return
    into.evidence += [(d, reference) for d in days]
    if (status in ACTIVE and kind in {"MedicationRequest", "MedicationStatement"}) or status == "in-progress":
        into.active.append(reference)
        if end is not None and end <= case_day:
            into.ends.append(_Event(end, "completed", reference, "its period ended"))


def _judge(item: _Ingredient, case_day: date, patient: PatientStatus) -> Medication:
    sources = sorted(dict.fromkeys(item.sources))
    before = [(d, r) for d, r in item.evidence if d <= case_day]
    after = [(d, r) for d, r in item.evidence if d > case_day]
    last = max(before, default=None)
    ends = [e for e in item.ends if e.day is None or e.day <= case_day]
    undated = [e for e in ends if e.day is None]
    dated = max((e for e in ends if e.day is not None), key=lambda e: e.day or case_day, default=None)
    deciding = undated[0] if undated else dated
    last_day = max([d for d, _ in before] + [e.day for e in ends if e.day is not None], default=None)
    last_iso = last_day.isoformat() if last_day else None
    if deciding is not None and (deciding.day is None or last is None or deciding.day >= last[0]):
        if deciding.day is None:
            when = ", undated"
        elif deciding.placed:
            when = f" by {deciding.day.isoformat()} (no stop date recorded: its last own date)"
        else:
            when = f" on {deciding.day.isoformat()}"
        return Medication(
            ingredient=item.name,
            status="stopped" if deciding.what == "stopped" else "completed",
            last_evidence_date=last_iso,
            reason=f"{deciding.source}: {deciding.note}{when}, with no later evidence",
            sources=sources,
        )
    # the kind of the latest given form (oral methotrexate after IV methotrexate is oral)
    words = item.words.get(last[1]) if last else None
    words = words or " ".join(item.words.values())
    kind = therapy_kind(item.name, words, cancer_related=item.cancer_related)
    judged = judge_currency(
        case_date=case_day,
        last_evidence=last[0] if last else (min(after)[0] if after else None),
        marked_active=bool(item.active),
        deceased_on=day_of(patient.deceased_date),
        deceased=patient.deceased,
        kind=kind,
    )
    reason = judged.reason
    if last is not None:
        reason += f"; last evidence {last[1]} on {last[0].isoformat()}"
    if deciding is not None:
        reason += f"; restarted after {deciding.source} ({deciding.note})"
    if after:
        reason += f"; {len(after)} later record(s) after the case date not counted"
    died = day_of(patient.deceased_date)
    posthumous = sorted({r for d, r in item.evidence if died is not None and d > died})
    if posthumous:
        reason += f"; dated after death (data quality): {', '.join(posthumous)}"
    return Medication(
        ingredient=item.name,
        status=judged.status,
        last_evidence_date=last_iso,
        reason=reason,
        sources=sources,
    )


def medications_of(
    record: PatientRecord, *, case_date: str | None, patient: PatientStatus
) -> list[Medication]:
    """Each ingredient's reconciled status at `case_date` (current first, then latest evidence)."""
    case_day = _case_day(case_date) or _case_day(record.latest_date()) or date.today()
    items: dict[str, _Ingredient] = {}
    for fact in record.facts_of(FactKind.medication):
        resource = record.get(fact.evidence.reference) or {}
        name = _name(record, fact, resource)
        item = items.setdefault(name, _Ingredient(name))
        item.words[fact.evidence.reference] = _route_words(record, fact, resource)
        if isinstance(fact.details, MedicationDetails) and fact.details.cancer_related:
            item.cancer_related = True
        _read(item, fact, resource, case_day)
    judged = [_judge(item, case_day, patient) for item in items.values()]
    return sorted(
        judged,
        key=lambda m: (
            m.status != "current",
            -(day_of(m.last_evidence_date) or date.min).toordinal(),
            m.ingredient,
        ),
    )
