"""Unit-aware comparison of a statement's quantity with a record value, via `pint`.

Record units are UCUM (`10*3/uL`, `mm[Hg]`, `[lb_av]`, `Cel`, `{score}`); statement units are
whatever a writer types (`x10^9/L`, `mmHg`, `lbs`, `°C`, `bpm`). Both are rewritten to pint
expressions and converted by pint. Mass ↔ substance concentrations (mg/dL ↔ mmol/L) convert only
for analytes whose molar mass is known (glucose, creatinine, cholesterol, ...), chosen from the
record's LOINC code or label — never guessed for an unknown analyte.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import pint

_REGISTRY: pint.UnitRegistry | None = None


def registry() -> pint.UnitRegistry:
    """The shared registry, extended with clinical units pint lacks."""
    global _REGISTRY
    if _REGISTRY is None:
        ureg: pint.UnitRegistry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
        ureg.define("international_unit = [iu] = IU")
        ureg.define("enzyme_unit_u = [eu] = U_enz")
        # mEq/L reads as mmol/L: exact for the monovalent ions (Na, K, Cl, HCO3) reported that way.
        ureg.define("equivalent = mole = eq")
        ureg.define("beat = count = beats")
        ureg.define("breath = count = breaths")
        ureg.define("cell = count = cells")
        _REGISTRY = ureg
    return _REGISTRY


# Textual unit spellings → pint expressions (after lowercase-insensitive lookup).
_ALIASES: dict[str, str] = {
    "%": "percent",
    "percent": "percent",
    "mmhg": "mmHg",
    "mm[hg]": "mmHg",
    "cmh2o": "cmH2O",
    "cm[h2o]": "cmH2O",
    "bpm": "beat/minute",
    "beats/min": "beat/minute",
    "beats per minute": "beat/minute",
    "/min": "1/minute",
    "breaths/min": "breath/minute",
    "lb": "lb",
    "lbs": "lb",
    "[lb_av]": "lb",
    "pound": "lb",
    "pounds": "lb",
    "[in_i]": "inch",
    "in": "inch",
    "inch": "inch",
    "inches": "inch",
    "cel": "degC",
    "°c": "degC",
    "degc": "degC",
    "[degf]": "degF",
    "°f": "degF",
    "degf": "degF",
    "kg/m2": "kg/m**2",
    "kg/m^2": "kg/m**2",
    "mg/m2": "mg/m**2",
    "m2": "m**2",
    "m^2": "m**2",
    "u/l": "U_enz/L",
    "iu/l": "IU/L",
    "[iu]/l": "IU/L",
    "meq/l": "meq/L",
    "a": "year",
    "wk": "week",
    "mo": "month",
    "d": "day",
    "h": "hour",
    "cgy": "centigray",
    "gy": "gray",
}

# Dimensionless annotations and scores: UCUM `{...}` or spelled-out counts.
_DIMENSIONLESS = {"1", "{score}", "(score)", "score", "{nominal}", "count", "{count}", "{ratio}", "ratio"}

_POWER_RE = re.compile(r"^(?:x\s*)?10\s*(?:\^|\*\*?|e)\s*(\d+)\s*/\s*(.+)$", re.IGNORECASE)


def _pint_expression(unit: str) -> str | None:
    """Rewrite one unit spelling (UCUM or free text) as a pint expression string."""
    text = unit.strip().rstrip(".,;")
    if not text:
        return None
    low = text.lower()
    if low in _ALIASES:
        return _ALIASES[low]
    if re.sub(r"\s+", "", low) in _ALIASES:  # "mm Hg", "cm H2O": pressure units written spaced
        return _ALIASES[re.sub(r"\s+", "", low)]
    if low in _DIMENSIONLESS or re.fullmatch(r"\{[^}]*\}", low):
        return "dimensionless"
    text = re.sub(r"/\s*\{?1[.,]73\s*_?\s*m(?:\^?2|\*\*2|²)\}?", "", text)  # per 1.73 m2 BSA
    if text.startswith("/"):
        text = "1" + text
    power = _POWER_RE.match(text)
    if power:
        rest = _pint_expression(power[2]) or power[2]
        return f"1e{power[1]} / ({rest})"
    if low.startswith(("k/", "thou/")):  # K/uL = 10^3/uL
        return f"1e3 / ({_pint_expression(text.split('/', 1)[1]) or text.split('/', 1)[1]})"
    text = re.sub(r"\{[^}]*\}", "", text)  # UCUM annotations: mL/min/{1.73_m2} -> mL/min
    text = text.replace("[", "").replace("]", "").replace("µ", "u").replace("μ", "u")
    text = re.sub(r"(?<=[a-zA-Z])(\d)(?!\d*\.)", r"**\1", text)  # m2 -> m**2
    text = text.rstrip("/")
    text = re.sub(r"\bdl\b", "dL", text)
    text = re.sub(r"\bml\b", "mL", text)
    text = re.sub(r"(?<=[munpf])l\b", "L", text)
    text = re.sub(r"(?<=/)l\b", "L", text)
    return text or None


@lru_cache(maxsize=2048)
def parse_unit(unit: str | None) -> pint.Quantity | None:
    """The unit as a pint quantity of magnitude 1 (scale factors folded in), or None if unknown."""
    if unit is None:
        return None
    expression = _pint_expression(unit)
    if expression is None:
        return None
    ureg = registry()
    try:
        if expression == "dimensionless":
            return ureg.Quantity(1, "dimensionless")
        parsed = ureg.parse_expression(expression)
    except Exception:  # pint raises many kinds; an unknown unit is simply unknown
        return None
    if not isinstance(parsed, pint.Quantity):
        return None
    return parsed


def is_known_unit(unit: str) -> bool:
    return parse_unit(unit) is not None


def is_time_unit(unit: str | None) -> bool:
    parsed = parse_unit(unit)
    return parsed is not None and parsed.dimensionality == registry().second.dimensionality


def is_temperature(unit: str | None) -> bool:
    expression = _pint_expression(unit or "") or ""
    return expression in {"degC", "degF", "kelvin", "K"}


# Molar masses (g/mol) of analytes reported both ways. Keyed by LOINC component words.
MOLAR_MASS: dict[str, float] = {
    "glucose": 180.156,
    "creatinine": 113.118,
    "cholesterol": 386.654,
    "triglyceride": 885.7,
    "urea": 28.014,  # BUN is reported as urea *nitrogen*: 2 N per urea
    "calcium": 40.078,
    "bilirubin": 584.662,
    "uric": 168.11,
    "urate": 168.11,
    "magnesium": 24.305,
    "phosphate": 30.974,
    "phosphorus": 30.974,
    "iron": 55.845,
}


def molar_mass_for(label: str | None) -> float | None:
    """The analyte's molar mass when its label names exactly one known analyte."""
    if not label:
        return None
    low = label.lower()
    hits = {name: mass for name, mass in MOLAR_MASS.items() if re.search(rf"\b{name}", low)}
    masses = set(hits.values())
    return masses.pop() if len(masses) == 1 else None


