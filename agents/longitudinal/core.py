"""The longitudinal comparer's deterministic core: a record's trends, kinetics, RECIST and timeline
as `Finding`s.

`longitudinal_findings(record)` is everything the longitudinal agent can say without a model; the
agent wraps it. Every finding cites every Observation / MedicationRequest / Procedure it rests on,
shows its arithmetic in the text, and lists the inputs it had to skip (and why) in ``notes``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Protocol

from medboard.models import EvidenceRef, Fact, Finding, FindingCategory, SectionKind, iso_day
from medboard.tools.longitudinal.dates import parse_day
from medboard.tools.longitudinal.kinetics import MARKER_NAMES, MarkerKinetics, marker_kinetics
from medboard.tools.longitudinal.recist import (
    Lesion,
    RecistAssessment,
    RecistError,
    TimePoint,
    assess,
)
from medboard.tools.longitudinal.timeline import (
    Timeline,
    annotate_lines,
    build_timeline,
    last_treatment_change,
)
from medboard.tools.longitudinal.trends import (
    TUMOR_MARKER_LOINCS,
    AnalyteTrend,
    SkippedValue,
    TrendReport,
    compute_trends,
    loinc_code,
)
from medboard.tools.units import UnitConversionError, convert

AGENT = "longitudinal"

TUMOR_MAX_DIMENSION_LOINC = "33728-7"


class RecordLike(Protocol):
    """What the findings need of a `PatientRecord`: its facts and raw resources by reference."""

    facts: list[Fact]

    def get(self, reference: str) -> dict[str, Any] | None: ...


def _unique(refs: Iterable[EvidenceRef]) -> list[EvidenceRef]:
    seen: set[tuple[str, str | None]] = set()
    out = []
    for ref in refs:
        key = (ref.reference, ref.path)
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return out


def _skipped_notes(skipped: Iterable[SkippedValue]) -> list[str]:
    return [f"skipped {s.reference}: {s.reason}" for s in skipped]


def _finding(category: FindingCategory, text: str, evidence: Iterable[EvidenceRef], **fields: Any) -> Finding:
    return Finding.create(agent=AGENT, category=category, text=text, evidence=_unique(evidence), **fields)


# --- trends -------------------------------------------------------------------------------


def trend_finding(trend: AnalyteTrend) -> Finding | None:
    """A finding for a series of ≥ 2 values, or for a series whose values were skipped; else None."""
    if len(trend.points) < 2 and not trend.skipped:
        return None
    if not trend.points and all(s.category == "non_numeric" for s in trend.skipped):
        # Coded results (ER "Positive", margins "Uninvolved") are not a series to trend; the EHR
        # parser reports them as they are.
        return None
    evidence = [p.evidence for p in trend.points] + [p.evidence for p in trend.censored]
    if len(trend.points) < 2:
        evidence += [EvidenceRef(reference=s.reference) for s in trend.skipped]
    latest = trend.latest
    return _finding(
        FindingCategory.trend,
        trend.describe(),
        evidence,
        value=latest.value if latest else None,
        unit=trend.unit if latest else None,
        date=latest.date if latest else None,
        notes=_skipped_notes(trend.skipped),
        # Nothing plottable is a data-quality note, not a statement about the patient.
        section=None if trend.points else SectionKind.discrepancies_and_open_questions,
        tags=[] if trend.points else ["data-quality"],
    )


def kinetics_findings(kinetics: MarkerKinetics, window_evidence: Iterable[EvidenceRef] = ()) -> list[Finding]:
    """Doubling time and velocity as two findings (each with its own value and unit).

    They cite the values used, or, when none fall in the window, the values left out (the claim
    "no value since X" rests on them), plus ``window_evidence``: what the window start rests on.
    """
    evidence = [p.evidence for p in kinetics.used] or [
        EvidenceRef(reference=s.reference) for s in kinetics.excluded
    ]
    evidence += list(window_evidence)
    notes = _skipped_notes(kinetics.excluded)
    text = kinetics.describe()
    last = kinetics.used[-1].date if kinetics.used else None
    return [
        _finding(
            FindingCategory.trend,
            f"{kinetics.name} doubling time: " + text,
            evidence,
            value=kinetics.doubling_time_months,
            unit="months" if kinetics.doubling_time_months is not None else None,
            date=last,
            notes=notes,
        ),
        _finding(
            FindingCategory.trend,
            f"{kinetics.name} velocity: " + text,
            evidence,
            value=kinetics.velocity_per_year,
            unit=kinetics.velocity_unit if kinetics.velocity_per_year is not None else None,
            date=last,
            notes=notes,
        ),
    ]


def default_since(timeline: Timeline) -> tuple[date | None, str, list[EvidenceRef]]:
    """The kinetics window start (the most recent treatment change, else all values), why, and
    the evidence of that change."""
    change = last_treatment_change(timeline)
    if change is None:
        return None, "no treatment change recorded: all values", []
    since = parse_day(change.date)
    return since, f"since the most recent treatment change: {change.description}", change.evidence


# --- RECIST from measurement observations -----------------------------------------------


def recist_timepoints(record: RecordLike) -> tuple[list[TimePoint], list[str]]:
    """Target lesions from tumour-size observations (longest dimension, LOINC 33728-7) with a focus.

    A lesion's identity is the Observation's ``focus`` (the mCODE Tumor BodyStructure); measurements
    without one cannot be followed over time and are listed as skipped. Every followed lesion is a
    target (records do not say which were selected), so RECIST's selection rules still apply.
    """
    notes: list[str] = []
    by_date: dict[str, dict[str, Lesion]] = {}
    for fact in record.facts:
        code = loinc_code(fact)
        if code != TUMOR_MAX_DIMENSION_LOINC:
            continue
        resource = record.get(fact.reference) or {}
        focus = [f.get("reference") for f in resource.get("focus", []) if f.get("reference")]
        if not focus:
            notes.append(f"skipped {fact.reference}: tumour size without a focus lesion cannot be followed")
            continue
        if not isinstance(fact.value, (int, float)) or isinstance(fact.value, bool) or not fact.date:
            notes.append(f"skipped {fact.reference}: tumour size without a numeric value and a date")
            continue
        try:
            millimetres = convert(float(fact.value), fact.unit_code or fact.unit, "mm")
        except UnitConversionError as error:
            notes.append(f"skipped {fact.reference}: {error}")
            continue
        organ = fact.body_site or focus[0]
        day = iso_day(fact.date)
        by_date.setdefault(day, {})[focus[0]] = Lesion(
            id=focus[0],
            organ=organ,
            kind="target",
            lymph_node="lymph" in organ.lower(),
            diameter_mm=millimetres,
            evidence=[fact.evidence],
        )
    timepoints = [
        TimePoint(date=day, lesions=list(lesions.values())) for day, lesions in sorted(by_date.items())
    ]
    return timepoints, notes


def recist_findings(assessment: RecistAssessment, notes: list[str] | None = None) -> list[Finding]:
    """One `response` finding per follow-up time point, its arithmetic in the text."""
    return [
        _finding(
            FindingCategory.response,
            f"RECIST 1.1 on {result.date}: {result.response}. {result.reason}",
            result.evidence + assessment.timepoints[0].evidence,
            value=result.response,
            date=result.date,
            notes=list(notes or []),
        )
        for result in assessment.follow_ups
    ]


# --- timeline ------------------------------------------------------------------------------


def timeline_findings(timeline: Timeline) -> list[Finding]:
    findings = []
    for line in timeline.lines:
        evidence = (
            line.evidence
            + line.end_evidence
            + [ref for marker in line.marker_trends for ref in marker.evidence]
        )
        findings.append(
            _finding(FindingCategory.medication, line.describe(), evidence, date=line.start, notes=line.notes)
        )
    for event in timeline.procedures:
        findings.append(
            _finding(FindingCategory.procedure, event.describe(), event.evidence, date=event.start)
        )
    if timeline.excluded and (timeline.lines or timeline.procedures):
        change = last_treatment_change(timeline)
        text = (
            f"Treatment timeline: {len(timeline.lines)} line(s) of therapy, {len(timeline.procedures)} "
            f"cancer procedure(s)"
            + (f"; most recent treatment change {change.date}: {change.description}." if change else ".")
        )
        evidence = [ref for line in timeline.lines for ref in line.evidence] + [
            ref for event in timeline.procedures for ref in event.evidence
        ]
        findings.append(
            _finding(
                FindingCategory.medication,
                text,
                evidence,
                notes=[f"not in the timeline {e.reference}: {e.reason}" for e in timeline.excluded],
            )
        )
    return findings


# --- everything ----------------------------------------------------------------------------


def longitudinal_findings(record: RecordLike) -> list[Finding]:
    """Trends, tumour-marker kinetics, RECIST responses and the treatment timeline as findings."""
    facts = list(record.facts)
    trends: TrendReport = compute_trends(facts)
    timeline = build_timeline(facts)

    findings: list[Finding] = []
    for trend in trends.analytes:
        finding = trend_finding(trend)
        if finding is not None:
            findings.append(finding)
    if trends.unassigned:
        findings.append(
            _finding(
                FindingCategory.trend,
                f"{len(trends.unassigned)} measurement(s) carry no LOINC code and were not trended.",
                [EvidenceRef(reference=s.reference) for s in trends.unassigned],
                notes=_skipped_notes(trends.unassigned),
                section=SectionKind.discrepancies_and_open_questions,
                tags=["data-quality"],
            )
        )

    since, since_reason, since_evidence = default_since(timeline)
    for trend in trends.analytes:
        if trend.loinc in TUMOR_MARKER_LOINCS and trend.points:
            kinetics = marker_kinetics(trend, since=since, since_reason=since_reason)
            findings += kinetics_findings(kinetics, since_evidence)

    responses: list[tuple[str, str]] = []
    timepoints, recist_notes = recist_timepoints(record)
    if len(timepoints) >= 2:
        try:
            assessment = assess(timepoints)
        except RecistError as error:
            recist_notes.append(f"RECIST not assessed: {error}")
        else:
            findings += recist_findings(assessment, recist_notes)
            responses = [(r.date, r.response) for r in assessment.follow_ups if r.response]
            recist_notes = []
    elif timepoints:
        recist_notes.append("RECIST not assessed: tumour measurements at one time point only")
    if recist_notes:
        refs = [ref for tp in timepoints for lesion in tp.lesions for ref in lesion.evidence]
        if refs:
            # About the record's data, not the patient (a sentence that only denies claims nothing
            # the verifier could check): the reason is listed as an open question, the measurements
            # stay cited in the finding.
            reasons = "; ".join(n.removeprefix("RECIST not assessed: ").rstrip(".") for n in recist_notes)
            findings.append(
                _finding(
                    FindingCategory.response,
                    f"No RECIST response could be computed: {reasons}.",
                    refs,
                    notes=recist_notes,
                    section=SectionKind.discrepancies_and_open_questions,
                    tags=["data-quality"],
                )
            )

    annotate_lines(timeline, trends, responses)
    findings += timeline_findings(timeline)
    return findings


__all__ = [
    "AGENT",
    "MARKER_NAMES",
    "default_since",
    "kinetics_findings",
    "longitudinal_findings",
    "recist_findings",
    "recist_timepoints",
    "timeline_findings",
    "trend_finding",
]
