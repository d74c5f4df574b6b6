"""Trends on hand-built facts (every skip reason) and on the real Synthea PSA series."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from longitudinal_support import LOYD, SYNTHEA, lab, raw_series, synthea

from medboard.models import Fact, FactKind, ReferenceRange
from medboard.tools.longitudinal.trends import build_trend, compute_trends

GLUCOSE = "2339-0"
HGB = "718-7"
PSA = "2857-1"


def test_statistics_with_arithmetic_shown() -> None:
    facts = [
        lab("Observation/h1", HGB, 14.0, "g/dL", "2020-01-01", label="Hemoglobin"),
        lab("Observation/h2", HGB, 12.0, "g/dL", "2020-02-01", label="Hemoglobin"),
        lab("Observation/h3", HGB, 9.0, "g/dL", "2020-03-01", label="Hemoglobin"),
        lab("Observation/h4", HGB, 9.3, "g/dL", "2020-04-01", label="Hemoglobin"),
    ]
    trend = build_trend(HGB, list(reversed(facts)))  # input order does not matter
    assert [p.reference for p in trend.points] == [
        "Observation/h1",
        "Observation/h2",
        "Observation/h3",
        "Observation/h4",
    ]
    assert trend.baseline.value == 14.0 and trend.latest.value == 9.3 and trend.previous.value == 9.0
    assert trend.change_from_baseline == pytest.approx(-4.7)
    assert trend.percent_change_from_baseline == pytest.approx(-4.7 / 14.0 * 100)
    assert trend.change_from_previous == pytest.approx(0.3)
    assert trend.direction == "stable"  # +3.3 % is within the 5 % tolerance
    assert trend.direction_from_baseline == "falling"
    assert trend.nadir.reference == "Observation/h3" and trend.peak.reference == "Observation/h1"
    text = trend.describe()
    assert "9.3 − 14 = -4.7 g/dL" in text and "-33.6 %" in text


def test_direction_tolerance_is_configurable() -> None:
    facts = [
        lab("Observation/a", HGB, 10.0, "g/dL", "2020-01-01"),
        lab("Observation/b", HGB, 10.4, "g/dL", "2020-02-01"),
    ]
    assert build_trend(HGB, facts).direction == "stable"
    assert build_trend(HGB, facts, stable_tolerance=0.01).direction == "rising"


def test_reference_range_crossing() -> None:
    rng = ReferenceRange(low=13.2, high=16.5, unit="g/dL")
    facts = [
        lab("Observation/a", HGB, 14.0, "g/dL", "2020-01-01", reference_range=rng),
        lab("Observation/b", HGB, 12.5, "g/dL", "2020-02-01", reference_range=rng),
        lab("Observation/c", HGB, 12.0, "g/dL", "2020-03-01", reference_range=rng),
    ]
    trend = build_trend(HGB, facts)
    assert [p.reference_status for p in trend.points] == ["within", "below", "below"]
    assert trend.crossed_reference_range is True
    (crossing,) = trend.reference_crossings
    assert (crossing.from_status, crossing.to_status, crossing.to_reference) == (
        "within",
        "below",
        "Observation/b",
    )
    no_range = build_trend(HGB, [f.model_copy(update={"reference_range": None}) for f in facts])
    assert no_range.crossed_reference_range is None  # unknown, not "no"


def test_unit_mismatch_mg_dl_vs_mmol_l_is_converted_for_glucose() -> None:
    facts = [
        lab("Observation/g1", GLUCOSE, 90.0, "mg/dL", "2020-01-01"),
        lab("Observation/g2", GLUCOSE, 100.0, "mg/dL", "2020-02-01"),
        lab("Observation/g3", GLUCOSE, 7.0, "mmol/L", "2020-03-01"),
    ]
    trend = build_trend(GLUCOSE, facts)
    assert trend.unit == "mg/dL" and not trend.skipped
    assert trend.latest.value == pytest.approx(7.0 * 180.156 / 10)  # 126.1 mg/dL
    assert trend.latest.source_value == 7.0 and trend.latest.source_unit == "mmol/L"


def test_unit_mismatch_refused_clearly_without_a_molar_mass() -> None:
    facts = [
        lab("Observation/p1", PSA, 4.0, "ng/mL", "2020-01-01"),
        lab("Observation/p2", PSA, 5.0, "ng/mL", "2020-02-01"),
        lab("Observation/p3", PSA, 0.2, "mmol/L", "2020-03-01"),
        lab("Observation/p4", PSA, 6.0, "ug/L", "2020-04-01"),  # same dimension: converted
    ]
    trend = build_trend(PSA, facts)
    assert [p.reference for p in trend.points] == ["Observation/p1", "Observation/p2", "Observation/p4"]
    (skipped,) = trend.skipped
    assert skipped.reference == "Observation/p3" and skipped.category == "unit"
    assert "molar mass" in skipped.reason and "mmol/L" in skipped.reason


def test_bad_values_are_skipped_with_reasons_never_dropped() -> None:
    facts = [
        lab("Observation/ok1", PSA, 1.0, "ng/mL", "2020-01-01"),
        lab("Observation/ok2", PSA, 2.0, "ng/mL", "2020-03-01"),
        lab("Observation/none", PSA, None, "ng/mL", "2020-02-01"),
        lab("Observation/text", PSA, "positive", None, "2020-02-02"),
        lab("Observation/bool", PSA, True, None, "2020-02-03"),
        lab("Observation/nodate", PSA, 1.5, "ng/mL", None),
        lab("Observation/partial", PSA, 1.5, "ng/mL", "2020-02"),
        lab("Observation/baddate", PSA, 1.5, "ng/mL", "yesterday"),
        lab("Observation/censored", PSA, "<0.1", "ng/mL", "2020-02-04"),
        lab("Observation/comparator", PSA, 0.05, "ng/mL", "2020-02-05", comparator="<"),
        lab("Observation/negative", PSA, -3.0, "ng/mL", "2020-02-06"),
        lab("Observation/huge", PSA, 1e6, "ng/mL", "2020-02-07"),
        lab("Observation/nounit", PSA, 1.7, None, "2020-02-08"),
        lab("Observation/coded", PSA, None, None, "2020-02-09", value_codes=[{"display": "Detected"}]),
        lab("Observation/absent", PSA, None, None, "2020-02-10", details={"data_absent_reason": "Error"}),
    ]
    trend = build_trend(PSA, facts)
    assert [p.reference for p in trend.points] == ["Observation/ok1", "Observation/ok2"]
    reasons = {s.reference: (s.category, s.reason) for s in trend.skipped}
    assert set(reasons) == {f.reference for f in facts} - {"Observation/ok1", "Observation/ok2"}
    assert reasons["Observation/none"][0] == "no_value"
    assert reasons["Observation/text"][0] == "non_numeric" and "positive" in reasons["Observation/text"][1]
    assert reasons["Observation/bool"][0] == "non_numeric"
    assert reasons["Observation/nodate"] == ("no_date", "no date")
    assert reasons["Observation/partial"][0] == "bad_date" and "partial" in reasons["Observation/partial"][1]
    assert reasons["Observation/baddate"][0] == "bad_date"
    assert reasons["Observation/censored"][0] == "censored" and "<0.1" in reasons["Observation/censored"][1]
    assert reasons["Observation/comparator"][0] == "censored"
    assert reasons["Observation/negative"][0] == "implausible"
    assert (
        reasons["Observation/huge"][0] == "implausible"
        and "plausible range" in reasons["Observation/huge"][1]
    )
    assert reasons["Observation/nounit"][0] == "unit"
    assert reasons["Observation/coded"] == ("non_numeric", "coded value 'Detected', not a number")
    assert reasons["Observation/absent"] == ("no_value", "no value (data absent: Error)")
    # censored values stay visible in the series, with their comparator
    assert [(p.comparator, p.value) for p in trend.censored] == [("<", 0.1), ("<", 0.05)]


def test_duplicate_times_identical_kept_once_conflicting_all_skipped() -> None:
    facts = [
        lab("Observation/a", HGB, 12.0, "g/dL", "2020-01-01T08:00:00Z"),
        lab("Observation/b", HGB, 12.0, "g/dL", "2020-01-01T08:00:00+00:00"),  # same instant, same value
        lab("Observation/c", HGB, 11.0, "g/dL", "2020-02-01T08:00:00Z"),
        lab("Observation/d", HGB, 14.0, "g/dL", "2020-02-01T09:00:00+01:00"),  # same instant, conflict
        lab("Observation/e", HGB, 10.0, "g/dL", "2020-03-01"),
    ]
    trend = build_trend(HGB, facts)
    assert [p.reference for p in trend.points] == ["Observation/a", "Observation/e"]
    by_ref = {s.reference: s for s in trend.skipped}
    assert by_ref["Observation/b"].category == "duplicate"
    assert by_ref["Observation/c"].category == by_ref["Observation/d"].category == "conflict"
    assert "11 g/dL (Observation/c)" in by_ref["Observation/d"].reason


def test_report_groups_by_loinc_and_lists_uncoded_facts() -> None:
    uncoded = Fact(
        id="Observation/x",
        kind=FactKind.lab,
        label="Mystery",
        value=1.0,
        unit="mg/dL",
        date="2020-01-01",
        evidence={"reference": "Observation/x"},
    )
    facts = [
        lab("Observation/g", GLUCOSE, 90.0, "mg/dL", "2020-01-01", label="Glucose"),
        lab("Observation/p", PSA, 4.0, "ng/mL", "2020-01-01", kind=FactKind.tumor_marker, label="PSA"),
        uncoded,
        lab(
            "Observation/cond", GLUCOSE, 1.0, "mg/dL", "2020-01-01", kind=FactKind.condition
        ),  # not a trend kind
    ]
    report = compute_trends(facts)
    assert [a.loinc for a in report.analytes] == [PSA, GLUCOSE]  # tumour markers first
    assert [s.reference for s in report.unassigned] == ["Observation/x"]
    assert compute_trends(facts, loinc=GLUCOSE).analytes[0].points[0].reference == "Observation/g"


# --- the real Synthea PSA series ------------------------------------------------------------


def _psa_patients() -> list[str]:
    """Synthea patients with at least two PSA (LOINC 2857-1) Observations, found from the raw JSON."""
    paths = [*sorted(SYNTHEA.glob("*.json")), LOYD]
    return [p.name for p in paths if len(raw_series(p, PSA)) >= 2]


@pytest.mark.parametrize("name", _psa_patients())
def test_psa_trend_on_real_series_matches_the_raw_json(name: str) -> None:
    from medboard.tools.fhir import load_record

    raw = raw_series(synthea(name), PSA)
    trend = compute_trends(load_record(synthea(name)).facts, loinc=PSA).analytes[0]
    assert [(p.date, p.value, p.reference) for p in trend.points] == raw
    values = [v for _, v, _ in raw]
    assert trend.change_from_baseline == pytest.approx(values[-1] - values[0])
    assert trend.percent_change_from_baseline == pytest.approx((values[-1] - values[0]) / values[0] * 100)
    assert trend.change_from_previous == pytest.approx(values[-1] - values[-2])
    assert trend.nadir.value == min(values) and trend.peak.value == max(values)
    assert trend.unit == "ng/mL" and not trend.skipped


def test_real_bundles_skip_synthea_quirks_with_reasons() -> None:
    """Synthea writes total protein in g/L under g/dL, and two panels at one instant: flagged, not trended."""
    from medboard.tools.fhir import load_record

    report = compute_trends(load_record(synthea("adan_pulido.json")).facts)
    protein = report.analyte("2885-2")
    raw = json.loads((synthea("adan_pulido.json")).read_text())
    raw_protein = [
        e["resource"]["valueQuantity"]["value"]
        for e in raw["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"]["coding"][0]["code"] == "2885-2"
    ]
    assert raw_protein and all(v > 20 for v in raw_protein)
    assert not protein.points and {s.category for s in protein.skipped} == {"implausible"}
    assert len(protein.skipped) == len(raw_protein)
    conflicts = [s for a in report.analytes for s in a.skipped if s.category == "conflict"]
    assert conflicts and all("conflicting values at the same time" in s.reason for s in conflicts)


def test_independent_ln_regression_agrees_on_real_psa() -> None:
    """Doubling time over the rising tail of a real PSA series vs numpy polyfit written here."""
    from medboard.tools.fhir import load_record
    from medboard.tools.longitudinal.kinetics import marker_kinetics

    name = "adan_pulido.json"
    raw = raw_series(synthea(name), PSA)
    since = raw[-3][0][:10]  # the last three values
    trend = compute_trends(load_record(synthea(name)).facts, loinc=PSA).analytes[0]
    kinetics = marker_kinetics(trend, since=since)

    from datetime import datetime

    t = [datetime.fromisoformat(d) for d, _, _ in raw[-3:]]
    months = np.array([(x - t[0]).total_seconds() / 86400 / (365.25 / 12) for x in t])
    slope, _ = np.polyfit(months, np.log([v for _, v, _ in raw[-3:]]), 1)
    years = months / 12
    velocity, _ = np.polyfit(years, [v for _, v, _ in raw[-3:]], 1)
    assert slope > 0
    assert [p.reference for p in kinetics.used] == [r for _, _, r in raw[-3:]]
    assert kinetics.ln_slope_per_month == pytest.approx(slope, rel=1e-9)
    assert kinetics.doubling_time_months == pytest.approx(math.log(2) / slope, rel=1e-9)
    assert kinetics.velocity_per_year == pytest.approx(velocity, rel=1e-9)
    # over all six values the series is not rising: undefined, with the reason
    everything = marker_kinetics(trend)
    all_slope, _ = np.polyfit(
        [
            (datetime.fromisoformat(d) - datetime.fromisoformat(raw[0][0])).days / (365.25 / 12)
            for d, _, _ in raw
        ],
        np.log([v for _, v, _ in raw]),
        1,
    )
    assert all_slope <= 0 and everything.doubling_time_months is None
    assert "not rising" in everything.doubling_time_reason
