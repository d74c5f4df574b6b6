"""Unit normalisation for trends: UCUM codes read through `pint`, with a small, explicit adapter.

FHIR quantities carry UCUM codes (``mg/dL``, ``10*3/uL``, ``mm[Hg]``, ``{score}``). `pint` reads most
of UCUM's plain spellings but not its special forms, so `ucum_to_pint` rewrites only those forms
(the table below is the whole adapter, so a reader can check every rewrite):

* ``10*3`` / ``10^3`` powers of ten become ``1e3`` (a scale factor, e.g. ``10*3/uL`` = 1000 per µL);
* curly-brace annotations (``{score}``, ``{1.73_m2}``) are comments in UCUM and are dropped;
* bracketed and special units (``mm[Hg]``, ``[IU]``, ``Cel``, ``[lb_av]``, ...) map to pint names;
* UCUM's bare exponents (``m2``) become ``m**2``; a leading ``/`` becomes ``1/``.

Mass ↔ molar concentration (``mg/dL`` ↔ ``mmol/L``) needs the analyte's molar mass; it is done only
for the analytes in `MOLAR_MASS_G_PER_MOL` (keyed by LOINC code) and refused otherwise, with a reason
the trend reports as a skipped value. International units, arbitrary units and equivalents get their
own pint dimensions, so they never silently convert into mass or moles.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pint


class UnitConversionError(ValueError):
    """A unit that cannot be read, or two units that cannot be reconciled; the message says why."""


# UCUM spellings pint does not know -> pint expressions. Longest keys are replaced first.
UCUM_TO_PINT: dict[str, str] = {
    "mm[Hg]": "mmHg",
    "cm[H2O]": "cmH2O",
    "[iU]": "IU",
    "[IU]": "IU",
    "[arb'U]": "arbitrary_unit",
    "[lb_av]": "lb",
    "[oz_av]": "oz",
    "[in_i]": "inch",
    "[ft_i]": "foot",
    "[degF]": "degF",
    "[pH]": "",
    "Cel": "degC",
    "mEq": "meq",
    "[beats]": "",
    "[HPF]": "",
    "[LPF]": "",
}

# Unit strings that pint would misread (``pH`` is picohenry to pint) or that mean "dimensionless".
DIMENSIONLESS_SPELLINGS = frozenset(
    {"", "1", "pH", "[pH]", "ratio", "{ratio}", "{nominal}", "Count", "count"}
)

# Molar masses (g/mol) of analytes whose mass and molar concentrations are both in clinical use.
# Keyed by LOINC code (mass-concentration and substance-concentration codes of the same analyte).
# Triglycerides use the conventional triolein mass (885.7 g/mol, i.e. 88.57 mg/dL per mmol/L);
# urea nitrogen uses the mass of urea's two nitrogens (28.014 g/mol, i.e. 2.8 mg/dL per mmol/L).
MOLAR_MASS_G_PER_MOL: dict[str, tuple[str, float]] = {
    "2345-7": ("glucose", 180.156),
    "2339-0": ("glucose", 180.156),
    "14749-6": ("glucose", 180.156),
    "15074-8": ("glucose", 180.156),
    "2160-0": ("creatinine", 113.12),
    "38483-4": ("creatinine", 113.12),
    "14682-9": ("creatinine", 113.12),
    "2093-3": ("cholesterol", 386.65),
    "14647-2": ("cholesterol", 386.65),
    "2085-9": ("cholesterol (HDL)", 386.65),
    "14646-4": ("cholesterol (HDL)", 386.65),
    "18262-6": ("cholesterol (LDL)", 386.65),
    "13457-7": ("cholesterol (LDL)", 386.65),
    "2089-1": ("cholesterol (LDL)", 386.65),
    "22748-8": ("cholesterol (LDL)", 386.65),
    "2571-8": ("triglycerides (as triolein)", 885.7),
    "14927-8": ("triglycerides (as triolein)", 885.7),
    "6299-2": ("urea nitrogen", 28.014),
    "3094-0": ("urea nitrogen", 28.014),
    "14937-7": ("urea nitrogen", 28.014),
    "17861-6": ("calcium", 40.078),
    "49765-1": ("calcium", 40.078),
    "2000-8": ("calcium", 40.078),
    "3084-1": ("uric acid", 168.11),
    "14933-6": ("uric acid", 168.11),
    "1975-2": ("bilirubin", 584.66),
    "14631-6": ("bilirubin", 584.66),
}

_POWER_OF_TEN = re.compile(r"10\s*[\*\^]\s*([+-]?\d+)")
_ANNOTATION = re.compile(r"\{[^}]*\}")
_BARE_EXPONENT = re.compile(r"(?<=[A-Za-z])(\d+)")
_WORD_IN_PARENTHESES = re.compile(r"^\([A-Za-z _-]+\)$")


@cache
def registry() -> pint.UnitRegistry:
    """The shared pint registry, extended with the dimensions UCUM has and pint lacks."""
    import pint

    ureg: pint.UnitRegistry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    ureg.define("international_unit = [international_unit] = IU")
    ureg.define("arbitrary_unit = [arbitrary_unit] = arbU")
    # Equivalents depend on valence: their own dimension, never silently moles.
    ureg.define("equivalent = [equivalent] = eqv")
    ureg.define("milliequivalent = 1e-3 * equivalent = meq")
    return ureg


def ucum_to_pint(unit: str) -> str:
    """Rewrite a UCUM code into an expression pint can parse (see the module docstring)."""
    text = unit.strip()
    if text in DIMENSIONLESS_SPELLINGS:
        return "1"
    if _WORD_IN_PARENTHESES.match(text):  # "(score)": a label written where the unit goes
        return "1"
    text = _ANNOTATION.sub("", text)
    for ucum, pint_name in sorted(UCUM_TO_PINT.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(ucum, pint_name)
    powers: list[str] = []

    def _protect(match: re.Match[str]) -> str:
        powers.append(match.group(1))
        return f"@{len(powers) - 1}@"

    text = _POWER_OF_TEN.sub(_protect, text)
    text = _BARE_EXPONENT.sub(lambda m: f"**{m.group(1)}", text)
    text = re.sub(r"@(\d+)@", lambda m: f"1e{powers[int(m.group(1))]}*", text)
    text = re.sub(r"/+", "/", text).replace("*/", "/").strip("/*")
    if unit.strip().startswith("/"):
        text = "1/" + text
    return text or "1"


def parse_unit(unit: str | None) -> pint.Quantity:
    """One of ``unit`` as a pint quantity (scale factors such as ``10*3`` included).

    Raises `UnitConversionError` for a missing or unreadable unit.
    """
    if unit is None:
        raise UnitConversionError("no unit")
    import pint

    expression = ucum_to_pint(unit)
    try:
        quantity = registry().parse_expression(expression)
    except (pint.errors.PintError, AttributeError, SyntaxError, TypeError, ValueError) as error:
        raise UnitConversionError(f"unit {unit!r} is not a UCUM unit medboard can read ({error})") from None
    if not isinstance(quantity, registry().Quantity):
        quantity = registry().Quantity(float(quantity), "dimensionless")
    return quantity


def convert(value: float, from_unit: str | None, to_unit: str | None, *, loinc: str | None = None) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit``.

    Mass ↔ molar concentration is converted only when ``loinc`` names an analyte with a known molar
    mass. Raises `UnitConversionError` with the reason otherwise.
    """
    if from_unit == to_unit:
        return float(value)
    import pint

    source = parse_unit(from_unit)
    target = parse_unit(to_unit)
    try:
        return float((value * source).to(target).magnitude / target.magnitude)
    except pint.errors.DimensionalityError:
        pass
    ureg = registry()
    mass = ureg.parse_units("g/L").dimensionality
    molar = ureg.parse_units("mol/L").dimensionality
    dims = {source.dimensionality, target.dimensionality}
    if dims != {mass, molar}:
        raise UnitConversionError(
            f"{from_unit} ({source.dimensionality}) cannot be converted to {to_unit} "
            f"({target.dimensionality})"
        ) from None
    if loinc is None or loinc not in MOLAR_MASS_G_PER_MOL:
        raise UnitConversionError(
            f"{from_unit} ↔ {to_unit} needs the analyte's molar mass, which medboard does not know for "
            f"LOINC {loinc or '(none)'}"
        )
    _analyte, grams_per_mol = MOLAR_MASS_G_PER_MOL[loinc]
    molar_mass = grams_per_mol * ureg.parse_units("g/mol")
    quantity = value * source
    converted = quantity * molar_mass if source.dimensionality == molar else quantity / molar_mass
    return float(converted.to(target).magnitude / target.magnitude)


def same_unit(a: str | None, b: str | None) -> bool:
    """True when two unit codes denote the same unit (``g/dl`` and ``g/dL``), by conversion factor 1."""
    if a == b:
        return True
    try:
        return abs(convert(1.0, a, b) - 1.0) < 1e-12
    except UnitConversionError:
        return False
