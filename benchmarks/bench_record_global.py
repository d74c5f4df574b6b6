"""Planted record-global errors: statements true of the resource they cite, false of the patient.

`bench_verifier.py` plants errors a statement makes about its own citation. This benchmark plants
the other kind — the sentence is exactly what the cited resource says, and the rest of the record
says otherwise — into copies of the shared records (../shared/data/fhir: the Synthea bundles, the
mCODE bundles and the loose mCODE examples, loaded by `bench_verifier.load_records`):

    currency     "Current medication: X (status active)" citing an active order of an ingredient
                 the picture has stopped / completed / stale (as recorded), and the same after
                 planting a stopping MedicationStatement for an ingredient that was current
                 (the case date set 20 days after the order, when it was current)
    biomarker    a biomarker result stated from one Observation after planting a discordant
                 result of the same code: the same day, and a later specimen (+30 days)
    death        a line "ongoing" (and a drug "currently" taken) after planting deceasedDateTime
                 into the Patient of a copy, between the line's start and the case date
    implausible  a lab value planted at 100× a real one (outside `plausibility.PLAUSIBLE_RANGES`)
                 and stated
    after_death  (in the death copies) a lab value dated after the planted death, stated as fact

Each is written as text-only statements (several wordings: what a model writes) AND as a
claim-bearing statement (what the template writes: `medboard.models.claims`). A planted error
counts as caught when the verdict is `contradicted` and the contradicting source (the planted
statement / result / Patient, or for errors found as recorded the concept's deciding source) is
named, in the verdict's reason or in the evidence of a failing check.

Untouched statements, on which any `contradicted` / `unsupported` verdict is a false alarm:

- `bench_verifier`'s untouched statements (minus the ones its `false_of_patient` sets aside);
- claim-bearing statements written from each record's picture (every medication with its status,
  every line, biomarker result, stage, lab series' last value, the vital status);
- negative controls planted into copies: an agreeing repeat test (same day and later); values that
  change over time (a later, plausible, different value); a pathologic stage group that differs
  from the clinical one; statements that themselves say "stopped", report the conflict, or flag
  the posthumous date.

It also reruns `bench_verifier`'s planted kinds, whose recall must stay as it was.

    .venv/bin/python benchmarks/bench_record_global.py [--data ../shared/data/fhir] [--per-class 6] [--show 3]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_verifier as base

from medboard.models import EvidenceRef, Fact, FactKind, Statement, Verdict, VerdictLabel, iso_day
from medboard.models.claims import (
    Claim,
    ClaimedResult,
    LineClaim,
    MedicationClaim,
    ResultClaim,
    StageClaim,
    VitalStatusClaim,
)
from medboard.models.picture import ClinicalPicture
from medboard.tools.checks.evidence import parse_fhir_date
from medboard.tools.checks.extract import parse_stages
from medboard.tools.checks.pipeline import verify_statement
from medboard.tools.checks.status import medication_state
from medboard.tools.checks.units import loinc_of
from medboard.tools.fhir import PatientRecord, load_record
from medboard.tools.longitudinal.plausibility import PLAUSIBLE_RANGES, implausibility
from medboard.tools.reconcile import picture_of
from medboard.tools.reconcile.knowledge import polarity

CLASSES = ("currency", "biomarker", "death", "implausible", "after_death")
RECALL_TARGET = 0.95
FALSE_ALARM_TARGET = 0.01
FLAGGED = {VerdictLabel.contradicted, VerdictLabel.unsupported}
FLIP = {
    "positive": ("Negative", "LA6577-6"),
    "negative": ("Positive", "LA6576-8"),
}
PRESENCE_FLIP = {"present": ("Absent", "LA9634-2"), "absent": ("Present", "LA9633-4")}


@dataclass
class Probe:
    """One statement to verify: its class (or "untouched"/"control:<what>") and what must be named."""

    group: str
    form: str  # text | claim
    record: PatientRecord
    case_date: str | None
    statement: Statement
    expect: frozenset[str] = frozenset()
    origin: str = ""


@dataclass
class Tally:
    total: Counter[str] = field(default_factory=Counter)
    caught: Counter[str] = field(default_factory=Counter)
    by_claim: Counter[str] = field(default_factory=Counter)  # caught by `claim_agrees` on its own
    misses: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


# ----------------------------------------------------------------------------- records, copies


def bundle_for(name: str, record: PatientRecord, root: Path) -> dict[str, Any]:
    """The record's bundle JSON to plant into: its file, or (loose examples) its own resources."""
    for folder in ("synthea", "mcode"):
        path = root / folder / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": copy.deepcopy(r)} for r in record.resources.values()],
    }


