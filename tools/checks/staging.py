"""Staging and biomarkers: T/N/M categories, stage groups, ER/PR/HER2 status, genomic variants.

The record side is read from the cited staging and marker facts and from the facts one hop away
(the staging observations of a cited Condition, its `stage.summary`). Stage values are compared
structurally: the base (T2, N1, IIB's "II") must be equal; a sub-letter only counts when both sides
give one (a statement's "T2" does not contradict the record's "T2a"). A statement's c/p prefix
selects clinical or pathologic record values when both exist.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from medboard.models import CheckResult, EvidenceRef, Fact, FactKind
from medboard.models.fact_kinds import GenomicDetails, StagingDetails, TumorMarkerDetails
from medboard.tools.checks.base import Part
from medboard.tools.checks.confusables import skeleton
from medboard.tools.checks.evidence import CitedEvidence, Scope
from medboard.tools.checks.extract import Claims, StageMention, extract_claims, parse_stages
from medboard.tools.checks.text import fold, negated_spans
from medboard.tools.fhir.record import PatientRecord

STAGING_AGREES = "staging_agrees"

_GROUP_RE = re.compile(r"^(0|IV|I{1,3})([A-C]\d?)?$|^(IS)$")
_TNM_CORE_RE = re.compile(r"^([TNM])(is|\d|X)(mi|[a-d]\d?)?$", re.I)


@dataclass(frozen=True)
class RecordStage:
    category: str
    core: str
    stage_type: str  # clinical | pathologic | ""
    evidence: EvidenceRef
    source: str  # text it was read from


def _split(category: str, core: str) -> tuple[str, str]:
    if category == "stage_group":
        m = _GROUP_RE.match(core.upper())
        if m:
            return (m[1] or m[3] or core.upper()), (m[2] or "")
        return core.upper(), ""
    m = _TNM_CORE_RE.match(core)
    if m:
        return f"{m[1].upper()}{m[2].lower() if m[2].lower() == 'is' else m[2].upper()}", (m[3] or "").lower()
    return core, ""


def compatible(category: str, stated: str, recorded: str) -> bool:
    """Same base; sub-letters agree when both sides give one."""
    s_base, s_sub = _split(category, stated)
    r_base, r_sub = _split(category, recorded)
    return s_base == r_base and (not s_sub or not r_sub or s_sub == r_sub)


def _stage_type(prefix: str) -> str:
    prefix = prefix.lower()
    if prefix.endswith("p"):
        return "pathologic"
    if prefix.endswith("c"):
        return "clinical"
    return ""


def _type_from_text(text: str) -> str:
    low = text.lower()
    if "patholog" in low:
        return "pathologic"
    if "clinical" in low:
        return "clinical"
    return ""


def record_stages(scope: Scope) -> list[RecordStage]:
    """Stage values the cited evidence (and its staging) records."""
    out: list[RecordStage] = []
    for fact in scope.facts:
        if fact.kind != FactKind.staging:
            continue
        texts = [skeleton(str(fact.value))] if isinstance(fact.value, str) else []
        texts += [skeleton(c.display or c.code or "") for c in fact.value_codes]
        details = fact.details if isinstance(fact.details, StagingDetails) else StagingDetails()
        declared_type = str(details.stage_type or "") or _type_from_text(fact.label)
        category = details.category
        for text in texts:
            for mention in parse_stages(_as_stage_text(text, category)):
                if category in {"T", "N", "M", "stage_group"} and mention.category != category:
                    continue
                stage_type = _stage_type(mention.prefix) or declared_type
                out.append(RecordStage(mention.category, mention.core, stage_type, fact.evidence, text))
    for item in scope.cited:
        resource = item.resource or {}
        for stage in resource.get("stage", []) or []:
            summary = stage.get("summary") or {}
            texts = [c.get("display") or "" for c in summary.get("coding", [])] + [summary.get("text") or ""]
            stage_type = _type_from_text(str(stage.get("type") or ""))
            for text in texts:
                for mention in parse_stages(_as_stage_text(text, None)):
                    out.append(
                        RecordStage(
                            mention.category,
                            mention.core,
                            _stage_type(mention.prefix) or stage_type,
                            EvidenceRef(reference=item.reference or item.ref.reference, path="stage.summary"),
                            text,
                        )
                    )
    return out


def _as_stage_text(text: str, category: Any) -> str:
    """Bare record values ("IIB", "2A", "T3") as parseable stage text."""
    value = text.strip()
    if category == "stage_group" and re.fullmatch(r"[cpy]{0,2}(?:0|IV|I{1,3}|[0-4])[A-Ca-c]?\d?", value):
        return f"Stage {value}"
    return value


def _check_stage(mention: StageMention, recorded: list[RecordStage]) -> tuple[str, str, list[EvidenceRef]]:
    same = [r for r in recorded if r.category == mention.category]
    if not same:
        return "skip", "", []
    wanted = _stage_type(mention.prefix)
    if wanted:
        typed = [r for r in same if r.stage_type == wanted]
        untyped = [r for r in same if not r.stage_type]
        same = typed or untyped
        if not same:
            return "skip", f"{mention.text!r}: the cited evidence has no {wanted} staging", []
    evidence = list({r.evidence.reference: r.evidence for r in same}.values())
    if any(compatible(mention.category, mention.core, r.core) for r in same):
        return "pass", f"{mention.text.strip()!r} agrees", evidence
    shown = ", ".join(sorted({f"{r.core} ({r.stage_type or 'untyped'})" for r in same}))
    return "fail", f"statement says {mention.text.strip()!r}; record has {shown}", evidence


_MARKER_FACT = {
    "ER": re.compile(r"(?i:estrogen|oestrogen)|\bER\b"),
    "PR": re.compile(r"(?i:progesterone)|\bPR\b|\bPgR\b"),
    "HER2": re.compile(r"HER-?2|ERBB2", re.I),
}


def marker_of_fact(fact: Fact) -> str | None:
    """ER, PR or HER2 when the fact is that receptor's status (the loader's `marker`, else its name)."""
    declared = str(
        (fact.details.marker if isinstance(fact.details, TumorMarkerDetails) else None) or ""
    ).upper()
    if declared in _MARKER_FACT:
        return declared
    if fact.kind not in {FactKind.tumor_marker, FactKind.lab, FactKind.observation}:
        return None
    text = " ".join([fact.label, *(c.display or "" for c in fact.codes)])
    hits = [name for name, pattern in _MARKER_FACT.items() if pattern.search(text)]
    return hits[0] if len(hits) == 1 else None


def marker_polarity(fact: Fact) -> str | None:
    texts = [str(fact.value)] if fact.value is not None else []
    texts += [c.display or "" for c in fact.value_codes]
    for text in texts:
        low = skeleton(text).lower().strip()
        if re.search(r"\b(?:non-?amplified|not amplified|unamplified|not overexpressed)\b", low):
            return "negative"
        if re.search(r"\bpositive\b|^3\+$|\bamplified\b|\boverexpress", low):
            return "positive"
        if re.search(r"\bnegative\b|^[01]\+?$", low):
            return "negative"
        if re.search(r"equivocal|indeterminate|^2\+$", low):
            return "equivocal"
    return None


_HGVS_RE = re.compile(r"(?<![A-Za-z0-9_])(?:[cgp]\.\(?[A-Za-z0-9_+\-*>]+\)?)")


def _norm_hgvs(value: str) -> str:
    return value.lower().replace("(", "").replace(")", "").strip(".,;")


def _check_variants(
    text: str, facts: list[Fact], record: PatientRecord
) -> list[tuple[str, str, list[EvidenceRef]]]:
    genomic = [f for f in facts if f.kind == FactKind.genomic]
    variants = [f.details for f in genomic if isinstance(f.details, GenomicDetails)]
    if not genomic:
        return []
    out: list[tuple[str, str, list[EvidenceRef]]] = []
    evidence = [f.evidence for f in genomic]
    stated = {_norm_hgvs(m[0]) for m in _HGVS_RE.finditer(text)}
    recorded = {
        _norm_hgvs(m[0])
        for v in variants
        for value in (v.hgvs_c, v.hgvs_p, v.hgvs_g, v.variant)
        if value
        for m in _HGVS_RE.finditer(str(value))
    }
    if stated and recorded:
        for variant in sorted(stated):
            kind = variant[:2]
            same_kind = {r for r in recorded if r.startswith(kind)}
            if not same_kind:
                continue
            if any(variant == r or variant in r or r in variant for r in same_kind):
                out.append(("pass", f"variant {variant} recorded", evidence))
            else:
                out.append(
                    ("fail", f"statement says {variant}; record has {', '.join(sorted(same_kind))}", evidence)
                )
    cited_genes = {v.gene.upper() for v in variants if v.gene}
    all_genes = {
        f.details.gene.upper()
        for f in record.facts_of(FactKind.genomic)
        if isinstance(f.details, GenomicDetails) and f.details.gene
    }
    words = set(re.findall(r"\b[A-Z][A-Z0-9]{1,9}\b", text))
    named = (words & all_genes) | {
        w for w in words if re.fullmatch(r"[A-Z]{2,6}\d{0,2}", w) and w in all_genes
    }
    if cited_genes and named:
        if named & cited_genes:
            out.append(("pass", f"gene {', '.join(sorted(named & cited_genes))} recorded", evidence))
        else:
            out.append(
                (
                    "fail",
                    f"statement names {', '.join(sorted(named))}; "
                    f"cited variant is in {', '.join(sorted(cited_genes))}",
                    evidence,
                )
            )
    return out


def _check_metastasis_words(
    text: str, recorded: list[RecordStage]
) -> list[tuple[str, str, list[EvidenceRef]]]:
    """ "No metastasis" / "metastatic" against cited M categories (M0 vs M1)."""
    m_values = [r for r in recorded if r.category == "M" and not r.core.upper().endswith("X")]
    folded = fold(text)
    hits = [m.start() for m in re.finditer(r"\bmetastasis\b", folded)]
    if not m_values or not hits:
        return []
    negations = negated_spans(folded)
    negated = all(negations.contains(h) for h in hits)
    m1 = [r for r in m_values if r.core.upper().startswith("M1")]
    evidence = [r.evidence for r in m_values]
    shown = ", ".join(sorted({r.core for r in m_values}))
    if negated == bool(m1):
        said = "denies" if negated else "asserts"
        return [("fail", f"statement {said} metastasis; cited M category is {shown}", evidence)]
    return [("pass", f"metastasis wording agrees with {shown}", evidence)]


def check_staging(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """Stage groups, TNM categories, ER/PR/HER2 and variants agree with the cited record."""
    claims = claims or extract_claims(statement_text, case_date)
    scope = Scope.of([c for c in cited if c.exists])
    results: list[tuple[str, str, list[EvidenceRef]]] = []
    recorded = record_stages(scope)
    for mention in claims.stages:
        results.append(_check_stage(mention, recorded))
    markers = [(marker_of_fact(f), f) for f in scope.facts]
    for mention in claims.markers:
        facts = [f for name, f in markers if name == mention.marker]
        polarities = {p for p in (marker_polarity(f) for f in facts) if p}
        if not polarities:
            continue
        evidence = [f.evidence for f in facts]
        if mention.polarity in polarities:
            results.append(("pass", f"{mention.marker} {mention.polarity} agrees", evidence))
        else:
            results.append(
                (
                    "fail",
                    f"statement says {mention.marker} {mention.polarity}; "
                    f"record has {'/'.join(sorted(polarities))}",
                    evidence,
                )
            )
    results += _check_variants(statement_text, scope.facts, record)
    results += _check_metastasis_words(statement_text, recorded)
    decided = [r for r in results if r[0] != "skip"]
    failed = [r for r in decided if r[0] == "fail"]
    chosen = failed or decided
    if not chosen:
        detail = (
            "no stage, biomarker or variant to compare"
            if not results
            else "; ".join(r[1] for r in results if r[1])
        )
        return CheckResult(
            name=STAGING_AGREES,
            outcome="skip",
            detail=detail or "no comparable staging in the cited evidence",
        )
    evidence = list({e.reference + (e.path or ""): e for r in chosen for e in r[2]}.values())
    return CheckResult(
        name=STAGING_AGREES,
        outcome="fail" if failed else "pass",
        detail="; ".join(r[1] for r in chosen),
        evidence=evidence,
    )


def staging_parts(statement_text: str, claims: Claims, cited: Sequence[CitedEvidence]) -> list[Part]:
    """Every stage, TNM category and biomarker mention the statement makes."""
    del cited
    stages = [Part(s.text.strip(), s.span) for s in claims.stages]
    markers = [Part(statement_text[m.span[0] : m.span[1]].strip(), m.span) for m in claims.markers]
    return stages + markers