@dataclass(frozen=True)
class Comparison:
    """How a statement quantity relates to a record value."""

    compatible: bool  # units convertible (possibly through the analyte's molar mass)
    agrees: bool
    converted: float | None  # record value expressed in the statement's unit
    note: str = ""


def _to_quantity(value: float, unit: str) -> pint.Quantity | None:
    ureg = registry()
    if is_temperature(unit):
        expression = _pint_expression(unit)
        return ureg.Quantity(value, expression)
    parsed = parse_unit(unit)
    return None if parsed is None else value * parsed


def decimals(number_text: str) -> int:
    return len(number_text.split(".", 1)[1]) if "." in number_text else 0


def agrees(stated: float, actual: float, stated_text: str, rel_tol: float = 0.01) -> bool:
    """Does `actual` round to `stated` at the statement's precision (or lie within 1 %)?"""
    if math.isclose(stated, actual, rel_tol=rel_tol, abs_tol=1e-9):
        return True
    half_step = 0.5 * 10 ** (-decimals(stated_text))
    return abs(stated - actual) <= half_step + 1e-9


def compare(
    stated: float,
    stated_text: str,
    stated_unit: str | None,
    actual: float,
    actual_unit: str | None,
    analyte_label: str | None = None,
) -> Comparison:
    """Compare a statement quantity (value + optional unit) with a record value + unit."""
    if stated_unit is None or actual_unit is None:
        # A bare number: read it in the record's unit; accept % written as a fraction or back.
        if agrees(stated, actual, stated_text):
            return Comparison(True, True, actual)
        unit_low = (actual_unit or "").strip()
        if unit_low == "%" and agrees(stated, actual / 100, stated_text):
            return Comparison(True, True, actual / 100, "fraction of %")
        if stated_unit is None:
            return Comparison(True, False, actual)
        # The statement has a unit the record lacks: a dimensionless record value compares as is.
        parsed = parse_unit(stated_unit)
        if parsed is not None and parsed.dimensionless:
            # "45 %" against a unit-less 0.45 (a fraction) or a unit-less 45.
            fraction = float(parsed.to("dimensionless").magnitude) * stated
            if agrees(fraction, actual, stated_text):
                return Comparison(True, True, actual / float(parsed.to("dimensionless").magnitude))
            return Comparison(True, False, actual)
        return Comparison(False, False, None, "record value has no unit")
    source = _to_quantity(actual, actual_unit)
    target = parse_unit(stated_unit)
    if source is None or target is None:
        same = _pint_expression(stated_unit) == _pint_expression(actual_unit)
        return Comparison(same, same and agrees(stated, actual, stated_text), actual if same else None)
    try:
        if is_temperature(stated_unit):
            converted = float(source.to(_pint_expression(stated_unit)).magnitude)
        else:
            converted = float((source / target).to("dimensionless").magnitude)
        return Comparison(True, agrees(stated, converted, stated_text), converted)
    except pint.DimensionalityError:
        pass
    mass = molar_mass_for(analyte_label)
    if mass is not None:
        ureg = registry()
        molar = ureg.Quantity(mass, "g/mol")
        for bridged in (source * molar, source / molar):
            try:
                converted = float((bridged / target).to("dimensionless").magnitude)
            except pint.DimensionalityError:
                continue
            return Comparison(True, agrees(stated, converted, stated_text), converted, "via molar mass")
    return Comparison(False, False, None, f"{stated_unit} is not convertible to {actual_unit}")
