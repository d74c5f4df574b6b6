"""Discrepancies from the picture: wherever two sources about one concept cannot both be true.

Each rule is a function `(record, picture) -> list[Discrepancy]`, every side cited with the
resource it rests on. The rules reason over concepts (codes, value sets, staging types, body-site
concepts, vital status), never over special cases of one file. Kinds are distinct from the
verifier's discrepancy rules (`tools/checks/discrepancies.py`), which they do not repeat:

- `discordant_biomarker` — one biomarker (same code, or the same named marker under another code)
  with coded results of opposite polarity (Positive vs Negative). Same day: **critical** (a HER2 or
  ER status decides targeted therapy and one of the two results is wrong); a later specimen that
  disagrees: **warning** (receptor conversion is real, but the board must know which result
  governs). Only tumour markers and genomic results are compared across dates; any other
  qualitative result (a urine test) only on one day, since it may change with the patient.
  Numeric values are not compared here: same-day numeric clashes are `conflicting_lab_values`,
  and values that change over days are a trend, not a conflict.
- `medication_status_across_types` — one ingredient, two resource types that disagree: a stopped
  or completed MedicationStatement while a MedicationRequest authored on or after the stop is
  active; a stopped MedicationStatement while an older MedicationRequest (authored before the stop,
  its dosing period not ended before it) still reads active and no later order or statement
  restarts the drug (the order was never updated); and an administration given after a stop that
  no later order explains (**warning**).
  (An active request with stopped administrations is `medication_status_conflict`.)
- `laterality_conflict` — a paired organ named left in one source and right in another (condition,
  procedure, specimen, imaging), among sources tied to one condition (reasonReference, a
  specimen's observations' focus), or — for sources tied to none — against a cancer that is the
  patient's only sided condition of that organ (**warning**; a wrong side reaches surgery and
  radiotherapy). Paired organs are a small word table (`PAIRED_ORGANS`), sides are words or the
  SNOMED laterality qualifiers.
- `stage_conflict_within_type` — two stage-group observations of one staging type (same code:
  clinical, pathologic, post-therapy) for one cancer, within `STAGE_WINDOW_DAYS`, that disagree
  (**warning**). Clinical vs pathologic stages may differ; the Condition's own stage summary against
  its observations is `stage_mismatch`.
- `after_death` — care, results or orders dated on a calendar day after the recorded death (the
  same day is left alone: death times are often approximate), one discrepancy per
  resource type citing the death and every such resource (**critical**: either the death or the
  care belongs to someone else, and every "current" in the summary depends on it). Documentation
  of the death itself (certificate, cause of death, autopsy, and what their encounter holds) is not
  care and is left out.
- `active_after_resolved` — a cancer condition resolved (or in remission) on its abatement date
  while later evidence shows active disease: a later disease-status observation of progression or
  stable disease, a later Condition of the same code marked active, or (for `resolved`) later
  cancer-directed therapy for it (**warning**). Without an abatement date nothing is claimed: the
  status has no date to be contradicted.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from medboard.models import Discrepancy, EvidenceRef, Fact, FactKind
from medboard.models.dates import FhirDate
from medboard.models.fact_kinds import GenomicDetails, MedicationDetails, StagingDetails, TumorMarkerDetails
from medboard.models.picture import ClinicalPicture
from medboard.tools.checks.discrepancies import make_discrepancy
from medboard.tools.checks.extract import parse_stages
from medboard.tools.checks.staging import compatible
from medboard.tools.checks.text import sides_in
from medboard.tools.fhir import medication_status
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile.medications import ingredient_of
from medboard.tools.reconcile.patient import DEATH_DOCUMENTATION

Rule = Callable[[PatientRecord, ClinicalPicture], list[Discrepancy]]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"

# --------------------------------------------------------------------------------------------
# small shared helpers


def _date(text: object) -> FhirDate | None:
    return FhirDate.try_parse(text) if isinstance(text, str) else None


def _day(text: object) -> date | None:
    parsed = _date(text)
    return parsed.first_day if parsed else None


def _codes(concept: Any) -> list[tuple[str, str]]:
    """(system, code) pairs of a CodeableConcept (or a list of them)."""
    concepts = concept if isinstance(concept, list) else [concept]
    out: list[tuple[str, str]] = []
    for item in concepts:
        if isinstance(item, dict):
            out += [(c.get("system") or "", c.get("code") or "") for c in item.get("coding", []) or []]
    return out


def _texts(concept: Any) -> str:
    concepts = concept if isinstance(concept, list) else [concept]
    parts: list[str] = []
    for item in concepts:
        if isinstance(item, dict):
            parts += [c.get("display") or "" for c in item.get("coding", []) or []]
            parts.append(item.get("text") or "")
    return " ".join(p for p in parts if p)


_PARTIAL = FhirDate.parse("1900")  # stands in for "no date": partial, so never one day


def _key_code(fact: Fact) -> str | None:
    loinc = next((c.code for c in fact.codes if c.code and c.system == LOINC), None)
    return loinc or next((c.code for c in fact.codes if c.code), None)


# --------------------------------------------------------------------------------------------
# (a) discordant biomarker results

#: Answer codes by polarity (LOINC answer lists LL360-9 / LL2241-5 / LL1971-8, SNOMED qualifiers).
POSITIVE_CODES = frozenset({"LA6576-8", "LA9633-4", "LA11882-0", "10828004", "260373001", "52101004"})
NEGATIVE_CODES = frozenset({"LA6577-6", "LA9634-2", "LA11883-8", "260385009", "260415000", "2667000"})
_POS_WORDS = re.compile(r"\b(positive|present|detected|amplified|overexpress\w*|reactive|3\+)", re.I)
_NEG_WORDS = re.compile(
    r"\b(negative|absent|not (?:detected|present|amplified|overexpressed)|non-?amplified|non-?reactive|"
    r"no evidence|[01]\+)(?!\w)",
    re.I,
)
#: Kinds that characterise a tumour: a later specimen that disagrees is still a discordance.
#: Other qualitative results (a urine nitrite) may change over time, so only the same day counts.
TUMOUR_KINDS = frozenset({FactKind.tumor_marker, FactKind.genomic})


def polarity(fact: Fact) -> str | None:
    """`positive` / `negative` for a coded qualitative result, else None (equivocal, numeric)."""
    codes = {c.code for c in fact.value_codes if c.code}
    if codes & POSITIVE_CODES and not codes & NEGATIVE_CODES:
        return "positive"
    if codes & NEGATIVE_CODES and not codes & POSITIVE_CODES:
        return "negative"
    if not fact.value_codes and not isinstance(fact.value, str):
        return None
    text = " ".join(
        [*(c.display or "" for c in fact.value_codes), fact.value if isinstance(fact.value, str) else ""]
    )
    if re.search(r"equivocal|indeterminate|borderline|2\+", text, re.I):
        return None
    if _NEG_WORDS.search(text):
        return "negative"
    if _POS_WORDS.search(text):
        return "positive"
    return None


def _biomarker_key(fact: Fact) -> str | None:
    if isinstance(fact.details, TumorMarkerDetails) and fact.details.marker:
        return f"marker:{fact.details.marker.upper()}"
    code = _key_code(fact)
    if isinstance(fact.details, GenomicDetails):  # one assessment code covers every gene
        return f"gene:{fact.details.gene.upper()}:{code}" if fact.details.gene and code else None
    return f"code:{code}" if code else None


def _specimen(record: PatientRecord, fact: Fact) -> str | None:
    resource = record.get(fact.evidence.reference) or {}
    ref = (resource.get("specimen") or {}).get("reference")
    return (record.canonical(ref) or ref) if ref else None


def discordant_biomarker(record: PatientRecord, picture: ClinicalPicture) -> list[Discrepancy]:
    del picture
    groups: dict[str, list[tuple[Fact, str]]] = defaultdict(list)
    for fact in record.facts_of(FactKind.tumor_marker, FactKind.lab, FactKind.observation, FactKind.genomic):
        if (fact.status or "final") in {"entered-in-error", "cancelled"} or "#" in fact.id:
            continue
        side = polarity(fact)
        key = _biomarker_key(fact)
        if side and key:
            groups[key].append((fact, side))
    out: list[Discrepancy] = []
    for results in groups.values():
        if {s for _, s in results} != {"positive", "negative"}:
            continue
        by_day: dict[date, list[tuple[Fact, str]]] = defaultdict(list)
        for fact, side in results:
            day = _day(fact.date) if not (_date(fact.date) or _PARTIAL).is_partial else None
            if day is not None:
                by_day[day].append((fact, side))
        same_day = [r for r in by_day.values() if {s for _, s in r} == {"positive", "negative"}]
        if same_day:
            for clash in same_day:
                out.append(_biomarker_discrepancy(clash, "on the same day", "critical"))
            continue
        if any(f.kind not in TUMOUR_KINDS for f, _ in results):
            continue  # a lab that changes over time is a trend
        label = "on different dates (a later specimen disagrees)"
        specimens = {_specimen(record, f) for f, _ in results} - {None}
        if len(specimens) == 1:
            label = "on the same specimen at different dates"
        out.append(_biomarker_discrepancy(results, label, "warning"))
    return out


def _biomarker_discrepancy(results: Sequence[tuple[Fact, str]], when: str, severity: str) -> Discrepancy:
    results = sorted(results, key=lambda r: (r[0].date or "", r[0].evidence.reference))
    name = results[0][0].label
    sides = "; ".join(f"{s} in {f.evidence.reference} ({f.date or 'undated'})" for f, s in results)
    return make_discrepancy(
        "discordant_biomarker",
        f"{name}: discordant results {when}: {sides}",
        [_with_quote(f.evidence, s) for f, s in results],
        severity,
    )


def _with_quote(ref: EvidenceRef, quote: str) -> EvidenceRef:
    return ref if ref.quote else ref.model_copy(update={"quote": quote})


# --------------------------------------------------------------------------------------------
# (b) medication status across resource types


def _med_type(fact: Fact) -> str:
    return (fact.details.resource_type or "") if isinstance(fact.details, MedicationDetails) else ""


def _stop_day(record: PatientRecord, fact: Fact) -> date | None:
    """When a stopped / completed source says the drug ended: its end date, else (a statement)
    the day it was asserted. A stopped order with only its authored date has no known stop day."""
    if fact.end_date:
        return _day(fact.end_date)
    if _med_type(fact) == "MedicationStatement":
        return _day((record.get(fact.evidence.reference) or {}).get("dateAsserted"))
    return None


def _stale_orders(record: PatientRecord, stop: Fact, stopped_on: date, facts: Sequence[Fact]) -> list[Fact]:
    """Active orders a stopped MedicationStatement contradicts: authored before the stop, never
    updated, and not ended (their dosing period) before it. A completed course is not a contradiction
    of an order, nor is a stopped order (same type: the order's own history)."""
    if _med_type(stop) != "MedicationStatement" or (stop.status or "") != "stopped":
        return []
    stale = []
    for fact in facts:
        authored = _day(fact.date)
        if (
            _med_type(fact) != "MedicationRequest"
            or (fact.status or "") not in medication_status.TAKING
            or authored is None
            or authored >= stopped_on
        ):
            continue
        ended = _day(_order_period_end(record.get(fact.evidence.reference) or {}))
        if ended is not None and ended < stopped_on:
            continue  # the order ran out before the stop: nothing left to contradict
        stale.append(fact)
    return stale


def _order_period_end(resource: dict[str, Any]) -> str | None:
    ends = [
        ((d.get("timing") or {}).get("repeat") or {}).get("boundsPeriod", {}).get("end")
        for d in resource.get("dosageInstruction", ())
        if isinstance(d, dict)
    ]
    return max((e for e in ends if isinstance(e, str)), default=None)


def medication_status_across_types(record: PatientRecord, picture: ClinicalPicture) -> list[Discrepancy]:
    del picture
    by_ingredient: dict[str, list[Fact]] = defaultdict(list)
    for fact in record.facts_of(FactKind.medication):
        key = ingredient_of(record, fact)  # the picture's grouping: one ingredient, any product code
        if key and _med_type(fact):
            by_ingredient[key].append(fact)
    out: list[Discrepancy] = []
    for facts in by_ingredient.values():
        stops = [
            f
            for f in facts
            if (f.status or "") in {"stopped", "completed"}
            and _med_type(f) in {"MedicationStatement", "MedicationRequest"}
            and _stop_day(record, f)
        ]
        for stop in stops:
            stopped_on = _stop_day(record, stop)
            assert stopped_on is not None
            restarts = [
                f
                for f in facts
                if f is not stop
                and _med_type(f) in {"MedicationRequest", "MedicationStatement"}
                and (f.status or "") in medication_status.TAKING
                and (_day(f.date) or date.min) >= stopped_on
            ]
            clashing = [r for r in restarts if _med_type(r) != _med_type(stop)]
            if _med_type(stop) == "MedicationStatement" and clashing:
                out.append(
                    make_discrepancy(
                        "medication_status_across_types",
                        f"{stop.label}: {stop.evidence.reference} says {stop.status} on {stopped_on}, "
                        "while active order(s) authored on or after it: "
                        + ", ".join(f"{r.evidence.reference} ({r.date})" for r in clashing),
                        [_with_quote(stop.evidence, stop.status or ""), *(r.evidence for r in clashing)],
                    )
                )
            if restarts:
                continue  # a later active order or statement explains later doses
            stale = _stale_orders(record, stop, stopped_on, facts)
            if stale:
                out.append(
                    make_discrepancy(
                        "medication_status_across_types",
                        f"{stop.label}: {stop.evidence.reference} says stopped on {stopped_on}, "
                        "while order(s) authored before it still read active: "
                        + ", ".join(f"{r.evidence.reference} ({r.date})" for r in stale),
                        [_with_quote(stop.evidence, stop.status or ""), *(r.evidence for r in stale)],
                    )
                )
            given = [
                f
                for f in facts
                if _med_type(f) == "MedicationAdministration"
                and (f.status or "") not in medication_status.NOT_GIVEN
                and _day(f.date) is not None
                and _day(f.date) > stopped_on  # type: ignore[operator]
            ]
            if given:
                out.append(
                    make_discrepancy(
                        "medication_status_across_types",
                        f"{stop.label}: {stop.evidence.reference} says {stop.status} on {stopped_on}, "
                        "but administration(s) after it: "
                        + ", ".join(f"{g.evidence.reference} ({g.date})" for g in given),
                        [_with_quote(stop.evidence, stop.status or ""), *(g.evidence for g in given)],
                    )
                )
    return out


# --------------------------------------------------------------------------------------------
# (c) laterality

#: Paired organs (laterality only means something for them): concept word → organ; SNOMED codes of
#: the organ's left/right structures map to the organ too.
PAIRED_ORGANS: dict[str, str] = {
    "breast": "breast", "mammary": "breast", "mammogra": "breast", "mastectomy": "breast",
    "lumpectomy": "breast", "axilla": "axilla", "axillary": "axilla", "lung": "lung",
    "pulmonary": "lung", "lobectomy": "lung", "pneumonectomy": "lung", "bronch": "lung",
    "kidney": "kidney", "renal": "kidney", "nephrectomy": "kidney", "ovary": "ovary",
    "ovarian": "ovary", "ovaries": "ovary", "axillae": "axilla", "oophorectomy": "ovary",
    "testis": "testis", "testic": "testis",
    "orchiectomy": "testis", "adrenal": "adrenal", "eye": "eye", "ocular": "eye", "retina": "eye",
    "ear": "ear", "thyroid lobe": "thyroid", "arm": "arm", "humer": "arm", "leg": "leg",
    "femur": "leg", "femoral": "leg", "hip": "hip", "knee": "knee", "shoulder": "shoulder",
    "hand": "hand", "foot": "foot", "fallopian": "fallopian tube", "ureter": "ureter",
    "parotid": "parotid", "tonsil": "tonsil", "chest wall": "chest wall", "pleura": "pleura",
}  # fmt: skip
_STEMS = frozenset({"mammogra", "testic", "humer", "bronch"})  # word beginnings; the rest are whole words
_ORGAN_RE = re.compile(
    r"\b("
    + "|".join(
        re.escape(k) + (r"\w*" if k in _STEMS else r"(?:s|es)?\b")
        for k in sorted(PAIRED_ORGANS, key=len, reverse=True)
    )
    + r")"
)
#: SNOMED laterality qualifiers (Specimen/BodyStructure qualifiers, bodySite laterality extensions).
SIDE_CODES = {"7771000": "left", "24028007": "right", "51440002": "bilateral"}


def _organs(text: str) -> set[str]:
    return {_organ_of(m.group(1)) for m in _ORGAN_RE.finditer(text.lower())}


def _organ_of(word: str) -> str:
    if word in PAIRED_ORGANS:
        return PAIRED_ORGANS[word]
    stem = next((k for k in _STEMS if word.startswith(k)), None)
    if stem:
        return PAIRED_ORGANS[stem]
    return PAIRED_ORGANS.get(word[:-1]) or PAIRED_ORGANS[word[:-2]]  # plural: -s, else -es


def _side_of_site(site: Any) -> str | None:
    """Laterality of a bodySite / collection.bodySite: a qualifier code, else its words."""
    for _, code in _codes(site):
        if code in SIDE_CODES:
            return SIDE_CODES[code]
    sides = sides_in(_texts(site))
    return next(iter(sides)) if len(sides) == 1 else None


class _Sided:
    """One source naming a side of an organ, and the conditions it is tied to."""

    def __init__(
        self, ref: str, organs: set[str], side: str, links: set[str], quote: str, cancer: bool = False
    ) -> None:
        self.ref, self.organs, self.side, self.links, self.quote = ref, organs, side, links, quote
        self.cancer = cancer


def _sided_sources(record: PatientRecord) -> list[_Sided]:
    out: list[_Sided] = []
    for fact in record.facts_of(FactKind.condition, FactKind.procedure, FactKind.imaging_study):
        if "#" in fact.id or fact.verification_status in {"refuted", "entered-in-error"}:
            continue
        side = fact.laterality
        text = f"{fact.body_site or ''} {fact.label}"
        if side is None:
            sides = sides_in(fact.body_site) or sides_in(fact.label)
            side = next(iter(sides)) if len(sides) == 1 else None  # type: ignore[assignment]
        organs = _organs(text)
        if side and organs:
            links = {record.canonical(r) or r for r in fact.related if r.startswith("Condition/")}
            if fact.kind == FactKind.condition:
                links.add(fact.evidence.reference)
            cancer = getattr(fact.details, "cancer", None) is not None
            out.append(_Sided(fact.evidence.reference, organs, side, links, text.strip()[:120], cancer))
    for ref, resource in record.resources.items():
        if not ref.startswith("Specimen/"):
            continue
        collection = resource.get("collection") or {}
        site = collection.get("bodySite")
        side = _side_of_site(site) if site else None
        organs = _organs(f"{_texts(site)} {_texts(resource.get('type'))}") if site else set()
        if side and organs:
            out.append(_Sided(ref, organs, side, _specimen_conditions(record, ref), _texts(site)[:120]))
    return out


def _specimen_conditions(record: PatientRecord, specimen: str) -> set[str]:
    """Conditions a specimen is tied to: through observations on it that focus on a condition."""
    links: set[str] = set()
    for ref, resource in record.resources.items():
        if (
            ref.startswith("Observation/")
            and record.canonical((resource.get("specimen") or {}).get("reference", "")) == specimen
        ):
            for target in resource.get("focus", []) or []:
                canonical = record.canonical(target.get("reference", ""))
                if canonical and canonical.startswith("Condition/"):
                    links.add(canonical)
    return links


def laterality_conflict(record: PatientRecord, picture: ClinicalPicture) -> list[Discrepancy]:
    del picture
    sources = _sided_sources(record)
    conditions = [s for s in sources if s.ref.startswith("Condition/")]
    out: list[Discrepancy] = []
    for condition in conditions:
        if condition.side == "bilateral":
            continue
        for organ in sorted(condition.organs):
            sides_of_organ = {c.side for c in conditions if organ in c.organs}
            # unlinked sources count only against a cancer that is the patient's one side of the organ
            unambiguous = sides_of_organ == {condition.side} and condition.cancer
            clashing = [
                s
                for s in sources
                if s is not condition
                and organ in s.organs
                and s.side not in {condition.side, "bilateral"}
                and (condition.ref in s.links or (unambiguous and not s.links))
            ]
            if clashing:
                out.append(
                    make_discrepancy(
                        "laterality_conflict",
                        f"{organ}: {condition.ref} says {condition.side}; "
                        + ", ".join(f"{s.ref} says {s.side}" for s in clashing),
                        [
                            EvidenceRef(reference=condition.ref, quote=condition.quote or None),
                            *(EvidenceRef(reference=s.ref, quote=s.quote or None) for s in clashing),
                        ],
                    )
                )
    return out


# --------------------------------------------------------------------------------------------
# (d) stage groups within one staging type

#: Two stage assessments of one type further apart than this are a restaging, not a conflict.
STAGE_WINDOW_DAYS = 31


def _stage_group(fact: Fact) -> str | None:
    details = fact.details if isinstance(fact.details, StagingDetails) else StagingDetails()
    for text in (
        f"Stage {details.short or ''}",
        str(fact.value or ""),
        *(c.display or "" for c in fact.value_codes),
    ):
        groups = [m.core for m in parse_stages(text) if m.category == "stage_group"]
        if groups:
            return groups[0]
    return None


def _stage_type(fact: Fact) -> str:
    details = fact.details if isinstance(fact.details, StagingDetails) else StagingDetails()
    if (details.short or "").lower().startswith("y") or "post" in fact.label.lower():
        return "post_therapy"
    return details.stage_type or "unspecified"


def stage_conflict_within_type(record: PatientRecord, picture: ClinicalPicture) -> list[Discrepancy]:
    del picture
    groups: dict[tuple[str, str, str], list[tuple[Fact, str]]] = defaultdict(list)
    for fact in record.facts_of(FactKind.staging):
        details = fact.details if isinstance(fact.details, StagingDetails) else StagingDetails()
        if details.category != "stage_group" or (fact.status or "") in {"entered-in-error", "cancelled"}:
            continue
        reading = _stage_group(fact)
        if not reading:
            continue
        cancers = sorted(record.canonical(r) or r for r in fact.related if r.startswith("Condition/"))
        key = (",".join(cancers) or "?", _stage_type(fact), _key_code(fact) or details.system or "")
        groups[key].append((fact, reading))
    out: list[Discrepancy] = []
    for (_, stage_type, _), readings in groups.items():
        readings.sort(key=lambda r: (r[0].date or "", r[0].evidence.reference))
        for i, (first, a) in enumerate(readings):
            clashing = [
                (other, b)
                for other, b in readings[i + 1 :]
                if not compatible("stage_group", a, b) and _overlap(first.date, other.date)
            ]
            if clashing:
                out.append(
                    make_discrepancy(
                        "stage_conflict_within_type",
                        f"{stage_type} stage group: {a} in {first.evidence.reference} ({first.date}) vs "
                        + ", ".join(f"{b} in {o.evidence.reference} ({o.date})" for o, b in clashing),
                        [_with_quote(first.evidence, a), *(_with_quote(o.evidence, b) for o, b in clashing)],
                    )
                )
                break
    return out


def _overlap(a: str | None, b: str | None) -> bool:
    da, db = _date(a), _date(b)
    if da is None or db is None:
        return True
    gap = max((db.first_day - da.last_day).days, (da.first_day - db.last_day).days, 0)
    return gap <= STAGE_WINDOW_DAYS


# --------------------------------------------------------------------------------------------
# (e) after death

#: Clinical resource types and where their start lies (care, results, orders).
CARE_DATES: dict[str, tuple[str, ...]] = {
    "Encounter": ("period.start",),
    "Observation": ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued"),
    "DiagnosticReport": ("effectiveDateTime", "effectivePeriod.start", "issued"),
    "Procedure": ("performedDateTime", "performedPeriod.start"),
    "MedicationRequest": ("authoredOn",),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod.start"),
    "MedicationDispense": ("whenHandedOver", "whenPrepared"),
    "MedicationStatement": ("effectiveDateTime", "effectivePeriod.start"),
    "ServiceRequest": ("authoredOn", "occurrenceDateTime", "occurrencePeriod.start"),
    "Immunization": ("occurrenceDateTime",),
    "ImagingStudy": ("started",),
    "Specimen": ("collection.collectedDateTime", "collection.collectedPeriod.start"),
}


def _path(resource: dict[str, Any], path: str) -> Any:
    value: Any = resource
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _care_date(resource: dict[str, Any]) -> tuple[str, str] | None:
    for path in CARE_DATES.get(resource.get("resourceType", ""), ()):
        value = _path(resource, path)
        if isinstance(value, str):
            return path, value
    return None


def _is_death_documentation(record: PatientRecord, resource: dict[str, Any], excluded: set[str]) -> bool:
    concepts = [resource.get("code"), *(resource.get("type") or []), *(resource.get("category") or [])]
    if any(code in DEATH_DOCUMENTATION for concept in concepts for _, code in _codes(concept)):
        return True
    encounter = (resource.get("encounter") or resource.get("context") or {}).get("reference")
    return bool(encounter and record.canonical(encounter) in excluded)


def death_date(record: PatientRecord, picture: ClinicalPicture) -> tuple[FhirDate, EvidenceRef] | None:
    """The recorded date of death and its source (the picture's when it has one)."""
    own = (record.patient or {}).get("deceasedDateTime")
    parsed = _date(own) or _date(picture.patient.deceased_date)
    if parsed is None or record.patient_ref is None:
        return None
    if own or not picture.patient.sources:  # the Patient resource says it
        return parsed, EvidenceRef(reference=record.patient_ref, path="deceasedDateTime", quote=parsed.text)
    return parsed, EvidenceRef(reference=picture.patient.sources[0], quote=parsed.text)


def after_death(record: PatientRecord, picture: ClinicalPicture) -> list[Discrepancy]:
    death = death_date(record, picture)
    if death is None:
        return []
    died, death_ref = death
    excluded = {
        ref
        for ref, resource in record.resources.items()
        if ref.startswith("Encounter/") and _is_death_documentation(record, resource, set())
    }
    by_type: dict[str, list[EvidenceRef]] = defaultdict(list)
    for ref, resource in record.resources.items():
        found = _care_date(resource)
        if (
            found is None
            or ref in excluded
            or resource.get("status") == "entered-in-error"
            or _is_death_documentation(record, resource, excluded)
        ):
            continue
        path, text = found
        when = _date(text)
        if when is not None and died.surely_before(when) and died.last_day < when.first_day:
            by_type[ref.split("/")[0]].append(EvidenceRef(reference=ref, path=path, quote=text))
    return [
        make_discrepancy(
            "after_death",
            f"{len(refs)} {rtype} resource(s) dated after the recorded death ({died.text}): "
            + ", ".join(f"{r.reference} ({r.quote})" for r in refs[:5])
            + (" …" if len(refs) > 5 else ""),
            [death_ref, *refs],
            "critical",
        )
        for rtype, refs in sorted(by_type.items())
    ]


# --------------------------------------------------------------------------------------------
# (f) active disease after a resolved / remitted condition

#: mCODE cancer disease status (LOINC 97509-4) answers that mean disease is present.
ACTIVE_DISEASE_CODES = frozenset(
    {
        "271299001",  # Patient's condition worsened (progression)
        "359746009",  # Patient's condition stable
        "550991000124107",  # Malignant neoplasm not in remission (mCODE condition status trend VS)
    }
)
DISEASE_STATUS_CODES = frozenset({"97509-4", "88040-1"})
RESOLVED = {"resolved", "remission", "inactive"}


def _abatement(resource: dict[str, Any]) -> str | None:
    for path in ("abatementDateTime", "abatementPeriod.start"):
        value = _path(resource, path)
        if isinstance(value, str):
            return value
    return None


def _clinical_status(resource: dict[str, Any]) -> str:
    return next((code for _, code in _codes(resource.get("clinicalStatus"))), "")


def active_after_resolved(record: PatientRecord, picture: ClinicalPicture) -> list[Discrepancy]:
    del picture
    out: list[Discrepancy] = []
    conditions = {f.evidence.reference: f for f in record.facts_of(FactKind.condition) if "#" not in f.id}
    for ref, fact in conditions.items():
        resource = record.get(ref) or {}
        status = _clinical_status(resource)
        ended = _date(_abatement(resource))
        if status not in RESOLVED or ended is None:
            continue
        cancer = getattr(fact.details, "cancer", None) is not None
        codes = {code for _, code in _codes(resource.get("code"))}
        later: list[tuple[EvidenceRef, str]] = []
        for obs in record.facts_of(FactKind.observation, FactKind.tumor_marker, FactKind.lab):
            if _key_code(obs) not in DISEASE_STATUS_CODES:
                continue
            raw = record.get(obs.evidence.reference) or {}
            focus = {record.canonical(r) or r for r in obs.related} | {
                record.canonical(f.get("reference", "")) or "" for f in raw.get("focus", []) or []
            }
            focus.discard("")
            answer = {c.code for c in obs.value_codes}
            when = _date(obs.date)
            if (
                answer & ACTIVE_DISEASE_CODES
                and when
                and ended.surely_before(when)
                and (ref in focus or (cancer and not focus))
            ):
                later.append((obs.evidence, f"disease status {obs.value} on {obs.date}"))
        for other_ref, other in conditions.items():
            other_resource = record.get(other_ref) or {}
            when = _date(other.date or other_resource.get("recordedDate"))
            if (
                cancer
                and other_ref != ref
                and _clinical_status(other_resource) == "active"
                and codes & {code for _, code in _codes(other_resource.get("code"))}
                and when
                and ended.surely_before(when)
            ):
                later.append((other.evidence, f"recorded active on {other.date}"))
        if status == "resolved":
            later += _later_therapy(record, ref, ended)
        if later:
            out.append(
                make_discrepancy(
                    "active_after_resolved",
                    f"{fact.label}: {ref} is {status} from {ended.text}, but later: "
                    + "; ".join(f"{e.reference} ({why})" for e, why in later),
                    [
                        EvidenceRef(reference=ref, path="clinicalStatus", quote=f"{status} ({ended.text})"),
                        *(e for e, _ in later),
                    ],
                )
            )
    return out


def _later_therapy(record: PatientRecord, condition: str, ended: FhirDate) -> list[tuple[EvidenceRef, str]]:
    """Cancer-directed medications and radiotherapy for this condition, started after it ended."""
    found: list[tuple[EvidenceRef, str]] = []
    for fact in record.facts_of(FactKind.medication, FactKind.procedure):
        if (fact.status or "") in medication_status.NOT_GIVEN | {"stopped"}:
            continue
        links = {record.canonical(r) or r for r in fact.related} | set(getattr(fact.details, "reason", []))
        if condition not in links:
            continue
        is_procedure = fact.kind == FactKind.procedure
        if is_procedure and not getattr(fact.details, "radiotherapy", False):
            continue
        when = _date(fact.date)
        if when and ended.surely_before(when):
            found.append((fact.evidence, f"{fact.label} on {fact.date}"))
    return found


DEFAULT_RULES: tuple[Rule, ...] = (
    discordant_biomarker,
    medication_status_across_types,
    laterality_conflict,
    stage_conflict_within_type,
    after_death,
    active_after_resolved,
)


def picture_discrepancies(
    record: PatientRecord, picture: ClinicalPicture, *, rules: Iterable[Rule] = DEFAULT_RULES
) -> list[Discrepancy]:
    """Every rule's discrepancies, one per id, in rule order."""
    seen: dict[str, Discrepancy] = {}
    for rule in rules:
        for discrepancy in rule(record, picture):
            seen.setdefault(discrepancy.id, discrepancy)
    return list(seen.values())
