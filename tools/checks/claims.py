"""Structured claims checked against the clinical picture: the cited facts say it, nothing contradicts it.

A statement the template writes carries its `Claim` (`medboard.models.claims`): the concept, its
value, unit, date and status, and the facts it rests on. Checking that claim needs no reading of
English: `check_claim(claim, picture, record)` compares fields with fields, in two steps, per
concept:

1. **The facts say it.** Every fact the claim names resolves in this patient's record
   (`missing_facts`; a claim resting on nothing is *unsupported*, not contradicted) and belongs to
   the concept claimed: a medication's facts are records of that ingredient, a line's are sources
   of that line, a result's source holds that value (numbers through the unit service, so 101 g/L
   agrees with 10.1 g/dL; coded values by polarity or code) on that date, a stage's facts read
   that group, the vital-status facts are the patient's.
2. **The picture agrees.** The reconciled state of the concept is what the claim says:

   - medication — the status equals the picture's status for the ingredient, and the last
     evidence date its last evidence date ("current" on a stopped or stale ingredient fails,
     naming the deciding source and its reason);
   - line — a line of that cancer with those drugs exists, with that start, end (None: ongoing)
     and status; each drug stop it names (`ClaimedStop`) is by a source of that line that records
     that stop date (its period's end; a start or authored date is not a stop date);
   - result — no result of that biomarker that the claim leaves out disagrees with it
     ("contradicted by Observation/x: Positive on 2019-01-02"; a claim that lists every side,
     as a statement reporting the conflict does, agrees); no claimed value is listed as
     implausible; no claimed result is dated after the recorded death;
   - stage — no other stage of the same type and the same staging system (observation code) for
     that cancer, within the reconciliation's restaging window (`conflicts.STAGE_WINDOW_DAYS`),
     reads a different group or category (clinical and pathologic stages may differ, and so may
     two staging systems: they are not compared);
   - diagnosis — the picture's cancer has that kind, laterality and clinical status, and no
     laterality conflict / later active disease (`active_after_resolved`) speaks against it;
   - vital status — deceased, date and cause as the picture has them.

Every failure names the contradicting source in its detail and in `CheckResult.evidence`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from medboard.models import CheckResult, EvidenceRef, Fact
from medboard.models.claims import (
    Claim,
    ClaimedResult,
    ClaimedStop,
    DiagnosisClaim,
    LineClaim,
    MedicationClaim,
    ResultClaim,
    StageClaim,
    VitalStatusClaim,
)
from medboard.models.picture import Cancer, ClinicalPicture, Line, Stage
from medboard.tools.checks.evidence import parse_fhir_date, patient_of
from medboard.tools.checks.extract import parse_stages
from medboard.tools.checks.staging import compatible
from medboard.tools.checks.text import concept_tokens
from medboard.tools.checks.units import compare, loinc_of
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile import knowledge
from medboard.tools.reconcile.conflicts import STAGE_WINDOW_DAYS
from medboard.tools.reconcile.index import PictureIndex, discordant_results, index_of, result_key

CLAIM_AGREES = "claim_agrees"

#: Clinical statuses that say the disease is over (what later active disease contradicts).
_RESOLVED = frozenset({"resolved", "remission", "inactive"})


@dataclass
class _Findings:
    """What one claim check found: disagreements (each naming its sources) and agreements."""

    problems: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    agreed: list[str] = field(default_factory=list)

    def fail(self, detail: str, sources: Iterable[str] = ()) -> None:
        """One disagreement; every source it rests on is named in its detail as in its evidence."""
        refs = tuple(dict.fromkeys(s for s in sources if s))
        unnamed = [s for s in refs if s not in detail]
        self.problems.append((detail + (f" ({', '.join(unnamed)})" if unnamed else ""), refs))

    def ok(self, detail: str) -> None:
        self.agreed.append(detail)


def _norm(text: str | None) -> str:
    return " ".join((text or "").lower().split())


def _same_day(a: str | None, b: str | None) -> bool:
    """Two FHIR dates that may denote the same day (at the precision both have)."""
    if a is None or b is None:
        return a is None and b is None
    ra, rb = parse_fhir_date(a), parse_fhir_date(b)
    if ra is None or rb is None:
        return _norm(a) == _norm(b)
    return ra[0] <= rb[1] and rb[0] <= ra[1]


def _canonical(record: PatientRecord, reference: str) -> str:
    return record.canonical(reference) or reference


def _claimed_references(claim: Claim) -> list[str]:
    refs = list(claim.facts)
    if isinstance(claim, ResultClaim):
        refs += [r.source for r in claim.results]
    if isinstance(claim, DiagnosisClaim):
        refs.append(claim.condition)
    if isinstance(claim, LineClaim):
        refs += [s.source for s in claim.stops]
    return list(dict.fromkeys(refs))


def missing_facts(claim: Claim, record: PatientRecord) -> list[str]:
    """The claim's references that are not resources of this patient's record."""
    missing = []
    for reference in _claimed_references(claim):
        canonical = record.canonical(reference)
        resource = record.resources.get(canonical) if canonical else None
        owner = patient_of(resource, record) if resource is not None else None
        if resource is None or (owner and record.patient_ref and owner != record.patient_ref):
            missing.append(reference)
    return missing


# --------------------------------------------------------------------------- medications, lines


def _medication(claim: MedicationClaim, index: PictureIndex, record: PatientRecord, out: _Findings) -> None:
    facts = [_canonical(record, f) for f in claim.facts]
    medication = index.medication(claim.ingredient)
    if medication is None:
        owners = sorted({m.ingredient for f in facts for m in index.of(f).medications})
        where = (
            f"; {', '.join(facts)} {'is' if len(facts) == 1 else 'are'} {', '.join(owners)}" if owners else ""
        )
        out.fail(f"the picture has no medication {claim.ingredient!r}{where}", facts)
        return
    for fact in facts:
        if fact not in medication.sources:
            owners = sorted({m.ingredient for m in index.of(fact).medications})
            said = f" (a record of {', '.join(owners)})" if owners else ""
            out.fail(f"{fact} is not a record of {medication.ingredient}{said}", [fact])
    basis = index.medication_basis(medication)
    if claim.status != medication.status:
        out.fail(
            f"claims {medication.ingredient} {claim.status}; the picture says {medication.status}: "
            f"{basis.reason} (decided by {', '.join(basis.sources)})",
            basis.sources,
        )
    else:
        out.ok(f"{medication.ingredient}: {medication.status} as the picture has it")
    if claim.last_evidence_date and not _same_day(claim.last_evidence_date, medication.last_evidence_date):
        out.fail(
            f"claims the last evidence of {medication.ingredient} on {claim.last_evidence_date}; "
            f"the picture's is {medication.last_evidence_date or 'none'} ({basis.reason})",
            basis.sources,
        )


def _span(line: Line) -> str:
    return f"{line.start or '?'} – {line.end or 'ongoing'}"


def _line(claim: LineClaim, index: PictureIndex, record: PatientRecord, out: _Findings) -> None:
    facts = [_canonical(record, f) for f in claim.facts]
    if claim.cancer:
        cancer = index.cancer(_canonical(record, claim.cancer))
        if cancer is None:
            out.fail(f"{claim.cancer} is not a cancer of the picture", [claim.cancer])
            return
        cancers = [cancer]
    else:
        cancers = list(index.picture.cancers)
    drugs = {_norm(d) for d in claim.drugs}
    candidates = [line for c in cancers for line in c.lines if {_norm(d) for d in line.drugs} == drugs]
    if not candidates:
        held = {id(line): line for f in facts for _, line in index.of(f).lines}
        shown = "; ".join(
            f"{' + '.join(line.drugs)} ({_span(line)}, {line.status})" for line in held.values()
        )
        out.fail(
            f"the picture has no line of {' + '.join(claim.drugs)}"
            + (f"; its records are in {shown}" if shown else ""),
            [s for line in held.values() for s in line.sources] or facts,
        )
        return
    line = max(
        candidates,
        key=lambda c: (len(set(facts) & set(c.sources)), _same_day(claim.start, c.start)),
    )
    for fact in facts:
        if fact not in line.sources:
            out.fail(f"{fact} is not a record of the line {' + '.join(line.drugs)} ({_span(line)})", [fact])
    basis = index.line_basis(line)
    if not _same_day(claim.start, line.start):
        out.fail(
            f"claims the line started {claim.start}; the picture's line starts {line.start}", line.sources[:1]
        )
    if not _same_day(claim.end, line.end):
        claimed_end = "is ongoing" if claim.end is None else f"ended {claim.end}"
        picture_end = "is ongoing" if line.end is None else f"ended {line.end}"
        out.fail(
            f"claims the line {claimed_end}; the picture's line {picture_end} ({basis.reason})",
            basis.sources,
        )
    if claim.status != line.status:
        out.fail(
            f"claims the line {' + '.join(line.drugs)} ({_span(line)}) {claim.status}; the picture says "
            f"{line.status}: {basis.reason} (decided by {', '.join(basis.sources)})",
            basis.sources,
        )
    else:
        out.ok(f"line {' + '.join(line.drugs)}: {line.status} as the picture has it")
    for stop in claim.stops:
        _line_stop(stop, line, record, out)


def _recorded_stop(resource: dict[str, Any]) -> str | None:
    """The stop date a medication resource records: the end of its period (a statement's or an
    administration's ``effectivePeriod``, an order's dosing ``boundsPeriod`` or validity period).
    Its start or authored date is when the drug began, never when it stopped."""
    if resource.get("resourceType") == "MedicationRequest":
        ends = [
            (((d.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or {}).get("end")
            for d in resource.get("dosageInstruction") or ()
            if isinstance(d, dict)
        ]
        found = [e for e in ends if isinstance(e, str)]
        if found:
            return max(found)
        validity = (resource.get("dispenseRequest") or {}).get("validityPeriod") or {}
        return validity.get("end") if isinstance(validity.get("end"), str) else None
    end = (resource.get("effectivePeriod") or {}).get("end")
    return end if isinstance(end, str) else None


def _line_stop(stop: ClaimedStop, line: Line, record: PatientRecord, out: _Findings) -> None:
    """A drug of the line said stopped on a date: the source is the line's and records that date."""
    source = _canonical(record, stop.source)
    if source not in line.sources:
        out.fail(f"{source} is not a record of the line {' + '.join(line.drugs)} ({_span(line)})", [source])
        return
    recorded = _recorded_stop(record.get(source) or {})
    if stop.date is None and recorded is not None:
        out.fail(
            f"claims {stop.drug} stopped with no date recorded; {source} records its stop on {recorded}",
            [source],
        )
    elif stop.date is not None and recorded is None:
        out.fail(f"claims {stop.drug} stopped on {stop.date}; {source} records no stop date", [source])
    elif not _same_day(stop.date, recorded):
        out.fail(
            f"claims {stop.drug} stopped on {stop.date}; {source} records its stop on {recorded}", [source]
        )
    else:
        out.ok(
            f"{stop.drug} stopped {f'on {recorded}' if recorded else '(no date recorded)'} as {source} says"
        )


