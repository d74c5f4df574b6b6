"""Reading a unit: a writer's spelling or a record's UCUM code → a pint quantity of magnitude 1.

The reading order is (1) `aliases.to_ucum`, (2) UCUM's grammar through ucumvert, and only if that
fails (3) pint's own parser. Step 3 exists because ucumvert reads UCUM codes only, while writers
also type English unit words pint knows (``hours``, ``mcg``, ``kPa`` as ``kpa``, ``ng/ml``); the
fallback applies the same few rewrites the verifier always did (brackets and annotations dropped,
bare exponents, litre's case) and stays on the same registry, so every unit has one meaning.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from medboard.tools.units.aliases import to_ucum
from medboard.tools.units.registry import registry, ucum_parser, ucum_transformer

if TYPE_CHECKING:  # pragma: no cover
    import pint

# A unit longer than this is not a unit: refused before the (Earley) grammar sees it.
MAX_UNIT_CHARS = 64


class UnitConversionError(ValueError):
    """A unit that cannot be read, or two units that cannot be reconciled; the message says why."""


def _pint_fallback(code: str) -> pint.Quantity | None:
    """The free-text reading (step 3 of the module docstring), or None."""
    import pint

    text = re.sub(r"\{[^}]*\}", "", code)
    text = text.replace("[", "").replace("]", "")
    text = re.sub(r"(?<=[a-zA-Z])(\d)(?!\d*\.)", r"**\1", text)  # m2 -> m**2
    text = text.rstrip("/")
    text = re.sub(r"\bdl\b", "dL", text)
    text = re.sub(r"\bml\b", "mL", text)
    text = re.sub(r"(?<=[munpf])l\b", "L", text)
    text = re.sub(r"(?<=/)l\b", "L", text)
    if text.startswith("/"):
        text = "1" + text
    if not text:
        return None
    try:
        parsed = registry().parse_expression(text)
    except (pint.errors.PintError, AttributeError, SyntaxError, TypeError, ValueError, KeyError):
        return None
    return parsed if isinstance(parsed, registry().Quantity) else None


@lru_cache(maxsize=4096)
def _read(text: str) -> pint.Quantity | str:
    """The unit as a quantity, or the reason it cannot be read (cached: units repeat a lot)."""
    from lark.exceptions import LarkError

    code = to_ucum(text)
    ureg = registry()
    if code == "1":
        return ureg.Quantity(1, "dimensionless")
    try:
        parsed = ucum_transformer().transform(ucum_parser().parse(code))
    except (LarkError, ValueError, KeyError, TypeError, AttributeError):
        parsed = None
    if parsed is not None and not isinstance(parsed, ureg.Quantity):
        # A bare annotation ("{score}") is UCUM's "1"; a bare number ("10*3") its own scale.
        parsed = ureg.Quantity(1, "dimensionless") if str(parsed).startswith("{") else None
    if parsed is None:
        parsed = _pint_fallback(code)
    return parsed if parsed is not None else "it is neither UCUM nor a unit spelling medboard knows"


def parse_unit(unit: str | None) -> pint.Quantity:
    """One ``unit`` as a pint quantity (scale factors such as ``10*3`` folded into its magnitude).

    Raises `UnitConversionError` for a missing, overlong or unreadable unit.
    """
    if unit is None or not unit.strip().rstrip(".,;"):
        raise UnitConversionError("no unit")
    text = unit.strip().rstrip(".,;")
    if len(text) > MAX_UNIT_CHARS:
        raise UnitConversionError(f"a unit longer than {MAX_UNIT_CHARS} characters is not read")
    result = _read(text)
    if isinstance(result, str):
        raise UnitConversionError(f"unit {unit!r} is not a UCUM unit medboard can read ({result})")
    return result


def try_parse_unit(unit: str | None) -> pint.Quantity | None:
    """`parse_unit`, or None when the unit is missing or unreadable (for callers that only ask)."""
    try:
        return parse_unit(unit)
    except UnitConversionError:
        return None


def is_known_unit(unit: str | None) -> bool:
    return try_parse_unit(unit) is not None


def is_time_unit(unit: str | None) -> bool:
    parsed = try_parse_unit(unit)
    return parsed is not None and parsed.dimensionality == registry().second.dimensionality


def is_temperature(unit: str | None) -> bool:
    """A temperature scale (°C, °F, K): converted by offset, never by factor alone."""
    parsed = try_parse_unit(unit)
    return parsed is not None and parsed.dimensionality == registry().kelvin.dimensionality


def annotations_of(unit: str | None) -> tuple[str, ...]:
    """The UCUM annotations (``{1.73_m2}``, ``{cells}``) a unit carries, in order of appearance.

    They do not change a unit's conversion, but some change what it measures (a GFR per 1.73 m²
    body surface is not the same quantity as a raw clearance), so series comparisons look at them.
    """
    if unit is None:
        return ()
    return tuple(re.findall(r"\{[^}]*\}", to_ucum(unit)))
