"""Lab, vital-sign and tumour-marker trends: one series per LOINC code, with the arithmetic kept.

`compute_trends(facts)` groups numeric facts by their LOINC code, brings every value of a series to
one unit (`medboard.tools.units.convert`), and computes what a tumour board asks of a series: latest against
baseline and against the previous value (absolute and percent change), direction, nadir and peak,
and whether the series crossed its reference range. Nothing is dropped silently: a value without a
number or a date, a censored value (``<0.1``), a unit that cannot be reconciled, an implausible value,
or two conflicting values at the same instant each becomes a `SkippedValue` with its reason.

`picture_trends(series, facts)` does the same arithmetic over the clinical picture's lab series
(`medboard.models.picture.LabSeries`, built by `medboard.tools.reconcile`): there the picture has
already split each analyte by comparable unit (eGFR in ``mL/min`` and in ``mL/min/{1.73_m2}`` are two
series, never one "change" between them) and kept implausible values and values dated after death or
the case date out; this module keeps doing the arithmetic, the reference-range reading, the censored
values and the notes on what could not be plotted.

Tumour-marker kinetics (PSA doubling time and velocity, CEA and CA-125) live in `kinetics.py`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.models import EvidenceRef, Fact, FactKind, iso_day
from medboard.models.fact_kinds import MeasurementDetails
from medboard.models.picture import LabSeries
from medboard.tools.longitudinal.dates import DateError, parse_instant
from medboard.tools.longitudinal.plausibility import implausibility
from medboard.tools.units import UnitConversionError, comparable_for_series, convert

LOINC_SYSTEM = "http://loinc.org"
PSA_LOINC = "2857-1"
CEA_LOINC = "2039-6"
CA125_LOINC = "10334-1"
TUMOR_MARKER_LOINCS = frozenset({PSA_LOINC, CEA_LOINC, CA125_LOINC})

TREND_KINDS = (FactKind.lab, FactKind.vital, FactKind.tumor_marker)

# A change within 5 % of the earlier value is "stable": assay imprecision for most analytes is of
# that order, so smaller moves are not called a direction.
DEFAULT_STABLE_TOLERANCE = 0.05

Direction = Literal["rising", "falling", "stable"]
ReferenceStatus = Literal["below", "within", "above", "normal", "abnormal"]
SkipCategory = Literal[
    "no_code",
    "no_value",
    "non_numeric",
    "no_date",
    "bad_date",
    "unit",
    "censored",
    "implausible",
    "duplicate",
    "conflict",
    "window",
    "non_positive",
    "left_out",
]

_CENSORED = re.compile(
    r"^\s*(?P<op><=|>=|<|>|≤|≥)\s*(?P<num>[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(?P<unit>\S.*)?$"
)
_NUMBER = re.compile(r"^\s*[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?\s*$")
_COMPARATOR_NORMAL = {"≤": "<=", "≥": ">="}
_INTERPRETATION_STATUS: dict[str, ReferenceStatus] = {
    "H": "above",
    "HH": "above",
    "HU": "above",
    ">": "above",
    "L": "below",
    "LL": "below",
    "LU": "below",
    "<": "below",
    "N": "within",
    "A": "abnormal",
    "AA": "abnormal",
}


class SkippedValue(BaseModel):
    """An input left out of the arithmetic, and why (reported, never silently dropped)."""

    model_config = ConfigDict(extra="forbid")

    reference: str
    reason: str
    category: SkipCategory
    date: str | None = None


class TrendPoint(BaseModel):
    """One value of a series, in the series' unit, with the source value it came from."""

    model_config = ConfigDict(extra="forbid")

    date: str = Field(description="The source's ISO date/dateTime.")
    value: float = Field(description="Value in the series unit (converted when the source differs).")
    unit: str | None
    reference: str = Field(description="`Observation/id` the value comes from.")
    source_value: float | str
    source_unit: str | None
    comparator: str | None = Field(default=None, description="Set on censored values only.")
    reference_status: ReferenceStatus | None = None
    evidence: EvidenceRef

    @property
    def instant(self) -> datetime:
        return parse_instant(self.date)

    @property
    def day(self) -> str:
        return iso_day(self.date)

    def shown(self) -> str:
        """``5.14 ng/mL on 2003-03-26``, the value as cited in finding text."""
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.comparator or ''}{fmt(self.value)}{unit} on {self.day}"


