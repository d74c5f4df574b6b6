"""What a board would ask for that the record does not give, and which facts bear on a question.

Shared by the board blocks (open questions, the no-model answer) and the model's answer.
"""

from __future__ import annotations

import re

from medboard.models import Finding, FindingCategory
from medboard.models.picture import ClinicalPicture

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