def add(bundle: dict[str, Any], resource: dict[str, Any]) -> str:
    """Append a resource as the bundle's own entries are written (fullUrl, transaction request)."""
    entry: dict[str, Any] = {"resource": resource}
    if any((e.get("fullUrl") or "").startswith("urn:uuid:") for e in bundle["entry"]):
        entry["fullUrl"] = f"urn:uuid:{resource['id']}"
    if bundle.get("type") in {"transaction", "batch"}:
        entry["request"] = {"method": "POST", "url": resource["resourceType"]}
    bundle["entry"].append(entry)
    return f"{resource['resourceType']}/{resource['id']}"


def resource_of(bundle: dict[str, Any], reference: str) -> dict[str, Any] | None:
    kind, _, rid = reference.partition("/")
    return next(
        (
            e["resource"]
            for e in bundle["entry"]
            if e["resource"].get("resourceType") == kind and e["resource"].get("id") == rid
        ),
        None,
    )


def clone(resource: dict[str, Any], new_id: str, **changes: Any) -> dict[str, Any]:
    twin = copy.deepcopy(resource)
    for key in ("text", "hasMember", "identifier", "derivedFrom"):
        twin.pop(key, None)
    twin["id"] = new_id
    twin.update(changes)
    return twin


def load(bundle: dict[str, Any], patient: str | None) -> PatientRecord:
    return load_record(copy.deepcopy(bundle), patient=patient, lenient=True, name="planted")


def day(value: str | None) -> date | None:
    parsed = parse_fhir_date(value)
    return parsed[0] if parsed and value and len(value) >= 10 else None


def ev(*refs: str) -> list[EvidenceRef]:
    return [EvidenceRef(reference=r) for r in dict.fromkeys(refs)]


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, prefix: str = "s") -> str:
        self.n += 1
        return f"{prefix}{self.n}"


def statement(ids: Ids, text: str, refs: list[str], claim: Claim | None = None) -> Statement:
    return Statement(id=ids(), text=text, evidence=ev(*refs), claim=claim)


def probes_of(
    group: str,
    record: PatientRecord,
    case_date: str | None,
    texts: list[str],
    refs: list[str],
    claim: Claim | None,
    expect: set[str],
    ids: Ids,
    origin: str,
) -> Iterator[Probe]:
    """The text-only wordings, and the claim-bearing statement (first wording + claim)."""
    for text in texts:
        yield Probe(group, "text", record, case_date, statement(ids, text, refs), frozenset(expect), origin)
    if claim is not None:
        yield Probe(
            group,
            "claim",
            record,
            case_date,
            statement(ids, texts[0], refs, claim),
            frozenset(expect),
            origin,
        )


# ----------------------------------------------------------------------------------- helpers


def value_text(fact: Fact) -> str | None:
    if isinstance(fact.value, str):
        return fact.value
    return next((c.display or c.code for c in fact.value_codes if c.display or c.code), None)


def fact_of(record: PatientRecord, reference: str, *kinds: FactKind) -> Fact | None:
    return next((f for f in record.facts_citing(reference) if not kinds or f.kind in kinds), None)


def active_orders(record: PatientRecord, sources: list[str], case_day: date | None) -> list[Fact]:
    """Medication facts whose own status says "taking" (so "current" is true of the resource)."""
    out = []
    for ref in sources:
        fact = fact_of(record, ref, FactKind.medication)
        if fact is not None and medication_state(fact, case_day) == "current" and day(fact.date):
            out.append(fact)
    return out


def numeric_labs(record: PatientRecord) -> list[Fact]:
    """Plain numeric labs of an analyte with plausible limits, one per LOINC code, latest first."""
    seen: set[str] = set()
    out = []
    facts = [
        f
        for f in record.facts_of(FactKind.lab, FactKind.vital)
        if isinstance(f.value, int | float) and not isinstance(f.value, bool) and f.date and not f.comparator
    ]
    for fact in sorted(facts, key=lambda f: f.date or "", reverse=True):
        code = loinc_of(fact.codes)
        unit = fact.unit_code or fact.unit
        if not code or code in seen or code not in PLAUSIBLE_RANGES or "#" in fact.id:
            continue
        if implausibility(float(fact.value), unit, code) is not None:  # type: ignore[arg-type]
            continue
        seen.add(code)
        out.append(fact)
    return out