class ReferenceCrossing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: str
    from_status: ReferenceStatus
    to_status: ReferenceStatus
    from_reference: str
    to_reference: str


class AnalyteTrend(BaseModel):
    """One analyte's series over time and its statistics (None when fewer than two values)."""

    model_config = ConfigDict(extra="forbid")

    loinc: str
    label: str
    kind: str
    unit: str | None
    points: list[TrendPoint] = Field(description="Numeric values in time order: what the arithmetic uses.")
    censored: list[TrendPoint] = Field(
        default_factory=list, description="Censored values (`<0.1`): shown, never used in arithmetic."
    )
    skipped: list[SkippedValue] = Field(default_factory=list)
    latest: TrendPoint | None = None
    baseline: TrendPoint | None = None
    previous: TrendPoint | None = None
    change_from_baseline: float | None = None
    percent_change_from_baseline: float | None = None
    change_from_previous: float | None = None
    percent_change_from_previous: float | None = None
    direction: Direction | None = Field(default=None, description="Latest vs previous, with tolerance.")
    direction_from_baseline: Direction | None = None
    stable_tolerance: float = DEFAULT_STABLE_TOLERANCE
    nadir: TrendPoint | None = None
    peak: TrendPoint | None = None
    crossed_reference_range: bool | None = Field(
        default=None, description="True if consecutive values changed reference status; None if unknown."
    )
    reference_crossings: list[ReferenceCrossing] = Field(default_factory=list)

    @property
    def evidence(self) -> list[EvidenceRef]:
        return [p.evidence for p in self.points]

    def describe(self, *, qualifier: str | None = None) -> str:
        """The statistics in one paragraph, arithmetic shown (used as finding text).

        ``qualifier`` goes into the heading's parentheses: an analyte measured in two incomparable
        units has two series, and their two paragraphs must say which is which.
        """
        code = f"LOINC {self.loinc}" + (f"; {qualifier}" if qualifier else "")
        if self.latest is None:
            return f"{self.label} ({code}): no usable value."
        if self.baseline is None or self.previous is None or self.latest is self.baseline:
            return f"{self.label} ({code}): one usable value, {self.latest.shown()}; no trend."
        parts = [
            f"{self.label} ({code}), {len(self.points)} values: latest {self.latest.shown()}.",
            "Versus baseline "
            + _change_text(
                self.baseline, self.latest, self.change_from_baseline, self.percent_change_from_baseline
            )
            + f" ({self.direction_from_baseline}).",
            "Versus previous "
            + _change_text(
                self.previous, self.latest, self.change_from_previous, self.percent_change_from_previous
            )
            + f" ({self.direction}; stable means within ±{fmt(self.stable_tolerance * 100)} %).",
        ]
        if self.nadir and self.peak:
            parts.append(f"Nadir {self.nadir.shown()}; peak {self.peak.shown()}.")
        if self.reference_crossings:
            crossings = "; ".join(
                f"{c.from_status} → {c.to_status} on {iso_day(c.date)}" for c in self.reference_crossings
            )
            parts.append(f"Crossed the reference range: {crossings}.")
        elif self.crossed_reference_range is False:
            parts.append("Did not cross the reference range.")
        return " ".join(parts)


class TrendReport(BaseModel):
    """Every analyte's trend, plus facts that could not be assigned to any analyte."""

    model_config = ConfigDict(extra="forbid")

    analytes: list[AnalyteTrend]
    unassigned: list[SkippedValue] = Field(default_factory=list)

    def analyte(self, loinc: str) -> AnalyteTrend | None:
        return next((a for a in self.analytes if a.loinc == loinc), None)


def fmt(value: float, digits: int = 3) -> str:
    """A number for text: significant digits, no trailing zeros, no exponent for usual lab values."""
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def signed(value: float, digits: int = 3) -> str:
    return ("+" if value > 0 else "") + fmt(value, digits)


def _change_text(old: TrendPoint, new: TrendPoint, change: float | None, percent: float | None) -> str:
    unit = f" {new.unit}" if new.unit else ""
    if change is None:
        return f"{old.shown()}: change not computed"
    text = f"{old.shown()}: {fmt(new.value)} − {fmt(old.value)} = {signed(change)}{unit}"
    if percent is not None:
        text += f" ({signed(change)} / {fmt(old.value)} = {signed(percent)} %)"
    else:
        text += " (percent change undefined: earlier value is 0)"
    return text


