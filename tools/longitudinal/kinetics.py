"""Tumour-marker kinetics: doubling time and velocity by regression, with the quality of each fit.

PSA doubling time (PSADT) is ln 2 divided by the slope of the least-squares line of ln(PSA) on
time, here in months (the usual clinical convention, as in the MSKCC nomogram). PSA velocity is
the slope of the least-squares line of PSA on time in years (ng/mL/year). CEA (2039-6) and CA-125
(10334-1) get the same computations in their own units.

A doubling time is a model — exponential growth — fitted to a few noisy values, so a number alone
misleads: 43.7 months from a fit with R² 0.24 whose slope is compatible with zero says nothing.
Every fit therefore carries its quality (`LinearFit`: n, R², the slope's 95 % confidence interval
from Student's t), the doubling time carries its own 95 % interval (ln 2 over the slope's bounds;
unbounded above when the slope's interval reaches 0), and a doubling time is only *stated*
(`doubling_time_supported`) when the fit supports one:

- the series rises (slope > 0) over at least `MIN_POINTS_DOUBLING_TIME` positive values (two
  points always fit a line exactly, which says nothing about log-linearity);
- the slope's 95 % interval excludes 0, i.e. the doubling time's interval is bounded — otherwise
  the values are as compatible with a flat series as with any doubling time;
- the log-linear fit explains at least `MIN_R_SQUARED` of the variance of ln(value). This is a
  project default, not a guideline threshold: below it the series is not exponential enough for
  one doubling time to describe it. It is a parameter, and R² is always reported.

When it is not stated, `doubling_time_reason` says why in words a board can read. The regression's
point estimate stays in `doubling_time_months` whenever the slope is positive (the arithmetic is
not hidden), so callers that state a doubling time must look at `doubling_time_supported` (or use
`stated_doubling_time_months`).

Kinetics describe one treatment state, so the values used are those on or after ``since``: by
default the most recent recorded treatment change (see `timeline.last_treatment_change`), else all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
#: See the module docstring: the least R² of the log-linear fit for a doubling time to be stated.
MIN_R_SQUARED = 0.8

# Two-sided 95 % quantiles of Student's t (t_0.975) for 1–30 degrees of freedom (any statistics
# table, e.g. NIST/SEMATECH e-Handbook of Statistical Methods, table 1.3.6.7.2), to three decimals.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
_Z975 = 1.959963984540054


def t_975(df: int) -> float:
    """Student's t 0.975 quantile: the table up to 30 degrees of freedom, then the Cornish–Fisher
    expansion around the normal quantile (within 1e-4 of the exact value beyond 30)."""
    if df < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


class LinearFit(BaseModel):
    """An ordinary least-squares line y = intercept + slope·x and how well it fits."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(description="Number of points fitted.")
    slope: float
    intercept: float
    r_squared: float | None = Field(
        default=None, description="Share of the variance of y the line explains; None when y is constant."
    )
    slope_ci95: tuple[float, float] | None = Field(
        default=None,
        description="95 % confidence interval of the slope (Student's t, n − 2 degrees of freedom); "
        "None with two points (no residual to estimate the error from).",
    )

    def quality(self) -> str:
        """``R² 0.98, n = 5``: the fit's quality as a board reads it."""
        r2 = "R² undefined (constant values)" if self.r_squared is None else f"R² {self.r_squared:.2f}"
        return f"{r2}, n = {self.n}"


def least_squares(x: Sequence[float], y: Sequence[float]) -> LinearFit:
    """The least-squares line through (x, y), its R² and the 95 % interval of its slope.

    Closed form on centred values (numerically stable for dates as x). Needs two distinct x.
    """
    n = len(x)
    if n != len(y) or n < 2:
        raise ValueError("a line needs at least two (x, y) pairs")
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    if sxx == 0:
        raise ValueError("all x are equal: no slope")
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    syy = sum((b - my) ** 2 for b in y)
    slope = sxy / sxx
    intercept = my - slope * mx
    sse = max(0.0, syy - slope * sxy)
    r_squared = None if syy == 0 else max(0.0, min(1.0, 1.0 - sse / syy))
    ci = None
    if n > 2:
        half = t_975(n - 2) * math.sqrt(sse / (n - 2) / sxx)
        ci = (slope - half, slope + half)
    return LinearFit(n=n, slope=slope, intercept=intercept, r_squared=r_squared, slope_ci95=ci)


