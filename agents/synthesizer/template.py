"""The synthesizer's deterministic drafting: findings → sections, one cited statement each.

Used on its own when no model is configured (the product works on a machine with no model at
all), and under the model's answer section otherwise. It only restates findings, never adds facts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from medboard.models import (
    BUILTIN_SECTIONS,
    Finding,
    FindingCategory,
    Section,
    SectionKind,
    SectionSpec,
    Statement,
    default_section,
)
from medboard.models.picture import ClinicalPicture
from medboard.models.sections import BUILTIN_BY_KIND

#: Titles of the built-in sections (a specialist's own sections carry their title in their spec).
SECTION_TITLES: dict[str, str] = {spec.kind: spec.title for spec in BUILTIN_SECTIONS}

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


def route(finding: Finding) -> str:
    """Which section a finding belongs in: the one its specialist named, else its category's."""
    return finding.section or default_section(finding.category)


def statement_id(section: str, text: str, finding_ids: Iterable[str]) -> str:
    digest = hashlib.sha256("\x1f".join([str(section), text, *sorted(finding_ids)]).encode()).hexdigest()
    return f"st-{digest[:10]}"


def statement_for(section: str, findings: list[Finding], text: str | None = None) -> Statement:
    """A statement restating (or, with `text`, summarising) the given findings, with their evidence.

    A statement that restates one finding word for word asserts what that finding asserts, so it
    carries the finding's structured claim (the verifier checks it against the clinical picture).
    A statement over several findings, or in other words (a model's), carries none: its claims
    are read from its text.
    """
    restated = findings[0].text if len(findings) == 1 else None
    text = text if text is not None else findings[0].text
    claim = findings[0].claim if restated is not None and text == restated else None
    ids = [f.id for f in findings]
    evidence = []
    seen = set()
    for finding in findings:
        for ref in finding.evidence:
            key = (ref.reference, ref.path)
            if key not in seen:
                seen.add(key)
                evidence.append(ref)
    return Statement(
        id=statement_id(section, text, ids), text=text, finding_ids=ids, evidence=evidence, claim=claim
    )


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


def missing_information(findings: list[Finding], picture: ClinicalPicture | None = None) -> list[str]:
    """What a board would ask for that the record does not give.

    Staging and biomarkers are asked of the clinical picture when there is one: a stage in any
    form counts (a stage observation, the condition's stage, a stage in the diagnosis' own name,
    "..., TNM stage 1"), and so does any biomarker or tumour marker a cancer owns. Each gap names
    the cancers it is about.
    """
    categories = {f.category for f in findings}
    gaps = []
    if picture is not None:
        gaps += _picture_gaps(picture, findings)
    else:
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


_CANCER_RESULTS = {FindingCategory.biomarker, FindingCategory.genomics, FindingCategory.staging}


def _picture_gaps(picture: ClinicalPicture, findings: list[Finding]) -> list[str]:
    if not picture.cancers:
        # results that only a cancer explains (a genomic panel, a stage) with no cancer to own them
        if any(f.category in _CANCER_RESULTS for f in findings):
            return ["No cancer diagnosis is recorded beside its biomarker, genomic or staging results."]
        return []
    # A secondary is asked about only when the record has no primary: a metastasis is staged and
    # typed through its primary.
    asked = [c for c in picture.cancers if c.kind != "secondary"] or picture.cancers
    unstaged = [c.name for c in asked if not c.stages]
    # A staging fact the picture could not give to one cancer (two cancers, no link) is stated
    # without a claim; it is still a stage of the record, so a gap would be false.
    unowned_stage = any(f.category == FindingCategory.staging and f.claim is None for f in findings)
    gaps = []
    if unstaged and not unowned_stage:
        gaps.append(f"No staging (TNM or stage group) is recorded for {_names(unstaged)}.")
    untyped = [c.name for c in asked if not c.biomarkers and not c.markers]
    if untyped:
        gaps.append(f"No tumour biomarkers are recorded for {_names(untyped)}.")
    return gaps


def _names(names: list[str]) -> str:
    return "; ".join(dict.fromkeys(names))


def section_layout(extra: Iterable[SectionSpec] = ()) -> list[SectionSpec]:
    """Every built-in section plus the specialists' own, by `order` (built-ins first on a tie)."""
    specs = {spec.kind: spec for spec in BUILTIN_SECTIONS}
    for spec in extra:
        specs.setdefault(spec.kind, spec)
    return sorted(specs.values(), key=lambda spec: (spec.order, spec.kind not in BUILTIN_BY_KIND))


def draft_sections(
    findings: list[Finding],
    *,
    question: str | None = None,
    answered_by_model: bool = False,
    declared: Iterable[SectionSpec] = (),
    picture: ClinicalPicture | None = None,
) -> list[Section]:
    """All sections from findings alone, in layout order (built-ins and `declared` ones).

    Findings placed in the discrepancies section are about the record's quality, not the patient:
    they are listed as open questions, not stated. `picture` (the case's clinical picture) decides
    which staging and biomarker gaps are real (`missing_information`).
    """
    layout = section_layout(declared)
    known = {spec.kind for spec in layout}
    by_section: dict[str, list[Statement]] = {spec.kind: [] for spec in layout}
    data_quality: list[str] = []
    for finding in findings:
        kind = route(finding)
        if kind == SectionKind.discrepancies_and_open_questions:
            data_quality.append(finding.text)
            continue
        if kind not in known:  # a section nobody declared: the finding still shows, under its default
            kind = default_section(finding.category)
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
                open_questions=missing_information(findings, picture),
            )
        )
    for spec in layout:
        if spec.kind == SectionKind.answer:
            continue
        statements = by_section[spec.kind]
        section = Section(
            kind=spec.kind,
            title=spec.title,
            statements=statements,
            status="ok" if statements else "empty",
        )
        if spec.kind == SectionKind.discrepancies_and_open_questions:
            section.open_questions = missing_information(findings, picture) + data_quality
            section.status = "ok" if section.open_questions else "empty"
        sections.append(section)
    return sections
