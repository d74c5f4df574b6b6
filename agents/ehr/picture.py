"""EHR findings read from the clinical picture: vital status, cancers, stages, medications, data quality.

Why from the picture and not from the record's facts one by one: a fact is true of its resource,
and a finding must be true of the patient. An order still marked active in 1986 is not a current
medication; a MedicationRequest says active while a later MedicationStatement says stopped for
arthralgia; "Non-small cell carcinoma of lung, TNM stage 1" restates a diagnosis and carries a
stage. The picture (`medboard.tools.reconcile`) has reconciled each of these at the case date;
this module words what it decided, and each finding carries that decision as its structured
`claim` (`medboard.models.claims`) so the verifier can check it against the same picture.

Every sentence here says exactly what its claim says, in words the verifier's text checks can
also account for (the cited resources' own words, dates and stage values).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Literal

from medboard.agents.ehr.wording import AGENT, cited, day, place
from medboard.models import EvidenceRef, Fact, FactKind, Finding, FindingCategory, SectionKind
from medboard.models.claims import DiagnosisClaim, MedicationClaim, StageClaim, VitalStatusClaim
from medboard.models.dates import FhirDate
from medboard.models.picture import Cancer, ClinicalPicture, Medication, Stage
from medboard.tools.fhir.record import PatientRecord

#: Every fact of the record by the resource it cites (a resource may yield several facts).
FactIndex = dict[str, list[Fact]]

#: A stop within this many days before the case date is stated ("Stopped medication: ..."): a drug
#: stopped in the past year (toxicity, intolerance, progression) bears on the board's next choice;
#: older stops are the treatment history, which the longitudinal comparer's timeline tells.
RECENT_STOP_DAYS = 365

_STAGE_WORDS = {
    "clinical": "clinical stage",
    "pathologic": "pathologic stage",
    "post_therapy": "post-therapy stage",
    "unspecified": "stage",
}


def index_facts(record: PatientRecord) -> FactIndex:
    facts: FactIndex = defaultdict(list)
    for fact in record.facts:
        facts[fact.reference].append(fact)
    return facts


def evidence_of(references: list[str], facts: FactIndex) -> list[EvidenceRef]:
    """The references' evidence as their facts cite it (path and quote), one entry per resource."""
    return cited((f for ref in references for f in facts.get(ref, [])[:1]), references)


def _finding(
    category: FindingCategory, text: str, references: list[str], facts: FactIndex, **fields: object
) -> Finding:
    return Finding.create(
        agent=AGENT, category=category, text=text, evidence=evidence_of(references, facts), **fields
    )


# --- vital status -------------------------------------------------------------------------------


def vital_status(picture: ClinicalPicture, facts: FactIndex) -> list[Finding]:
    """ "Deceased on <date>; cause of death: <cause>." — nothing for a patient with no death recorded."""
    patient = picture.patient
    sources = patient.sources or ([patient.reference] if patient.reference else [])
    if not patient.deceased or not sources:
        return []
    died = day(patient.deceased_date)
    text = "Deceased" + (f" on {died}" if died else "")
    text += f"; cause of death: {patient.cause_of_death}." if patient.cause_of_death else "."
    claim = VitalStatusClaim(deceased=True, date=died, cause=patient.cause_of_death, facts=sources)
    return [
        _finding(
            FindingCategory.demographics,
            text,
            sources,
            facts,
            date=patient.deceased_date,
            section=SectionKind.patient,
            claim=claim,
        )
    ]


def died_by(picture: ClinicalPicture) -> bool:
    """Whether the patient had died by the case date (a death with no date counts)."""
    patient = picture.patient
    if not patient.deceased:
        return False
    death, case = FhirDate.try_parse(patient.deceased_date), FhirDate.try_parse(picture.case_date)
    return death is None or case is None or not death.surely_after(case)


# --- cancers and stages -------------------------------------------------------------------------


def _kind_stated(cancer: Cancer) -> Literal["primary", "secondary", "unknown"]:
    """The picture's primary/secondary call, when the diagnosis' own name says it; else unknown.

    The sentence quotes the record's name; it asserts "primary" only when that name does.
    """
    name = cancer.name.lower()
    if cancer.kind == "primary" and "primary" in name:
        return "primary"
    if cancer.kind == "secondary" and ("secondary" in name or "metasta" in name):
        return "secondary"
    return "unknown"


def cancer_diagnoses(picture: ClinicalPicture, facts: FactIndex) -> list[Finding]:
    """One finding per cancer of the picture: a diagnosis restated under another name is one cancer."""
    findings = []
    for cancer in picture.cancers:
        where = place(cancer.body_site, cancer.laterality)
        text = f"Cancer diagnosis: {cancer.name}{f' of the {where}' if where else ''}"
        if cancer.laterality and cancer.laterality not in text.lower():
            text += f", {cancer.laterality}"
        text += f", onset {cancer.onset}" if cancer.onset else ""
        status = (cancer.clinical_status or "").lower() or None
        text += f" ({status})." if status else "."
        claim = DiagnosisClaim(
            condition=cancer.condition,
            name=cancer.name,
            kind=_kind_stated(cancer),
            laterality=cancer.laterality,
            clinical_status=status,
            facts=cancer.conditions or [cancer.condition],
        )
        findings.append(
            _finding(
                FindingCategory.diagnosis,
                text,
                claim.facts,
                facts,
                date=cancer.onset,
                laterality=cancer.laterality,
                section=SectionKind.oncologic_history,
                tags=["cancer", cancer.kind],
                claim=claim,
            )
        )
    return findings


