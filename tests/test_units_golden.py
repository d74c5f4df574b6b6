"""Golden conversions of the one unit service (`medboard.tools.units`), and every unit in the data.

Each row: a value and its unit, the target unit, the analyte's LOINC code (or None), and either the
expected value or the fragment of the refusal's reason. The verifier and the trends both convert
through this service, so a row pins both.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from ucumvert import InvalidUcumError, parse_ucum

from medboard.tools.checks.units import compare
from medboard.tools.units import (
    LOINC_ANALYTE,
    MAX_UNIT_CHARS,
    UnitConversionError,
    comparable_for_series,
    convert,
    parse_unit,
)
from medboard.tools.units.registry import ucum_parser

FHIR_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
UCUM_SYSTEM = "http://unitsofmeasure.org"

# (value, from, to, LOINC, expected value | None, refusal fragment | None)
GOLDEN: list[tuple[float, str | None, str, str | None, float | None, str | None]] = [
    # mass <-> substance, through the analyte's molar mass (PubChem / CIAAW, see analytes.py)
    (90.0, "mg/dL", "mmol/L", "2339-0", 90.0 * 10 / 180.156, None),  # glucose
    (5.0, "mmol/L", "mg/dL", "2345-7", 5.0 * 180.156 / 10, None),
    (88.4, "umol/L", "mg/dL", "2160-0", 88.4e-6 * 113.12 * 100, None),  # creatinine: one mass
    (1.0, "mg/dL", "umol/L", "38483-4", 1e4 / 113.12, None),
    (200.0, "mg/dL", "mmol/L", "2093-3", 2000 / 386.65, None),  # cholesterol
    (150.0, "mg/dL", "mmol/L", "2571-8", 1500 / 885.7, None),  # triglycerides as triolein
    (14.0, "mg/dL", "mmol/L", "6299-2", 140 / 28.014, None),  # urea nitrogen: 2 N
    (10.0, "mg/dL", "mmol/L", "17861-6", 100 / 40.078, None),  # calcium
    (90.0, "mg/dL", "mmol/L", None, None, "molar mass"),
    (1.0, "mmol/L", "ng/mL", "2857-1", None, "molar mass"),  # PSA: no molar mass
    # equivalents <-> moles, only through a known valence
    (140.0, "meq/L", "mmol/L", "2951-2", 140.0, None),  # sodium, serum
    (140.0, "mEq/L", "mmol/L", "2947-0", 140.0, None),  # sodium, blood; writers' capital E
    (4.1, "meq/L", "mmol/L", "6298-4", 4.1, None),  # potassium
    (101.0, "mmol/L", "meq/L", "2069-3", 101.0, None),  # chloride
    (24.0, "meq/L", "mmol/L", "2028-9", 24.0, None),  # CO2 total as bicarbonate
    (2.5, "mmol/L", "meq/L", "17861-6", 5.0, None),  # calcium: divalent
    (2.0, "meq/L", "mmol/L", "19123-9", 1.0, None),  # magnesium: divalent
    (10.0, "mg/dL", "meq/L", "17861-6", 2 * 100 / 40.078, None),  # mass -> moles -> equivalents
    (140.0, "meq/L", "mmol/L", None, None, "valence"),
    (140.0, "meq/L", "mmol/L", "2857-1", None, "valence"),
    (1.0, "mmol/L", "meq/L", "2777-1", None, "valence"),  # phosphate: charge depends on pH
    # UCUM special forms
    (5000.0, "10*3/uL", "10*9/L", None, 5000.0, None),
    (4.5, "10*6/uL", "10*12/L", None, 4.5, None),
    (1.0, "10*3/uL", "/uL", None, 1000.0, None),
    (150.0, "[lb_av]", "kg", None, 68.0388555, None),
    (65.0, "[in_i]", "cm", None, 165.1, None),
    (37.0, "Cel", "[degF]", None, 98.6, None),
    (120.0, "mm[Hg]", "kPa", None, 15.99868, None),
    (1.2, "g/dl", "g/L", None, 12.0, None),
    (35.0, "U/L", "U/mL", None, 0.035, None),
    (4.0, "{score}", "1", None, 4.0, None),
    (45.0, "%", "1", None, 0.45, None),
    (3.0, "wk", "d", None, 21.0, None),
    (2.0, "a", "mo", None, 24.0, None),
    (60.0, "mL/min/{1.73_m2}", "mL/min", None, 60.0, None),  # converts; not one series (below)
    # writers' spellings (the alias table)
    (4.5, "x10^9/L", "10*3/uL", None, 4.5, None),
    (7.2, "K/uL", "10*9/L", None, 7.2, None),  # thousands per µL, not kelvin
    (150.0, "lbs", "kg", None, 68.0388555, None),
    (98.6, "°F", "Cel", None, 37.0, None),
    (120.0, "mmHg", "mm[Hg]", None, 120.0, None),
    (120.0, "mm Hg", "kPa", None, 15.99868, None),
    (72.0, "bpm", "/min", None, 72.0, None),
    (6.0, "ft", "cm", None, 182.88, None),  # UCUM alone would read femto-tonne
    (500.0, "mcg", "mg", None, 0.5, None),
    (90.0, "mL/min/1.73 m2", "mL/min/{1.73_m2}", None, 90.0, None),
    (7.4, "pH", "[pH]", None, 7.4, None),  # not picohenry
    # refusals
    (5.0, "[IU]/L", "mg/dL", None, None, "cannot be converted"),
    (5.0, "[IU]/L", "U/L", None, None, "cannot be converted"),  # IU is not the enzyme unit
    (143.0, "U/L", "mmol/L", None, None, "cannot be converted"),  # an activity, not a substance rate
    (5.0, "bananas/dL", "mg/dL", None, None, "not a UCUM unit"),
    (5.0, None, "mg/dL", None, None, "no unit"),
    (5.0, "m" * (MAX_UNIT_CHARS + 1), "mg/dL", None, None, "longer than"),
]


@pytest.mark.parametrize(("value", "source", "target", "loinc", "expected", "refusal"), GOLDEN)
def test_golden_conversion(
    value: float,
    source: str | None,
    target: str,
    loinc: str | None,
    expected: float | None,
    refusal: str | None,
) -> None:
    if refusal is None:
        assert convert(value, source, target, loinc=loinc) == pytest.approx(expected, rel=1e-6)
    else:
        with pytest.raises(UnitConversionError, match=refusal):
            convert(value, source, target, loinc=loinc)


def test_verifier_and_trends_give_one_answer_on_equivalents() -> None:
    """The verifier once read 140 mmol/L as 140 meq/L for any analyte; trends refused always."""
    sodium = compare(140.0, "140", "mmol/L", 140.0, "meq/L", loinc="2951-2")
    assert sodium.agrees and convert(140.0, "meq/L", "mmol/L", loinc="2951-2") == 140.0
    unknown = compare(140.0, "140", "mmol/L", 140.0, "meq/L", loinc="2857-1")
    assert not unknown.compatible and "valence" in unknown.note
    with pytest.raises(UnitConversionError, match="valence"):
        convert(140.0, "meq/L", "mmol/L", loinc="2857-1")


@pytest.mark.parametrize(
    ("a", "b", "loinc", "comparable", "reason"),
    [
        ("mL/min", "mL/min/{1.73_m2}", "33914-3", False, "annotations"),
        ("mL/min/{1.73_m2}", "mL/min/1.73m2", "33914-3", True, ""),
        ("mg/dL", "mmol/L", "2339-0", True, ""),
        ("mg/dL", "mmol/L", None, False, "molar mass"),
        ("meq/L", "mmol/L", "2951-2", True, ""),
        ("g/dL", "g/dl", None, True, ""),
        ("10*3/uL", "x10^9/L", None, True, ""),
        ("[IU]/L", "U/L", None, False, "cannot be converted"),
    ],
)
def test_comparable_for_series(a: str, b: str, loinc: str | None, comparable: bool, reason: str) -> None:
    fit = comparable_for_series(a, b, loinc=loinc)
    assert bool(fit) is comparable
    assert reason in fit.reason


def _ucum_quantities(node: object) -> Iterator[dict]:
    if isinstance(node, dict):
        if node.get("system") == UCUM_SYSTEM and isinstance(node.get("code"), str):
            yield node
        for child in node.values():
            yield from _ucum_quantities(child)
    elif isinstance(node, list):
        for child in node:
            yield from _ucum_quantities(child)


@cache
def _documents() -> tuple[dict, ...]:
    """Every JSON document of the shared FHIR data, read once for this module."""
    return tuple(json.loads(p.read_text(encoding="utf-8")) for p in sorted(FHIR_DATA.rglob("*.json")))


def _data_quantities() -> list[dict]:
    return [quantity for document in _documents() for quantity in _ucum_quantities(document)]


def _coded_values() -> Iterator[tuple[str, float, str]]:
    """(LOINC, value, UCUM code) of every Observation valueQuantity in the shared data."""
    for document in _documents():
        entries = [e.get("resource", {}) for e in document.get("entry", [])] or [document]
        for resource in entries:
            quantity = resource.get("valueQuantity") or {}
            codings = resource.get("code", {}).get("coding", [])
            loinc = next((c.get("code") for c in codings if c.get("system") == "http://loinc.org"), None)
            if loinc and quantity.get("system") == UCUM_SYSTEM and "value" in quantity:
                yield loinc, float(quantity["value"]), quantity["code"]


def test_every_ucum_code_in_the_shared_data_is_read() -> None:
    """Each distinct UCUM code in /work/shared/data/fhir parses (36 of 36 at the time of writing).

    Two are not valid UCUM (``(score)``, ``m^2``) and one means picohenry in UCUM (``pH``): the alias
    table reads them as the writer meant (a score, square metres, a pH value) — pinned here so a new
    one is noticed.
    """
    codes = Counter(q["code"] for q in _data_quantities())
    assert len(codes) >= 30, "the shared FHIR data should carry dozens of UCUM codes"
    refused = {}
    for code in codes:
        try:
            parse_unit(code)
        except UnitConversionError as error:
            refused[code] = str(error)
    assert refused == {}
    not_ucum = set()
    for code in codes:
        try:
            parse_ucum(code, ucum_parser())
        except InvalidUcumError:
            not_ucum.add(code)
    assert not_ucum == {"(score)", "m^2"}
    assert parse_unit("pH").dimensionless  # valid UCUM syntax, but picohenry: read as a pH value


def test_real_lab_values_round_trip_through_their_molar_mass() -> None:
    """Every shared-data lab value of a known analyte converts to moles (or mass) and back."""
    checked = 0
    for loinc, value, code in _coded_values():
        if loinc not in LOINC_ANALYTE or code not in {"mg/dL", "mmol/L", "g/dL", "umol/L"}:
            continue
        other = "mmol/L" if code in {"mg/dL", "g/dL"} else "mg/dL"
        there = convert(value, code, other, loinc=loinc)
        assert convert(there, other, code, loinc=loinc) == pytest.approx(value, rel=1e-9)
        checked += 1
    assert checked > 100  # Synthea's metabolic panels: glucose, creatinine, BUN, calcium, lipids
