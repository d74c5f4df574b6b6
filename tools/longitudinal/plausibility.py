"""Physiologically plausible limits: values outside them are flagged, never trended.

These are not reference ranges. They bound what a living patient's sample can show (a haemoglobin
of 60 g/dL or a negative PSA is a data error: a unit mix-up, a typo, a test value), so a trend
built on such a value would be wrong whatever its arithmetic. The limits are deliberately wide;
an analyte not in the table only gets the generic checks (no negative concentrations, counts or
masses; no percentage outside 0–100).
"""

from __future__ import annotations

from dataclasses import dataclass

from medboard.tools.units import UnitConversionError, convert


@dataclass(frozen=True)
class PlausibleRange:
    low: float
    high: float
    unit: str


# LOINC code -> limits (inclusive), in the unit given.
PLAUSIBLE_RANGES: dict[str, PlausibleRange] = {
    "2857-1": PlausibleRange(0.0, 10000.0, "ng/mL"),  # PSA
    "2039-6": PlausibleRange(0.0, 100000.0, "ng/mL"),  # CEA
    "10334-1": PlausibleRange(0.0, 100000.0, "U/mL"),  # CA-125
    "718-7": PlausibleRange(1.0, 25.0, "g/dL"),  # haemoglobin
    "4544-3": PlausibleRange(3.0, 80.0, "%"),  # haematocrit
    "20570-8": PlausibleRange(3.0, 80.0, "%"),
    "6690-2": PlausibleRange(0.0, 1000.0, "10*3/uL"),  # leukocytes
    "26464-8": PlausibleRange(0.0, 1000.0, "10*3/uL"),
    # Absolute differential counts (neutrophils, lymphocytes, monocytes, eosinophils, basophils): a
    # part of the leukocytes cannot exceed the leukocyte limit above.
    **{
        code: PlausibleRange(0.0, 1000.0, "10*3/uL")
        for code in (
            *("751-8", "26499-4", "731-0", "26474-7", "742-7"),
            *("26484-6", "711-2", "26449-9", "704-7", "26444-0"),
        )
    },
    "777-3": PlausibleRange(0.0, 5000.0, "10*3/uL"),  # platelets
    "789-8": PlausibleRange(0.3, 10.0, "10*6/uL"),  # erythrocytes
    "787-2": PlausibleRange(40.0, 160.0, "fL"),  # MCV
    "785-6": PlausibleRange(10.0, 60.0, "pg"),  # MCH
    "786-4": PlausibleRange(20.0, 45.0, "g/dL"),  # MCHC
    "32207-3": PlausibleRange(5.0, 30.0, "fL"),  # platelet distribution width
    "2339-0": PlausibleRange(10.0, 2000.0, "mg/dL"),  # glucose
    "2345-7": PlausibleRange(10.0, 2000.0, "mg/dL"),
    "38483-4": PlausibleRange(0.05, 40.0, "mg/dL"),  # creatinine
    "2160-0": PlausibleRange(0.05, 40.0, "mg/dL"),
    "6299-2": PlausibleRange(0.5, 300.0, "mg/dL"),  # urea nitrogen
    "3094-0": PlausibleRange(0.5, 300.0, "mg/dL"),
    "2947-0": PlausibleRange(90.0, 200.0, "mmol/L"),  # sodium
    "2951-2": PlausibleRange(90.0, 200.0, "mmol/L"),
    "6298-4": PlausibleRange(1.0, 12.0, "mmol/L"),  # potassium
    "2823-3": PlausibleRange(1.0, 12.0, "mmol/L"),
    "2069-3": PlausibleRange(50.0, 160.0, "mmol/L"),  # chloride
    "20565-8": PlausibleRange(2.0, 60.0, "mmol/L"),  # carbon dioxide
    "49765-1": PlausibleRange(2.0, 25.0, "mg/dL"),  # calcium
    "17861-6": PlausibleRange(2.0, 25.0, "mg/dL"),
    "1751-7": PlausibleRange(0.5, 8.0, "g/dL"),  # albumin
    "2885-2": PlausibleRange(1.0, 20.0, "g/dL"),  # total protein
    "10834-0": PlausibleRange(5.0, 120.0, "g/L"),  # globulin
    "1975-2": PlausibleRange(0.0, 80.0, "mg/dL"),  # bilirubin
    "2093-3": PlausibleRange(20.0, 2000.0, "mg/dL"),  # cholesterol
    "2571-8": PlausibleRange(5.0, 20000.0, "mg/dL"),  # triglycerides
    "4548-4": PlausibleRange(2.0, 25.0, "%"),  # HbA1c
    "8480-6": PlausibleRange(30.0, 320.0, "mm[Hg]"),  # systolic BP
    "8462-4": PlausibleRange(10.0, 250.0, "mm[Hg]"),  # diastolic BP
    "8867-4": PlausibleRange(10.0, 350.0, "/min"),  # heart rate
    "9279-1": PlausibleRange(2.0, 80.0, "/min"),  # respiratory rate
    "8310-5": PlausibleRange(25.0, 46.0, "Cel"),  # body temperature
    "8331-1": PlausibleRange(25.0, 46.0, "Cel"),
    "29463-7": PlausibleRange(0.2, 700.0, "kg"),  # body weight
    "8302-2": PlausibleRange(20.0, 280.0, "cm"),  # body height
    "39156-5": PlausibleRange(5.0, 150.0, "kg/m2"),  # BMI
    "59408-5": PlausibleRange(20.0, 100.0, "%"),  # SpO2
    "2708-6": PlausibleRange(20.0, 100.0, "%"),
}

# Units whose quantities can legitimately be negative (temperatures) are exempt from the sign check.
_SIGNED_UNITS = frozenset({"Cel", "[degF]", "degC", "degF"})


def implausibility(value: float, unit: str | None, loinc: str | None) -> str | None:
    """Why ``value`` (in ``unit``) is not a plausible result for ``loinc``, or None if it is."""
    limits = PLAUSIBLE_RANGES.get(loinc or "")
    if limits is not None:
        try:
            in_limit_unit = convert(value, unit, limits.unit, loinc=loinc)
        except UnitConversionError:
            in_limit_unit = None
        if in_limit_unit is not None and not limits.low <= in_limit_unit <= limits.high:
            shown = f"{value:g} {unit}" + (
                "" if unit == limits.unit else f" = {in_limit_unit:g} {limits.unit}"
            )
            return (
                f"{shown} is outside the plausible range {limits.low:g}–{limits.high:g} {limits.unit} "
                f"for LOINC {loinc}: flagged, not trended"
            )
        if in_limit_unit is not None:
            return None
    if value < 0 and (unit or "") not in _SIGNED_UNITS:
        return f"negative value {value:g} {unit or ''}".rstrip() + ": flagged, not trended"
    if unit == "%" and value > 100:
        return f"{value:g} % is more than 100 %: flagged, not trended"
    return None
