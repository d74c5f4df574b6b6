"""Staging Observations -> ``staging`` facts (TNM categories and stage groups, with their type).

An Observation is staging when its code is a TNM / stage-group code, its profile an mCODE staging
profile, or a Condition cites it in ``stage.assessment``. Staging is claimed before every other
Observation kind: a stage is never read as a lab value.
"""

from __future__ import annotations

import re

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import StagingDetails
from medboard.tools.fhir.codes import STAGING_PROFILES, TNM_CODES
from medboard.tools.fhir.facts.common import (
    JSON,
    ExtractContext,
    code_values,
    codings,
    display,
    profiles,
    read_value,
)
from medboard.tools.fhir.facts.observation import observation_dates, observation_label


def is_staging(resource: JSON, key: str, ctx: ExtractContext) -> bool:
    return _staging_category(resource, key, code_values(resource.get("code")), ctx) is not None


def extract_staging(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    category = _staging_category(resource, key, code_values(resource.get("code")), ctx)
    if category is None:  # only reached through `is_staging`
        return []
    return [_staging_fact(resource, key, ctx, *category)]


_TNM_SHORT = re.compile(r"(?<![A-Za-z])([cpyra]{0,2}[TNM](?:is|X|x|[0-4])[a-d]?\d?(?:\([^)\s]*\))?)")
_STAGE_SHORT = re.compile(r"\bstage\s+([0IV]+[A-C]?\d?|[A-C]|[0-4][A-C]?|MS?)\b", re.IGNORECASE)


def _staging_category(
    resource: JSON, key: str, codes: list[str], ctx: ExtractContext
) -> tuple[str, str | None, bool] | None:
    """(category, stage_type, is_tnm) for staging Observations, else None."""
    for code in codes:
        if code in TNM_CODES:
            category, stage_type = TNM_CODES[code]
            return category, stage_type, True
    tails = {p.split("|")[0].rsplit("/", 1)[-1] for p in profiles(resource)}
    for tail, category in STAGING_PROFILES.items():
        if tail in tails:
            return category, _stage_type_from_text(resource), tail.startswith("mcode-tnm-")
    if key in ctx.staged_conditions:
        return "stage_group", _stage_type_from_text(resource), False
    return None


def _stage_type_from_text(resource: JSON) -> str | None:
    text = f"{display(resource.get('code')) or ''} {display(resource.get('valueCodeableConcept')) or ''}"
    if re.search(r"patholog", text, re.IGNORECASE):
        return "pathologic"
    if re.search(r"clinical", text, re.IGNORECASE):
        return "clinical"
    short = _TNM_SHORT.search(text)
    if short and short.group(1)[0] in "cp":
        return "clinical" if short.group(1)[0] == "c" else "pathologic"
    return None


def short_stage(text: str | None, category: str) -> str | None:
    """``cT3`` / ``IIB`` from a verbose display such as 'American Joint Committee on Cancer cT3'."""
    if not text:
        return None
    match = (_STAGE_SHORT if category == "stage_group" else _TNM_SHORT).search(text)
    return match.group(1) if match else None


def _staging_fact(
    resource: JSON, key: str, ctx: ExtractContext, category: str, stage_type: str | None, is_tnm: bool
) -> Fact:
    codes = code_values(resource.get("code"))
    if category == "stage_group":
        if is_tnm:
            label = f"{(stage_type or '').capitalize()} TNM stage group".strip()
            label = label[0].upper() + label[1:]
        else:
            label = observation_label(resource, codes) if resource.get("code") else "Stage group"
    else:
        label = f"{stage_type.capitalize()} {category} category" if stage_type else f"{category} category"
    value = read_value(resource)
    related = ctx.refs(resource.get("focus"))
    for condition in ctx.staged_conditions.get(key, ()):
        if condition not in related:
            related.append(condition)
    date, end = observation_dates(resource)
    details = StagingDetails(
        category=category,
        stage_type=stage_type,
        system=display(resource.get("method")),
        short=short_stage(value.value if isinstance(value.value, str) else None, category),
        members=ctx.refs(resource.get("hasMember")),
    )
    return ctx.fact(
        FactKind.staging,
        key,
        label,
        path=value.path,
        quote=value.quote,
        codes=codings(resource.get("code")),
        value=value.value,
        value_codes=value.value_codes,
        status=resource.get("status"),
        date=date,
        end_date=end,
        related=related,
        details=details,
    )
