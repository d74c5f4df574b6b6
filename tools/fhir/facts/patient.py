"""Patient demographics -> one ``patient`` fact."""

from __future__ import annotations

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import PatientDetails
from medboard.tools.fhir.facts.common import JSON, ExtractContext


def human_name(resource: JSON) -> str | None:
    """The patient's name as written: ``official`` (or first) HumanName, text or given + family."""
    names = resource.get("name") or []
    if not names:
        return None
    chosen = next((n for n in names if n.get("use") == "official"), names[0])
    if chosen.get("text"):
        return str(chosen["text"])
    parts = [*chosen.get("given", ()), chosen.get("family")]
    text = " ".join(str(p) for p in parts if p)
    return text or None


def extract_patient(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    name = human_name(resource)
    deceased: bool | str | None = resource.get("deceasedDateTime") or resource.get("deceasedBoolean")
    birth = resource.get("birthDate")
    return [
        ctx.fact(
            FactKind.patient,
            key,
            name or key,
            path="name" if name else None,
            quote=name,
            date=birth,
            details=PatientDetails(
                name=name, gender=resource.get("gender"), birth_date=birth, deceased=deceased
            ),
        )
    ]