def lab_texts(fact: Fact, value: float, when: str | None) -> list[str]:
    label = base.clean_label(fact)
    shown = f"{base.fmt(value)} {fact.unit or ''}".strip()
    on = f" on {when}" if when else ""
    return [f"{label}: {shown}{on}.", f"{label} was {shown}{on}.", f"Most recent {label}: {shown}{on}."]


def lab_claim(fact: Fact, value: float, source: str, when: str | None) -> ResultClaim:
    return ResultClaim(
        kind="lab",
        name=fact.label,
        code=loinc_of(fact.codes),
        results=[ClaimedResult(value=value, unit=fact.unit, date=when, source=source)],
        facts=[source],
    )


# ----------------------------------------------------------------------- planted: (a) currency


def currency_as_recorded(
    name: str, record: PatientRecord, picture: ClinicalPicture, ids: Ids, limit: int
) -> Iterator[Probe]:
    """Ingredients the picture has stopped / completed / stale, called current from an active order."""
    case_day = day(picture.case_date) or base.day_of(picture.case_date)
    made = 0
    for medication in picture.medications:
        if medication.status == "current" or made >= limit:
            continue
        orders = active_orders(record, medication.sources, case_day)
        if not orders:
            continue
        order = orders[-1]
        made += 1
        texts = [
            f"Current medication: {order.label} (status {order.status}).",
            f"Currently on {order.label}.",
            f"{order.label} is ongoing.",
        ]
        claim = MedicationClaim(ingredient=medication.ingredient, status="current", facts=[order.reference])
        expect = set(medication.sources) | set(picture.patient.sources)
        yield from probes_of(
            "currency", record, record.latest_date(), texts, [order.reference], claim, expect, ids, name
        )


def currency_planted(
    name: str, record: PatientRecord, bundle: dict[str, Any], ids: Ids, limit: int
) -> Iterator[Probe]:
    """A stopping MedicationStatement planted for an ingredient current at a chosen case date;
    the untouched record at that date is a control (the same statements must pass there)."""
    candidates: list[tuple[str, Fact, str]] = []
    for medication in picture_of(record, case_date=record.latest_date()).medications:
        for order in active_orders(record, medication.sources, None):
            ordered = day(order.date)
            if ordered is None:
                continue
            case_date = (ordered + timedelta(days=20)).isoformat()
            if picture_of(record, case_date=case_date).medications and any(
                m.ingredient == medication.ingredient and m.status == "current"
                for m in picture_of(record, case_date=case_date).medications
            ):
                candidates.append((medication.ingredient, order, case_date))
                break
        if len(candidates) >= limit:
            break
    if not candidates:
        return
    planted = copy.deepcopy(bundle)
    stops: dict[str, str] = {}
    for ingredient, order, _ in candidates:
        source = resource_of(planted, order.reference) or {}
        statement_json: dict[str, Any] = {
            "resourceType": "MedicationStatement",
            "id": f"planted-stop-{len(stops)}",
            "status": "stopped",
            "subject": source.get("subject") or {"reference": record.patient_ref},
            "effectivePeriod": {
                "start": iso_day(order.date),
                "end": (day(order.date) + timedelta(days=10)).isoformat(),
            },  # type: ignore[operator]
            "statusReason": [{"text": "adverse reaction (arthralgia)"}],
        }
        for key in ("medicationCodeableConcept", "medicationReference", "contained"):
            if key in source:
                statement_json[key] = copy.deepcopy(source[key])
        stops[ingredient] = add(planted, statement_json)
    copy_record = load(planted, record.patient_id)
    for ingredient, order, case_date in candidates:
        texts = [
            f"Current medication: {order.label} (status {order.status}).",
            f"Currently on {order.label}.",
            f"{order.label} is ongoing.",
        ]
        claim = MedicationClaim(ingredient=ingredient, status="current", facts=[order.reference])
        stop = stops[ingredient]
        yield from probes_of(
            "currency", copy_record, case_date, texts, [order.reference], claim, {stop}, ids, f"{name}+stop"
        )
        # controls: the same statements, untouched record, at that date; and the stop itself, said
        yield from probes_of(
            "control:current at its date",
            record,
            case_date,
            texts,
            [order.reference],
            claim,
            set(),
            ids,
            name,
        )
        said = MedicationClaim(ingredient=ingredient, status="stopped", facts=[stop, order.reference])
        yield from probes_of(
            "control:says stopped",
            copy_record,
            case_date,
            [
                f"{order.label} was stopped (adverse reaction (arthralgia)).",
                f"{order.label} was discontinued.",
            ],
            [stop, order.reference],
            said,
            set(),
            ids,
            f"{name}+stop",
        )


