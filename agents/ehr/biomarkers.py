"""Biomarker and tumour-marker findings: every cancer's results from the picture, the rest as before.

Why not "the latest result per code": a HER2 Negative and a HER2 Positive on the same day are two
results of one biomarker, and keeping the latest hid the discordant one ("HER2 … Negative ✓" while
the Positive vanished). The picture keeps every result of each cancer's biomarkers and flags a
`conflict`; here a conflicting biomarker is one finding that states each result with its date and
claims all of them, and an agreeing one states its latest result (the earlier ones agree with it).

Results the screen keeps out (after the case date or the death, implausible) are not stated; a
conflict is stated only while the results that remain still disagree. Facts no cancer of the
picture owns (a PSA beside a lung cancer, genomics with no cancer recorded) are worded as before
(latest per code for tumour markers, every genomic result) and claim no cancer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

from medboard.agents.ehr.picture import FactIndex
from medboard.agents.ehr.screen import Screen
from medboard.agents.ehr.wording import (
    AGENT,
    cited,
    claimed_result,
    finding,
    flag_text,
    format_value,
    scalar,
    when,
)
from medboard.models import Fact, FactKind, Finding, FindingCategory, SectionKind, iso_day
from medboard.models.claims import ResultClaim
from medboard.models.fact_kinds import GenomicDetails
from medboard.models.picture import Biomarker, Cancer, ClinicalPicture, Result
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.fhir.selection import latest_per_code
from medboard.tools.reconcile.knowledge import SERUM_MARKERS

ResultKind = Literal["biomarker", "marker"]
_RESULT_KINDS = (FactKind.tumor_marker, FactKind.genomic, FactKind.lab)


def loinc(fact: Fact) -> str | None:
    return next((c.code for c in fact.codes if "loinc" in (c.system or "").lower() and c.code), None)


def result_text(fact: Fact, variant_of: Fact | None = None) -> str:
    """The sentence for one result, as the EHR specialist has always worded it.

    `variant_of` is the variant an implication derives from: its gene names what the implication
    is about (two "Uncertain significance" implications are two statements only with their genes).
    """
    if fact.kind == FactKind.genomic:
        variant = fact.details if isinstance(fact.details, GenomicDetails) else GenomicDetails()
        source = variant_of.details if variant_of is not None else None
        if isinstance(source, GenomicDetails) and source.gene and not variant.gene:
            variant = variant.model_copy(update={"gene": source.gene})
        # An implication names the drug it is about: five "Presumed responsive" results are five
        # different statements only with their medication.
        parts = (variant.gene, variant.hgvs_c, variant.hgvs_p, variant.medication, variant.interpretation)
        detail = ", ".join(str(v) for v in parts if v)
        return f"{fact.label}: {format_value(fact)}{' (' + detail + ')' if detail else ''}{when(fact)}."
    return f"{fact.label}: {format_value(fact)}{flag_text(fact)}{when(fact)}."


def _category(fact: Fact) -> FindingCategory:
    return FindingCategory.genomics if fact.kind == FactKind.genomic else FindingCategory.biomarker


def _result_finding(fact: Fact, claim: ResultClaim | None, *, tags: Iterable[str] = ("cancer",)) -> Finding:
    return finding(
        fact,
        _category(fact),
        result_text(fact),
        value=scalar(fact) if fact.kind != FactKind.genomic else None,
        unit=fact.unit if fact.kind != FactKind.genomic else None,
        section=SectionKind.oncologic_history,
        tags=tags,
        claim=claim,
    )


def _fact_of(result: Result, facts: FactIndex) -> Fact | None:
    """The fact a picture result was read from (a resource's components are told apart by value)."""
    candidates = [f for f in facts.get(result.source, []) if f.kind in _RESULT_KINDS]
    matching = [f for f in candidates if claimed_result(f).value == result.value]
    return (matching or candidates or [None])[0]


def _shown(fact: Fact) -> str:
    value = claimed_result(fact).value
    if fact.value is not None:
        return format_value(fact)
    return "no value" if value is None else str(value)


def _conflict_finding(cancer: Cancer, name: str, code: str | None, results: list[Fact]) -> Finding:
    """One finding stating every discordant result with its date, claiming them all."""
    labelled = len({f.label for f in results}) > 1  # two assays (IHC and ISH): say which said what
    parts = [
        f"{f.label + ': ' if labelled else ''}{_shown(f)} ({iso_day(f.date) if f.date else 'undated'})"
        for f in results
    ]
    text = f"{name}: conflicting results — {('; ' if labelled else ', ').join(parts)}."
    claim = ResultClaim(
        kind="biomarker",
        name=name,
        code=code,
        cancer=cancer.condition,
        results=[claimed_result(f) for f in results],
        facts=list(dict.fromkeys(f.reference for f in results)),
    )
    return Finding.create(
        agent=AGENT,
        category=FindingCategory.biomarker,
        text=text,
        evidence=cited(results),
        date=results[-1].date,
        section=SectionKind.oncologic_history,
        tags=["cancer", "conflict"],
        claim=claim,
    )


def _admitted(results: Iterable[Result], facts: FactIndex, screen: Screen) -> list[Fact]:
    found = (_fact_of(result, facts) for result in results)
    kept = [f for f in found if f is not None and screen.admits(f)]
    return sorted(kept, key=lambda f: f.date or "")


def _claim(kind: ResultKind, name: str, code: str | None, cancer: Cancer | None, fact: Fact) -> ResultClaim:
    return ResultClaim(
        kind=kind,
        name=name,
        code=code,
        cancer=cancer.condition if cancer else None,
        results=[claimed_result(fact)],
        facts=[fact.reference],
    )


def _biomarker_findings(
    cancer: Cancer, group: list[Biomarker], facts: FactIndex, screen: Screen
) -> list[Finding]:
    """One biomarker name of one cancer (possibly under several codes, e.g. HER2 by IHC and ISH)."""
    admitted = _admitted((r for b in group for r in b.results), facts, screen)
    said = {str(claimed_result(f).value).strip().lower() for f in admitted}
    if any(b.conflict for b in group) and len(said) > 1:
        codes = {b.code for b in group}
        return [_conflict_finding(cancer, group[0].name, codes.pop() if len(codes) == 1 else None, admitted)]
    findings = []
    for biomarker in group:
        kept = _admitted(biomarker.results, facts, screen)
        if kept:
            latest = kept[-1]
            stated = claimed_result(latest).value is not None  # a region studied states no result
            claim = _claim("biomarker", biomarker.name, biomarker.code, cancer, latest) if stated else None
            findings.append(_result_finding(latest, claim))
    return findings


def cancer_results(
    picture: ClinicalPicture, facts: FactIndex, screen: Screen
) -> tuple[list[Finding], set[str]]:
    """Each cancer's biomarkers and tumour markers as findings, and the references they own.

    A tumour marker read as a lab (a CEA in a chemistry panel) stays a lab: only its
    tumour-marker-kind results are stated here.
    """
    findings: list[Finding] = []
    owned: set[str] = set()
    for cancer in picture.cancers:
        groups: dict[str, list[Biomarker]] = defaultdict(list)
        for biomarker in cancer.biomarkers:
            groups[biomarker.name.lower()].append(biomarker)
            owned.update(r.source for r in biomarker.results)
        for group in groups.values():
            findings += _biomarker_findings(cancer, group, facts, screen)
        for marker in cancer.markers:
            results = [f for f in _admitted(marker.results, facts, screen) if f.kind != FactKind.lab]
            stated = (_fact_of(r, facts) for r in marker.results)
            owned.update(f.reference for f in stated if f is not None and f.kind != FactKind.lab)
            if results:
                claim = _claim("marker", marker.name, marker.code, cancer, results[-1])
                findings.append(_result_finding(results[-1], claim))
    return findings, owned


def unowned_results(record: PatientRecord, owned: set[str], screen: Screen) -> list[Finding]:
    """Tumour-marker (latest per code) and genomic (every one) facts no cancer of the picture owns."""
    markers = screen.keep([f for f in record.facts_of(FactKind.tumor_marker) if f.reference not in owned])
    findings = []
    for fact in latest_per_code(markers):
        code = loinc(fact)
        kind: ResultKind = "marker" if code in SERUM_MARKERS else "biomarker"
        findings.append(_result_finding(fact, _claim(kind, fact.label, code, None, fact)))
    genomic = record.facts_of(FactKind.genomic)
    variants = {f.reference: f for f in genomic if isinstance(f.details, GenomicDetails) and f.details.gene}
    for fact in screen.keep([f for f in genomic if f.reference not in owned]):
        # a genomic fact with no value (a region studied, an implication) states no result to claim
        claim = _claim("biomarker", fact.label, loinc(fact), None, fact) if fact.value is not None else None
        source = next((variants[r] for r in fact.related if r in variants and r != fact.reference), None)
        if source is None or (isinstance(fact.details, GenomicDetails) and fact.details.gene):
            findings.append(_result_finding(fact, claim))
            continue
        # An implication is stated with the variant it derives from, citing both (the gene's name
        # is the variant's word, not the implication's).
        findings.append(
            Finding.create(
                agent=AGENT,
                category=FindingCategory.genomics,
                text=result_text(fact, source),
                evidence=[fact.evidence, source.evidence],
                date=fact.date,
                section=SectionKind.oncologic_history,
                tags=["cancer"],
                claim=claim,
            )
        )
    return findings
