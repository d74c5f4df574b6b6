"""Resolving a statement's citations against the record, and what a cited resource says.

`resolve_citations` turns `EvidenceRef`s into `CitedEvidence`: the canonical reference, the raw
resource, its facts, and the facts one hop away (a DiagnosticReport's results, a panel's members,
a Condition's staging). The helpers below read what the cited evidence says in the forms the
checks compare: its words (`evidence_words`), its dates (`evidence_intervals`), its patient.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from medboard.models import CheckResult, EvidenceRef, Fact, FactKind, FhirDate
from medboard.models.fact_kinds import (
    ConditionDetails,
    FactDetails,
    FamilyHistoryDetails,
    GenomicDetails,
    MeasurementDetails,
    MedicationDetails,
    PatientDetails,
    ProcedureDetails,
    StagingDetails,
)
from medboard.tools.fhir.record import PatientRecord

EVIDENCE_EXISTS = "evidence_exists"

# Resource fields naming the patient a resource is about.
_PATIENT_FIELDS = ("subject", "patient", "beneficiary", "individual")
# Fields pointing at resources whose facts count as part of the cited one.
_LINK_FIELDS = ("result", "hasMember", "derivedFrom", "assessment", "medicationReference")


@dataclass(frozen=True)
class CitedEvidence:
    """One cited `EvidenceRef`, resolved against the record."""

    ref: EvidenceRef
    reference: str | None  # canonical `Type/id` when the record holds it
    resource: dict[str, Any] | None
    facts: tuple[Fact, ...] = ()
    linked: tuple[Fact, ...] = ()  # facts one hop away (report results, staging of a condition)
    linked_resources: tuple[dict[str, Any], ...] = ()

    @property
    def exists(self) -> bool:
        return self.resource is not None

    @property
    def is_image(self) -> bool:
        return self.ref.kind == "image"

    def all_facts(self) -> tuple[Fact, ...]:
        return self.facts + self.linked


@dataclass
class Scope:
    """Everything the cited evidence of one statement puts on the table."""

    cited: list[CitedEvidence]
    facts: list[Fact] = field(default_factory=list)

    @classmethod
    def of(cls, cited: Sequence[CitedEvidence]) -> Scope:
        seen: dict[str, Fact] = {}
        for item in cited:
            for fact in item.all_facts():
                seen.setdefault(fact.id, fact)
        return cls(list(cited), list(seen.values()))


def _references_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for child in value.values():
            yield from _references_in(child)
    elif isinstance(value, list):
        for child in value:
            yield from _references_in(child)


def resolve_citations(refs: Iterable[EvidenceRef], record: PatientRecord) -> list[CitedEvidence]:
    """Resolve each distinct reference once (same reference + path = same citation)."""
    out: list[CitedEvidence] = []
    seen: set[tuple[str, str | None]] = set()
    staging_by_target: dict[str, list[Fact]] = {}
    for fact in record.facts_of(FactKind.staging):
        for target in fact.related:
            staging_by_target.setdefault(record.canonical(target) or target, []).append(fact)
    for ref in refs:
        key = (ref.reference, ref.path)
        if key in seen:
            continue
        seen.add(key)
        if ref.kind == "image":
            out.append(CitedEvidence(ref, None, None))
            continue
        canonical = record.canonical(ref.reference)
        resource = record.resources.get(canonical) if canonical else None
        if resource is None or canonical is None:
            out.append(CitedEvidence(ref, None, None))
            continue
        facts = tuple(record.facts_citing(canonical))
        if ref.path and ref.path.startswith("component"):
            wanted = f"{canonical}#{ref.path}"
            narrowed = tuple(f for f in facts if f.id == wanted)
            facts = narrowed or facts
        linked_refs: list[str] = []
        for name in _LINK_FIELDS:
            linked_refs.extend(_references_in(resource.get(name)))
        for stage in resource.get("stage", []) or []:
            linked_refs.extend(_references_in(stage.get("assessment")))
        linked: list[Fact] = [
            f for f in staging_by_target.get(canonical, []) if f.evidence.reference != canonical
        ]
        linked_resources: list[dict[str, Any]] = []
        for target in linked_refs:
            target_canonical = record.canonical(target)
            if target_canonical and target_canonical != canonical:
                linked.extend(record.facts_citing(target_canonical))
                linked_resources.append(record.resources[target_canonical])
        out.append(CitedEvidence(ref, canonical, resource, facts, tuple(linked), tuple(linked_resources)))
    return out


def patient_of(resource: dict[str, Any], record: PatientRecord) -> str | None:
    """`Patient/id` the resource is about, or None for resources not about a patient."""
    if resource.get("resourceType") == "Patient":
        return f"Patient/{resource.get('id')}"
    for name in _PATIENT_FIELDS:
        value = resource.get(name)
        if isinstance(value, dict) and isinstance(value.get("reference"), str):
            raw = value["reference"]
            canonical = record.canonical(raw)
            if canonical:
                return canonical
            tail = "/".join(raw.rstrip("/").split("/")[-2:])
            return tail if tail.startswith("Patient/") else raw
    return None


def check_evidence_exists(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    image_series: set[str] | None = None,
) -> CheckResult:
    """Every cited reference resolves in the record and is about this record's patient."""
    del statement_text, case_date
    if not cited:
        return CheckResult(name=EVIDENCE_EXISTS, outcome="fail", detail="the statement cites no evidence")
    problems: list[str] = []
    bad: list[EvidenceRef] = []
    for item in cited:
        if item.is_image:
            if image_series is not None and item.ref.series not in image_series:
                problems.append(f"{item.ref.reference} names no image series of this case")
                bad.append(item.ref)
            continue
        if not item.exists:
            problems.append(f"{item.ref.reference} is not in the record")
            bad.append(item.ref)
            continue
        owner = patient_of(item.resource or {}, record)
        if owner and record.patient_ref and owner != record.patient_ref:
            problems.append(f"{item.ref.reference} belongs to {owner}, not {record.patient_ref}")
            bad.append(item.ref)
    if problems:
        return CheckResult(name=EVIDENCE_EXISTS, outcome="fail", detail="; ".join(problems), evidence=bad)
    checked = [c.ref for c in cited if not c.is_image or image_series is not None]
    if not checked:
        return CheckResult(
            name=EVIDENCE_EXISTS, outcome="skip", detail="image evidence only; no series given"
        )
    return CheckResult(
        name=EVIDENCE_EXISTS,
        outcome="pass",
        detail=f"{len(checked)} cited reference(s) resolve to this patient's record",
        evidence=checked,
    )