# ----------------------------------------------------------------------------------- results


def _values_of(fact: Fact) -> list[str]:
    values = [str(fact.value)] if isinstance(fact.value, str) else []
    values += [v for c in fact.value_codes for v in (c.display, c.code) if v]
    return values


def _value_agrees(claimed: ClaimedResult, fact: Fact) -> bool:
    value = claimed.value
    if value is None:
        return True
    if isinstance(value, bool) or isinstance(fact.value, bool):
        return isinstance(fact.value, bool) and value == fact.value
    if isinstance(value, int | float):
        if not isinstance(fact.value, int | float):
            return False
        unit = fact.unit_code or fact.unit
        found = compare(
            float(value),
            repr(float(value)),
            claimed.unit,
            float(fact.value),
            unit,
            fact.label,
            loinc=loinc_of(fact.codes),
        )
        if not found.agrees and fact.unit and fact.unit != unit:  # the unit as written, when the code is odd
            found = compare(
                float(value), repr(float(value)), claimed.unit, float(fact.value), fact.unit, fact.label
            )
        return found.agrees
    said = _norm(value)
    values = _values_of(fact)
    polar = knowledge.polarity([value], value)
    if polar is not None and any(knowledge.polarity([v], v) == polar for v in values):
        return True
    if isinstance(fact.value, int | float) and not isinstance(fact.value, bool):
        try:
            return _value_agrees(claimed.model_copy(update={"value": float(value)}), fact)
        except ValueError:
            return False
    return any(_norm(v) == said for v in values)