# ---------------------------------------------------------------------- planted: (b) biomarker


def polar_results(record: PatientRecord, picture: ClinicalPicture) -> list[tuple[str, str, Fact, str]]:
    """(biomarker name, code, fact, polarity) of every biomarker result that reads one way."""
    out = []
    for cancer in picture.cancers:
        for biomarker in cancer.biomarkers:
            for result in biomarker.results:
                fact = fact_of(record, result.source)
                text = value_text(fact) if fact else None
                said = polarity([c.code for c in fact.value_codes if c.code], text) if fact else None
                if fact is not None and said and text:
                    out.append((biomarker.name, biomarker.code or "", fact, said))
    return out


def flipped(fact: Fact, said: str) -> tuple[str, str]:
    low = (value_text(fact) or "").lower()
    table = PRESENCE_FLIP if ("present" in low or "absent" in low) else FLIP
    key = "present" if "present" in low else "absent" if "absent" in low else said
    return table[key]


def biomarker_probes(
    name: str, record: PatientRecord, bundle: dict[str, Any], ids: Ids, limit: int
) -> Iterator[Probe]:
    results = polar_results(record, picture_of(record, case_date=record.latest_date()))[:limit]
    if not results:
        return
    for variant, shift in (("same day", 0), ("later specimen", 30)):
        planted, agreeing = copy.deepcopy(bundle), copy.deepcopy(bundle)
        clones: dict[str, str] = {}
        repeats: dict[str, str] = {}
        for index, (_, _, fact, said) in enumerate(results):
            source = resource_of(planted, fact.reference)
            if source is None:
                continue
            display, code = flipped(fact, said)
            changes: dict[str, Any] = {
                "valueCodeableConcept": {
                    "coding": [{"system": "http://loinc.org", "code": code, "display": display}]
                }
            }
            for key in ("valueString", "valueBoolean", "valueQuantity"):
                changes[key] = None
            when = day(fact.date)
            if shift and when:
                changes["effectiveDateTime"] = (when + timedelta(days=shift)).isoformat()
                changes["effectivePeriod"] = None
            twin = {
                k: v for k, v in clone(source, f"planted-{index}-{shift}", **changes).items() if v is not None
            }
            clones[fact.reference] = add(planted, twin)
            same = {k: v for k, v in clone(source, f"repeat-{index}-{shift}").items() if v is not None}
            if shift and when:
                same["effectiveDateTime"] = (when + timedelta(days=shift)).isoformat()
                same.pop("effectivePeriod", None)
            repeats[fact.reference] = add(agreeing, same)
        discordant, repeated = load(planted, record.patient_id), load(agreeing, record.patient_id)
        for marker, code, fact, _ in results:
            if fact.reference not in clones:
                continue
            value = value_text(fact) or ""
            when = iso_day(fact.date) if fact.date else None
            texts = [
                f"{base.clean_label(fact)}: {value} on {when}.",
                f"{marker} {value.lower()}.",
                f"{marker}: {value.lower()} ({when}).",
            ]
            claim = ResultClaim(
                kind="biomarker",
                name=marker,
                code=code or None,
                results=[ClaimedResult(value=value, date=when, source=fact.reference)],
                facts=[fact.reference],
            )
            refs = [fact.reference]
            origin = f"{name}+{variant}"
            yield from probes_of(
                "biomarker", discordant, None, texts, refs, claim, {clones[fact.reference]}, ids, origin
            )
            yield from probes_of(
                f"control:agreeing repeat ({variant})", repeated, None, texts, refs, claim, set(), ids, origin
            )
            other = clones[fact.reference]
            other_fact = fact_of(discordant, other)
            other_value = value_text(other_fact) if other_fact else None
            both = ResultClaim(
                kind="biomarker",
                name=marker,
                code=code or None,
                results=[
                    ClaimedResult(value=value, date=when, source=fact.reference),
                    ClaimedResult(
                        value=other_value,
                        date=iso_day(other_fact.date) if other_fact and other_fact.date else None,
                        source=other,
                    ),
                ],
                facts=[fact.reference, other],
            )
            other_when = iso_day(other_fact.date) if other_fact and other_fact.date else None
            yield from probes_of(
                "control:reports the conflict",
                discordant,
                None,
                [f"{marker}: conflicting results ({value} on {when}; {other_value} on {other_when})."],
                [fact.reference, other],
                both,
                set(),
                ids,
                origin,
            )