def loinc_code(fact: Fact) -> str | None:
    """The fact's LOINC code: the first coding with the LOINC system."""
    return next((c.code for c in fact.codes if c.system == LOINC_SYSTEM and c.code), None)


def direction(old: float, new: float, tolerance: float = DEFAULT_STABLE_TOLERANCE) -> Direction:
    """Rising / falling / stable: a change within ``tolerance`` × |old| is stable."""
    change = new - old
    if abs(change) <= tolerance * abs(old):
        return "stable"
    return "rising" if change > 0 else "falling"


def percent_change(old: float, new: float) -> float | None:
    return None if old == 0 else (new - old) / abs(old) * 100.0


class _Candidate:
    """A fact read into number, unit and instant, before unit reconciliation."""

    __slots__ = ("comparator", "fact", "instant", "source_value", "unit", "value")

    def __init__(
        self, fact: Fact, instant: datetime, value: float, unit: str | None, comparator: str | None
    ) -> None:
        self.fact = fact
        self.instant = instant
        self.value = value
        self.unit = unit
        self.comparator = comparator
        self.source_value: float | str = fact.value if isinstance(fact.value, (int, float, str)) else value


def _skip(fact: Fact, category: SkipCategory, reason: str) -> SkippedValue:
    return SkippedValue(reference=fact.reference, reason=reason, category=category, date=fact.date)


def _read(fact: Fact) -> _Candidate | SkippedValue:
    """Number, unit, comparator and instant of one fact, or why it cannot be trended."""
    unit = fact.unit_code or fact.unit
    comparator = _COMPARATOR_NORMAL.get(fact.comparator or "", fact.comparator)
    raw = fact.value
    if raw is None:
        coded = next((c.display or c.code for c in fact.value_codes if c.display or c.code), None)
        if coded:
            return _skip(fact, "non_numeric", f"coded value {coded!r}, not a number")
        absent = fact.details.data_absent_reason if isinstance(fact.details, MeasurementDetails) else None
        return _skip(fact, "no_value", f"no value (data absent: {absent})" if absent else "no value")
    if isinstance(raw, bool):
        return _skip(fact, "non_numeric", f"non-numeric value {raw!r}")
    if isinstance(raw, str):
        censored = _CENSORED.match(raw)
        if censored:
            comparator = _COMPARATOR_NORMAL.get(censored["op"], censored["op"])
            value = float(censored["num"])
            unit = unit or (censored["unit"].strip() if censored["unit"] else None)
        elif _NUMBER.match(raw):
            value = float(raw)
        else:
            return _skip(fact, "non_numeric", f"non-numeric value {raw!r}")
    else:
        value = float(raw)
    if not math.isfinite(value):
        return _skip(fact, "non_numeric", f"non-finite value {raw!r}")
    try:
        instant = parse_instant(fact.date)
    except DateError as error:
        category: SkipCategory = "no_date" if fact.date is None or not str(fact.date).strip() else "bad_date"
        return _skip(fact, category, str(error))
    return _Candidate(fact, instant, value, unit, comparator)


def _series_unit(candidates: list[_Candidate]) -> str | None:
    """The unit most values carry (ties: the latest value's unit); None when no value has a unit."""
    counts = Counter(c.unit for c in candidates if c.unit)
    if not counts:
        return None
    best = max(counts.values())
    tied = {unit for unit, n in counts.items() if n == best}
    latest = max((c for c in candidates if c.unit in tied), key=lambda c: c.instant)
    return latest.unit


def _reference_status(
    fact: Fact, value: float, series_unit: str | None, loinc: str
) -> ReferenceStatus | None:
    """Where a value sits against its own reference range (or, lacking one, its interpretation flag)."""
    rng = fact.reference_range
    if rng is not None and (rng.low is not None or rng.high is not None):
        range_unit = rng.unit or fact.unit_code or fact.unit
        try:
            low = convert(rng.low, range_unit, series_unit, loinc=loinc) if rng.low is not None else None
            high = convert(rng.high, range_unit, series_unit, loinc=loinc) if rng.high is not None else None
        except UnitConversionError:
            low = high = None
        if low is not None and value < low:
            return "below"
        if high is not None and value > high:
            return "above"
        if low is not None or high is not None:
            return "within"
    if fact.interpretation and fact.interpretation in _INTERPRETATION_STATUS:
        return _INTERPRETATION_STATUS[fact.interpretation]
    if fact.abnormal is not None:
        return "abnormal" if fact.abnormal else "normal"
    return None


