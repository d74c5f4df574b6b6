"""Measured Observations -> lab, vital, tumor marker, performance status and other observation facts.

One Observation becomes one fact, except a value-less panel with components (blood pressure):
that becomes one fact per component, ``Observation/x#component[i]``. Which kind an Observation
is, is the registry's classification (`registry.DEFAULT_KINDS`): staging and genomics have their
own modules; performance status and tumor markers are recognised here by code or mCODE profile
(see `codes.py`), vitals and labs by category, and what is left is a plain ``observation``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import DETAILS_MODELS
from medboard.tools.fhir.codes import (
    ABNORMAL_INTERPRETATIONS,
    LAB_CATEGORIES,
    NORMAL_INTERPRETATIONS,
    PERFORMANCE_STATUS_CODES,
    PERFORMANCE_STATUS_PROFILES,
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
    read_value,
    reference_range,
)


def is_performance_status(resource: JSON, key: str, ctx: ExtractContext) -> bool:
    codes = code_values(resource.get("code"))
    return bool(set(codes) & PERFORMANCE_STATUS_CODES.keys()) or has_profile(
        resource, PERFORMANCE_STATUS_PROFILES
    )


def is_tumor_marker(resource: JSON, key: str, ctx: ExtractContext) -> bool:
    codes = code_values(resource.get("code"))
    return bool(set(codes) & TUMOR_MARKER_CODES.keys()) or has_profile(resource, TUMOR_MARKER_PROFILES)


def is_vital(resource: JSON, key: str, ctx: ExtractContext) -> bool:
    return bool(category_codes(resource) & VITAL_CATEGORIES)


def is_lab(resource: JSON, key: str, ctx: ExtractContext) -> bool:
    return bool(category_codes(resource) & LAB_CATEGORIES)


def measurements(kind: FactKind) -> Callable[[JSON, str, ExtractContext], list[Fact]]:
    """The extractor of one measured kind: the Observation's value, or one fact per component."""

    def extract(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
        return _measurement_facts(resource, key, ctx, kind, code_values(resource.get("code")))

    extract.__name__ = f"extract_{kind.value}"
    return extract


def observation_label(resource: JSON, codes: list[str], *known: dict[str, str]) -> str:
    text = label_of(resource.get("code"), "Observation")
    if text not in codes:
        return text
    for table in known:
        for code in codes:
            if code in table:
                return table[code]
    return text


def observation_dates(resource: JSON) -> tuple[str | None, str | None]:
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
    name = observation_label(resource, codes, TUMOR_MARKER_CODES)
    date, end = observation_dates(resource)
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
        component_label = observation_label(component, component_codes)
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
