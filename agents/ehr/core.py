"""The EHR/lab parser's deterministic core: record facts → findings, no model involved.

What can be computed exactly is computed here (abnormal flags, latest values, current
medications); the model layer in `ehr.py` only reads what needs reading (free-text notes and
report conclusions). Every finding cites the fact's own evidence, so the verifier can re-check it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from medboard.models import EvidenceRef, Fact, FactKind, Finding, FindingCategory, SectionKind, iso_day
from medboard.models.fact_kinds import (
    ConditionDetails,
    GenomicDetails,
    PatientDetails,
    ProcedureDetails,
    ReportDetails,
)
from medboard.tools.fhir.medication_status import ON_THE_LIST
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.fhir.selection import latest_per_code

AGENT = "ehr"

ACTIVE_STATUSES = {"active", "recurrence", "relapse"}
CURRENT_MEDICATION_STATUSES = ON_THE_LIST
CRITICAL_FLAGS = {"HH", "LL", "AA", "HU", "LU"}
KEY_PROCEDURE = re.compile(
    r"biops|ectomy|resection|excision|chemotherap|radiation|radiotherap|transplant|lumpectomy|"
    r"mastectomy|colectomy|prostatectomy|lobectomy|dissection|bone marrow",
    re.IGNORECASE,
)
MAX_LAB_FINDINGS = 40
MAX_PROCEDURE_FINDINGS = 20


def display_number(value: float | int) -> str:
    """Round for display only (4 significant digits); the finding keeps the exact value."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    text = f"{value:.4g}"
    return f"{value:.1f}" if "e" in text else text


def format_value(fact: Fact) -> str:
    """Display a fact's value with its unit."""
    if fact.value is None:
        return ""
    value = fact.value
    shown = (
        display_number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    )
    text = f"{fact.comparator or ''}{shown}"
    return f"{text} {fact.unit}" if fact.unit else text


def site_text(fact: Fact) -> str:
    """`left breast` from laterality + body site, without repeating a side the site already names."""
    if not fact.body_site:
        return ""
    if fact.laterality and fact.laterality not in fact.body_site.lower():
        return f"{fact.laterality} {fact.body_site}"
    return fact.body_site


def _when(fact: Fact) -> str:
    return f" on {iso_day(fact.date)}" if fact.date else ""


def _finding(
    fact: Fact, category: FindingCategory, text: str, *, tags: Iterable[str] = (), **fields: object
) -> Finding:
    return Finding.create(
        agent=AGENT,
        category=category,
        text=text,
        evidence=[fact.evidence],
        date=fact.date,
        tags=list(tags),
        **fields,
    )


def demographics(record: PatientRecord) -> list[Finding]:
    findings = []
    for fact in record.facts_of(FactKind.patient):
        details = fact.details if isinstance(fact.details, PatientDetails) else PatientDetails()
        bits = [str(details.gender or "gender not recorded")]
        if details.birth_date:
            bits.append(f"born {details.birth_date}")
        if details.deceased:
            deceased = details.deceased
            bits.append("deceased" if deceased is True else f"deceased {iso_day(str(deceased))}")
        findings.append(
            _finding(fact, FindingCategory.demographics, f"Patient {fact.label}: {', '.join(bits)}.")
        )
    return findings


def conditions(record: PatientRecord) -> list[Finding]:
    findings = []
    for fact in record.facts_of(FactKind.condition):
        cancer = fact.details.cancer if isinstance(fact.details, ConditionDetails) else None
        status = (fact.status or "").lower()
        if not cancer and status and status not in ACTIVE_STATUSES:
            continue  # resolved non-cancer history is context, not case content
        site = f" of the {site_text(fact)}" if fact.body_site else ""
        onset = f", onset {iso_day(fact.date)}" if fact.date else ""
        status_text = f" ({status})" if status else ""
        if cancer:
            # The primary/secondary call is the loader's (profile or code); the sentence keeps to the
            # source's own wording so the verifier can check every word against it.
            text = f"Cancer diagnosis: {fact.label}{site}{onset}{status_text}."
            tags = ["cancer", cancer]
            section = SectionKind.oncologic_history
            category = FindingCategory.diagnosis
        else:
            text = f"Active problem: {fact.label}{site}{onset}."
            tags = ["current"]
            section = SectionKind.current_status
            category = FindingCategory.diagnosis
        findings.append(
            _finding(fact, category, text, tags=tags, section=section, laterality=fact.laterality)
        )
    return findings


def staging(record: PatientRecord) -> list[Finding]:
    findings = []
    for fact in record.facts_of(FactKind.staging):
        text = f"{fact.label}: {format_value(fact)}{_when(fact)}."
        findings.append(_finding(fact, FindingCategory.staging, text, value=_scalar(fact), tags=["cancer"]))
    return findings