def _point(
    candidate: _Candidate, value: float, unit: str | None, status: ReferenceStatus | None
) -> TrendPoint:
    fact = candidate.fact
    return TrendPoint(
        date=str(fact.date),
        value=value,
        unit=unit,
        reference=fact.reference,
        source_value=candidate.source_value,
        source_unit=candidate.unit,
        comparator=candidate.comparator,
        reference_status=status,
        evidence=fact.evidence,
    )


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _resolve_duplicates(points: list[TrendPoint], skipped: list[SkippedValue]) -> list[TrendPoint]:
    """Keep one of identical values at one instant; skip every value of a conflicting instant."""
    by_instant: dict[datetime, list[TrendPoint]] = defaultdict(list)
    for point in points:
        by_instant[point.instant].append(point)
    kept: list[TrendPoint] = []
    for instant in sorted(by_instant):
        group = sorted(by_instant[instant], key=lambda p: p.reference)
        first = group[0]
        if all(_same(p.value, first.value) for p in group):
            kept.append(first)
            skipped.extend(
                SkippedValue(
                    reference=p.reference,
                    reason=f"duplicate of {first.reference} (same time {p.date}, same value {fmt(p.value)})",
                    category="duplicate",
                    date=p.date,
                )
                for p in group[1:]
            )
            continue
        values = ", ".join(f"{fmt(p.value)} {p.unit or ''} ({p.reference})".replace("  ", " ") for p in group)
        skipped.extend(
            SkippedValue(
                reference=p.reference,
                reason=f"conflicting values at the same time {p.date}: {values}; none trended",
                category="conflict",
                date=p.date,
            )
            for p in group
        )
    return kept


def build_trend(
    loinc: str, facts: list[Fact], *, stable_tolerance: float = DEFAULT_STABLE_TOLERANCE
) -> AnalyteTrend:
    """One analyte's trend from its facts (all sharing ``loinc``)."""
    skipped: list[SkippedValue] = []
    candidates: list[_Candidate] = []
    for fact in facts:
        read = _read(fact)
        if isinstance(read, SkippedValue):
            skipped.append(read)
        else:
            candidates.append(read)

    unit = _series_unit(candidates)
    points: list[TrendPoint] = []
    censored: list[TrendPoint] = []
    for candidate in candidates:
        if unit is not None and candidate.unit is None:
            skipped.append(_skip(candidate.fact, "unit", f"no unit, while the series is in {unit}"))
            continue
        try:
            value = convert(candidate.value, candidate.unit, unit, loinc=loinc)
        except UnitConversionError as error:
            skipped.append(_skip(candidate.fact, "unit", f"unit cannot be reconciled: {error}"))
            continue
        shown_unit = f" {candidate.unit}" if candidate.unit else ""
        if candidate.comparator:
            point = _point(candidate, value, unit, None)
            censored.append(point)
            skipped.append(
                _skip(
                    candidate.fact,
                    "censored",
                    f"censored value {candidate.comparator}{fmt(candidate.value)}{shown_unit}: "
                    "kept in the series, excluded from the arithmetic",
                )
            )
            continue
        problem = implausibility(value, unit, loinc)
        if problem:
            skipped.append(_skip(candidate.fact, "implausible", problem))
            continue
        status = _reference_status(candidate.fact, value, unit, loinc)
        points.append(_point(candidate, value, unit, status))

    points = _resolve_duplicates(points, skipped)
    censored.sort(key=lambda p: p.instant)
    latest_fact = max(facts, key=lambda f: f.date or "")
    label = latest_fact.label or next((c.display for c in latest_fact.codes if c.display), loinc)
    trend = AnalyteTrend(
        loinc=loinc,
        label=label,
        kind=str(latest_fact.kind),
        unit=unit,
        points=points,
        censored=censored,
        skipped=skipped,
        stable_tolerance=stable_tolerance,
    )
    return _with_statistics(trend)


