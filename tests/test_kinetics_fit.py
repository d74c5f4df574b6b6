"""Marker kinetics with fit quality: n, R², the 95 % intervals; no doubling time stated when the fit
does not support one (with the reason); one finding per marker course, its numbers in fields."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from longitudinal_support import lab, raw_series, synthea

from medboard.agents.longitudinal.core import kinetics_findings, longitudinal_findings
from medboard.models import FactKind
from medboard.tools.fhir import load_record
from medboard.tools.longitudinal.dates import DAYS_PER_MONTH
from medboard.tools.longitudinal.kinetics import MIN_R_SQUARED, least_squares, marker_kinetics, t_975
from medboard.tools.longitudinal.trends import build_trend, compute_trends

PSA = "2857-1"


def _series(values_by_month: list[tuple[float, float]]):
    start = datetime(2020, 1, 1, tzinfo=UTC)
    facts = [
        lab(
            f"Observation/m{i}",
            PSA,
            value,
            "ng/mL",
            (start + timedelta(days=month * DAYS_PER_MONTH)).isoformat(),
            kind=FactKind.tumor_marker,
        )
        for i, (month, value) in enumerate(values_by_month)
    ]
    return build_trend(PSA, facts)


def test_t_quantiles_match_published_values() -> None:
    # Student's t 0.975 (two-sided 95 %) from any table; the expansion beyond 30 df within 1e-3.
    assert t_975(1) == 12.706 and t_975(3) == 3.182 and t_975(30) == 2.042
    assert t_975(40) == pytest.approx(2.021, abs=1e-3)
    assert t_975(60) == pytest.approx(2.000, abs=1e-3)
    assert t_975(120) == pytest.approx(1.980, abs=1e-3)
    assert t_975(100_000) == pytest.approx(1.960, abs=1e-3)


def test_least_squares_against_numpy() -> None:
    """Slope, R² and the slope's 95 % interval against numpy's fit and covariance, computed here."""
    x = [0.0, 1.5, 3.0, 4.0, 7.5, 9.0]
    y = [0.1, 0.5, 0.4, 1.2, 1.9, 2.6]
    fit = least_squares(x, y)
    (slope, intercept), cov = np.polyfit(x, y, 1, cov=True)  # cov scaled by SSE / (n − 2)
    predicted = np.polyval([slope, intercept], x)
    r2 = 1 - np.sum((np.array(y) - predicted) ** 2) / np.sum((np.array(y) - np.mean(y)) ** 2)
    half = 2.776 * math.sqrt(cov[0][0])  # t 0.975 with 4 degrees of freedom
    assert fit.n == 6 and fit.slope == pytest.approx(slope, rel=1e-9)
    assert fit.intercept == pytest.approx(intercept, rel=1e-9)
    assert fit.r_squared == pytest.approx(r2, rel=1e-9)
    assert fit.slope_ci95 == pytest.approx((slope - half, slope + half), rel=1e-9)
    assert least_squares([0.0, 1.0], [1.0, 3.0]).slope_ci95 is None  # two points: no error estimate


def test_clean_exponential_rise_states_a_doubling_time_with_its_interval() -> None:
    # PSA doubling every 4 months, ±3 % alternating noise: log-linear, tight interval around 4.
    values = [(m, 1.5 * 2 ** (m / 4) * (1.03 if i % 2 else 0.97)) for i, m in enumerate(range(0, 24, 3))]
    kinetics = marker_kinetics(_series(values))
    assert kinetics.doubling_time_supported and kinetics.stated_doubling_time_months is not None
    low, high = kinetics.doubling_time_ci95_months  # type: ignore[misc]
    assert (
        high is not None
        and low < 4.0 < high
        and kinetics.doubling_time_months == pytest.approx(4.0, rel=0.05)
    )
    fit = kinetics.doubling_fit
    assert fit is not None and fit.n == 8 and fit.r_squared is not None and fit.r_squared > 0.99
    text = kinetics.describe()
    stated = re.search(r"Doubling time (\S+) months", text)
    assert stated is not None and float(stated.group(1)) == pytest.approx(4.0, rel=0.05)
    assert "CI95" in text and "R² 1.00, n = 8" in text and "ln 2 /" in text


def test_three_noisy_values_give_no_doubling_time_and_say_why() -> None:
    """Rising, but three values that are not log-linear: the slope's interval reaches 0."""
    kinetics = marker_kinetics(_series([(0, 1.0), (3, 2.5), (6, 2.2)]))
    assert kinetics.doubling_time_months is not None  # the estimate exists ...
    assert (
        not kinetics.doubling_time_supported and kinetics.stated_doubling_time_months is None
    )  # ... unstated
    assert kinetics.doubling_time_ci95_months is not None and kinetics.doubling_time_ci95_months[1] is None
    assert "does not support one" in (kinetics.doubling_time_reason or "")
    assert "unbounded" in (kinetics.doubling_time_reason or "")
    assert "No doubling time stated" in kinetics.describe()