def _shown(fact: Fact) -> str:
    if fact.value is not None:
        return f"{fact.value}{f' {fact.unit}' if fact.unit else ''}"
    return next((c.display or c.code or "" for c in fact.value_codes), "no value")


def _result(claim: ResultClaim, index: PictureIndex, record: PatientRecord, out: _Findings) -> None:
    claimed = {_canonical(record, r.source) for r in claim.results}
    for item in claim.results:
        source = _canonical(record, item.source)
        facts = record.facts_citing(source)
        if not any(_value_agrees(item, f) for f in facts):
            said = ", ".join(_shown(f) for f in facts[:3]) or "no value"
            out.fail(
                f"{source} says {said}, not {item.value}{f' {item.unit}' if item.unit else ''}", [source]
            )
        if item.date and not any(_same_day(item.date, f.date) for f in facts if f.date):
            when = ", ".join(f.date for f in facts if f.date) or "no date"
            out.fail(f"{source} is dated {when}, not {item.date}", [source])
        concepts = index.of(source)
        for quality in concepts.quality_of("implausible_value"):
            out.fail(f"{source} is listed as implausible: {quality.description}", [source])
        death = index.after_death(source)
        if death is not None:
            out.fail(
                f"{source} is dated after the patient's recorded death ({death.sources[0].reference}: "
                f"{death.sources[0].quote})",
                [death.sources[0].reference, source],
            )
        for cancer, biomarker in concepts.biomarkers:
            keys = {result_key(r) for b in cancer.biomarkers for r in b.results if r.source in claimed}
            clashing = [
                (b, r) for b, r in discordant_results(cancer, biomarker, keys) if r.source not in claimed
            ]
            if clashing:
                shown = "; ".join(
                    f"{r.source}: {r.value} on {r.date or 'an unknown date'}" for _, r in clashing
                )
                out.fail(f"{biomarker.name}: contradicted by {shown}", [r.source for _, r in clashing])
            else:
                out.ok(f"{biomarker.name}: no result the claim leaves out disagrees")
    if not out.problems:
        out.ok(f"{claim.name}: {len(claim.results)} result(s) as recorded")