# ------------------------------------------------------------------------ what evidence says

_SKIP_KEYS = {"meta", "div", "reference", "system", "url", "id", "fullUrl", "identifier", "extension_url"}


def _strings(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for child_key, child in value.items():
            if child_key in _SKIP_KEYS or (
                child_key == "text" and isinstance(child, dict) and "div" in child
            ):
                continue
            yield from _strings(child, child_key)
    elif isinstance(value, list):
        for child in value:
            yield from _strings(child, key)
    elif isinstance(value, str) and key in {
        "display",
        "text",
        "conclusion",
        "valueString",
        "description",
        "name",
        "title",
        "comment",
    }:
        yield value


def fact_words(fact: Fact) -> list[str]:
    """The words a fact carries: label, code and value displays, body site, text, gene."""
    # The status code too: "(status in-progress)" quotes the record, it does not interpret it.
    words = [fact.label, fact.body_site or "", fact.text or "", fact.status or ""]
    details = fact.details
    if fact.kind == FactKind.staging:  # what a T/N/M category is about, in words
        category = details.category if isinstance(details, StagingDetails) else None
        words.append(
            {"T": "primary tumor", "N": "regional lymph nodes", "M": "distant metastasis"}.get(
                str(category), "cancer stage"
            )
        )
    words += [c.display or "" for c in fact.codes + fact.value_codes]
    if isinstance(fact.value, str):
        words.append(fact.value)
    if isinstance(details, ProcedureDetails) and details.surgery:
        words.append("surgery surgical operation")
    if isinstance(details, ProcedureDetails) and details.radiotherapy:
        words.append("radiotherapy radiation")
    if fact.kind == FactKind.imaging_study:  # what an ImagingStudy is, in words
        words.append("imaging study series instances images")
    if isinstance(details, ConditionDetails) and details.cancer:
        words.append(f"{details.cancer} cancer")
    words += [value for value in _detail_texts(details) if isinstance(value, str)]
    return [w for w in words if w]


def _detail_texts(details: FactDetails) -> list[object]:
    """The details that name what a fact is about (gene, variant, TNM category, name, histology, ...)."""
    match details:
        case GenomicDetails():
            return [details.gene, details.hgvs_c, details.hgvs_p]
        case StagingDetails():
            return [details.category]
        case PatientDetails():
            # A Patient is what says whether the patient is alive (deceased[x]): "The patient died
            # on ..." / "is alive" is about it; which one is true is `record_global`'s to judge,
            # against every record of a death.
            return [details.name, details.gender, "vital status alive living deceased died death"]
        case ConditionDetails():
            return [details.histology]
        case MeasurementDetails():
            return [details.interpretation_display]
        case MedicationDetails():
            return [details.dosage]
        case FamilyHistoryDetails():
            # A FamilyMemberHistory is a relative's record: it speaks of the family's history, of
            # a relative's death, and whether the condition contributed to it, in these words.
            words: list[object] = [details.relationship, details.sex, details.condition, details.outcome]
            words.append(details.onset)
            words.append("family history relative family member")
            if details.deceased not in (None, False):
                words.append("relative deceased died death")
            if details.contributed_to_death:
                words.append("contributed to death cause of death")
            return words
    return []


def evidence_words(cited: Sequence[CitedEvidence]) -> list[str]:
    """Every phrase the cited resources (and their linked resources) say about their subject."""
    phrases: list[str] = []
    for item in cited:
        for fact in item.all_facts():
            phrases.extend(fact_words(fact))
        for resource in ((item.resource,) if item.resource else ()) + item.linked_resources:
            phrases.extend(_strings(resource))
        if item.ref.quote:
            phrases.append(item.ref.quote)
    return phrases


def parse_fhir_date(value: str | None) -> tuple[date, date] | None:
    """A FHIR date/dateTime as the calendar days it may fall on (`2019` → the whole year; a time
    widens it by a day each side): `FhirDate.day_range`, None when the value is not a FHIR date."""
    parsed = FhirDate.try_parse(value.strip()) if isinstance(value, str) else None
    return parsed.day_range if parsed is not None else None


def _date_strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for child_key, child in value.items():
            if child_key == "meta":
                continue
            yield from _date_strings(child, child_key)
    elif isinstance(value, list):
        for child in value:
            yield from _date_strings(child, key)
    elif isinstance(value, str) and _is_date_key(key) and FhirDate.try_parse(value) is not None:
        yield key, value


_DATE_KEYS = {"issued", "start", "end", "authoredOn", "started", "birthDate"}


def _is_date_key(key: str) -> bool:
    low = key.lower()
    return "date" in low or low.endswith(("datetime", "instant")) or key in _DATE_KEYS


def _periods(value: Any) -> Iterator[tuple[str, str | None]]:
    if isinstance(value, dict):
        if isinstance(value.get("start"), str):
            yield value["start"], value.get("end") if isinstance(value.get("end"), str) else None
        for key, child in value.items():
            if key != "meta":
                yield from _periods(child)
    elif isinstance(value, list):
        for child in value:
            yield from _periods(child)


def evidence_intervals(
    cited: Sequence[CitedEvidence], *, with_linked: bool = False
) -> list[tuple[date, date]]:
    """Every date or period the cited evidence carries, as intervals."""
    intervals: list[tuple[date, date]] = []

    def add(lo: str | None, hi: str | None = None) -> None:
        first = parse_fhir_date(lo)
        if first is None:
            return
        last = parse_fhir_date(hi) if hi else None
        intervals.append((first[0], last[1] if last else first[1]))

    for item in cited:
        facts: Iterable[Fact] = item.all_facts() if with_linked else item.facts
        for fact in facts:
            add(fact.date, fact.end_date)
            add(fact.end_date)
        resources = ((item.resource,) if item.resource else ()) + (
            item.linked_resources if with_linked else ()
        )
        for resource in resources:
            for _key, value in _date_strings(resource):
                add(value)
            for start, end in _periods(resource):
                add(start, end)
    return intervals


def to_date(value: str | date | datetime | None) -> date | None:
    """The last day a case date may denote (`FhirDate.day_range`); it arrives as an ISO string,
    a date or a datetime. A text that is not a FHIR date gives None (the caller's default applies)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parsed = FhirDate.try_parse(value.strip())
    return parsed.day_range[1] if parsed else None


NUMERIC_KINDS = {
    FactKind.lab,
    FactKind.vital,
    FactKind.tumor_marker,
    FactKind.observation,
    FactKind.performance_status,
    FactKind.staging,
    FactKind.genomic,
}
