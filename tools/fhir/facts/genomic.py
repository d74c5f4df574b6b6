"""Genomics-reporting Observations -> ``genomic`` facts (gene, HGVS, source class, implications).

An Observation is genomic by its code (variant, MSI, TMB, region studied, implications), a genomics
profile, a code from the genomics-reporting TBD system, or the ``GE`` category. Its components are
read by code into `GenomicDetails` (`codes.GENOMIC_COMPONENTS`); HGVS c./p. are recovered from a
free-text variant when no component gives them.
"""

from __future__ import annotations

import re
from typing import Any

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import GenomicDetails
from medboard.tools.fhir.codes import GENOMIC_CODES, GENOMIC_COMPONENTS, GENOMICS_TBD
from medboard.tools.fhir.facts.common import (
    JSON,
    ExtractContext,
    category_codes,
    code_values,
    codings,
    display,
    profiles,
    read_value,
)
from medboard.tools.fhir.facts.observation import observation_dates, observation_label


def is_genomic(resource: JSON, key: str, ctx: ExtractContext) -> bool:
    return _is_genomic(resource, code_values(resource.get("code")))


def extract_genomic(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    return [_genomic_fact(resource, key, ctx, code_values(resource.get("code")))]


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
    name = observation_label(resource, codes, GENOMIC_CODES)
    if details.gene:
        name = f"{name}: {details.gene}"
    value = read_value(resource)
    date, end = observation_dates(resource)
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
