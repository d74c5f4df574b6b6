"""The longitudinal comparer's deterministic core: a record's trends, kinetics, RECIST and lines of
therapy as `Finding`s, read from the clinical picture.

`longitudinal_findings(record, picture)` is everything the longitudinal agent can say without a
model; the agent wraps it. It reads the reconciled `ClinicalPicture` (`medboard.tools.reconcile`),
not the raw facts, wherever the picture has decided something about the patient:

- **trends** run over `picture.labs` — one series per analyte *and comparable unit* (eGFR in
  ``mL/min`` and in ``mL/min/{1.73_m2}`` are two trends, never a "−88.7 %" between them), with the
  picture's implausible values and values dated after death or the case date already out; the
  arithmetic stays in `tools/longitudinal/trends.py` (`picture_trends`);
- **marker kinetics** only for tumour markers that belong to a cancer of the patient
  (`Cancer.markers`: PSA ↔ prostate ...): a PSA in a patient without prostate cancer is trended as
  a lab, never read as a response; the kinetics window starts at that cancer's last treatment change;
  one finding per marker course, with each fit's quality (n, R², 95 % intervals) and no doubling
  time stated when the fit does not support one (`tools/longitudinal/kinetics.py`);
- **lines of therapy** are the picture's, per cancer, with the status it judged at the case date
  (`lines.py`); a marker's course over a line comes only from that line's cancer's markers.

Every finding cites every Observation / MedicationRequest / Procedure it rests on, shows its
arithmetic in the text, lists the inputs it had to skip (and why) in ``notes``, and — for trends
and lines — carries the structured claim (`medboard.models.claims`) the verifier checks directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Protocol

from medboard.agents.longitudinal.finding import AGENT, finding
from medboard.agents.longitudinal.lines import (
    line_changes,
    line_findings,
    procedure_cancers,
    procedure_changes,
)
from medboard.models import EvidenceRef, Fact, Finding, FindingCategory, SectionKind, iso_day
from medboard.models.claims import ClaimedResult, ResultClaim
from medboard.models.picture import ClinicalPicture
from medboard.tools.fhir.record import PatientRecord
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
    TreatmentChange,
    build_timeline,
    last_treatment_change,
)
from medboard.tools.longitudinal.trends import (
    TUMOR_MARKER_LOINCS,
    AnalyteTrend,
    SkippedValue,
    TrendPoint,
    TrendReport,
    loinc_code,
    picture_trends,
)
from medboard.tools.units import UnitConversionError, convert

TUMOR_MAX_DIMENSION_LOINC = "33728-7"


class RecordLike(Protocol):
    """What the findings need of a `PatientRecord`: its facts and raw resources by reference."""

    facts: list[Fact]

    def get(self, reference: str) -> dict[str, Any] | None: ...


def _skipped_notes(skipped: Iterable[SkippedValue]) -> list[str]:
    return [f"skipped {s.reference}: {s.reason}" for s in skipped]


def _finding(category: FindingCategory, text: str, evidence: Iterable[EvidenceRef], **fields: Any) -> Finding:
    return finding(category, text, evidence, **fields)


# --- trends -------------------------------------------------------------------------------


def stated_points(trend: AnalyteTrend) -> list[TrendPoint]:
    """The values `AnalyteTrend.describe` states (latest, baseline, previous, nadir, peak), by date."""
    stated = [trend.latest, trend.baseline, trend.previous, trend.nadir, trend.peak]
    unique = {p.reference: p for p in stated if p is not None}
    return sorted(unique.values(), key=lambda p: p.instant)


def trend_claim(trend: AnalyteTrend, kind: str = "lab", cancer: str | None = None) -> ResultClaim | None:
    """The values the trend's text states, as a `ResultClaim` (None when it states none)."""
    points = stated_points(trend)
    if not points:
        return None
    return ResultClaim.model_validate(
        {
            "kind": kind,
            "name": trend.label,
            "code": trend.loinc or None,
            "cancer": cancer,
            "results": [
                ClaimedResult(value=p.value, unit=trend.unit, date=p.day, source=p.reference) for p in points
            ],
            "facts": list(dict.fromkeys(p.reference for p in points)),
        }
    )


def trend_finding(
    trend: AnalyteTrend, *, qualifier: str | None = None, claim: ResultClaim | None = None
) -> Finding | None:
    """A finding for a series of ≥ 2 values, or for a series whose values were skipped; else None.

    ``qualifier`` names the series' unit when the analyte has more than one series; ``claim`` is
    what the text states (`trend_claim`).
    """
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
        trend.describe(qualifier=qualifier),
        evidence,
        value=latest.value if latest else None,
        unit=trend.unit if latest else None,
        date=latest.date if latest else None,
        notes=_skipped_notes(trend.skipped),
        # Nothing plottable is a data-quality note, not a statement about the patient.
        section=None if trend.points else SectionKind.discrepancies_and_open_questions,
        tags=[] if trend.points else ["data-quality"],
        claim=claim if trend.points else None,
    )


