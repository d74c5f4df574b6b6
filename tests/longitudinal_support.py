"""Test support for the longitudinal tools: build `Fact`s straight from raw FHIR JSON.

This is deliberately independent of `medboard.tools.fhir` (the code under test must agree with a
reading of the source JSON written here), and deliberately small: Observations with a
valueQuantity / valueString, MedicationRequest / MedicationAdministration, Procedure.
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


def _uuid_to_ref(reference: str, index: dict[str, str]) -> str:
    return index.get(reference, reference)


def _refs(resource: dict[str, Any]) -> list[str]:
    out = []
    for x in resource.get("reasonReference", []):
        ref = x.get("reference", "")
        out.append(_INDEX.get(ref, ref))
    return out


def _reasons(resource: dict[str, Any]) -> list[str]:
    texts = [
        c.get("text") or (c.get("coding") or [{}])[0].get("display") for c in resource.get("reasonCode", [])
    ]
    return [t for t in texts if t] + _refs(resource)


_INDEX: dict[str, str] = {}


def facts_from_raw(path: Path) -> list[Fact]:
    """Lab, medication and procedure facts from raw JSON (enough for the longitudinal tools)."""
    facts: list[Fact] = []
    data = json.loads(path.read_text())
    for entry in data.get("entry", []) if data.get("resourceType") == "Bundle" else []:
        if "fullUrl" in entry:
            _INDEX[entry["fullUrl"]] = f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
    for r in resources(path):
        kind = r["resourceType"]
        ref = f"{kind}/{r['id']}"
        if kind == "Observation" and "valueQuantity" in r:
            coding = r.get("code", {}).get("coding", [{}])
            loinc = next((c["code"] for c in coding if c.get("system") == "http://loinc.org"), None)
            if loinc is None:
                continue
            q = r["valueQuantity"]
            fact_kind = FactKind.tumor_marker if loinc in {"2857-1", "2039-6", "10334-1"} else FactKind.lab
            facts.append(
                lab(
                    ref,
                    loinc,
                    q.get("value"),
                    q.get("code") or q.get("unit"),
                    r.get("effectiveDateTime"),
                    kind=fact_kind,
                    label=coding[0].get("display") or loinc,
                    comparator=q.get("comparator"),
                )
            )
        elif kind in ("MedicationRequest", "MedicationAdministration"):
            concept = r.get("medicationCodeableConcept", {})
            coding = concept.get("coding", [{}])
            period = r.get("effectivePeriod") or {}
            start = r.get("authoredOn") or r.get("effectiveDateTime") or period.get("start")
            validity = (r.get("dispenseRequest") or {}).get("validityPeriod") or {}
            profiles = r.get("meta", {}).get("profile", [])
            facts.append(
                Fact(
                    id=ref,
                    kind=FactKind.medication,
                    label=concept.get("text") or coding[0].get("display") or "medication",
                    codes=[Coding(**{k: c.get(k) for k in ("system", "code", "display")}) for c in coding],
                    status=r.get("status"),
                    date=start,
                    end_date=period.get("end") or validity.get("end"),
                    related=_refs(r),
                    details={"resource_type": kind, "profiles": profiles, "reason": _reasons(r)},
                    evidence=EvidenceRef(reference=ref),
                )
            )
        elif kind == "Condition":
            coding = r.get("code", {}).get("coding", [{}])
            facts.append(
                Fact(
                    id=ref,
                    kind=FactKind.condition,
                    label=r.get("code", {}).get("text") or coding[0].get("display") or "condition",
                    date=r.get("onsetDateTime"),
                    evidence=EvidenceRef(reference=ref),
                )
            )
        elif kind == "Procedure":
            coding = r.get("code", {}).get("coding", [{}])
            display = (r.get("code", {}).get("text") or coding[0].get("display") or "").lower()
            profiles = " ".join(r.get("meta", {}).get("profile", []))
            period = r.get("performedPeriod") or {}
            facts.append(
                Fact(
                    id=ref,
                    kind=FactKind.procedure,
                    label=coding[0].get("display") or r.get("code", {}).get("text") or "procedure",
                    codes=[Coding(**{k: c.get(k) for k in ("system", "code", "display")}) for c in coding],
                    status=r.get("status"),
                    date=r.get("performedDateTime") or period.get("start"),
                    end_date=period.get("end"),
                    related=_refs(r),
                    details={
                        "reason": _reasons(r),
                        "surgery": any(w in display for w in ("ectomy", "excision", "resection")),
                        "radiotherapy": "radiation" in display or "radiotherapy" in profiles,
                    },
                    evidence=EvidenceRef(reference=ref),
                )
            )
    return facts
