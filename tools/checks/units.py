"""How a statement's quantity relates to a record value: the verifier's comparison rules.

Reading and converting units is `medboard.tools.units` (the one unit service the trends use too);
this module adds only what is particular to checking a statement: a number agrees with a record
value when it rounds to it at the statement's precision (or lies within 1 %), a bare number is read
in the record's unit, and a percentage may be written as a fraction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from medboard.models import Coding
from medboard.tools.fhir.codes import LOINC
from medboard.tools.units import UnitConversionError, convert, to_ucum, try_parse_unit


@dataclass(frozen=True)
class Comparison:
    """How a statement quantity relates to a record value."""

    compatible: bool  # units convertible (possibly through the analyte's molar mass or valence)
    agrees: bool
    converted: float | None  # record value expressed in the statement's unit
    note: str = ""


def loinc_of(codes: Iterable[Coding]) -> str | None:
    """The first LOINC code among a fact's codes: what identifies its analyte for conversions."""
    return next((c.code for c in codes if c.system == LOINC and c.code), None)


def decimals(number_text: str) -> int:
    return len(number_text.split(".", 1)[1]) if "." in number_text else 0


def agrees(stated: float, actual: float, stated_text: str, rel_tol: float = 0.01) -> bool:
    """Does `actual` round to `stated` at the statement's precision (or lie within 1 %)?"""
    if math.isclose(stated, actual, rel_tol=rel_tol, abs_tol=1e-9):
        return True
    half_step = 0.5 * 10 ** (-decimals(stated_text))
    return abs(stated - actual) <= half_step + 1e-9


def _without_unit(
    stated: float, stated_text: str, stated_unit: str | None, actual: float, actual_unit: str | None
) -> Comparison:
    """A bare number (read in the record's unit), or a unit the record value lacks."""
    if agrees(stated, actual, stated_text):
        return Comparison(True, True, actual)
    if (actual_unit or "").strip() == "%" and agrees(stated, actual / 100, stated_text):
        return Comparison(True, True, actual / 100, "fraction of %")
    if stated_unit is None:
        return Comparison(True, False, actual)
    parsed = try_parse_unit(stated_unit)
    if parsed is not None and parsed.dimensionless:
        # "45 %" against a unit-less 0.45 (a fraction) or a unit-less 45.
        scale = float(parsed.to("dimensionless").magnitude)
        if agrees(scale * stated, actual, stated_text):
            return Comparison(True, True, actual / scale)
        return Comparison(True, False, actual)
    return Comparison(False, False, None, "record value has no unit")


def compare(
    stated: float,
    stated_text: str,
    stated_unit: str | None,
    actual: float,
    actual_unit: str | None,
    analyte_label: str | None = None,
    *,
    loinc: str | None = None,
) -> Comparison:
    """Compare a statement quantity (value + optional unit) with a record value + unit.

    The analyte (for mass ↔ substance and equivalents ↔ moles) is the one ``loinc`` names, else
    the one ``analyte_label`` names; see `medboard.tools.units.analyte_for`.
    """
    if stated_unit is None or actual_unit is None:
        return _without_unit(stated, stated_text, stated_unit, actual, actual_unit)
    source, target = try_parse_unit(actual_unit), try_parse_unit(stated_unit)
    if source is None or target is None:
        same = to_ucum(stated_unit) == to_ucum(actual_unit)
        return Comparison(same, same and agrees(stated, actual, stated_text), actual if same else None)
    try:
        converted = convert(actual, actual_unit, stated_unit, loinc=loinc, label=analyte_label)
    except UnitConversionError as error:
        return Comparison(False, False, None, str(error))
    bridged = source.dimensionality != target.dimensionality
    note = "via the analyte's molar mass or valence" if bridged else ""
    return Comparison(True, agrees(stated, converted, stated_text), converted, note)
