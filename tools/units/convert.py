"""Converting a value between units, and saying whether two units can share one lab series.

`convert` is the one conversion the verifier and the trends both use, so a record value and a
statement, or two points of one series, are reconciled by the same rules:

* units of one dimension convert by pint (``10*3/uL`` → ``10*9/L``, ``[lb_av]`` → ``kg``,
  ``Cel`` → ``[degF]`` by offset);
* mass ↔ substance concentration (``mg/dL`` ↔ ``mmol/L``) only through the analyte's molar mass;
* equivalents ↔ moles (``meq/L`` ↔ ``mmol/L``) only through the analyte's valence;
* anything else is refused with a reason (`UnitConversionError`), never guessed.

`comparable_for_series` is a separate, stricter question: may two values share one series? UCUM
annotations do not change a conversion, but ``mL/min/{1.73_m2}`` (normalised to body surface) is
not the same measurement as ``mL/min``, so annotations must match there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from medboard.tools.units.analytes import Analyte, analyte_for
from medboard.tools.units.parse import UnitConversionError, annotations_of, parse_unit
from medboard.tools.units.registry import registry

if TYPE_CHECKING:  # pragma: no cover
    import pint


def _bridged(quantity: pint.Quantity) -> dict[str, float]:
    """Its dimensions with mass and equivalents of the analyte counted as its amount (moles)."""
    # pint types exponents as any number; dimensions' exponents are real (ints, sometimes fractions).
    counts = {name: cast(float, power) for name, power in quantity.dimensionality.items()}
    amount = sum(counts.pop(name, 0.0) for name in ("[substance]", "[mass]", "[equivalent]"))
    if amount:
        counts["[substance]"] = amount
    return counts


def _to_moles(
    quantity: pint.Quantity, analyte: Analyte | None, loinc: str | None, unit: str
) -> pint.Quantity:
    """``quantity`` with its mass or equivalents expressed as moles of the analyte (or the reason not)."""
    ureg = registry()
    dims = quantity.dimensionality
    who = f"LOINC {loinc}" if loinc else "an analyte medboard cannot identify"
    if dims.get("[equivalent]"):
        if analyte is None or analyte.valence is None:
            raise UnitConversionError(
                f"{unit}: equivalents ↔ moles needs the analyte's valence, which medboard does not know "
                f"for {who}"
            )
        quantity = quantity * ureg.Quantity(1 / analyte.valence, "mol/eq")
    if quantity.dimensionality.get("[mass]"):
        if analyte is None or analyte.molar_mass is None:
            raise UnitConversionError(
                f"{unit}: mass ↔ substance needs the analyte's molar mass, which medboard does not know "
                f"for {who}"
            )
        quantity = quantity / ureg.Quantity(analyte.molar_mass, "g/mol")
    return quantity


def convert(
    value: float,
    from_unit: str | None,
    to_unit: str | None,
    *,
    loinc: str | None = None,
    label: str | None = None,
) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit``.

    The analyte (for molar mass and valence) is the one ``loinc`` names, else the one ``label``
    names (see `analyte_for`). Raises `UnitConversionError` with the reason when the units cannot be
    reconciled.
    """
    if from_unit == to_unit and from_unit is not None:
        return float(value)
    import pint

    source_unit = parse_unit(from_unit)
    target_unit = parse_unit(to_unit)
    ureg = registry()
    source = ureg.Quantity(value * source_unit.magnitude, source_unit.units)
    target = ureg.Quantity(target_unit.magnitude, target_unit.units)
    try:
        return float(source.to(target.units).magnitude / target.magnitude)
    except pint.errors.DimensionalityError:
        pass
    source_dims, target_dims = source.dimensionality, target.dimensionality
    if source_dims == target_dims or _bridged(source) != _bridged(target):
        raise UnitConversionError(
            f"{from_unit} ({source_dims}) cannot be converted to {to_unit} ({target_dims})"
        ) from None
    analyte = analyte_for(loinc, label)
    in_moles = _to_moles(source, analyte, loinc, f"{from_unit} → {to_unit}")
    one_target_in_moles = _to_moles(target, analyte, loinc, f"{from_unit} → {to_unit}")
    try:
        return float((in_moles / one_target_in_moles).to("dimensionless").magnitude)
    except pint.errors.DimensionalityError:  # pragma: no cover - _bridged made the dimensions match
        raise UnitConversionError(f"{from_unit} cannot be converted to {to_unit}") from None


def same_unit(a: str | None, b: str | None) -> bool:
    """True when two unit codes denote the same unit (``g/dl`` and ``g/dL``), by conversion factor 1."""
    if a == b:
        return True
    try:
        return abs(convert(1.0, a, b) - 1.0) < 1e-12
    except UnitConversionError:
        return False


@dataclass(frozen=True)
class SeriesFit:
    """Whether two units may share one lab series, and why not when they may not."""

    comparable: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.comparable


def comparable_for_series(a: str | None, b: str | None, *, loinc: str | None = None) -> SeriesFit:
    """May values in unit ``a`` and unit ``b`` share one series of the analyte ``loinc``?

    Yes when they convert into each other (through the analyte's molar mass or valence, if needed)
    and carry the same UCUM annotations: ``mL/min`` and ``mL/min/{1.73_m2}`` are different
    measurements even though they convert by factor 1.
    """
    try:
        convert(1.0, a, b, loinc=loinc)
    except UnitConversionError as error:
        return SeriesFit(False, str(error))
    notes_a, notes_b = annotations_of(a), annotations_of(b)
    if sorted(notes_a) != sorted(notes_b):
        shown_a, shown_b = " ".join(notes_a) or "none", " ".join(notes_b) or "none"
        reason = f"{a} and {b} carry different annotations ({shown_a} vs {shown_b}): not one measurement"
        return SeriesFit(False, reason)
    return SeriesFit(True)