# ---------------------------------------------------------------- planted: (c) death, (e) after


def death_probes(
    name: str, record: PatientRecord, bundle: dict[str, Any], ids: Ids, limit: int
) -> Iterator[Probe]:
    picture = picture_of(record, case_date=record.latest_date())
    if picture.patient.deceased or record.patient_ref is None:
        return
    case_day = base.day_of(record.latest_date())
    lines = [(c, n, line) for c in picture.cancers for n, line in enumerate(c.lines, 1) if line.end is None]
    current = [
        (m, o)
        for m in picture.medications
        for o in active_orders(record, m.sources, case_day)[-1:]
        if m.status == "current"
    ]
    if case_day is None or not (lines or current):
        return
    starts = [day(line.start) for _, _, line in lines if day(line.start)] + [day(o.date) for _, o in current]
    first = min(s for s in starts if s)
    died = min(first + timedelta(days=60), case_day - timedelta(days=1))
    if died <= first:
        return
    planted = copy.deepcopy(bundle)
    patient = resource_of(planted, record.patient_ref)
    if patient is None:
        return
    patient.pop("deceasedBoolean", None)
    patient["deceasedDateTime"] = died.isoformat()
    dead = load(planted, record.patient_id)
    expect = {record.patient_ref}
    origin = f"{name}+died {died.isoformat()}"
    for cancer, number, line in lines[:limit]:
        drugs = " + ".join(line.drugs)
        texts = [
            f"Line {number} ({line.start} – ongoing): {drugs}; {len(line.sources)} medication record(s).",
            f"Ongoing line of therapy: {drugs} since {line.start}.",
            f"{drugs}: ongoing.",
        ]
        claim = LineClaim(
            cancer=cancer.condition,
            drugs=line.drugs,
            start=line.start,
            end=None,
            status="current",
            facts=line.sources,
        )
        yield from probes_of("death", dead, None, texts, line.sources, claim, expect, ids, origin)
    for medication, order in current[:limit]:
        texts = [
            f"Currently on {order.label}.",
            f"Current medication: {order.label} (status {order.status}).",
        ]
        claim = MedicationClaim(ingredient=medication.ingredient, status="current", facts=[order.reference])
        yield from probes_of("death", dead, None, texts, [order.reference], claim, expect, ids, origin)
    vital = VitalStatusClaim(deceased=True, date=died.isoformat(), facts=[record.patient_ref])
    yield from probes_of(
        "control:death stated",
        dead,
        None,
        [f"The patient died on {died.isoformat()}."],
        [record.patient_ref],
        vital,
        set(),
        ids,
        origin,
    )
    # (e) labs dated after the planted death, stated as fact (and, as a control, flagged)
    after = [
        f
        for f in numeric_labs(dead)
        if day(f.date) and day(f.date) > died + timedelta(days=1)  # type: ignore[operator]
    ][:limit]
    for fact in after:
        value = float(fact.value)  # type: ignore[arg-type]
        when = iso_day(fact.date) if fact.date else None
        claim = lab_claim(fact, value, fact.reference, when)
        yield from probes_of(
            "after_death",
            dead,
            None,
            lab_texts(fact, value, when),
            [fact.reference],
            claim,
            expect,
            ids,
            origin,
        )
        label = base.clean_label(fact)
        yield from probes_of(
            "control:flags the posthumous date",
            dead,
            None,
            [
                f"{label}: {base.fmt(value)} {fact.unit or ''} on {when} "
                "(dated after the recorded death: data quality)."
            ],
            [fact.reference],
            None,
            set(),
            ids,
            origin,
        )


# ------------------------------------------------------------------ planted: (d) implausible


