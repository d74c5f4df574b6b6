"""Tumour-marker kinetics: doubling time and velocity by regression over a treatment window.

PSA doubling time (PSADT) is ln 2 divided by the slope of the least-squares line of ln(PSA) on
time, here in months (the usual clinical convention, as in the MSKCC nomogram). It is only
defined for a rising series: with a slope ≤ 0 PSA is stable or falling and there is nothing to
double, so the result is None with that reason, never a negative "doubling time". At least three
values are required (two points always fit a line exactly, which says nothing about log-linearity).
PSA velocity is the slope of the least-squares line of PSA on time in years (ng/mL/year), defined
from two values.

Kinetics describe one treatment state, so the values used are those on or after ``since``: by
default the most recent recorded treatment change (see `timeline.last_treatment_change`), else all.
CEA (2039-6) and CA-125 (10334-1) get the same computations in their own units.
"""

from __future__ import annotations

import math
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from medboard.tools.longitudinal.dates import months_between, parse_day, years_between
from medboard.tools.longitudinal.trends import (
    CA125_LOINC,
    CEA_LOINC,
    PSA_LOINC,
    AnalyteTrend,
    SkipCategory,
    SkippedValue,
    TrendPoint,
    fmt,
)
from medboard.tools.units import UnitConversionError, convert

# The unit each marker's kinetics are expressed in (values are converted to it first).
KINETICS_UNITS: dict[str, str] = {PSA_LOINC: "ng/mL", CEA_LOINC: "ng/mL", CA125_LOINC: "U/mL"}
MARKER_NAMES: dict[str, str] = {PSA_LOINC: "PSA", CEA_LOINC: "CEA", CA125_LOINC: "CA-125"}

MIN_POINTS_DOUBLING_TIME = 3
MIN_POINTS_VELOCITY = 2


class MarkerKinetics(BaseModel):
    """Doubling time and velocity of one marker over a window, with why either is undefined."""

    model_config = ConfigDict(extra="forbid")

    loinc: str
    name: str
    unit: str | None
    since: str | None = Field(description="`YYYY-MM-DD`: values on or after this day are used; None = all.")
    since_reason: str
    used: list[TrendPoint] = Field(default_factory=list)
    excluded: list[SkippedValue] = Field(
        default_factory=list, description="Series values not used here (before `since`, or ≤ 0 for ln)."
    )
    doubling_time_months: float | None = None
    doubling_time_reason: str | None = Field(default=None, description="Why the doubling time is undefined.")
    ln_slope_per_month: float | None = None
    velocity_per_year: float | None = None
    velocity_reason: str | None = Field(default=None, description="Why the velocity is undefined.")

    @property
    def velocity_unit(self) -> str:
        return f"{self.unit}/year" if self.unit else "per year"

    def describe(self) -> str:
        """Both results with their arithmetic, or the reasons they are undefined."""
        window = f"on or after {self.since}" if self.since else "over all values"
        values = ", ".join(f"{fmt(p.value)} ({p.day})" for p in self.used) or "none"
        parts = [f"{self.name} kinetics {window} ({self.since_reason}); values used: {values}."]
        if self.doubling_time_months is not None and self.ln_slope_per_month is not None:
            parts.append(
                f"Doubling time {fmt(self.doubling_time_months)} months: least-squares slope of "
                f"ln({self.name}) on time = {fmt(self.ln_slope_per_month, 4)} per month; "
                f"ln 2 / {fmt(self.ln_slope_per_month, 4)} = {fmt(self.doubling_time_months)}."
            )
        else:
            parts.append(f"Doubling time undefined: {self.doubling_time_reason}.")
        if self.velocity_per_year is not None:
            parts.append(
                f"Velocity {fmt(self.velocity_per_year)} {self.velocity_unit} "
                f"(least-squares slope of {self.name} on time in years)."
            )
        else:
            parts.append(f"Velocity undefined: {self.velocity_reason}.")
        return " ".join(parts)


def _fit_slope(x: list[float], y: list[float]) -> float:
    import numpy as np

    slope, _intercept = np.polyfit(np.asarray(x, dtype=float), np.asarray(y, dtype=float), 1)
    return float(slope)


def marker_kinetics(
    trend: AnalyteTrend,
    *,
    since: str | date | None = None,
    since_reason: str | None = None,
    min_points_doubling: int = MIN_POINTS_DOUBLING_TIME,
    min_points_velocity: int = MIN_POINTS_VELOCITY,
) -> MarkerKinetics:
    """Doubling time (months) and velocity (per year) of ``trend`` over values on or after ``since``."""
    name = MARKER_NAMES.get(trend.loinc, trend.label)
    unit = KINETICS_UNITS.get(trend.loinc, trend.unit)
    since_day = parse_day(since) if since is not None else None
    result = MarkerKinetics(
        loinc=trend.loinc,
        name=name,
        unit=unit,
        since=since_day.isoformat() if since_day else None,
        since_reason=since_reason or ("given" if since_day else "no treatment change recorded: all values"),
    )

    window: list[TrendPoint] = []
    for point in trend.points:
        if since_day is not None and parse_day(point.date) < since_day:
            result.excluded.append(
                _excluded(point, "window", f"before {since_day.isoformat()}: outside the kinetics window")
            )
            continue
        try:
            value = convert(point.value, trend.unit, unit, loinc=trend.loinc)
        except UnitConversionError as error:
            result.excluded.append(_excluded(point, "unit", f"cannot express in {unit}: {error}"))
            continue
        window.append(point.model_copy(update={"value": value, "unit": unit}))
    result.used = window

    # Velocity: linear regression of the value on time in years.
    times = [p.instant for p in window]
    if len(window) < min_points_velocity:
        result.velocity_reason = _too_few(len(window), min_points_velocity, result.since)
    elif len(set(times)) < 2:
        result.velocity_reason = "all values are at the same time"
    else:
        years = [years_between(times[0], t) for t in times]
        result.velocity_per_year = _fit_slope(years, [p.value for p in window])

    # Doubling time: linear regression of ln(value) on time in months; ln needs positive values.
    positive = [p for p in window if p.value > 0]
    for p in window:
        if p.value <= 0:
            result.excluded.append(_excluded(p, "non_positive", f"value {fmt(p.value)} ≤ 0 has no logarithm"))
    if len(positive) < min_points_doubling:
        result.doubling_time_reason = _too_few(len(positive), min_points_doubling, result.since)
    elif len({p.instant for p in positive}) < 2:
        result.doubling_time_reason = "all values are at the same time"
    else:
        t0 = positive[0].instant
        months = [months_between(t0, p.instant) for p in positive]
        slope = _fit_slope(months, [math.log(p.value) for p in positive])
        result.ln_slope_per_month = slope
        if slope > 0:
            result.doubling_time_months = math.log(2) / slope
        else:
            result.doubling_time_reason = (
                f"{name} is not rising over the window (slope of ln({name}) = {fmt(slope, 4)} per month, "
                "not > 0), so there is no doubling time"
            )
    return result


def _excluded(point: TrendPoint, category: SkipCategory, reason: str) -> SkippedValue:
    return SkippedValue(reference=point.reference, reason=reason, category=category, date=point.date)


def _too_few(count: int, needed: int, since: str | None) -> str:
    where = f"on or after {since}" if since else "in the series"
    noun = "value" if count == 1 else "values"
    return f"only {count} usable {noun} {where}; at least {needed} are needed"