class MarkerKinetics(BaseModel):
    """Doubling time and velocity of one marker over a window, with their fits and why either is
    not stated."""

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
    doubling_fit: LinearFit | None = Field(default=None, description="ln(value) on time in months.")
    doubling_time_months: float | None = Field(
        default=None,
        description="ln 2 / slope of `doubling_fit` when the slope is > 0: the point estimate, whether "
        "or not the fit supports stating it (see `doubling_time_supported`).",
    )
    doubling_time_ci95_months: tuple[float, float | None] | None = Field(
        default=None,
        description="95 % interval of the doubling time (ln 2 over the slope's bounds); the upper bound "
        "is None (unbounded) when the slope's interval reaches 0.",
    )
    doubling_time_supported: bool = False
    doubling_time_reason: str | None = Field(default=None, description="Why no doubling time is stated.")
    ln_slope_per_month: float | None = None
    velocity_fit: LinearFit | None = Field(default=None, description="Value on time in years.")
    velocity_per_year: float | None = None
    velocity_reason: str | None = Field(default=None, description="Why the velocity is undefined.")

    @property
    def velocity_unit(self) -> str:
        return f"{self.unit}/year" if self.unit else "per year"

    @property
    def stated_doubling_time_months(self) -> float | None:
        """The doubling time a summary may state: only when the fit supports one."""
        return self.doubling_time_months if self.doubling_time_supported else None

    def window_text(self) -> str:
        if self.since:
            return f"on or after {self.since} ({self.since_reason})"
        return f"over all values ({self.since_reason})"

    def doubling_text(self) -> str:
        """The doubling time with its arithmetic, interval and fit — or why none is stated."""
        fit = self.doubling_fit
        if self.doubling_time_supported and fit is not None and self.doubling_time_months is not None:
            return (
                f"Doubling time {fmt(self.doubling_time_months)} months "
                f"(slope of ln({self.name}) {fmt(fit.slope, 4)} per month; ln 2 / {fmt(fit.slope, 4)} = "
                f"{fmt(self.doubling_time_months)}; CI95 {_interval(self.doubling_time_ci95_months)}; "
                f"log-linear fit {fit.quality()})."
            )
        if self.doubling_time_months is not None:  # rising, but the fit does not support it
            return f"No doubling time stated: {self.doubling_time_reason}."
        return f"Doubling time undefined: {self.doubling_time_reason}."

    def velocity_text(self) -> str:
        fit = self.velocity_fit
        if self.velocity_per_year is None or fit is None:
            return f"Velocity undefined: {self.velocity_reason}."
        quality = f" (linear fit {fit.quality()})" if fit.n > 2 else f" (n = {fit.n})"
        return f"Velocity {fmt(self.velocity_per_year)} {self.velocity_unit}{quality}."

    def describe(self) -> str:
        """The window, the values used, the doubling time (or why not) and the velocity."""
        values = ", ".join(p.shown() for p in self.used) or "none"
        return (
            f"{self.name} kinetics {self.window_text()}; values used: {values}. "
            f"{self.doubling_text()} {self.velocity_text()}"
        )


def _interval(ci: tuple[float, float | None] | None) -> str:
    if ci is None:
        return "not estimable"
    low, high = ci
    return f"{fmt(low)} months – unbounded" if high is None else f"{fmt(low)}–{fmt(high)} months"


def marker_kinetics(
    trend: AnalyteTrend,
    *,
    since: str | date | None = None,
    since_reason: str | None = None,
    min_points_doubling: int = MIN_POINTS_DOUBLING_TIME,
    min_points_velocity: int = MIN_POINTS_VELOCITY,
    min_r_squared: float = MIN_R_SQUARED,
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
        result.velocity_fit = least_squares(years, [p.value for p in window])
        result.velocity_per_year = result.velocity_fit.slope

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
        fit = least_squares(months, [math.log(p.value) for p in positive])
        result.doubling_fit = fit
        result.ln_slope_per_month = fit.slope
        _judge_doubling(result, fit, min_r_squared)
    return result


def _judge_doubling(result: MarkerKinetics, fit: LinearFit, min_r_squared: float) -> None:
    """Fill the doubling time, its interval, and whether the fit supports stating it (and why not)."""
    name = result.name
    if fit.slope <= 0:
        result.doubling_time_reason = (
            f"{name} is not rising over the window (slope of ln({name}) {fmt(fit.slope, 4)} per month, "
            f"not > 0; {fit.quality()}), so there is no doubling time"
        )
        return
    result.doubling_time_months = math.log(2) / fit.slope
    low, high = fit.slope_ci95 if fit.slope_ci95 is not None else (fit.slope, fit.slope)
    result.doubling_time_ci95_months = (math.log(2) / high, math.log(2) / low if low > 0 else None)
    problems = []
    if fit.r_squared is None or fit.r_squared < min_r_squared:
        problems.append(f"R² {fit.r_squared or 0:.2f} is below {min_r_squared:g}")
    if low <= 0:
        problems.append(
            f"the slope's CI95 reaches 0 (doubling time CI95 {_interval(result.doubling_time_ci95_months)})"
        )
    if problems:
        result.doubling_time_reason = (
            f"the log-linear fit does not support one ({fit.quality()}): " + "; ".join(problems)
        )
        return
    result.doubling_time_supported = True


def _excluded(point: TrendPoint, category: SkipCategory, reason: str) -> SkippedValue:
    return SkippedValue(reference=point.reference, reason=reason, category=category, date=point.date)


def _too_few(count: int, needed: int, since: str | None) -> str:
    where = f"on or after {since}" if since else "in the series"
    noun = "value" if count == 1 else "values"
    return f"only {count} usable {noun} {where}; at least {needed} are needed"