# ----------------------------------------------------------------------------------- stages


def _readings(text: str | None) -> dict[str, str]:
    """Category → core of a stage text ("IIB" → stage_group IIB; "cT3 cN0 cM0" → T3, N0, M0)."""
    found = parse_stages(text or "") or parse_stages(f"Stage {text or ''}")
    return {m.category: m.core for m in found}


def _agreement(a: str | None, b: str | None) -> bool | None:
    """True/False when two stage texts share a category and (dis)agree on it; None when they
    share none (a stage group against T/N/M categories cannot disagree)."""
    ra, rb = _readings(a), _readings(b)
    shared = ra.keys() & rb.keys()
    if not shared:
        return None if (ra or rb) else _norm(a) == _norm(b)
    return all(compatible(c, ra[c], rb[c]) for c in shared)


def _near(a: Stage, b: Stage) -> bool:
    ra, rb = parse_fhir_date(a.date), parse_fhir_date(b.date)
    if ra is None or rb is None:
        return True
    window = timedelta(days=STAGE_WINDOW_DAYS)
    return ra[0] - window <= rb[1] and rb[0] - window <= ra[1]


def _stage_codes(stage: Stage, record: PatientRecord) -> set[str]:
    """What a stage was assessed as: its sources' observation codes (one code, one staging system:
    AJCC clinical stage group, Binet, ISS, FIGO ...), or "condition" for a Condition's own stage.
    Stages of two systems are never compared (Binet "B" and ISS "II" on one day do not disagree)."""
    codes: set[str] = set()
    for source in stage.sources:
        if source.startswith("Condition/"):
            codes.add("condition")
            continue
        for fact in record.facts_citing(source):
            loinc = loinc_of(fact.codes)
            code = loinc or next((c.code for c in fact.codes if c.code), None)
            if code:
                codes.add(code)
    return codes


