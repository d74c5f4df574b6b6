"""ImagingStudy -> ``imaging_study`` facts (study UID, modalities, series, body site)."""

from __future__ import annotations

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import ImagingSeries, ImagingStudyDetails
from medboard.tools.fhir.facts.common import (
    JSON,
    ExtractContext,
    codings,
    display,
    displays,
    laterality_of_concept,
)


def study_uid(resource: JSON) -> str | None:
    """The DICOM Study Instance UID: identifier ``urn:dicom:uid`` or an ``urn:oid:`` value."""
    for identifier in resource.get("identifier", ()):
        value = str(identifier.get("value", ""))
        if identifier.get("system") == "urn:dicom:uid" or value.startswith("urn:oid:"):
            return value.removeprefix("urn:oid:") or None
    return None


def extract_imaging_study(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    series_out: list[ImagingSeries] = []
    modalities: list[str] = [c["code"] for c in resource.get("modality", ()) if c.get("code")]
    body_sites: list[str] = []
    laterality = None
    for series in resource.get("series", ()):
        modality = (series.get("modality") or {}).get("code")
        if modality and modality not in modalities:
            modalities.append(modality)
        site = display(series.get("bodySite"))
        if site and site not in body_sites:
            body_sites.append(site)
        for coding in (series.get("laterality"), series.get("bodySite")):
            if laterality is None and coding:
                laterality = laterality_of_concept({"coding": [coding]})
        series_out.append(
            ImagingSeries(
                uid=series.get("uid"),
                number=series.get("number"),
                modality=modality,
                body_site=site,
                instances=series.get("numberOfInstances", len(series.get("instance", ()))),
                description=series.get("description"),
            )
        )
    procedures = displays(resource.get("procedureCode", ()))
    description = resource.get("description")
    label = (
        description
        or (procedures[0] if procedures else None)
        or (f"Imaging study ({', '.join(modalities)})" if modalities else "Imaging study")
    )
    return [
        ctx.fact(
            FactKind.imaging_study,
            key,
            label,
            path="series" if series_out else None,
            quote=description or ", ".join(modalities) or None,
            codes=[c for concept in resource.get("procedureCode", ()) for c in codings(concept)],
            status=resource.get("status"),
            date=resource.get("started")
            or next((s.get("started") for s in resource.get("series", ()) if s.get("started")), None),
            body_site="; ".join(body_sites) or None,
            laterality=laterality,
            related=ctx.refs(resource.get("basedOn")),
            details=ImagingStudyDetails(
                study_uid=study_uid(resource),
                modalities=modalities,
                series=series_out,
                description=description,
                procedures=procedures,
                number_of_instances=resource.get("numberOfInstances"),
            ),
        )
    ]