def implausible_probes(
    name: str, record: PatientRecord, bundle: dict[str, Any], ids: Ids, limit: int
) -> Iterator[Probe]:
    chosen: list[tuple[Fact, float]] = []
    for fact in numeric_labs(record):
        scaled = float(fact.value) * 100  # type: ignore[arg-type]
        if implausibility(scaled, fact.unit_code or fact.unit, loinc_of(fact.codes)) is not None:
            chosen.append((fact, scaled))
        if len(chosen) >= limit:
            break
    if not chosen:
        return
    planted, trend = copy.deepcopy(bundle), copy.deepcopy(bundle)
    made: dict[str, str] = {}
    later: dict[str, tuple[str, float]] = {}
    for index, (fact, scaled) in enumerate(chosen):
        source = resource_of(planted, fact.reference)
        if source is None or "valueQuantity" not in source:
            continue
        quantity = {**source["valueQuantity"], "value": scaled}
        made[fact.reference] = add(planted, clone(source, f"planted-value-{index}", valueQuantity=quantity))
        # control: a later, plausible, different value (a trend, not a conflict)
        changed = float(fact.value) * 1.3  # type: ignore[arg-type]
        when = day(fact.date)
        if when and implausibility(changed, fact.unit_code or fact.unit, loinc_of(fact.codes)) is None:
            twin = clone(
                source, f"trend-value-{index}", valueQuantity={**source["valueQuantity"], "value": changed}
            )
            twin["effectiveDateTime"] = (when + timedelta(days=20)).isoformat()
            twin.pop("effectivePeriod", None)
            later[fact.reference] = (add(trend, twin), changed)
    flawed, trended = load(planted, record.patient_id), load(trend, record.patient_id)
    for fact, scaled in chosen:
        if fact.reference not in made:
            continue
        when = iso_day(fact.date) if fact.date else None
        ref = made[fact.reference]
        claim = lab_claim(fact, scaled, ref, when)
        yield from probes_of(
            "implausible",
            flawed,
            None,
            lab_texts(fact, scaled, when),
            [ref],
            claim,
            {ref},
            ids,
            f"{name}+×100",
        )
        if fact.reference in later:
            value = float(fact.value)  # type: ignore[arg-type]
            yield from probes_of(
                "control:values change over time",
                trended,
                None,
                lab_texts(fact, value, when),
                [fact.reference],
                lab_claim(fact, value, fact.reference, when),
                set(),
                ids,
                f"{name}+trend",
            )


# ------------------------------------------------------- control: clinical vs pathologic stage


def stage_probes(name: str, record: PatientRecord, bundle: dict[str, Any], ids: Ids) -> Iterator[Probe]:
    picture = picture_of(record, case_date=record.latest_date())
    for cancer in picture.cancers:
        for stage in cancer.stages:
            if stage.type != "clinical" or len(stage.sources) != 1 or not stage.group:
                continue
            if stage.group not in {"I", "IA", "IB", "II", "IIA", "IIB", "III", "IIIA", "IIIB", "IIIC", "IV"}:
                continue
            source = resource_of(bundle, stage.sources[0])
            if source is None:
                continue
            planted = copy.deepcopy(bundle)
            other = "IIIA" if stage.group != "IIIA" else "IIB"
            twin = clone(
                source,
                "planted-pathologic-stage",
                code={
                    "coding": [
                        {
                            "system": "http://loinc.org",
                            "code": "21902-2",
                            "display": "Stage group.pathology Cancer",
                        }
                    ],
                    "text": "Pathologic stage group",
                },
                valueCodeableConcept={
                    "coding": [{"system": "http://cancerstaging.org", "code": other, "display": other}],
                    "text": other,
                },
            )
            pathologic = add(planted, twin)
            staged = load(planted, record.patient_id)
            clinical = StageClaim(
                cancer=cancer.condition, type="clinical", group=stage.group, facts=stage.sources
            )
            yield from probes_of(
                "control:clinical vs pathologic stage",
                staged,
                None,
                [
                    f"Clinical stage {stage.group}.",
                    f"Clinical TNM stage group: stage {stage.group} on {stage.date}.",
                ],
                stage.sources,
                clinical,
                set(),
                ids,
                f"{name}+pathologic {other}",
            )
            said = StageClaim(cancer=cancer.condition, type="pathologic", group=other, facts=[pathologic])
            yield from probes_of(
                "control:clinical vs pathologic stage",
                staged,
                None,
                [f"Pathologic stage {other}."],
                [pathologic],
                said,
                set(),
                ids,
                f"{name}+pathologic {other}",
            )


# ----------------------------------------------------------------- untouched, from the picture