def _stage(claim: StageClaim, index: PictureIndex, record: PatientRecord, out: _Findings) -> None:
    facts = [_canonical(record, f) for f in claim.facts]
    cancer: Cancer | None = None
    if claim.cancer:
        cancer = index.cancer(_canonical(record, claim.cancer))
        if cancer is None:
            out.fail(f"{claim.cancer} is not a cancer of the picture", [claim.cancer])
            return
    entries = [(c, s) for f in facts for c, s in index.of(f).stages if cancer is None or c is cancer]
    if not entries:
        out.fail(
            f"{', '.join(facts)}: no stage of {'this cancer' if cancer else 'any cancer'} in the picture",
            facts,
        )
        return
    cancer = cancer or entries[0][0]
    own = [s for _, s in entries]
    agreeing = [s for s in own if _agreement(claim.group, s.group)]
    if not agreeing:
        shown = "; ".join(f"{s.group} ({s.type}, {', '.join(s.sources)})" for s in own)
        out.fail(f"the claimed facts say {shown}, not {claim.group}", [x for s in own for x in s.sources])
        return
    typed = [s for s in agreeing if s.type == claim.type]
    if not typed:
        shown = ", ".join(sorted({s.type for s in agreeing}))
        out.fail(f"{', '.join(facts)}: a {shown} stage, not {claim.type}", facts)
        return
    systems = {code for t in typed for code in _stage_codes(t, record)}
    clashing = [
        s
        for s in cancer.stages
        if s.type == claim.type
        and s not in typed
        and _agreement(claim.group, s.group) is False
        and _stage_codes(s, record) & systems
        and any(_near(s, t) for t in typed)
    ]
    for stage in clashing:
        out.fail(
            f"{claim.type} stage {claim.group} contradicted by {', '.join(stage.sources)}: {stage.group} "
            f"on {stage.date or 'an unknown date'}",
            stage.sources,
        )
    if not clashing:
        out.ok(f"{claim.type} stage {claim.group}: no other {claim.type} stage disagrees")


# ------------------------------------------------------------------------ diagnosis, vital status