def _with_statistics(trend: AnalyteTrend) -> AnalyteTrend:
    points = trend.points
    if not points:
        return trend
    trend.latest = points[-1]
    trend.baseline = points[0]
    trend.nadir = min(points, key=lambda p: p.value)
    trend.peak = max(points, key=lambda p: p.value)
    if len(points) >= 2:
        baseline, previous, latest = points[0], points[-2], points[-1]
        tol = trend.stable_tolerance
        trend.previous = previous
        trend.change_from_baseline = latest.value - baseline.value
        trend.percent_change_from_baseline = percent_change(baseline.value, latest.value)
        trend.change_from_previous = latest.value - previous.value
        trend.percent_change_from_previous = percent_change(previous.value, latest.value)
        trend.direction = direction(previous.value, latest.value, tol)
        trend.direction_from_baseline = direction(baseline.value, latest.value, tol)
    known = [p for p in points if p.reference_status is not None]
    if len(known) >= 2:
        trend.reference_crossings = [
            ReferenceCrossing(
                date=b.date,
                from_status=a.reference_status,  # type: ignore[arg-type]
                to_status=b.reference_status,  # type: ignore[arg-type]
                from_reference=a.reference,
                to_reference=b.reference,
            )
            for a, b in itertools.pairwise(known)
            if a.reference_status != b.reference_status
        ]
        trend.crossed_reference_range = bool(trend.reference_crossings)
    return trend


def compute_trends(
    facts: Iterable[Fact],
    *,
    loinc: str | None = None,
    kinds: Iterable[FactKind | str] = TREND_KINDS,
    stable_tolerance: float = DEFAULT_STABLE_TOLERANCE,
) -> TrendReport:
    """Trends of every analyte (or only ``loinc``) among the facts of the given kinds.

    Facts without a LOINC code are returned in `TrendReport.unassigned` (a trend is per LOINC code).
    Analytes are ordered tumour markers first, then by label.
    """
    groups, unassigned = _by_loinc(facts, kinds)
    if loinc is not None:
        groups = {code: group for code, group in groups.items() if code == loinc}
        unassigned = []
    analytes = [build_trend(code, group, stable_tolerance=stable_tolerance) for code, group in groups.items()]
    _order(analytes)
    return TrendReport(analytes=analytes, unassigned=unassigned)


def _by_loinc(
    facts: Iterable[Fact], kinds: Iterable[FactKind | str]
) -> tuple[dict[str, list[Fact]], list[SkippedValue]]:
    """The facts of the given kinds by LOINC code, and those without one (a trend is per code)."""
    wanted = {FactKind(k) for k in kinds}
    groups: dict[str, list[Fact]] = defaultdict(list)
    unassigned: list[SkippedValue] = []
    for fact in facts:
        if fact.kind not in wanted:
            continue
        code = loinc_code(fact)
        if code is None:
            unassigned.append(_skip(fact, "no_code", "no LOINC code: cannot be grouped into a trend"))
        else:
            groups[code].append(fact)
    return groups, unassigned


def _order(analytes: list[AnalyteTrend]) -> None:
    """Tumour markers first, then by label (and unit, for an analyte with two series)."""
    analytes.sort(
        key=lambda a: (
            a.loinc not in TUMOR_MARKER_LOINCS,
            a.kind != "tumor_marker",
            a.label.lower(),
            a.unit or "",
        )
    )


# --- trends over the clinical picture's series ----------------------------------------------


def _fits(unit: str | None, series_unit: str | None, loinc: str) -> bool:
    """Whether a value in `unit` belongs with a series in `series_unit` (the picture's own rule:
    the same unit, or comparable for a series — `medboard.tools.reconcile.labs`)."""
    if unit == series_unit:
        return True
    if unit is None or series_unit is None:
        return False
    return bool(comparable_for_series(series_unit, unit, loinc=loinc))