def kinetics_claim(kinetics: MarkerKinetics, cancer: str | None = None) -> ResultClaim | None:
    """The marker values the kinetics rest on, as a `ResultClaim` (None when no value was used)."""
    if not kinetics.used:
        return None
    return ResultClaim(
        kind="marker",
        name=kinetics.name,
        code=kinetics.loinc,
        cancer=cancer,
        results=[
            ClaimedResult(value=p.value, unit=kinetics.unit, date=p.day, source=p.reference)
            for p in kinetics.used
        ],
        facts=list(dict.fromkeys(p.reference for p in kinetics.used)),
    )


def kinetics_notes(kinetics: MarkerKinetics) -> list[str]:
    """The fits' numbers (n, R², slope and doubling-time intervals) and the values left out.

    The text states them too; here they are one line each, so a reader of `summary.json` need not
    parse sentences (the finding's `value`/`unit` hold the stated doubling time).
    """
    notes = []
    fit = kinetics.doubling_fit
    if fit is not None:
        ci = kinetics.doubling_time_ci95_months
        notes.append(
            f"doubling-time fit: n={fit.n}; r_squared={_num(fit.r_squared)}; "
            f"ln_slope_per_month={fit.slope:.6g}; slope_ci95={_pair(fit.slope_ci95)}; "
            f"doubling_time_months={_num(kinetics.doubling_time_months)}; "
            f"doubling_time_ci95_months={_pair(ci)}; supported={kinetics.doubling_time_supported}"
        )
    fit = kinetics.velocity_fit
    if fit is not None:
        notes.append(
            f"velocity fit: n={fit.n}; r_squared={_num(fit.r_squared)}; "
            f"velocity_per_year={fit.slope:.6g} {kinetics.velocity_unit}; slope_ci95={_pair(fit.slope_ci95)}"
        )
    return notes + _skipped_notes(kinetics.excluded)


