"""Observations -> staging, lab, vital, tumor marker, performance status, genomic facts.

One Observation becomes one fact, except a value-less panel with components (blood pressure):
that becomes one fact per component, ``Observation/x#component[i]``. Classification order:
staging, performance status, genomics, tumor marker (these are recognised by mCODE/genomics
profile or by code, see `codes.py`), then vital (category ``vital-signs``), lab (category
``laboratory``), else plain ``observation``.
"""

from __future__ import annotations

import re
from typing import Any

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import DETAILS_MODELS, GenomicDetails, StagingDetails
from medboard.tools.fhir.codes import (
    ABNORMAL_INTERPRETATIONS,
    GENOMIC_CODES,
    GENOMIC_COMPONENTS,
    GENOMICS_TBD,
    LAB_CATEGORIES,
    NORMAL_INTERPRETATIONS,
    PERFORMANCE_STATUS_CODES,
    PERFORMANCE_STATUS_PROFILES,
    STAGING_PROFILES,
    TNM_CODES,
    TUMOR_MARKER_CODES,
    TUMOR_MARKER_PROFILES,
    VITAL_CATEGORIES,
)
from medboard.tools.fhir.facts.common import (
    JSON,
    ExtractContext,
    Value,
    category_codes,
    code_values,
    codings,
    display,
    effective,
    first_code,
    has_profile,
    label_of,
    profiles,
    read_value,
    reference_range,
)