def stage_text(cancer: Cancer, stage: Stage) -> str:
    when = f" on {stage.date}" if stage.date else ""
    return f"{cancer.name}: {_STAGE_WORDS[stage.type]} {stage.group}{when}."


def stages(picture: ClinicalPicture, facts: FactIndex) -> list[Finding]:
    """Every stage of every cancer, by type — a stage read from a diagnosis' name included.

    The cancer's condition is cited beside the stage's sources: the sentence names the cancer.
    """
    findings = []
    for cancer in picture.cancers:
        for stage in cancer.stages:
            if not stage.group or not stage.sources:
                continue
            claim = StageClaim(
                cancer=cancer.condition, type=stage.type, group=stage.group, facts=list(stage.sources)
            )
            references = [*stage.sources, cancer.condition]
            findings.append(
                _finding(
                    FindingCategory.staging,
                    stage_text(cancer, stage),
                    references,
                    facts,
                    date=stage.date,
                    section=SectionKind.oncologic_history,
                    tags=["cancer"],
                    claim=claim,
                )
            )
    return findings


def staged_references(picture: ClinicalPicture) -> set[str]:
    return {source for cancer in picture.cancers for stage in cancer.stages for source in stage.sources}


# --- medications --------------------------------------------------------------------------------


def _day_of(text: str | None, *, last: bool = False) -> date | None:
    parsed = FhirDate.try_parse(text) if text else None
    if parsed is None:
        return None
    return parsed.day or (parsed.last_day if last else parsed.first_day)


def _since(medication: Medication) -> str:
    return f" (last evidence {medication.last_evidence_date})" if medication.last_evidence_date else ""


def _medication_claim(medication: Medication) -> MedicationClaim:
    return MedicationClaim(
        ingredient=medication.ingredient,
        status=medication.status,
        last_evidence_date=medication.last_evidence_date,
        facts=medication.sources,
    )


def medications(picture: ClinicalPicture, facts: FactIndex) -> list[Finding]:
    """Current medications, recent stops, and the orders that only look current.

    Only what the picture calls current is "Current medication" (unless its latest source puts it
    on hold: `_held`); a stop in the past year is stated as a stop. Orders still marked active
    without recent evidence (or open at the patient's death) are listed as an open question: a
    board must not read them as current, and may want them reconciled.
    """
    findings: list[Finding] = []
    case_day = _day_of(picture.case_date, last=True)
    for medication in picture.medications:
        if not medication.sources:
            continue
        held = _held(medication, facts)
        if held is not None and medication.status in {"current", "unknown"}:
            findings.append(held)
            continue
        if medication.status == "current":
            heading = "Current medication"
        elif medication.status == "stopped" and _recent(medication, case_day):
            heading = "Stopped medication"
        else:
            continue
        findings.append(
            _finding(
                FindingCategory.medication,
                f"{heading}: {medication.ingredient}{_since(medication)}.",
                medication.sources,
                facts,
                date=medication.last_evidence_date,
                section=SectionKind.medications,
                tags=[medication.status],
                claim=_medication_claim(medication),
            )
        )
    stale = [m for m in picture.medications if m.status == "stale" and m.sources]
    if stale:
        listed = ", ".join(
            f"{m.ingredient} (last evidence {m.last_evidence_date or 'undated'})" for m in stale
        )
        if died_by(picture):
            died = day(picture.patient.deceased_date)
            death = f" on {died}" if died else ""
            lead = f"Not current: the patient died{death}; medication records with no stop"
        else:
            lead = "Orders still marked active without recent evidence"
            lead += f" (not current at {day(picture.case_date)})"
        findings.append(
            _finding(
                FindingCategory.medication,
                f"{lead}: {listed}.",
                [s for m in stale for s in m.sources],
                facts,
                section=SectionKind.discrepancies_and_open_questions,
                tags=["stale", "data_quality"],
            )
        )
    return findings


def _held(medication: Medication, facts: FactIndex) -> Finding | None:
    """ "Medication on hold" / "Intended medication" when the latest source says so.

    On the medication list but not being taken today: the picture counts an on-hold order as
    evidence (current) or cannot date it (unknown), and the claim vocabulary has no "on hold", so
    the finding says the source's own status and carries no claim.
    """
    own = [f for ref in medication.sources for f in facts.get(ref, []) if f.kind == FactKind.medication]
    latest = max(own, key=lambda f: f.date or "", default=None)
    status = (latest.status or "").lower() if latest is not None else ""
    heading = {"on-hold": "Medication on hold", "intended": "Intended medication"}.get(status)
    if latest is None or heading is None:
        return None
    text = f"{heading}: {medication.ingredient}{_since(medication)} (status {status})."
    return _finding(
        FindingCategory.medication,
        text,
        medication.sources,
        facts,
        date=medication.last_evidence_date,
        section=SectionKind.medications,
        tags=[status],
    )


def _recent(medication: Medication, case_day: date | None) -> bool:
    last = _day_of(medication.last_evidence_date)
    return (
        case_day is not None
        and last is not None
        and case_day - timedelta(days=RECENT_STOP_DAYS) <= last <= case_day
    )


# --- data quality -------------------------------------------------------------------------------


def data_quality(picture: ClinicalPicture, facts: FactIndex) -> list[Finding]:
    """Each data-quality item of the picture, cited by its sources, as an open question."""
    return [
        _finding(
            FindingCategory.other,
            f"Data quality ({item.kind.replace('_', ' ')}): {item.description}",
            item.sources,
            facts,
            section=SectionKind.discrepancies_and_open_questions,
            tags=["data_quality", item.kind],
        )
        for item in picture.data_quality
        if item.sources
    ]