def _num(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"


def _pair(pair: tuple[float, float | None] | None) -> str:
    if pair is None:
        return "none"
    low, high = pair
    return f"[{low:.6g}, {'unbounded' if high is None else f'{high:.6g}'}]"


def kinetics_findings(
    kinetics: MarkerKinetics, window_evidence: Iterable[EvidenceRef] = (), cancer: str | None = None
) -> list[Finding]:
    """One finding per marker course: the window, the values used, the doubling time with its fit
    (or why none is stated) and the velocity — one sentence each, never repeated.

    It cites the values used, or, when none fall in the window, the values left out (the claim
    "no value since X" rests on them), plus ``window_evidence``: what the window start rests on.
    ``value``/``unit`` hold the doubling time only when the fit supports stating it; the fits'
    numbers are in ``notes``; the claim lists the values used, for ``cancer`` (its Condition).
    """
    evidence = [p.evidence for p in kinetics.used] or [
        EvidenceRef(reference=s.reference) for s in kinetics.excluded
    ]
    evidence += list(window_evidence)
    stated = kinetics.stated_doubling_time_months
    return [
        _finding(
            FindingCategory.trend,
            kinetics.describe(),
            evidence,
            value=stated,
            unit="months" if stated is not None else None,
            date=kinetics.used[-1].date if kinetics.used else None,
            notes=kinetics_notes(kinetics),
            claim=kinetics_claim(kinetics, cancer),
            tags=["kinetics"],
        )
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


def procedure_findings(timeline: Timeline) -> list[Finding]:
    """Cancer surgery and radiotherapy courses, one finding each."""
    return [
        _finding(FindingCategory.procedure, event.describe(), event.evidence, date=event.start)
        for event in timeline.procedures
    ]


def timeline_summary(
    picture: ClinicalPicture, timeline: Timeline, changes: list[TreatmentChange]
) -> Finding | None:
    """How many lines and procedures the timeline holds and what it left out (medications that
    are not cancer therapy, records never given), when it left something out."""
    lines = [line for cancer in picture.cancers for line in cancer.lines]
    if not timeline.excluded or not (lines or timeline.procedures):
        return None
    change = changes[-1] if changes else None
    text = (
        f"Treatment timeline: {len(lines)} line(s) of therapy, {len(timeline.procedures)} cancer procedure(s)"
        + (f"; most recent treatment change {change.date}: {change.description}." if change else ".")
    )
    evidence = [ref for c in changes if c.description.startswith("start of") for ref in c.evidence] + [
        ref for event in timeline.procedures for ref in event.evidence
    ]
    return _finding(
        FindingCategory.medication,
        text,
        evidence,
        notes=[f"not in the timeline {e.reference}: {e.reason}" for e in timeline.excluded],
    )


# --- everything ----------------------------------------------------------------------------


def _marker_owners(picture: ClinicalPicture) -> dict[str, list[str]]:
    """Marker code → the cancers (conditions) it belongs to, per the picture."""
    owners: dict[str, list[str]] = {}
    for cancer in picture.cancers:
        for marker in cancer.markers:
            if marker.code:
                owners.setdefault(marker.code, []).append(cancer.condition)
    return owners


def _trend_findings(trends: TrendReport, owners: dict[str, list[str]]) -> list[Finding]:
    series_count: dict[str, int] = {}
    for trend in trends.analytes:
        series_count[trend.loinc] = series_count.get(trend.loinc, 0) + 1
    findings = []
    for trend in trends.analytes:
        mine = owners.get(trend.loinc, [])
        kind = "marker" if mine else "vital" if trend.kind == "vital" else "lab"
        claim = trend_claim(trend, kind, mine[0] if len(mine) == 1 else None)
        qualifier = f"series in {trend.unit or 'no unit'}" if series_count[trend.loinc] > 1 else None
        made = trend_finding(trend, qualifier=qualifier, claim=claim)
        if made is not None:
            findings.append(made)
    return findings


def _kinetics_window(
    cancers: list[str], changes: dict[str, list[TreatmentChange]]
) -> tuple[date | None, str, list[EvidenceRef]]:
    """The window start for a marker of these cancers: their most recent treatment change."""
    mine = sorted((c for cancer in cancers for c in changes.get(cancer, [])), key=lambda c: c.date)
    if not mine:
        return None, "no treatment change recorded: all values", []
    change = mine[-1]
    return (
        parse_day(change.date),
        f"since the most recent treatment change: {change.description}",
        change.evidence,
    )


def longitudinal_findings(record: PatientRecord, picture: ClinicalPicture | None = None) -> list[Finding]:
    """Trends, tumour-marker kinetics, RECIST responses and the lines of therapy as findings.

    ``picture`` is the case's clinical picture (the specialist passes `CaseContext.picture`, built
    at the case date); without one, the record's own picture at its latest date
    (`medboard.tools.reconcile.picture_of`, built once per record).
    """
    if picture is None:
        from medboard.tools.reconcile import picture_of

        picture = picture_of(record)
    implausible = {
        ref for item in picture.data_quality if item.kind == "implausible_value" for ref in item.sources
    }
    trends = picture_trends(picture.labs, record.facts, implausible=implausible)
    timeline = build_timeline(record.facts)  # procedures and what is not cancer therapy
    owners = _marker_owners(picture)

    findings = _trend_findings(trends, owners)
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

    changes = line_changes(picture, record)
    for event in timeline.procedures:
        for cancer in procedure_cancers(event, picture, record):
            changes.setdefault(cancer, []).extend(procedure_changes(event))
    for trend in trends.analytes:
        if trend.loinc in TUMOR_MARKER_LOINCS and trend.loinc in owners and trend.points:
            since, since_reason, since_evidence = _kinetics_window(owners[trend.loinc], changes)
            kinetics = marker_kinetics(trend, since=since, since_reason=since_reason)
            cancer = owners[trend.loinc][0] if len(owners[trend.loinc]) == 1 else None
            findings += kinetics_findings(kinetics, since_evidence, cancer)

    timepoints, recist_notes = recist_timepoints(record)
    if len(timepoints) >= 2:
        try:
            assessment = assess(timepoints)
        except RecistError as error:
            recist_notes.append(f"RECIST not assessed: {error}")
        else:
            findings += recist_findings(assessment, recist_notes)
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

    findings += line_findings(picture, record, trends)
    findings += procedure_findings(timeline)
    # every change once (a procedure of two cancers is listed under both), in date order
    everything = sorted(
        {(c.date, c.description): c for cs in changes.values() for c in cs}.values(), key=lambda c: c.date
    )
    summary = timeline_summary(picture, timeline, everything)
    if summary is not None:
        findings.append(summary)
    return findings


__all__ = [
    "AGENT",
    "MARKER_NAMES",
    "default_since",
    "kinetics_claim",
    "kinetics_findings",
    "kinetics_notes",
    "longitudinal_findings",
    "procedure_findings",
    "recist_findings",
    "recist_timepoints",
    "stated_points",
    "trend_claim",
    "trend_finding",
]
