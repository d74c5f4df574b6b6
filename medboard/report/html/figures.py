"""What the report's graphics show, taken from the clinical picture (no drawing here: `plots.py`).

The series are the picture's own (`medboard.tools.reconcile.picture_of` at the case date), with the
arithmetic of `medboard.tools.longitudinal.trends.picture_trends`: implausible values and values
dated after death or the case date are already out, each analyte is split by comparable unit.
So a plot shows exactly the numbers the summary's statements were built and verified from.

* Tumour markers: per cancer, every series of a marker the picture assigns to it.
* Key labs: the blood count, renal and liver series of `medboard.tools.reconcile.key_analytes`
  with at least two values, in the board's reading order.
* The reference range band: from the values' own ``referenceRange`` (converted to the series
  unit), when the values of the series agree on one.
* The treatment timeline: per cancer its diagnosis, lines of therapy, surgery and radiotherapy
  (`medboard.agents.longitudinal.lines.procedure_cancers` decides which cancer a procedure
  belongs to, as the summary does), its markers' course; the death; the case date.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal

from medboard.tools.longitudinal.dates import DateError, parse_day

if TYPE_CHECKING:
    from medboard.models.picture import Cancer, ClinicalPicture
    from medboard.tools.fhir.record import PatientRecord
    from medboard.tools.longitudinal.trends import AnalyteTrend, TrendReport

#: At most this many key-lab plots (the board's table has about ten concepts).
MAX_LAB_PLOTS = 12


def day_of(value: str | None) -> date | None:
    """The calendar day of a FHIR date, or None when it cannot be placed (absent, partial, bad)."""
    if not value:
        return None
    try:
        return parse_day(value)
    except DateError:
        return None


@dataclass
class Point:
    day: date
    value: float
    reference: str
    status: str | None = None
    censored: str | None = None  # the comparator of a censored value (`<0.1`)


@dataclass
class TrendPlot:
    """One analyte series in one unit."""

    key: str
    title: str
    unit: str | None
    code: str | None
    points: list[Point]
    censored: list[Point] = field(default_factory=list)
    band: tuple[float | None, float | None] | None = None


@dataclass
class Bar:
    row: int
    start: date
    end: date | None
    label: str
    state: Literal["ended", "ongoing", "open"] = "ended"


@dataclass
class Mark:
    row: int
    day: date
    kind: Literal["diagnosis", "surgery", "radiotherapy"]
    label: str


@dataclass
class Spark:
    row: int
    points: list[tuple[date, float]]


@dataclass
class TimelineData:
    rows: list[str] = field(default_factory=list)
    headers: set[int] = field(default_factory=set)
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    sparks: list[Spark] = field(default_factory=list)
    death: date | None = None
    case_date: date | None = None
    notes: list[str] = field(default_factory=list)

    def days(self) -> list[date]:
        found = [b.start for b in self.bars] + [b.end for b in self.bars if b.end]
        found += [m.day for m in self.marks] + [d for s in self.sparks for d, _ in s.points]
        return found + [d for d in (self.death, self.case_date) if d]

    @property
    def empty(self) -> bool:
        return not (self.bars or self.marks or self.sparks)


def picture_trend_report(picture: ClinicalPicture, record: PatientRecord) -> TrendReport:
    """The picture's series as trends (the longitudinal comparer's own call)."""
    from medboard.tools.longitudinal.trends import picture_trends

    implausible = {
        ref for item in picture.data_quality if item.kind == "implausible_value" for ref in item.sources
    }
    return picture_trends(picture.labs, record.facts, implausible=implausible)


def trend_plot(trend: AnalyteTrend, record: PatientRecord, *, title: str | None = None) -> TrendPlot:
    points = [_point(p) for p in trend.points]
    censored = [_point(p) for p in trend.censored]
    return TrendPlot(
        key=f"{trend.loinc}-{trend.unit or ''}",
        title=title or trend.label,
        unit=trend.unit,
        code=trend.loinc or None,
        points=[p for p in points if p is not None],
        censored=[p for p in censored if p is not None],
        band=reference_band(trend, record),
    )


def _point(point: object) -> Point | None:
    day = day_of(getattr(point, "date", None))
    if day is None:
        return None
    return Point(
        day=day,
        value=float(point.value),  # type: ignore[attr-defined]
        reference=point.reference,  # type: ignore[attr-defined]
        status=point.reference_status,  # type: ignore[attr-defined]
        censored=point.comparator,  # type: ignore[attr-defined]
    )


def reference_band(trend: AnalyteTrend, record: PatientRecord) -> tuple[float | None, float | None] | None:
    """The reference range most of the series' values carry, in the series' unit; None if none."""
    from medboard.tools.units import UnitConversionError, convert

    ranges: Counter[tuple[float | None, float | None]] = Counter()
    for point in trend.points:
        for fact in record.facts_citing(point.reference):
            rng = fact.reference_range
            if rng is None or (rng.low is None and rng.high is None):
                continue
            unit = rng.unit or fact.unit_code or fact.unit
            try:
                low = convert(rng.low, unit, trend.unit, loinc=trend.loinc) if rng.low is not None else None
                high = (
                    convert(rng.high, unit, trend.unit, loinc=trend.loinc) if rng.high is not None else None
                )
            except UnitConversionError:
                continue
            ranges[(_round(low), _round(high))] += 1
            break
    if not ranges:
        return None
    return ranges.most_common(1)[0][0]


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def key_lab_plots(report: TrendReport, record: PatientRecord) -> list[TrendPlot]:
    """The key-lab series with at least two values, in the board's order (markers excluded)."""
    from medboard.tools.reconcile.key_analytes import key_analyte, rank

    chosen = []
    for trend in report.analytes:
        analyte = key_analyte(trend.loinc)
        if analyte is None or analyte.group == "marker" or len(trend.points) < 2:
            continue
        chosen.append((rank(analyte), analyte.name, trend))
    chosen.sort(key=lambda item: (item[0], item[1], item[2].unit or ""))
    return [trend_plot(t, record, title=name) for _, name, t in chosen[:MAX_LAB_PLOTS]]