def _diagnosis(claim: DiagnosisClaim, index: PictureIndex, record: PatientRecord, out: _Findings) -> None:
    condition = _canonical(record, claim.condition)
    cancer = index.cancer(condition)
    if cancer is None:
        facts = record.facts_citing(condition)
        refuted = [
            f for f in facts if (f.verification_status or "").lower() in {"refuted", "entered-in-error"}
        ]
        if refuted:
            out.fail(f"{condition} is {refuted[0].verification_status}", [condition])
        elif claim.laterality and any(f.laterality and f.laterality != claim.laterality for f in facts):
            out.fail(f"{condition} is {facts[0].laterality}, not {claim.laterality}", [condition])
        else:
            out.ok(f"{condition}: recorded")
        return
    if claim.kind != "unknown" and cancer.kind != "unknown" and claim.kind != cancer.kind:
        out.fail(
            f"{cancer.name} is a {cancer.kind} cancer in the picture, not {claim.kind}", [cancer.condition]
        )
    if claim.laterality and cancer.laterality and claim.laterality != cancer.laterality:
        out.fail(
            f"{cancer.name} is {cancer.laterality} in the picture, not {claim.laterality}", [cancer.condition]
        )
    if (
        claim.clinical_status
        and cancer.clinical_status
        and _norm(claim.clinical_status) != _norm(cancer.clinical_status)
    ):
        out.fail(
            f"{cancer.name} is {cancer.clinical_status} in the picture, not {claim.clinical_status}",
            [cancer.condition],
        )
    for discrepancy in index.of(condition).discrepancies:
        others = [s.reference for s in discrepancy.sources if s.reference != condition]
        if (discrepancy.kind == "laterality_conflict" and claim.laterality) or (
            discrepancy.kind == "active_after_resolved" and _norm(claim.clinical_status) in _RESOLVED
        ):
            out.fail(f"contradicted by {', '.join(others)}: {discrepancy.description}", others)
    if not out.problems:
        out.ok(f"{cancer.name}: as the picture has it")


def _vital_status(
    claim: VitalStatusClaim, picture: ClinicalPicture, record: PatientRecord, out: _Findings
) -> None:
    patient = picture.patient
    sources = patient.sources or [record.patient_ref or ""]
    allowed = set(patient.sources) | {record.patient_ref}
    for fact in (_canonical(record, f) for f in claim.facts):
        if fact not in allowed:
            out.fail(f"{fact} is not a record of the patient's vital status", [fact])
    if claim.deceased != patient.deceased:
        said = (
            f"died{f' on {patient.deceased_date}' if patient.deceased_date else ''}"
            if patient.deceased
            else "alive"
        )
        out.fail(
            f"claims the patient {'died' if claim.deceased else 'is alive'}; the record says {said}", sources
        )
        return
    if claim.deceased and claim.date and not _same_day(claim.date, patient.deceased_date):
        out.fail(
            f"claims death on {claim.date}; the record says {patient.deceased_date or 'no date'}", sources
        )
    if claim.cause and patient.cause_of_death and _norm(claim.cause) != _norm(patient.cause_of_death):
        out.fail(f"claims death from {claim.cause}; the record says {patient.cause_of_death}", sources)
    if not out.problems:
        out.ok("vital status as recorded")


# ----------------------------------------------------------------------------------- entry


def check_claim(claim: Claim, picture: ClinicalPicture, record: PatientRecord) -> CheckResult:
    """`pass` when the claim's facts say it and the picture agrees; `fail` naming the contradicting
    source(s) otherwise (see the module docstring)."""
    missing = missing_facts(claim, record)
    if missing:
        return CheckResult(
            name=CLAIM_AGREES,
            outcome="fail",
            detail=f"the claim rests on {', '.join(missing)}, not in this patient's record",
            evidence=[EvidenceRef(reference=m) for m in missing if "/" in m],
        )
    index = index_of(picture)
    out = _Findings()
    match claim:
        case MedicationClaim():
            _medication(claim, index, record, out)
        case LineClaim():
            _line(claim, index, record, out)
        case ResultClaim():
            _result(claim, index, record, out)
        case StageClaim():
            _stage(claim, index, record, out)
        case DiagnosisClaim():
            _diagnosis(claim, index, record, out)
        case VitalStatusClaim():
            _vital_status(claim, picture, record, out)
    if out.problems:
        sources = [s for _, refs in out.problems for s in refs if s]
        return CheckResult(
            name=CLAIM_AGREES,
            outcome="fail",
            detail=f"{claim.concept} claim: " + "; ".join(d for d, _ in dict.fromkeys(out.problems)),
            evidence=[EvidenceRef(reference=s) for s in dict.fromkeys(sources)],
        )
    return CheckResult(
        name=CLAIM_AGREES,
        outcome="pass",
        detail=f"{claim.concept} claim agrees with the picture: " + "; ".join(dict.fromkeys(out.agreed)),
        evidence=[EvidenceRef(reference=_canonical(record, f)) for f in claim.facts],
    )