def test_poor_log_linear_fit_is_refused_even_with_a_bounded_interval() -> None:
    """Many values with a real but weak rise: the slope's interval excludes 0, R² is below the bar."""
    values = [(m, 2 ** (m / 40) * (1.6 if i % 2 else 0.6)) for i, m in enumerate(range(0, 60, 2))]
    kinetics = marker_kinetics(_series(values))
    fit = kinetics.doubling_fit
    assert fit is not None and fit.slope_ci95 is not None and fit.slope_ci95[0] > 0
    assert fit.r_squared is not None and fit.r_squared < MIN_R_SQUARED
    assert not kinetics.doubling_time_supported
    assert f"below {MIN_R_SQUARED:g}" in (kinetics.doubling_time_reason or "")
    # the same values pass when the caller accepts any R²
    assert marker_kinetics(_series(values), min_r_squared=0.0).doubling_time_supported


def test_real_psa_rise_with_poor_fit_is_not_stated() -> None:
    """adan_pulido's last four PSA values rise (0.688 → 5.14 ng/mL) but fit ln-linearly with R² 0.19:
    the defect's "doubling time with no fit quality" case. No doubling time; the reason gives R²
    and the unbounded interval; the estimate equals an independent regression."""
    path = synthea("adan_pulido.json")
    raw = raw_series(path, PSA)
    since = raw[-4][0][:10]
    trend = compute_trends(load_record(path).facts, loinc=PSA).analytes[0]
    kinetics = marker_kinetics(trend, since=since, since_reason="test window")
    t = [datetime.fromisoformat(d) for d, _, _ in raw[-4:]]
    months = [(x - t[0]).total_seconds() / 86400 / DAYS_PER_MONTH for x in t]
    slope, _ = np.polyfit(months, np.log([v for _, v, _ in raw[-4:]]), 1)
    assert kinetics.doubling_time_months == pytest.approx(math.log(2) / slope, rel=1e-9)
    assert not kinetics.doubling_time_supported
    assert "R² 0.19" in (kinetics.doubling_time_reason or "") and "unbounded" in (
        kinetics.doubling_time_reason or ""
    )
    (finding,) = kinetics_findings(kinetics)
    assert finding.value is None and finding.unit is None  # nothing stated, nothing in the fields
    assert "No doubling time stated" in finding.text and "Velocity" in finding.text
    notes = {n.split(":", 1)[0]: n for n in finding.notes}
    assert "n=4;" in notes["doubling-time fit"] and "supported=False" in notes["doubling-time fit"]
    assert (
        "doubling_time_ci95_months=[" in notes["doubling-time fit"]
        and "unbounded]" in notes["doubling-time fit"]
    )
    assert notes["velocity fit"].startswith("velocity fit: n=4;")


def test_supported_doubling_time_fills_the_fields() -> None:
    values = [(m, 3.0 * 2 ** (m / 6)) for m in (0, 2, 4, 6, 8)]
    (finding,) = kinetics_findings(marker_kinetics(_series(values)), cancer="Condition/c1")
    assert finding.value == pytest.approx(6.0, rel=1e-6) and finding.unit == "months"
    assert finding.claim is not None and finding.claim.concept == "result"
    assert finding.claim.kind == "marker" and finding.claim.cancer == "Condition/c1"
    assert [r.source for r in finding.claim.results] == [f"Observation/m{i}" for i in range(5)]
    assert "kinetics" in finding.tags


@pytest.mark.parametrize("name", ["adan_pulido.json", "loyd_connelly.json", "austin_franecki.json"])
def test_one_finding_per_marker_course_and_no_sentence_twice(name: str) -> None:
    findings = longitudinal_findings(load_record(synthea(name)))
    kinetics = [f for f in findings if "kinetics" in f.tags]
    # austin_franecki's PSA belongs to no cancer of his (lung): trended as a lab, no kinetics
    assert len(kinetics) == len({f.claim.code for f in kinetics if f.claim is not None})
    assert len(kinetics) == (0 if name.startswith("austin") else 1)
    texts = [f.text for f in findings]
    assert len(texts) == len(set(texts))
    assert not any(t.startswith(("PSA doubling time:", "PSA velocity:")) for t in texts)
    for f in kinetics:
        if f.value is not None:  # a stated doubling time always carries its fit
            assert any(n.startswith("doubling-time fit:") and "supported=True" in n for n in f.notes)