def picture_probes(name: str, record: PatientRecord, ids: Ids, limit: int) -> Iterator[Probe]:
    """Correct claim-bearing statements written from the picture: what the template will write."""
    picture = picture_of(record, case_date=record.latest_date())
    when = record.latest_date()
    for medication in picture.medications:
        refs = medication.sources
        words = {
            "current": "current",
            "stopped": "stopped",
            "completed": "completed",
            "stale": "stale",
            "unknown": "status unknown",
        }
        last = medication.last_evidence_date
        text = f"{medication.ingredient}: {words[medication.status]} (last evidence {last})."
        claim = MedicationClaim(
            ingredient=medication.ingredient,
            status=medication.status,
            last_evidence_date=medication.last_evidence_date,
            facts=refs,
        )
        yield from probes_of("untouched:picture", record, when, [text], refs, claim, set(), ids, name)
    for cancer in picture.cancers:
        for number, line in enumerate(cancer.lines, 1):
            # as the template words a line: its span (no status word: the orders say "active" and
            # the claim carries the status); it cites the next line's first record when that
            # record's date ended it
            drugs = " + ".join(line.drugs)
            span = f"{line.start} – {line.end}" if line.end else f"from {line.start}"
            following = cancer.lines[number].sources[:1] if number < len(cancer.lines) else []
            text = f"Line {number} ({span}): {drugs}."
            claim = LineClaim(
                cancer=cancer.condition,
                drugs=line.drugs,
                start=line.start,
                end=line.end,
                status=line.status,
                facts=line.sources,
            )
            refs = [*line.sources, *following]
            yield from probes_of("untouched:picture", record, when, [text], refs, claim, set(), ids, name)
        for biomarker in cancer.biomarkers:
            for result in biomarker.results:
                if result.value is None:
                    continue
                text = f"{biomarker.name}: {result.value} on {result.date}."
                claim = ResultClaim(
                    kind="biomarker",
                    name=biomarker.name,
                    code=biomarker.code,
                    results=[
                        ClaimedResult(
                            value=result.value, unit=result.unit, date=result.date, source=result.source
                        )
                    ],
                    facts=[result.source],
                )
                yield from probes_of(
                    "untouched:picture", record, when, [text], [result.source], claim, set(), ids, name
                )
        for stage in cancer.stages:
            if not stage.group or not parse_stages(f"Stage {stage.group}") or len(stage.group) > 20:
                continue  # a stage group or T/N/M categories, not another system's words
            kind = {
                "clinical": "Clinical ",
                "pathologic": "Pathologic ",
                "post_therapy": "Post-therapy ",
            }.get(stage.type, "")
            text = f"{kind}stage {stage.group} on {stage.date}."
            claim = StageClaim(
                cancer=cancer.condition, type=stage.type, group=stage.group, facts=stage.sources
            )
            yield from probes_of(
                "untouched:picture", record, when, [text], stage.sources, claim, set(), ids, name
            )
    for series in picture.labs[:limit]:
        point = series.points[-1]
        fact = fact_of(record, point.source)
        if fact is None:
            continue
        shown = f"{base.fmt(point.value)} {series.unit or ''}".strip()
        text = f"{base.clean_label(fact)}: {shown} on {iso_day(point.date)}."
        claim = ResultClaim(
            kind="lab",
            name=series.name,
            code=series.code,
            results=[
                ClaimedResult(
                    value=point.value, unit=series.unit, date=iso_day(point.date), source=point.source
                )
            ],
            facts=[point.source],
        )
        yield from probes_of(
            "untouched:picture", record, when, [text], [point.source], claim, set(), ids, name
        )
    if record.patient_ref:
        status = picture.patient
        if status.deceased:
            text = (
                f"The patient died on {iso_day(status.deceased_date)}."
                if status.deceased_date
                else "The patient died."
            )
        else:
            text = "The patient is alive."
        claim = VitalStatusClaim(
            deceased=status.deceased, date=status.deceased_date, facts=status.sources or [record.patient_ref]
        )
        yield from probes_of(
            "untouched:picture",
            record,
            when,
            [text],
            status.sources or [record.patient_ref],
            claim,
            set(),
            ids,
            name,
        )


def generator_probes(records: list[tuple[str, PatientRecord]], ids: Ids) -> Iterator[Probe]:
    """`bench_verifier`'s untouched statements (text only), minus those false of the patient."""
    by_name = dict(records)
    for case in base.generate(records, 40, 7):
        if case.kind is not None:
            continue
        record = by_name[case.record]
        if base.false_of_patient(case, record):
            continue
        text = Statement(id=ids(), text=case.text, evidence=case.evidence)
        yield Probe(
            "untouched:generator", "text", record, record.latest_date(), text, frozenset(), case.record
        )


# ------------------------------------------------------------------------------------ running


def named(verdict: Verdict, expect: frozenset[str]) -> bool:
    """The verdict names one of the expected contradicting sources (reason or failing evidence)."""
    failing = {e.reference for c in verdict.checks if c.outcome == "fail" for e in c.evidence}
    return bool(expect & failing) or any(ref in verdict.reason for ref in expect)