def series_trend(
    series: LabSeries, facts: Sequence[Fact], *, stable_tolerance: float = DEFAULT_STABLE_TOLERANCE
) -> AnalyteTrend:
    """One analyte's trend over one of the picture's series (`series.code` is its LOINC code).

    The points are the series' own (already in the series' unit, implausible values already out);
    `facts` are the record's facts of the analyte the series may draw on: they supply each point's
    evidence and reference range, and the ones the picture could not plot are reported as
    `build_trend` reports them — censored values (``<0.1``) shown but not used, unreadable values
    skipped with their reason, a plain value the picture left out (dated after death or the case
    date) skipped as ``left_out``. A fact in a unit that does not fit this series belongs to
    another series of the analyte and is not mentioned here.
    """
    loinc = series.code or ""
    unit = series.unit
    by_ref: dict[str, Fact] = {}
    for fact in facts:
        by_ref.setdefault(fact.reference, fact)
    in_series = {p.source for p in series.points}
    points: list[TrendPoint] = []
    for lab in series.points:
        source = by_ref.get(lab.source)
        if source is None:  # the caller did not pass it: cite the reference alone
            points.append(
                TrendPoint(
                    date=lab.date,
                    value=lab.value,
                    unit=unit,
                    reference=lab.source,
                    source_value=lab.value,
                    source_unit=unit,
                    evidence=EvidenceRef(reference=lab.source),
                )
            )
            continue
        written = source.unit_code or source.unit
        candidate = _Candidate(source, parse_instant(lab.date), lab.value, written, None)
        points.append(_point(candidate, lab.value, unit, _reference_status(source, lab.value, unit, loinc)))

    skipped: list[SkippedValue] = []
    censored: list[TrendPoint] = []
    for fact in facts:
        if fact.reference in in_series:
            continue
        read = _read(fact)
        if isinstance(read, SkippedValue):
            written = fact.unit_code or fact.unit
            if written is None or _fits(written, unit, loinc):  # no unit: it could be any series'
                skipped.append(read)
            continue
        if not _fits(read.unit, unit, loinc):
            continue
        if read.comparator:
            try:
                value = convert(read.value, read.unit, unit, loinc=loinc)
            except UnitConversionError as error:
                skipped.append(_skip(fact, "unit", f"unit cannot be reconciled: {error}"))
                continue
            censored.append(_point(read, value, unit, None))
            shown_unit = f" {read.unit}" if read.unit else ""
            skipped.append(
                _skip(
                    fact,
                    "censored",
                    f"censored value {read.comparator}{fmt(read.value)}{shown_unit}: "
                    "kept in the series, excluded from the arithmetic",
                )
            )
            continue
        skipped.append(
            _skip(fact, "left_out", "not in the clinical picture's series (see the picture's data quality)")
        )

    points = _resolve_duplicates(sorted(points, key=lambda p: p.instant), skipped)
    censored.sort(key=lambda p: p.instant)
    cited = [by_ref[p.reference] for p in points if p.reference in by_ref] or list(facts)
    latest_fact = max(cited, key=lambda f: f.date or "", default=None)
    label = series.name
    if latest_fact is not None:
        label = latest_fact.label or next((c.display for c in latest_fact.codes if c.display), series.name)
    trend = AnalyteTrend(
        loinc=loinc,
        label=label,
        kind=str(latest_fact.kind) if latest_fact is not None else FactKind.lab.value,
        unit=unit,
        points=points,
        censored=censored,
        skipped=skipped,
        stable_tolerance=stable_tolerance,
    )
    return _with_statistics(trend)


def _plottable(fact: Fact) -> bool:
    """A plain number with a readable date: what a picture series would hold if nothing kept it out."""
    read = _read(fact)
    return not isinstance(read, SkippedValue) and not read.comparator


def picture_trends(
    series: Iterable[LabSeries],
    facts: Iterable[Fact],
    *,
    implausible: Collection[str] = (),
    kinds: Iterable[FactKind | str] = TREND_KINDS,
    stable_tolerance: float = DEFAULT_STABLE_TOLERANCE,
) -> TrendReport:
    """Trends over the clinical picture's lab series, one `AnalyteTrend` per series.

    `facts` are the record's facts; `implausible` the references the picture reported as
    implausible values (its data quality says so, with the raw value: they appear in no trend,
    not even as a skipped note). Series without a LOINC code are not trended (a trend is per code;
    their facts are listed in `TrendReport.unassigned`, as `compute_trends` lists them). An
    analyte with no series at all — every value censored, unreadable or kept out by the picture —
    still gets its `build_trend` over the values that were never plottable, so the reasons show.
    """
    groups, unassigned = _by_loinc((f for f in facts if f.reference not in implausible), kinds)
    by_code: dict[str, list[LabSeries]] = defaultdict(list)
    for one in series:
        if one.code is not None:
            by_code[one.code].append(one)
    analytes: list[AnalyteTrend] = []
    for code, group in groups.items():
        mine = by_code.get(code, [])
        if not mine:
            unplottable = [f for f in group if not _plottable(f)]
            if unplottable:
                analytes.append(build_trend(code, unplottable, stable_tolerance=stable_tolerance))
            continue
        for one in mine:
            elsewhere = {p.source for other in mine if other is not one for p in other.points}
            own = [f for f in group if f.reference not in elsewhere]
            analytes.append(series_trend(one, own, stable_tolerance=stable_tolerance))
    _order(analytes)
    return TrendReport(analytes=analytes, unassigned=unassigned)
