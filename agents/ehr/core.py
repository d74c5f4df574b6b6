"""The EHR/lab parser's deterministic core: the record and its clinical picture → findings, no model.

What can be computed exactly is computed here (abnormal flags, latest values, current
medications); the model layer (`reader.py`) only reads what needs reading (free-text notes and
report conclusions). Every finding cites its evidence, so the verifier can re-check it.

What is true of the *patient* comes from the clinical picture (`medboard.tools.reconcile`), not
from one resource at a time: vital status, cancers and their stages, biomarkers with every
result, medications with their status at the case date, and data quality (`picture.py`,
`biomarkers.py`). What the picture keeps out — implausible values, facts dated after the death or
the case date — is never stated as a fact (`screen.py`); it is listed as an open question. The
rest (labs, vitals, performance status, problems, procedures, reports) is worded from the
record's facts, screened the same way. Findings about one concept carry its structured claim.
"""

from __future__ import annotations

import re
from typing import Literal

from medboard.agents.ehr.biomarkers import cancer_results, loinc, unowned_results
from medboard.agents.ehr.history import history_findings
from medboard.agents.ehr.picture import (
    cancer_diagnoses,
    data_quality,
    index_facts,
    medications,
    staged_references,
    stages,
    vital_status,
)
from medboard.agents.ehr.screen import Screen
from medboard.agents.ehr.wording import (
    AGENT,
    claimed_result,
    display_number,
    finding,
    flag_text,
    format_value,
    scalar,
    site_text,
    when,
)
from medboard.models import EvidenceRef, Fact, FactKind, Finding, FindingCategory, SectionKind, iso_day
from medboard.models.claims import ResultClaim
from medboard.models.fact_kinds import PatientDetails, ProcedureDetails, ReportDetails
from medboard.models.picture import ClinicalPicture
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.fhir.selection import latest_per_code
from medboard.tools.reconcile import picture_of

__all__ = ["AGENT", "display_number", "ehr_findings", "format_value"]

ACTIVE_STATUSES = {"active", "recurrence", "relapse"}
#: A condition the record itself voids is nobody's problem list.
VOID_VERIFICATION = {"refuted", "entered-in-error"}
#: A condition not yet confirmed is listed with its verification status, so that a suspected
#: cancer the picture does not count as one never reads as a diagnosis.
UNCONFIRMED = {"unconfirmed", "provisional", "differential"}
CRITICAL_FLAGS = {"HH", "LL", "AA", "HU", "LU"}
KEY_PROCEDURE = re.compile(
    r"biops|ectomy|resection|excision|chemotherap|radiation|radiotherap|transplant|lumpectomy|"
    r"mastectomy|colectomy|prostatectomy|lobectomy|dissection|bone marrow",
    re.IGNORECASE,
)
MAX_LAB_FINDINGS = 40
MAX_PROCEDURE_FINDINGS = 20


def _result_claim(fact: Fact, kind: Literal["lab", "vital", "performance_status"]) -> ResultClaim:
    code = loinc(fact) or next((c.code for c in fact.codes if c.code), None)
    return ResultClaim(
        kind=kind,
        name=fact.label,
        code=code,
        results=[claimed_result(fact)],
        facts=[fact.reference],
    )


def demographics(record: PatientRecord) -> list[Finding]:
    """Name, gender, birth date. Vital status is the picture's (`picture.vital_status`)."""
    findings = []
    for fact in record.facts_of(FactKind.patient):
        details = fact.details if isinstance(fact.details, PatientDetails) else PatientDetails()
        bits = [str(details.gender or "gender not recorded")]
        if details.birth_date:
            bits.append(f"born {details.birth_date}")
        findings.append(
            finding(fact, FindingCategory.demographics, f"Patient {fact.label}: {', '.join(bits)}.")
        )
    return findings


def problems(record: PatientRecord, picture: ClinicalPicture, screen: Screen) -> list[Finding]:
    """Active conditions that are not one of the picture's cancers (those are `cancer_diagnoses`).

    A cancer-coded condition the picture does not read as a cancer (suspected, history of) is
    stated by its own name as a problem, never as a cancer diagnosis; a refuted one not at all.
    """
    cancers = {ref for cancer in picture.cancers for ref in (cancer.condition, *cancer.conditions)}
    findings = []
    for fact in screen.keep(record.facts_of(FactKind.condition)):
        verification = (fact.verification_status or "").lower()
        if fact.reference in cancers or verification in VOID_VERIFICATION:
            continue
        status = (fact.status or "").lower()
        if status and status not in ACTIVE_STATUSES:
            continue  # resolved history is context, not case content
        site = f" of the {site_text(fact)}" if fact.body_site else ""
        onset = f", onset {iso_day(fact.date)}" if fact.date else ""
        unsure = f" ({verification})" if verification in UNCONFIRMED else ""
        findings.append(
            finding(
                fact,
                FindingCategory.diagnosis,
                f"Active problem: {fact.label}{site}{onset}{unsure}.",
                tags=["current"],
                section=SectionKind.current_status,
                laterality=fact.laterality,
            )
        )
    return findings