def biomarkers(record: PatientRecord) -> list[Finding]:
    findings = []
    for fact in latest_per_code(record.facts_of(FactKind.tumor_marker)):
        flag = _flag_text(fact)
        text = f"{fact.label}: {format_value(fact)}{flag}{_when(fact)}."
        findings.append(
            _finding(
                fact, FindingCategory.biomarker, text, value=_scalar(fact), unit=fact.unit, tags=["cancer"]
            )
        )
    for fact in record.facts_of(FactKind.genomic):
        variant = fact.details if isinstance(fact.details, GenomicDetails) else GenomicDetails()
        detail = ", ".join(
            str(v) for v in (variant.gene, variant.hgvs_c, variant.hgvs_p, variant.interpretation) if v
        )
        value = format_value(fact)
        text = f"{fact.label}: {value}{' (' + detail + ')' if detail else ''}{_when(fact)}."
        findings.append(_finding(fact, FindingCategory.genomics, text, tags=["cancer"]))
    return findings


def performance_status(record: PatientRecord) -> list[Finding]:
    latest = latest_per_code(record.facts_of(FactKind.performance_status))
    return [
        _finding(
            f,
            FindingCategory.performance_status,
            f"{f.label}: {format_value(f)}{_when(f)}.",
            value=_scalar(f),
        )
        for f in latest
    ]


def labs(record: PatientRecord) -> list[Finding]:
    """Latest value per analyte, abnormal ones first; critical flags tagged."""
    latest = latest_per_code(record.facts_of(FactKind.lab))
    latest.sort(key=lambda f: (not f.abnormal, f.label))
    findings = []
    for fact in latest[:MAX_LAB_FINDINGS]:
        flag = _flag_text(fact)
        tags = ["critical"] if (fact.interpretation or "").upper() in CRITICAL_FLAGS else []
        if fact.abnormal:
            tags.append("abnormal")
        text = f"{fact.label}: {format_value(fact)}{flag}{_when(fact)}."
        findings.append(
            _finding(fact, FindingCategory.lab, text, value=_scalar(fact), unit=fact.unit, tags=tags)
        )
    return findings


def vitals(record: PatientRecord) -> list[Finding]:
    return [
        _finding(
            f,
            FindingCategory.vital,
            f"{f.label}: {format_value(f)}{_when(f)}.",
            value=_scalar(f),
            unit=f.unit,
        )
        for f in latest_per_code(record.facts_of(FactKind.vital))
        if f.value is not None
    ]


def medications(record: PatientRecord) -> list[Finding]:
    """Current medications only; the treatment history is the longitudinal comparer's timeline."""
    findings = []
    for fact in record.facts_of(FactKind.medication):
        status = (fact.status or "").lower()
        if status not in CURRENT_MEDICATION_STATUSES or fact.end_date:
            continue
        since = f" since {iso_day(fact.date)}" if fact.date else ""
        # On hold or only intended is on the medication list, but not being taken: say so.
        heading = {"on-hold": "Medication on hold", "intended": "Intended medication"}.get(
            status, "Current medication"
        )
        text = f"{heading}: {fact.label.strip()}{since} (status {status})."
        section = SectionKind.medications
        findings.append(_finding(fact, FindingCategory.medication, text, tags=["current"], section=section))
    return findings


def procedures(record: PatientRecord) -> list[Finding]:
    key = [
        f
        for f in record.facts_of(FactKind.procedure)
        if (isinstance(f.details, ProcedureDetails) and (f.details.surgery or f.details.radiotherapy))
        or KEY_PROCEDURE.search(f.label)
    ]
    key.sort(key=lambda f: f.date or "", reverse=True)
    findings = []
    for fact in key[:MAX_PROCEDURE_FINDINGS]:
        site = f" ({site_text(fact)})" if fact.body_site else ""
        text = f"Procedure: {fact.label}{site}{_when(fact)}."
        findings.append(
            _finding(fact, FindingCategory.procedure, text, tags=["cancer"], laterality=fact.laterality)
        )
    return findings


def reports(record: PatientRecord) -> list[Finding]:
    """Report conclusions, quoted verbatim (the conclusion is the evidence's own text)."""
    findings = []
    for fact in record.facts_of(FactKind.report):
        conclusion = fact.details.conclusion if isinstance(fact.details, ReportDetails) else None
        if not conclusion:
            continue
        evidence = EvidenceRef(reference=fact.evidence.reference, path="conclusion", quote=conclusion)
        text = f"{fact.label}{_when(fact)} concluded: {conclusion.strip()}"
        findings.append(
            Finding.create(
                agent=AGENT, category=FindingCategory.report, text=text, evidence=[evidence], date=fact.date
            )
        )
    return findings


def ehr_findings(record: PatientRecord) -> list[Finding]:
    """All deterministic findings of the EHR/lab parser, in a stable order."""
    out: list[Finding] = []
    for extractor in (
        demographics,
        conditions,
        staging,
        biomarkers,
        performance_status,
        labs,
        vitals,
        medications,
        procedures,
        reports,
    ):
        out.extend(extractor(record))
    return _dedupe(out)


def _scalar(fact: Fact) -> float | int | str | None:
    return (
        fact.value if isinstance(fact.value, (int, float, str)) and not isinstance(fact.value, bool) else None
    )


def _flag_text(fact: Fact) -> str:
    if fact.abnormal and fact.interpretation:
        return f" [{fact.interpretation}]"
    if fact.abnormal:
        return " [abnormal]"
    return ""


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[str] = set()
    unique = []
    for finding in findings:
        if finding.id not in seen:
            seen.add(finding.id)
            unique.append(finding)
    return unique
