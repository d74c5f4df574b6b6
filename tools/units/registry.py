"""The one pint registry behind every unit medboard reads: UCUM's units, via `ucumvert`.

`ucumvert.PintUcumRegistry` is pint's registry plus UCUM's unit atoms (``[lb_av]``, ``mm[Hg]``,
``[in_i]``, ``10*``, ...). A few of its definitions are right for physics but wrong for a lab
report, so this module redefines them — each line says why:

* UCUM's arbitrary units (``[IU]``, ``[arb'U]``) are dimensionless there, so ``5 [IU]/L`` would
  convert to ``5 /L`` or to any other arbitrary unit; each gets its own dimension here.
* UCUM's enzyme unit ``U`` is ``umol/min``, so ``143 U/L`` would read as a rate of a substance
  concentration (mmol/L per time) and the verifier would take a wrong unit for a derived rate.
  Catalytic activities are reported, and compared, in U only: ``U`` gets its own dimension.
* ``eq`` is ``mol`` there, so ``140 meq/L`` would silently equal ``140 mmol/L`` for every analyte.
  Equivalents get their own dimension; `medboard.tools.units.convert` bridges them to moles only
  through an analyte's known valence.
* ``[pH]`` maps to ``pH_value``, which ucumvert names but does not define: defined dimensionless.
* ``beat``, ``breath`` and ``cell`` are what writers count per minute or per µL (``bpm``,
  ``cells/uL``): plain counts, as UCUM's ``{beats}/min`` annotation would be.

`PintUcumRegistry` itself is not used: its ``from_ucum`` builds quantities on pint's *application*
registry rather than on itself, and building it also builds that second registry (about a second
of start-up). So `_LabRegistry` loads ucumvert's UCUM definitions file exactly as
`PintUcumRegistry` does, and this module drives ucumvert's parser and transformer with it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pint

# pint definitions layered over ucumvert's; see the module docstring for why each exists.
_OVERRIDES = (
    "international_unit = [international_unit] = _ = i.U. = IU = iU",
    "arbitrary_unit = [arbitrary_unit] = _ = arb_U",
    "enzyme_unit = [enzyme_unit] = U = _ = enzymeunit",
    "equivalents = [equivalent] = eq",
    "pH_value = 1",
    "beat = count = beats",
    "breath = count = breaths",
    "cell = count = cells",
)


@cache
def registry() -> pint.UnitRegistry:
    """The shared registry, built on first use (reading pint's and UCUM's definitions takes ~1 s;
    pint itself is imported only then, so importing the tools stays cheap)."""
    import pint
    import ucumvert

    class _LabRegistry(pint.UnitRegistry):
        """pint's units plus UCUM's, from the definitions file ucumvert ships (as `PintUcumRegistry`)."""

        def _after_init(self) -> None:
            super()._after_init()
            self._build_cache(self.load_definitions(Path(ucumvert.__file__).parent / "pint_ucum_defs.txt"))

    ureg: pint.UnitRegistry = _LabRegistry(autoconvert_offset_to_baseunit=True, on_redefinition="ignore")
    for definition in _OVERRIDES:
        ureg.define(definition)
    return ureg


@cache
def ucum_parser() -> Any:
    """ucumvert's UCUM grammar (a lark parser), built once."""
    from ucumvert import get_ucum_parser

    return get_ucum_parser()


@cache
def ucum_transformer() -> Any:
    """ucumvert's parse-tree → pint transformer, bound to `registry` (not pint's application one)."""
    from ucumvert import UcumToPintTransformer

    return UcumToPintTransformer(ureg=registry())
