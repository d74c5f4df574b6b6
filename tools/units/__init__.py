"""One unit service for every tool: UCUM (via ucumvert and pint), writers' spellings, analytes.

- `parse_unit` / `try_parse_unit`: a UCUM code or a writer's spelling → a pint quantity;
- `convert`: a value between units, through an analyte's molar mass or valence when needed, else a
  `UnitConversionError` that says why;
- `comparable_for_series`: may two units share a lab series (annotation-aware, unlike `convert`);
- `aliases.ALIASES`, `analytes.ANALYTES` / `analytes.LOINC_ANALYTE`: the only tables.

The verifier (`tools/checks`) and the trends (`tools/longitudinal`) both read units here, so they
give the same answer for the same pair of units.
"""

from medboard.tools.units.aliases import ALIASES, to_ucum
from medboard.tools.units.analytes import ANALYTES, LOINC_ANALYTE, Analyte, analyte_for
from medboard.tools.units.convert import SeriesFit, comparable_for_series, convert, same_unit
from medboard.tools.units.parse import (
    MAX_UNIT_CHARS,
    UnitConversionError,
    annotations_of,
    is_known_unit,
    is_temperature,
    is_time_unit,
    parse_unit,
    try_parse_unit,
)
from medboard.tools.units.registry import registry

__all__ = [
    "ALIASES",
    "ANALYTES",
    "LOINC_ANALYTE",
    "MAX_UNIT_CHARS",
    "Analyte",
    "SeriesFit",
    "UnitConversionError",
    "analyte_for",
    "annotations_of",
    "comparable_for_series",
    "convert",
    "is_known_unit",
    "is_temperature",
    "is_time_unit",
    "parse_unit",
    "registry",
    "same_unit",
    "to_ucum",
    "try_parse_unit",
]