def extract_observation(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    codes = code_values(resource.get("code"))
    staging = _staging_category(resource, key, codes, ctx)
    if staging is not None:
        return [_staging_fact(resource, key, ctx, *staging)]
    if set(codes) & PERFORMANCE_STATUS_CODES.keys() or has_profile(resource, PERFORMANCE_STATUS_PROFILES):
        return _measurement_facts(resource, key, ctx, FactKind.performance_status, codes)
    if _is_genomic(resource, codes):
        return [_genomic_fact(resource, key, ctx, codes)]
    if set(codes) & TUMOR_MARKER_CODES.keys() or has_profile(resource, TUMOR_MARKER_PROFILES):
        return _measurement_facts(resource, key, ctx, FactKind.tumor_marker, codes)
    categories = category_codes(resource)
    if categories & VITAL_CATEGORIES:
        kind = FactKind.vital
    elif categories & LAB_CATEGORIES:
        kind = FactKind.lab
    else:
        kind = FactKind.observation
    return _measurement_facts(resource, key, ctx, kind, codes)


def _label(resource: JSON, codes: list[str], *known: dict[str, str]) -> str:
    text = label_of(resource.get("code"), "Observation")
    if text not in codes:
        return text
    for table in known:
        for code in codes:
            if code in table:
                return table[code]
    return text


def _dates(resource: JSON) -> tuple[str | None, str | None]:
    start, end = effective(resource)
    return start or resource.get("issued"), end


# --- labs, vitals, tumor markers, performance status --------------------------------------


def _abnormal(value: Value, interpretation: str | None, ranges: Any) -> bool | None:
    if interpretation in ABNORMAL_INTERPRETATIONS:
        return True
    if interpretation in NORMAL_INTERPRETATIONS:
        return False
    number = value.value
    if isinstance(number, bool) or not isinstance(number, int | float) or not ranges:
        return None
    low = (ranges[0].get("low") or {}).get("value")
    high = (ranges[0].get("high") or {}).get("value")
    if low is None and high is None:
        return None
    return (low is not None and number < low) or (high is not None and number > high)


def _measurement(element: JSON, prefix: str, kind: FactKind) -> tuple[Value, dict[str, Any]]:
    value = read_value(element, prefix)
    if kind is FactKind.performance_status:
        value.value = _score(value)
    interpretation = first_code(next(iter(element.get("interpretation", ())), None))
    fields: dict[str, Any] = {
        "value": value.value,
        "unit": value.unit,
        "unit_code": value.unit_code,
        "comparator": value.comparator,
        "value_codes": value.value_codes,
        "reference_range": reference_range(element.get("referenceRange")),
        "interpretation": interpretation,
        "abnormal": _abnormal(value, interpretation, element.get("referenceRange")),
    }
    return value, fields


def _score(value: Value) -> Any:
    """Performance status scores are integers; keep them as such whatever value[x] carried them."""
    if isinstance(value.value, float) and value.value.is_integer():
        return int(value.value)
    for coding in value.value_codes:
        if coding.code and coding.code.isdigit():
            return int(coding.code)
    return value.value


def _measurement_facts(
    resource: JSON, key: str, ctx: ExtractContext, kind: FactKind, codes: list[str]
) -> list[Fact]:
    name = _label(resource, codes, TUMOR_MARKER_CODES)
    date, end = _dates(resource)
    common: dict[str, Any] = {"date": date, "end_date": end, "status": resource.get("status")}
    extras: dict[str, Any] = {}
    marker = next((TUMOR_MARKER_CODES[c] for c in codes if c in TUMOR_MARKER_CODES), None)
    if kind is FactKind.tumor_marker and marker:
        extras["marker"] = marker
    interpretation_text = display(next(iter(resource.get("interpretation", ())), None))
    if interpretation_text:
        extras["interpretation_display"] = interpretation_text
    if resource.get("dataAbsentReason"):
        extras["data_absent_reason"] = display(resource["dataAbsentReason"])
    details_model = DETAILS_MODELS[kind]  # the measurement kinds share these extras
    body_site = display(resource.get("bodySite"))
    notes = [n["text"] for n in resource.get("note", ()) if n.get("text")]
    text = "\n".join(notes) or None
    related = ctx.refs(resource.get("hasMember")) + ctx.refs(resource.get("derivedFrom"))
    related += ctx.reports_of.get(key, [])

    components = [c for c in resource.get("component", ()) if _has_value(c)]
    has_own_value = _has_value(resource)
    facts: list[Fact] = []
    if has_own_value or not components:
        value, fields = _measurement(resource, "", kind)
        facts.append(
            ctx.fact(
                kind,
                key,
                name,
                path=value.path,
                quote=value.quote,
                codes=codings(resource.get("code")),
                body_site=body_site,
                text=text,
                related=related,
                details=details_model.model_validate(extras),
                **fields,
                **common,
            )
        )
    for index, component in enumerate(resource.get("component", ())):
        if not _has_value(component):
            continue
        prefix = f"component[{index}]"
        component_codes = code_values(component.get("code"))
        component_label = _label(component, component_codes)
        if component_label in component_codes:
            component_label = f"{name}: {component_label}"
        value, fields = _measurement(component, f"{prefix}.", kind)
        facts.append(
            ctx.fact(
                kind,
                key,
                component_label,
                path=prefix,
                quote=value.quote,
                fact_id=f"{key}#{prefix}",
                codes=codings(component.get("code")),
                body_site=body_site,
                related=related,
                details=details_model.model_validate({**extras, "panel": name}),
                **fields,
                **common,
            )
        )
    return facts


def _has_value(element: JSON) -> bool:
    return any(k.startswith("value") for k in element)


# --- staging -----------------------------------------------------------------------------

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
            label = _label(resource, codes) if resource.get("code") else "Stage group"
    else:
        label = f"{stage_type.capitalize()} {category} category" if stage_type else f"{category} category"
    value = read_value(resource)
    related = ctx.refs(resource.get("focus"))
    for condition in ctx.staged_conditions.get(key, ()):
        if condition not in related:
            related.append(condition)
    date, end = _dates(resource)
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


# --- genomics ----------------------------------------------------------------------------


def _is_genomic(resource: JSON, codes: list[str]) -> bool:
    if set(codes) & GENOMIC_CODES.keys():
        return True
    if any("genomic" in p or "genomics-reporting" in p for p in profiles(resource)):
        return True
    if any(c.get("system") == GENOMICS_TBD for c in (resource.get("code") or {}).get("coding", ())):
        return True
    return "GE" in category_codes(resource)


_HGVS_C = re.compile(r"(\S*c\.[^\s(]+)")
_HGVS_P = re.compile(r"p\.(\([^)]*\)|[A-Za-z0-9*=_>]+)")


def _genomic_fact(resource: JSON, key: str, ctx: ExtractContext, codes: list[str]) -> Fact:
    found: dict[str, Any] = {}  # GenomicDetails field -> first value the components give
    genes: list[str] = []
    for component in resource.get("component", ()):
        for code in code_values(component.get("code")):
            name = GENOMIC_COMPONENTS.get(code)
            if not name:
                continue
            value = read_value(component)
            if name == "gene":
                if isinstance(value.value, str):
                    genes.append(value.value)
            elif value.value is not None and name not in found:
                found[name] = value.value
    if genes:
        found["gene"] = ", ".join(dict.fromkeys(genes))
    variant = found.get("variant")
    if isinstance(variant, str):
        if "hgvs_c" not in found and (m := _HGVS_C.search(variant)):
            found["hgvs_c"] = m.group(1)
        if "hgvs_p" not in found and (m := _HGVS_P.search(variant)):
            found["hgvs_p"] = f"p.{m.group(1)}"
    if "interpretation" not in found:
        interpretation = display(next(iter(resource.get("interpretation", ())), None))
        if interpretation:
            found["interpretation"] = interpretation
    details = GenomicDetails.model_validate(found)
    name = _label(resource, codes, GENOMIC_CODES)
    if details.gene:
        name = f"{name}: {details.gene}"
    value = read_value(resource)
    date, end = _dates(resource)
    related = ctx.refs(resource.get("derivedFrom")) + ctx.reports_of.get(key, [])
    return ctx.fact(
        FactKind.genomic,
        key,
        name,
        path=value.path,
        quote=value.quote,
        codes=codings(resource.get("code")),
        value=value.value,
        unit=value.unit,
        unit_code=value.unit_code,
        value_codes=value.value_codes,
        status=resource.get("status"),
        date=date,
        end_date=end,
        related=related,
        details=details,
    )