def unowned_staging(record: PatientRecord, picture: ClinicalPicture, screen: Screen) -> list[Finding]:
    """Staging facts no cancer of the picture took (e.g. two cancers, no link): stated as recorded."""
    taken = staged_references(picture)
    return [
        finding(
            fact,
            FindingCategory.staging,
            f"{fact.label}: {format_value(fact)}{when(fact)}.",
            value=scalar(fact),
            tags=["cancer"],
        )
        for fact in screen.keep(record.facts_of(FactKind.staging))
        if fact.reference not in taken
    ]


def performance_status(record: PatientRecord, screen: Screen) -> list[Finding]:
    return [
        finding(
            f,
            FindingCategory.performance_status,
            f"{f.label}: {format_value(f)}{when(f)}.",
            value=scalar(f),
            claim=_result_claim(f, "performance_status"),
        )
        for f in latest_per_code(screen.keep(record.facts_of(FactKind.performance_status)))
    ]


def labs(record: PatientRecord, screen: Screen) -> list[Finding]:
    """Latest admissible value per analyte, abnormal ones first; critical flags tagged."""
    latest = latest_per_code(screen.keep(record.facts_of(FactKind.lab)))
    latest.sort(key=lambda f: (not f.abnormal, f.label))
    findings = []
    for fact in latest[:MAX_LAB_FINDINGS]:
        tags = ["critical"] if (fact.interpretation or "").upper() in CRITICAL_FLAGS else []
        if fact.abnormal:
            tags.append("abnormal")
        findings.append(
            finding(
                fact,
                FindingCategory.lab,
                f"{fact.label}: {format_value(fact)}{flag_text(fact)}{when(fact)}.",
                value=scalar(fact),
                unit=fact.unit,
                tags=tags,
                claim=_result_claim(fact, "lab"),
            )
        )
    return findings


def vitals(record: PatientRecord, screen: Screen) -> list[Finding]:
    return [
        finding(
            f,
            FindingCategory.vital,
            f"{f.label}: {format_value(f)}{when(f)}.",
            value=scalar(f),
            unit=f.unit,
            claim=_result_claim(f, "vital"),
        )
        for f in latest_per_code(screen.keep(record.facts_of(FactKind.vital)))
        if f.value is not None
    ]


def procedures(record: PatientRecord, screen: Screen) -> list[Finding]:
    key = [
        f
        for f in screen.keep(record.facts_of(FactKind.procedure))
        if (isinstance(f.details, ProcedureDetails) and (f.details.surgery or f.details.radiotherapy))
        or KEY_PROCEDURE.search(f.label)
    ]
    key.sort(key=lambda f: f.date or "", reverse=True)
    findings = []
    for fact in key[:MAX_PROCEDURE_FINDINGS]:
        site = f" ({site_text(fact)})" if fact.body_site else ""
        findings.append(
            finding(
                fact,
                FindingCategory.procedure,
                f"Procedure: {fact.label}{site}{when(fact)}.",
                tags=["cancer"],
                laterality=fact.laterality,
            )
        )
    return findings


def reports(record: PatientRecord, screen: Screen) -> list[Finding]:
    """Report conclusions, quoted verbatim (the conclusion is the evidence's own text)."""
    findings = []
    for fact in screen.keep(record.facts_of(FactKind.report)):
        conclusion = fact.details.conclusion if isinstance(fact.details, ReportDetails) else None
        if not conclusion:
            continue
        evidence = EvidenceRef(reference=fact.evidence.reference, path="conclusion", quote=conclusion)
        text = f"{fact.label}{when(fact)} concluded: {conclusion.strip()}"
        findings.append(
            Finding.create(
                agent=AGENT, category=FindingCategory.report, text=text, evidence=[evidence], date=fact.date
            )
        )
    return findings


def ehr_findings(record: PatientRecord, picture: ClinicalPicture | None = None) -> list[Finding]:
    """All deterministic findings of the EHR/lab parser, in a stable order.

    `picture` is the case's clinical picture (the specialist passes `CaseContext.picture`, built at
    the case date); without one, the picture at the record's latest date (`picture_of`).
    """
    picture = picture if picture is not None else picture_of(record)
    facts = index_facts(record)
    screen = Screen.of(picture)
    results, owned = cancer_results(picture, facts, screen)
    out = [
        *demographics(record),
        *vital_status(picture, facts),
        *cancer_diagnoses(picture, facts),
        *problems(record, picture, screen),
        *stages(picture, facts),
        *unowned_staging(record, picture, screen),
        *results,
        *unowned_results(record, owned, screen),
        *performance_status(record, screen),
        *labs(record, screen),
        *vitals(record, screen),
        *history_findings(record, screen),
        *medications(picture, facts),
        *procedures(record, screen),
        *reports(record, screen),
        *data_quality(picture, facts),
    ]
    return _dedupe(out)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[str] = set()
    unique = []
    for item in findings:
        if item.id not in seen:
            seen.add(item.id)
            unique.append(item)
    return unique
