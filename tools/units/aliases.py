"""Free-text unit spellings → UCUM codes: the one place that knows how writers type units.

Records carry UCUM codes (``10*3/uL``, ``mm[Hg]``, ``[lb_av]``); statements carry what a writer
types (``x10^9/L``, ``mmHg``, ``lbs``, ``°C``, ``bpm``). `to_ucum` rewrites a writer's spelling into
the UCUM code it means, so one UCUM parser (ucumvert) reads both. A spelling that is already UCUM
passes through unchanged. Keys of `ALIASES` are matched case-insensitively, with and without spaces
("mm Hg", "cm H2O").
"""

from __future__ import annotations

import re

# Writer's spelling (lower case) → UCUM code.
ALIASES: dict[str, str] = {
    "%": "%",
    "percent": "%",
    "mmhg": "mm[Hg]",
    "mm[hg]": "mm[Hg]",
    "cmh2o": "cm[H2O]",
    "cm[h2o]": "cm[H2O]",
    "bpm": "/min",
    "beats/min": "/min",
    "beats per minute": "/min",
    "/min": "/min",
    "breaths/min": "/min",
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "[lb_av]": "[lb_av]",
    "pound": "[lb_av]",
    "pounds": "[lb_av]",
    "[in_i]": "[in_i]",
    "in": "[in_i]",
    "inch": "[in_i]",
    "inches": "[in_i]",
    "ft": "[ft_i]",  # UCUM would read femto-tonne
    "oz": "[oz_av]",
    "cel": "Cel",
    "°c": "Cel",
    "degc": "Cel",
    "[degf]": "[degF]",
    "°f": "[degF]",
    "degf": "[degF]",
    "kg/m2": "kg/m2",
    "kg/m^2": "kg/m2",
    "mg/m2": "mg/m2",
    "m2": "m2",
    "m^2": "m2",
    "u/l": "U/L",
    "iu/l": "[IU]/L",
    "[iu]/l": "[IU]/L",
    "meq/l": "meq/L",
    "a": "a",
    "wk": "wk",
    "mo": "mo",
    "d": "d",
    "h": "h",
    "cgy": "cGy",
    "gy": "Gy",
}

# Spellings that mean "a plain number": UCUM's ``1``. ``pH`` is here because pint (and UCUM) would
# read it as picohenry; ``(score)`` is a label written where the unit goes.
DIMENSIONLESS: frozenset[str] = frozenset(
    {"", "1", "ph", "[ph]", "ratio", "{ratio}", "{nominal}", "count", "{count}"}
    | {"score", "{score}", "(score)"}
)

_POWER = re.compile(r"^(?:x\s*)?10\s*(?:\^|\*\*?|e)\s*(\d+)\s*/\s*(.+)$", re.IGNORECASE)
_THOUSANDS = re.compile(r"^(?:k|thou)/(.+)$", re.IGNORECASE)  # K/uL = 10^3/uL, not kelvin per µL
_WORD_IN_PARENTHESES = re.compile(r"^\([A-Za-z _-]+\)$")
# Per 1.73 m² body surface area, however it is written: UCUM's annotation ``{1.73_m2}``.
_PER_BSA = re.compile(r"/\s*\{?1[.,]73\s*_?\s*m(?:\^?2|\*\*2|²)\}?")


def to_ucum(unit: str) -> str:
    """The UCUM code a unit spelling means (unchanged when it is UCUM or unknown here)."""
    text = unit.strip().rstrip(".,;")
    low = text.lower()
    if low in ALIASES:
        return ALIASES[low]
    spaceless = re.sub(r"\s+", "", low)
    if spaceless in ALIASES:  # "mm Hg", "cm H2O": pressure units written spaced
        return ALIASES[spaceless]
    if low in DIMENSIONLESS or _WORD_IN_PARENTHESES.match(text):
        return "1"
    text = _PER_BSA.sub("/{1.73_m2}", text)
    text = text.replace("µ", "u").replace("μ", "u").replace("²", "2")
    text = re.sub(r"(?<=[A-Za-z])\^(\d)", r"\1", text)  # m^2 -> m2
    text = re.sub(r"(?<![A-Za-z])mEq(?![A-Za-z])", "meq", text)  # UCUM is case-sensitive: meq
    power = _POWER.match(text)
    if power:
        rest = to_ucum(power[2])
        return f"10*{power[1]}/{rest}" if not rest.startswith("/") else f"10*{power[1]}{rest}"
    thousands = _THOUSANDS.match(text)
    if thousands:
        return f"10*3/{to_ucum(thousands[1])}"
    return text
