"""Test support for the longitudinal tools: test-data paths, raw-JSON readings, `Fact` builders.

The raw readings are deliberately independent of `medboard.tools.fhir`: the code under test must
agree with a reading of the source JSON written here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medboard.models import Coding, EvidenceRef, Fact, FactKind

DATA = Path(__file__).resolve().parent / "data"
# Synthea PSA patients (subsets, see data/longitudinal/SOURCE.md) and loyd_connelly (full bundle)
SYNTHEA = DATA / "longitudinal" / "synthea"
LOYD = DATA / "fhir" / "synthea" / "loyd_connelly.json"
# mCODE: John Anyperson and Brian L resources; Jenny M's collection bundle
MCODE = DATA / "longitudinal" / "mcode"
JENNY = DATA / "fhir" / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"


def synthea(name: str) -> Path:
    """A Synthea test bundle by file name (PSA subsets, or the full loyd_connelly bundle)."""
    return LOYD if name == LOYD.name else SYNTHEA / name


def resources(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    if data.get("resourceType") == "Bundle":
        return [entry["resource"] for entry in data.get("entry", [])]
    return [data]


def raw_series(path: Path, loinc: str) -> list[tuple[str, float, str]]:
    """(effectiveDateTime, value, Observation/id) of every Observation with that LOINC code."""
    out = []
    for r in resources(path):
        codes = [
            c.get("code")
            for c in r.get("code", {}).get("coding", [])
            if c.get("system") == "http://loinc.org"
        ]
        if r["resourceType"] == "Observation" and loinc in codes and "valueQuantity" in r:
            out.append((r["effectiveDateTime"], float(r["valueQuantity"]["value"]), f"Observation/{r['id']}"))
    return sorted(out)


def lab(
    ref: str,
    loinc: str,
    value: Any,
    unit: str | None,
    date: str | None,
    *,
    kind: FactKind = FactKind.lab,
    label: str = "Analyte",
    **extra: Any,
) -> Fact:
    """A lab fact as the FHIR loader emits it (LOINC first, unit_code UCUM, source value exactly)."""
    return Fact(
        id=ref,
        kind=kind,
        label=label,
        codes=[Coding(system="http://loinc.org", code=loinc, display=label)],
        value=value,
        unit=unit,
        unit_code=unit,
        date=date,
        evidence=EvidenceRef(
            reference=ref, path="valueQuantity", quote=None if value is None else str(value)
        ),
        **extra,
    )
