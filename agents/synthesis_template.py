"""The synthesizer's deterministic drafting: findings → sections, one cited statement each.

Used on its own when no model is configured (the product works on a machine with no model at
all), and under the model's answer section otherwise. It only restates findings, never adds facts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from medboard.models import Finding, FindingCategory, Section, SectionKind, Statement

SECTION_TITLES: dict[SectionKind, str] = {
    SectionKind.answer: "Answer to the board question",
    SectionKind.patient: "Patient",
    SectionKind.oncologic_history: "Oncologic history",
    SectionKind.current_status: "Current status",
    SectionKind.imaging: "Imaging",
    SectionKind.labs_and_trends: "Labs and trends",
    SectionKind.medications: "Medications",
    SectionKind.discrepancies_and_open_questions: "Discrepancies and open questions",
}

SECTION_ORDER: tuple[SectionKind, ...] = tuple(SECTION_TITLES)

_CANCER_CATEGORIES = {
    FindingCategory.staging,
    FindingCategory.biomarker,
    FindingCategory.genomics,
    FindingCategory.procedure,
}
_STOPWORDS = {
    "the",
    "a",
    "an",
    "is",
    "are",
    "for",
    "of",
    "to",
    "in",
    "on",
    "and",
    "or",
    "she",
    "he",
    "her",
    "his",
    "they",
    "their",
    "be",
    "candidate",
    "patient",
    "this",
    "that",
    "with",
    "what",
    "does",
    "do",
    "should",
    "would",
    "could",
    "can",
    "we",
    "it",
    "as",
    "at",
    "by",
    "from",
    "has",
    "have",
    "was",
    "were",
}


def route(finding: Finding) -> SectionKind:
    """Which section a finding belongs in."""
    category = finding.category
    if category in (FindingCategory.demographics, FindingCategory.performance_status):
        return SectionKind.patient
    if category in (FindingCategory.imaging,) or "imaging" in finding.tags:
        return SectionKind.imaging
    if category in (FindingCategory.lab, FindingCategory.vital, FindingCategory.trend):
        return SectionKind.labs_and_trends
    if category == FindingCategory.medication:
        return SectionKind.medications if "current" in finding.tags else SectionKind.oncologic_history
    if category == FindingCategory.response:
        return SectionKind.current_status
    if category in _CANCER_CATEGORIES or (category == FindingCategory.diagnosis and "cancer" in finding.tags):
        return SectionKind.oncologic_history
    return SectionKind.current_status


def statement_id(section: SectionKind, text: str, finding_ids: Iterable[str]) -> str:
    digest = hashlib.sha256("\x1f".join([section.value, text, *sorted(finding_ids)]).encode()).hexdigest()
    return f"st-{digest[:10]}"


def statement_for(section: SectionKind, findings: list[Finding], text: str | None = None) -> Statement:
    """A statement restating (or, with `text`, summarising) the given findings, with their evidence."""
    text = text if text is not None else findings[0].text
    ids = [f.id for f in findings]
    evidence = []
    seen = set()
    for finding in findings:
        for ref in finding.evidence:
            key = (ref.reference, ref.path)
            if key not in seen:
                seen.add(key)
                evidence.append(ref)
    return Statement(id=statement_id(section, text, ids), text=text, finding_ids=ids, evidence=evidence)


def relevant_to_question(question: str, findings: list[Finding], limit: int = 12) -> list[Finding]:
    """Findings that bear on a board question: the cancer core plus anything sharing its terms."""
    terms = {w for w in re.findall(r"[a-z0-9\-]{3,}", question.lower()) if w not in _STOPWORDS}

    def score(finding: Finding) -> int:
        text = finding.text.lower()
        overlap = sum(1 for t in terms if t in text)
        core = 2 if ("cancer" in finding.tags or finding.category in _CANCER_CATEGORIES) else 0
        core += 1 if finding.category == FindingCategory.performance_status else 0
        return overlap * 3 + core

    ranked = sorted(((score(f), i, f) for i, f in enumerate(findings)), key=lambda t: (-t[0], t[1]))
    return [f for s, _, f in ranked if s > 0][:limit]


def missing_information(findings: list[Finding]) -> list[str]:
    """What a board would ask for that the record does not give."""
    categories = {f.category for f in findings}
    gaps = []
    has_cancer = any("cancer" in f.tags for f in findings)
    if has_cancer and FindingCategory.staging not in categories:
        gaps.append("No staging (TNM or stage group) is recorded.")
    if has_cancer and FindingCategory.biomarker not in categories:
        gaps.append("No tumour biomarkers are recorded.")
    if FindingCategory.performance_status not in categories:
        gaps.append("No performance status (ECOG/Karnofsky) is recorded.")
    if FindingCategory.imaging not in categories:
        gaps.append("No imaging findings are available to this summary.")
    return gaps


def draft_sections(
    findings: list[Finding], *, question: str | None = None, answered_by_model: bool = False
) -> list[Section]:
    """All sections from findings alone, in the canonical order."""
    by_section: dict[SectionKind, list[Statement]] = {kind: [] for kind in SECTION_ORDER}
    data_quality: list[str] = []
    for finding in findings:
        if "data-quality" in finding.tags:
            # About the record's quality, not the patient: listed as an open question, not stated.
            data_quality.append(finding.text)
            continue
        kind = route(finding)
        by_section[kind].append(statement_for(kind, [finding]))

    sections: list[Section] = []
    if question and not answered_by_model:
        relevant = relevant_to_question(question, findings)
        sections.append(
            Section(
                kind=SectionKind.answer,
                title=SECTION_TITLES[SectionKind.answer],
                statements=[statement_for(SectionKind.answer, [f]) for f in relevant],
                status="degraded",
                error="No model answered the question; these are the record's facts that bear on it.",
                open_questions=missing_information(findings),
            )
        )
    for kind in SECTION_ORDER:
        if kind == SectionKind.answer:
            continue
        statements = by_section[kind]
        section = Section(
            kind=kind,
            title=SECTION_TITLES[kind],
            statements=statements,
            status="ok" if statements else "empty",
        )
        if kind == SectionKind.discrepancies_and_open_questions:
            section.open_questions = missing_information(findings) + data_quality
            section.status = "ok" if section.open_questions else "empty"
        sections.append(section)
    return sections
