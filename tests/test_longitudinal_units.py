"""Unit normalisation: UCUM spellings through pint, molar↔mass only with a known molar mass."""

from __future__ import annotations

import pytest

from medboard.tools.units import UnitConversionError, annotations_of, convert, parse_unit, registry, same_unit


def test_glucose_mg_per_dl_to_mmol_per_l_uses_its_molar_mass() -> None:
    # 180.156 g/mol: 90 mg/dL = 0.9 g/L / 180.156 g/mol = 4.9957 mmol/L
    assert convert(90.0, "mg/dL", "mmol/L", loinc="2339-0") == pytest.approx(0.9 / 180.156 * 1000)
    assert convert(5.0, "mmol/L", "mg/dL", loinc="2345-7") == pytest.approx(5.0 * 180.156 / 10)


def test_creatinine_umol_to_mg_per_dl() -> None:
    assert convert(88.4, "umol/L", "mg/dL", loinc="2160-0") == pytest.approx(88.4e-6 * 113.12 * 100, rel=1e-9)


def test_molar_conversion_refused_without_a_molar_mass() -> None:
    with pytest.raises(UnitConversionError, match="molar mass"):
        convert(1.0, "mmol/L", "ng/mL", loinc="2857-1")
    with pytest.raises(UnitConversionError, match="molar mass"):
        convert(1.0, "mmol/L", "mg/dL")


def test_incompatible_dimensions_refused_with_both_units_named() -> None:
    with pytest.raises(UnitConversionError, match=r"\[IU\]/L.*mg/dL"):
        convert(5.0, "[IU]/L", "mg/dL")
    with pytest.raises(UnitConversionError, match="no unit"):
        convert(5.0, None, "mg/dL")
    with pytest.raises(UnitConversionError, match="not a UCUM unit"):
        convert(5.0, "bananas/dL", "mg/dL")


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (5000.0, "10*3/uL", "10*9/L", 5000.0),
        (4.5, "10*6/uL", "10*12/L", 4.5),
        (1.0, "10*3/uL", "/uL", 1000.0),
        (150.0, "[lb_av]", "kg", 68.0388555),
        (65.0, "[in_i]", "cm", 165.1),
        (37.0, "Cel", "[degF]", 98.6),
        (120.0, "mm[Hg]", "kPa", 15.99868),
        (1.2, "g/dl", "g/L", 12.0),
        (35.0, "U/L", "U/mL", 0.035),
        (4.0, "{score}", "1", 4.0),
    ],
)
def test_ucum_spellings_pint_does_not_know(value: float, source: str, target: str, expected: float) -> None:
    assert convert(value, source, target) == pytest.approx(expected, rel=1e-6)


def test_ucum_special_forms_read_as_meant() -> None:
    ureg = registry()
    assert parse_unit("10*3/uL") == ureg.Quantity(1000, "1/uL")
    assert convert(1.0, "mL/min/{1.73_m2}", "mL/min") == 1.0  # the annotation does not convert
    assert annotations_of("mL/min/{1.73_m2}") == ("{1.73_m2}",)  # ... but it is kept for series
    assert parse_unit("kg/m2") == ureg.Quantity(1, "kg/m**2")
    assert parse_unit("pH").dimensionless  # not picohenry
    assert same_unit("g/dl", "g/dL")
    assert not same_unit("mg/dL", "g/dL")
