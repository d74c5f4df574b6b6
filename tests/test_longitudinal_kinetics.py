"""Tumour-marker kinetics on constructed series with known answers, and their undefined cases."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from longitudinal_support import lab

from medboard.models import FactKind
from medboard.tools.longitudinal.dates import DAYS_PER_MONTH
from medboard.tools.longitudinal.kinetics import marker_kinetics
from medboard.tools.longitudinal.trends import build_trend

PSA = "2857-1"


def _series(values_by_month: list[tuple[float, float]], loinc: str = PSA, unit: str = "ng/mL"):
    start = datetime(2020, 1, 1, tzinfo=UTC)
    facts = [
        lab(
            f"Observation/m{i}",
            loinc,
            value,
            unit,
            (start + timedelta(days=month * DAYS_PER_MONTH)).isoformat(),
            kind=FactKind.tumor_marker,
        )
        for i, (month, value) in enumerate(values_by_month)
    ]
    return build_trend(loinc, facts)


def test_exponential_psa_doubling_every_six_months() -> None:
    # PSA = 1 × 2^(t/6): exactly log-linear, so the regression recovers 6 months (days are rounded).
    trend = _series([(m, 2 ** (m / 6)) for m in (0, 3, 6, 9, 12)])
    kinetics = marker_kinetics(trend)
    assert kinetics.doubling_time_months == pytest.approx(6.0, rel=1e-9)
    assert kinetics.ln_slope_per_month == pytest.approx(math.log(2) / 6, rel=1e-9)
    assert "ln 2 /" in kinetics.describe()
    # an exact fit: R² 1, a degenerate interval, so the doubling time is stated
    assert kinetics.doubling_time_supported and kinetics.doubling_fit is not None
    assert kinetics.doubling_fit.r_squared == pytest.approx(1.0) and kinetics.doubling_fit.n == 5


def test_linear_psa_velocity_per_year() -> None:
    trend = _series([(0, 2.0), (6, 3.0), (12, 4.0), (18, 5.0)])  # +1 ng/mL per 6 months
    kinetics = marker_kinetics(trend)
    assert kinetics.velocity_per_year == pytest.approx(2.0, rel=1e-9)
    assert kinetics.unit == "ng/mL" and kinetics.velocity_unit == "ng/mL/year"


def test_undefined_with_reasons() -> None:
    falling = marker_kinetics(_series([(0, 8.0), (3, 4.0), (6, 2.0)]))
    assert falling.doubling_time_months is None and "not rising" in falling.doubling_time_reason
    assert falling.velocity_per_year == pytest.approx(-12.0, rel=5e-2)

    flat = marker_kinetics(_series([(0, 3.0), (3, 3.0), (6, 3.0)]))
    assert flat.doubling_time_months is None and "not rising" in flat.doubling_time_reason

    two = marker_kinetics(_series([(0, 1.0), (3, 2.0)]))
    assert two.doubling_time_months is None
    assert two.doubling_time_reason == "only 2 usable values in the series; at least 3 are needed"
    assert two.velocity_per_year is not None and two.doubling_fit is None and not two.doubling_time_supported

    one = marker_kinetics(_series([(0, 1.0)]))
    assert one.velocity_per_year is None and "only 1 usable value" in one.velocity_reason


def test_window_since_treatment_change_and_zero_values() -> None:
    trend = _series([(0, 9.0), (3, 0.5), (6, 0.0), (9, 1.0), (12, 2.0), (15, 4.0)])
    since = trend.points[1].date[:10]
    kinetics = marker_kinetics(trend, since=since, since_reason="since surgery")
    assert [p.reference for p in kinetics.used] == [f"Observation/m{i}" for i in range(1, 6)]
    excluded = {s.reference: s.category for s in kinetics.excluded}
    assert excluded == {"Observation/m0": "window", "Observation/m2": "non_positive"}
    # ln fit over 0.5, 1, 2, 4 at months 3, 9, 12, 15 (independent closed form of least squares)
    xs = [
        (datetime.fromisoformat(p.date) - datetime.fromisoformat(trend.points[1].date)).total_seconds()
        / 86400
        / DAYS_PER_MONTH
        for p in kinetics.used
        if p.value > 0
    ]
    ys = [math.log(p.value) for p in kinetics.used if p.value > 0]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    assert kinetics.doubling_time_months == pytest.approx(math.log(2) / slope, rel=1e-9)
    assert kinetics.since == since and "since surgery" in kinetics.describe()


def test_cea_and_ca125_use_their_own_units() -> None:
    cea = marker_kinetics(_series([(0, 5.0), (2, 10.0), (4, 20.0)], loinc="2039-6", unit="ug/L"))
    assert cea.name == "CEA" and cea.unit == "ng/mL"
    assert cea.doubling_time_months == pytest.approx(2.0, rel=1e-9)
    ca125 = marker_kinetics(_series([(0, 35.0), (1, 70.0), (2, 140.0)], loinc="10334-1", unit="U/mL"))
    assert ca125.name == "CA-125" and ca125.velocity_unit == "U/mL/year"
    assert ca125.doubling_time_months == pytest.approx(1.0, rel=1e-9)
