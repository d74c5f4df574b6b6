"""Lines of therapy as a tumour board reads them: one cancer at a time, from the clinical picture.

Why from the picture and not from a timeline over the whole record: a timeline over *all*
medication facts interleaves the lines of two cancers (a line "ends" on the day another cancer's
regimen starts, and cites that regimen's orders), pairs any tumour marker with any line (a PSA
"response" to lung-cancer chemotherapy in a patient without prostate cancer) and calls a line
"ongoing" in a patient who died years ago. The picture (`medboard.tools.reconcile`) rebuilds each
cancer's lines over that cancer's own orders and judges each line's status at the case date by the
one currency rule (`tools/reconcile/currency.py`). This module states what the picture says:

- one finding per line naming its cancer, drugs, span and status, carrying a `LineClaim` whose
  facts are the line's sources (every one of them cited). The cancer's Condition is *not* cited:
  the claim names it (`LineClaim.cancer`), and a Condition cited beside "current" reads to a
  text rule as "the cancer is current" — false for a cancer in remission on maintenance therapy;
- one finding per line and tumour marker *of that cancer* (`Cancer.markers`) that has values on the
  line, carrying a `ResultClaim` of the values it states;
- cancer therapy the picture could not give to any cancer stays visible as a data-quality finding;
  it is never given an owner here.

The arithmetic of a marker's course over a line is `tools/longitudinal/timeline.marker_course`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from medboard.agents.longitudinal.finding import finding as _finding
from medboard.models import EvidenceRef, Fact, FactKind, Finding, FindingCategory, SectionKind, iso_day
from medboard.models.claims import ClaimedResult, LineClaim, ResultClaim
from medboard.models.picture import Cancer, ClinicalPicture, Line
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.longitudinal.timeline import (
    ONGOING_STATUSES,
    LineMarkerTrend,
    ProcedureEvent,
    TreatmentChange,
    drug_name,
    marker_course,
)
from medboard.tools.longitudinal.trends import AnalyteTrend, TrendPoint, TrendReport


class LineEvidence:
    """The record's medication facts by reference: what a line's sources are, and when."""

    def __init__(self, record: PatientRecord) -> None:
        self.by_ref: dict[str, list[Fact]] = defaultdict(list)
        for fact in record.facts_of(FactKind.medication):  # a line's `sources`
            self.by_ref[fact.reference].append(fact)

    def evidence(self, references: Iterable[str]) -> list[EvidenceRef]:
        """Each source's own evidence (element path and quote), else the bare reference."""
        refs: list[EvidenceRef] = []
        for reference in references:
            facts = self.by_ref.get(reference)
            if facts:
                refs.extend(f.evidence for f in facts)
            else:
                refs.append(EvidenceRef(reference=reference))
        return refs

    def days(self, line: Line, until: str | None) -> list[str]:
        """Every day a source of the line is dated (start or end), up to `until` (a day)."""
        days = {
            iso_day(d)
            for ref in line.sources
            for fact in self.by_ref.get(ref, [])
            for d in (fact.date, fact.end_date)
            if d
        }
        return sorted(d for d in days if until is None or d <= until)

    def marked_active(self, line: Line) -> bool:
        """Whether the latest record of any of the line's drugs is still an active order."""
        latest: dict[str, Fact] = {}
        for ref in line.sources:
            for fact in self.by_ref.get(ref, []):
                key = drug_name(fact)
                if key not in latest or (fact.date or "") > (latest[key].date or ""):
                    latest[key] = fact
        return any((f.status or "").lower() in ONGOING_STATUSES and not f.end_date for f in latest.values())


def _case_day(picture: ClinicalPicture) -> str | None:
    return iso_day(picture.case_date) if picture.case_date else None


def _inferred_end(line: Line, following: Line | None, days: list[str]) -> bool:
    """The end is the next line's start, not a date of the line's own records (no stop recorded)."""
    return (
        line.end is not None
        and following is not None
        and following.start == line.end
        and (not days or days[-1] < line.end)
    )


def status_words(line: Line, number: int, *, last_evidence: str | None, active: bool, inferred: bool) -> str:
    """The line's status at the case date in the words a board reads (never "ongoing").

    An end the picture inferred from the next line's start is said as such: "stopped" would claim
    a stop the record does not have (its orders may still read active).
    """
    evidence = f", last evidence {last_evidence}" if last_evidence else ""
    if line.status == "stale":
        return ("stale: still ordered" + evidence) if active else ("stale: no recent evidence" + evidence)
    if inferred:
        return f"ended when line {number + 1} started; no stop recorded"
    if line.status == "unknown":
        return "status unknown"
    return line.status


def line_text(cancer: Cancer, line: Line, number: int, status: str) -> str:
    span = f"{line.start or 'start not recorded'} – {line.end or ''}"
    return f"Line {number} for {cancer.name} ({span}, {status}): {' + '.join(line.drugs)}."


def _stated_points(course: LineMarkerTrend) -> list[TrendPoint]:
    """The values the course's text states: the one it starts from and the last on the line."""
    if not course.on_line:
        return []
    start = course.before_line or course.on_line[0]
    last = course.on_line[-1]
    return [last] if start is last else [start, last]


def marker_finding(
    cancer: Cancer, number: int, line: Line, name: str, code: str | None, course: LineMarkerTrend
) -> Finding:
    """A marker's course over one line of its own cancer, with the values it states as its claim."""
    stated = _stated_points(course)
    claim = ResultClaim(
        kind="marker",
        name=name,
        code=code,
        cancer=cancer.condition,
        results=[ClaimedResult(value=p.value, unit=p.unit, date=p.day, source=p.reference) for p in stated],
        facts=list(dict.fromkeys(p.reference for p in stated)),
    )
    last = course.on_line[-1]
    return _finding(
        FindingCategory.trend,
        f"{name} on line {number} for {cancer.name} ({' + '.join(line.drugs)}): {course.describe()}",
        course.evidence,
        value=last.value,
        unit=last.unit,
        date=last.day,
        section=SectionKind.oncologic_history,
        tags=["marker-on-line"],
        claim=claim,
    )