# ------------------------------------------------------------------------------- vocabulary

#: The words the template uses to say each concept's state. A claim that agrees with the picture
#: has settled them (its status, its span): "stale: still ordered, last evidence ...", "ended when
#: line 2 started; no stop recorded". A text that says another state than its claim does is
#: still caught: the status and record-global checks read the same words against the picture.
CONCEPT_WORDS: dict[str, str] = {
    "medication": "current stopped completed stale unknown medication last evidence still ordered on hold",
    "line": "line of therapy for current stopped completed stale unknown still ordered last evidence "
    "ended when started no stop recorded",
    "result": "result conflicting results",
    "stage": "stage clinical pathologic post therapy unspecified",
    "diagnosis": "cancer diagnosis primary secondary onset active remission resolved recurrence relapse "
    "left right bilateral",
    "vital_status": "deceased died alive cause of death on",
}


@dataclass(frozen=True)
class ClaimWords:
    """What an agreeing claim accounts for in its statement's text (`claim_vocabulary`)."""

    #: Concept tokens (`text.concept_tokens`) of its field values, its cancer's name and its
    #: concept's state words.
    tokens: frozenset[str]
    #: Whole phrases, lowercased, a check may leave open that carry no concept token ("left",
    #: "stage I"): the claim's own values said as the template says them.
    phrases: frozenset[str]
    #: The claim asserts a status the picture confirmed: status/negation wording is settled.
    status: bool

    def settles(self, shown: str) -> bool:
        """Whether a part some check left open is something this claim asserts."""
        if shown == "status/negation":
            return self.status
        if " ".join(shown.lower().split()) in self.phrases:
            return True
        words = concept_tokens(shown)
        return bool(words) and words <= self.tokens


_REFERENCE_FIELDS = {"facts", "cancer", "condition", "concept", "kind", "type"}


def claim_vocabulary(claim: Claim, picture: ClinicalPicture) -> ClaimWords:
    """What a claim that agrees with the picture accounts for in its statement's text: its own
    field values (drugs, ingredient, names), the name and side of the cancer it is about (a line's
    orders do not name the cancer; the picture assigned them), and its concept's state words."""
    values: list[str] = []
    for value in claim.model_dump(exclude=_REFERENCE_FIELDS).values():
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, list):
            values.extend(str(v) for v in value if isinstance(v, (str, int, float)))
    if isinstance(claim, StageClaim):
        values += [f"stage {claim.group}", claim.type.replace("_", " ")]
    cancer_ref = claim.condition if isinstance(claim, DiagnosisClaim) else getattr(claim, "cancer", None)
    for cancer in picture.cancers:
        if cancer_ref and cancer_ref in (cancer.condition, *cancer.conditions):
            values.extend(
                t for t in (cancer.name, cancer.histology, cancer.body_site, cancer.laterality) if t
            )
    texts = [CONCEPT_WORDS.get(claim.concept, ""), *values]
    return ClaimWords(
        tokens=frozenset(token for text in texts for token in concept_tokens(text)),
        phrases=frozenset(" ".join(v.lower().split()) for v in values),
        status=isinstance(claim, (MedicationClaim, LineClaim, DiagnosisClaim, VitalStatusClaim, StageClaim)),
    )


__all__ = [
    "CLAIM_AGREES",
    "CONCEPT_WORDS",
    "ClaimWords",
    "check_claim",
    "claim_vocabulary",
    "missing_facts",
]