def marker_plots(cancer: Cancer, report: TrendReport, record: PatientRecord) -> list[TrendPlot]:
    """Every series of the markers the picture gives this cancer (one value is already a plot)."""
    plots = []
    for marker in cancer.markers:
        series = [t for t in report.analytes if marker.code and t.loinc == marker.code and t.points]
        plots += [trend_plot(t, record, title=marker.name) for t in series]
    return plots


def timeline_data(picture: ClinicalPicture, record: PatientRecord, report: TrendReport) -> TimelineData:
    """Rows per cancer: a header, diagnosis, each line, surgery, radiotherapy, each marker."""
    from medboard.agents.longitudinal.lines import procedure_cancers
    from medboard.tools.longitudinal.timeline import build_timeline

    data = TimelineData(death=day_of(picture.patient.deceased_date), case_date=day_of(picture.case_date))
    procedures = build_timeline(record.facts).procedures
    owners = {id(event): procedure_cancers(event, picture, record) for event in procedures}
    for cancer in picture.cancers:
        data.headers.add(len(data.rows))
        data.rows.append(cancer.name)
        onset = day_of(cancer.onset)
        if onset is not None:
            data.rows.append("diagnosis")
            data.marks.append(Mark(len(data.rows) - 1, onset, "diagnosis", f"diagnosed {onset.isoformat()}"))
        for number, line in enumerate(cancer.lines, start=1):
            regimen = " + ".join(line.drugs)
            start, end = day_of(line.start), day_of(line.end)
            if start is None:
                data.notes.append(f"{cancer.name}: line {number} ({regimen}) has no start date to place")
                continue
            data.rows.append(f"line {number}")
            if end is not None:
                data.bars.append(Bar(len(data.rows) - 1, start, end, regimen, "ended"))
            elif line.status == "current":
                data.bars.append(Bar(len(data.rows) - 1, start, None, f"{regimen} (ongoing)", "ongoing"))
            else:
                data.bars.append(
                    Bar(len(data.rows) - 1, start, None, f"{regimen} (end not recorded)", "open")
                )
        mine = [e for e in procedures if cancer.condition in owners[id(e)]]
        for kind in ("surgery", "radiotherapy"):
            events = [e for e in mine if e.kind == kind]
            if not events:
                continue
            data.rows.append(kind)
            row = len(data.rows) - 1
            for event in events:
                start, end = day_of(event.start), day_of(event.end)
                if start is None:
                    continue
                if kind == "radiotherapy" and end is not None and end > start:
                    data.bars.append(Bar(row, start, end, event.label, "ended"))
                else:
                    data.marks.append(Mark(row, start, kind, event.label))  # type: ignore[arg-type]
        for plot in marker_plots(cancer, report, record):
            if plot.points:
                data.rows.append(f"{plot.title} ({plot.unit})" if plot.unit else plot.title)
                data.sparks.append(Spark(len(data.rows) - 1, [(p.day, p.value) for p in plot.points]))
    return data