def run(probes: list[Probe]) -> Tally:
    tally = Tally()
    for probe in probes:
        verdict = verify_statement(probe.statement, [], probe.record, probe.case_date)
        key = f"{probe.group} [{probe.form}]"
        tally.total[key] += 1
        shown = f"{probe.origin}: {probe.statement.text!r} -> {verdict.verdict.value}: {verdict.reason[:220]}"
        if probe.group in CLASSES:
            ok = verdict.verdict == VerdictLabel.contradicted and named(verdict, probe.expect)
            tally.caught[key] += ok
            claim = next((c for c in verdict.checks if c.name == "claim_agrees"), None)
            tally.by_claim[key] += bool(
                claim and claim.outcome == "fail" and probe.expect & {e.reference for e in claim.evidence}
            )
            if not ok:
                tally.misses[key].append(shown)
        elif verdict.verdict in FLAGGED:
            tally.caught[key] += 1  # a false alarm
            tally.misses[key].append(shown)
    return tally


def build(records: list[tuple[str, PatientRecord]], root: Path, per_class: int) -> list[Probe]:
    ids = Ids()
    probes: list[Probe] = []
    for name, record in records:
        bundle = bundle_for(name, record, root)
        picture = picture_of(record, case_date=record.latest_date())
        probes += currency_as_recorded(name, record, picture, ids, per_class)
        probes += currency_planted(name, record, bundle, ids, per_class)
        probes += biomarker_probes(name, record, bundle, ids, per_class)
        probes += death_probes(name, record, bundle, ids, per_class)
        probes += implausible_probes(name, record, bundle, ids, per_class)
        probes += stage_probes(name, record, bundle, ids)
        probes += picture_probes(name, record, ids, per_class * 3)
    probes += generator_probes(records, ids)
    return probes


def base_recall(records: list[tuple[str, PatientRecord]]) -> tuple[dict[str, float], bool]:
    """`bench_verifier`'s planted kinds, rerun: their recall must be what it was."""
    tally, _ = base.run(base.generate(records, 40, 7), dict(records))
    recall = {k: tally.flagged[k] / tally.total[k] for k in base.KINDS if tally.total[k]}
    return recall, all(recall[k] >= base.TARGETS[k] for k in recall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared/data/fhir"
    )
    parser.add_argument("--per-class", type=int, default=6, help="planted concepts per class per record")
    parser.add_argument("--show", type=int, default=3, help="misses / false alarms to print per line")
    args = parser.parse_args(argv)

    root = args.data.resolve()
    t0 = time.perf_counter()
    records = base.load_records(root)
    probes = build(records, root, args.per_class)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    tally = run(probes)
    ran = time.perf_counter() - t0
    print(
        f"records: {len(records)}; {len(probes)} statements built in {built:.1f} s, verified in {ran:.1f} s"
    )
    print()
    print(
        f"{'planted record-global class':<34}{'planted':>8}{'caught':>8}{'recall':>8}"
        "  (contradicted, source named)"
    )
    ok = True
    for cls in CLASSES:
        for form in ("text", "claim"):
            key = f"{cls} [{form}]"
            n = tally.total[key]
            recall = tally.caught[key] / n if n else float("nan")
            passed = n > 0 and recall >= RECALL_TARGET
            ok &= passed
            alone = f"  (claim check alone: {tally.by_claim[key]})" if form == "claim" else ""
            print(
                f"{key:<34}{n:>8}{tally.caught[key]:>8}{recall:>8.3f}  ≥ {RECALL_TARGET} "
                + ("ok" if passed else "MISSED")
                + alone
            )
    print()
    untouched = [k for k in tally.total if k.split(" [")[0] not in CLASSES]
    total = sum(tally.total[k] for k in untouched)
    alarms = sum(tally.caught[k] for k in untouched)
    print(f"{'untouched statements / controls':<52}{'n':>6}{'false alarms':>14}")
    for key in sorted(untouched):
        print(f"{key:<52}{tally.total[key]:>6}{tally.caught[key]:>14}")
    rate = alarms / max(1, total)
    ok &= rate <= FALSE_ALARM_TARGET
    print(f"{'all untouched':<52}{total:>6}{alarms:>14}  rate {rate:.4f} (target ≤ {FALSE_ALARM_TARGET})")
    print()
    recall, kept = base_recall(records)
    ok &= kept
    print(
        "bench_verifier planted kinds (recall, unchanged ≥ 0.95): "
        + ", ".join(f"{k} {v:.3f}" for k, v in recall.items())
    )
    if args.show:
        for key, misses in tally.misses.items():
            for line in misses[: args.show]:
                print(f"  [{key}] {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
