"""Conditions -> ``condition`` facts (problem list, cancer diagnoses with mCODE details)."""

from __future__ import annotations

import re

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import CancerKind, ConditionDetails, LateralitySource
from medboard.tools.fhir.codes import ICD10CM
from medboard.tools.fhir.facts.common import (
    JSON,
    ExtractContext,
    body_site,
    codings,
    display,
    effective,
    extension,
    first_code,
    has_profile,
    label_of,
    laterality_from_text,
)

# Words that make a diagnosis a cancer, and those that make it a secondary (metastatic) one.
# "Suspected" / "history of" / "screening" diagnoses are not asserted cancers.
_CANCER = re.compile(
    r"malignan|carcinoma|cancer|lymphoma|leuk[a]?emia|melanoma|sarcoma|myeloma|blastoma|"
    r"mesothelioma|glioma|seminoma",
    re.IGNORECASE,
)
_SECONDARY = re.compile(r"secondary|metasta", re.IGNORECASE)
_NOT_ASSERTED = re.compile(r"suspected|history of|screening|risk of|family history", re.IGNORECASE)


def cancer_kind(resource: JSON, label: str | None) -> CancerKind | None:
    """``primary`` / ``secondary`` from the mCODE profile, ICD-10 chapter, or the code's text."""
    if has_profile(resource, ("mcode-primary-cancer-condition",)):
        return "primary"
    if has_profile(resource, ("mcode-secondary-cancer-condition",)):
        return "secondary"
    icd = first_code(resource.get("code"), ICD10CM)
    if icd and re.match(r"^C\d\d", icd):
        block = int(icd[1:3])
        return "secondary" if 77 <= block <= 79 else "primary"
    text = label or ""
    if not text or _NOT_ASSERTED.search(text) or not _CANCER.search(text):
        return None
    return "secondary" if _SECONDARY.search(text) else "primary"


def extract_condition(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    label = label_of(resource.get("code"), key)
    onset, _ = effective(resource, "onset")
    abatement_start, abatement_end = effective(resource, "abatement")
    site, laterality = body_site(resource)
    laterality_source: LateralitySource | None = "bodySite" if laterality else None
    if laterality is None:
        # mCODE puts laterality on bodySite; many sources only say it in the diagnosis text.
        laterality = laterality_from_text(label)
        laterality_source = "code" if laterality else None
    stage = next((display(s.get("summary")) for s in resource.get("stage", ()) if s.get("summary")), None)
    histology_ext = extension(resource, "mcode-histology-morphology-behavior")
    details = ConditionDetails(
        cancer=cancer_kind(resource, label),
        stage=stage,
        histology=display(histology_ext.get("valueCodeableConcept")) if histology_ext else None,
        laterality_source=laterality_source,
        recorded_date=None if onset else resource.get("recordedDate") or None,
    )
    related = ctx.refs(a for s in resource.get("stage", ()) for a in s.get("assessment", ()))
    related_ext = extension(resource, "condition-related")
    if related_ext and related_ext.get("valueReference"):
        related += ctx.refs([related_ext["valueReference"]])
    return [
        ctx.fact(
            FactKind.condition,
            key,
            label,
            path="code",
            quote=label,
            codes=codings(resource.get("code")),
            status=first_code(resource.get("clinicalStatus")),
            verification_status=first_code(resource.get("verificationStatus")),
            date=onset,
            end_date=abatement_end or abatement_start,
            body_site=site,
            laterality=laterality,
            related=related,
            details=details,
        )
    ]
