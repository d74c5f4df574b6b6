"""Procedures -> ``procedure`` facts, flagged as surgery and/or radiotherapy."""

from __future__ import annotations

import re

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import ProcedureDetails
from medboard.tools.fhir.codes import (
    RADIOTHERAPY_CODES,
    RADIOTHERAPY_PROFILES,
    SNOMED,
    SURGERY_CATEGORY,
    SURGERY_PROFILES,
)
from medboard.tools.fhir.facts.common import (
    JSON,
    ExtractContext,
    body_site,
    cancer_related,
    code_values,
    codings,
    displays,
    effective,
    has_profile,
    label_of,
    laterality_from_text,
    profiles,
)

_RADIOTHERAPY_TEXT = re.compile(
    r"radiotherap|radiation therap|irradiation|brachytherap|teleradiotherap|radiosurgery", re.IGNORECASE
)
# Operative suffixes and words; a heuristic used only when no profile or category says "surgery".
_SURGERY_TEXT = re.compile(
    r"ectomy|ostomy|otomy|resection|excision|amputation|surg|arthroplasty|transplant|mastectomy",
    re.IGNORECASE,
)


def is_radiotherapy(resource: JSON, label: str) -> bool:
    if has_profile(resource, RADIOTHERAPY_PROFILES):
        return True
    if set(code_values(resource.get("code"))) & RADIOTHERAPY_CODES:
        return True
    return bool(_RADIOTHERAPY_TEXT.search(label))


def is_surgery(resource: JSON, label: str) -> bool:
    if has_profile(resource, SURGERY_PROFILES):
        return True
    category = resource.get("category") or {}
    if any(
        c.get("system") in (SNOMED, None) and c.get("code") == SURGERY_CATEGORY
        for c in category.get("coding", ())
    ):
        return True
    return bool(_SURGERY_TEXT.search(label)) and not _RADIOTHERAPY_TEXT.search(label)


def extract_procedure(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    label = label_of(resource.get("code"), key)
    start, end = effective(resource, "performed")
    site, laterality = body_site(resource)
    # Sources often only say the side in the procedure's name ("Lumpectomy of left breast").
    laterality = laterality or laterality_from_text(label)
    reasons = displays(resource.get("reasonCode", ())) + ctx.refs(resource.get("reasonReference"))
    return [
        ctx.fact(
            FactKind.procedure,
            key,
            label,
            path="code",
            quote=label,
            codes=codings(resource.get("code"), prefer=SNOMED),
            status=resource.get("status"),
            date=start,
            end_date=end,
            body_site=site,
            laterality=laterality,
            related=ctx.refs(resource.get("reasonReference")),
            details=ProcedureDetails(
                surgery=is_surgery(resource, label),
                radiotherapy=is_radiotherapy(resource, label),
                reason=reasons,
                cancer_related=cancer_related(resource, ctx),
                profiles=profiles(resource),
            ),
        )
    ]