def _line_window_end(line: Line, days: list[str], case_day: str | None) -> str | None:
    """Up to when a value is "on the line": its end; for a current line the case date; else its
    last evidence (a stale or completed line shows nothing after its last record of being given)."""
    if line.end is not None:
        return line.end
    if line.status == "current":
        return case_day
    return days[-1] if days else line.start


def cancer_marker_trends(cancer: Cancer, trends: TrendReport) -> list[tuple[str, str | None, AnalyteTrend]]:
    """(marker name, code, trend) for each marker of this cancer that has a trended series."""
    found = []
    for marker in cancer.markers:
        sources = {r.source for r in marker.results}
        for trend in trends.analytes:
            if trend.loinc == marker.code and sources & {p.reference for p in trend.points}:
                found.append((marker.name, marker.code, trend))
    return found


def line_findings(picture: ClinicalPicture, record: PatientRecord, trends: TrendReport) -> list[Finding]:
    """Every cancer's lines, and each of its markers' course over them (see the module docstring)."""
    sources = LineEvidence(record)
    case_day = _case_day(picture)
    findings: list[Finding] = []
    for cancer in picture.cancers:
        markers = cancer_marker_trends(cancer, trends)
        for index, line in enumerate(cancer.lines):
            number = index + 1
            following = cancer.lines[index + 1] if index + 1 < len(cancer.lines) else None
            days = sources.days(line, case_day)
            inferred = _inferred_end(line, following, days)
            words = status_words(
                line,
                number,
                last_evidence=days[-1] if days else None,
                active=sources.marked_active(line),
                inferred=inferred,
            )
            evidence = sources.evidence(line.sources)
            if inferred and following is not None:  # what dates the end: the next line's first orders
                evidence += [
                    ref
                    for ref in sources.evidence(following.sources)
                    if any(iso_day(f.date or "") == line.end for f in sources.by_ref.get(ref.reference, []))
                ]
            claim = None
            if line.sources and line.drugs:
                claim = LineClaim(
                    cancer=cancer.condition,
                    drugs=list(line.drugs),
                    start=line.start,
                    end=line.end,
                    status=line.status,
                    facts=list(line.sources),
                )
            findings.append(
                _finding(
                    FindingCategory.medication,
                    line_text(cancer, line, number, words),
                    evidence,
                    date=line.start,
                    notes=list(line.notes),
                    tags=["line-of-therapy"],
                    claim=claim,
                )
            )
            if line.start is None:
                continue
            window_end = _line_window_end(line, days, case_day)
            for name, code, trend in markers:
                course = marker_course(trend, line.start, window_end)
                if course is not None:
                    findings.append(marker_finding(cancer, number, line, name, code, course))
    return findings


# --- treatment changes, per cancer ------------------------------------------------------------


def line_changes(picture: ClinicalPicture, record: PatientRecord) -> dict[str, list[TreatmentChange]]:
    """Each cancer's line starts and ends (by the cancer's condition), in date order."""
    sources = LineEvidence(record)
    changes: dict[str, list[TreatmentChange]] = {}
    for cancer in picture.cancers:
        mine: list[TreatmentChange] = []
        for index, line in enumerate(cancer.lines):
            what = f"line {index + 1} for {cancer.name} ({' + '.join(line.drugs)})"
            evidence = sources.evidence(line.sources)
            if line.start:
                mine.append(
                    TreatmentChange(date=line.start, description=f"start of {what}", evidence=evidence)
                )
            if line.end:
                mine.append(TreatmentChange(date=line.end, description=f"end of {what}", evidence=evidence))
        changes[cancer.condition] = sorted(mine, key=lambda c: c.date)
    return changes


def procedure_cancers(event: ProcedureEvent, picture: ClinicalPicture, record: PatientRecord) -> set[str]:
    """The cancers (conditions) a surgery or radiotherapy course belongs to.

    The procedure's own reason or link decides; a procedure linked to no cancer of the picture
    belongs to the patient's only primary cancer when there is one, else to none (not guessed).
    """
    related = {
        r for ref in event.evidence for fact in record.facts_citing(ref.reference) for r in fact.related
    }
    primaries = [c for c in picture.cancers if c.kind != "secondary"]
    linked = {c.condition for c in picture.cancers if related & {c.condition, *c.conditions}}
    if linked & {c.condition for c in primaries}:
        return linked & {c.condition for c in primaries}
    if len(primaries) == 1:
        return {primaries[0].condition}
    return linked


def procedure_changes(event: ProcedureEvent) -> list[TreatmentChange]:
    """A surgery's day; a radiotherapy course's start and end (as `Timeline.changes` names them)."""
    if event.kind == "surgery":
        return [
            TreatmentChange(date=event.start, description=f"surgery: {event.label}", evidence=event.evidence)
        ]
    changes = [
        TreatmentChange(date=event.start, description="start of radiotherapy course", evidence=event.evidence)
    ]
    if event.end and event.end != event.start:
        changes.append(
            TreatmentChange(date=event.end, description="end of radiotherapy course", evidence=event.evidence)
        )
    return changes


__all__ = [
    "LineEvidence",
    "cancer_marker_trends",
    "line_changes",
    "line_findings",
    "line_text",
    "marker_finding",
    "procedure_cancers",
    "procedure_changes",
    "status_words",
]
