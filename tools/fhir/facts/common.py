"""Readers for FHIR datatypes (CodeableConcept, Quantity, Period, ...) over raw JSON dicts.

The extractors read the source JSON, not the pydantic models: the dicts are already validated,
they are what evidence quotes must match verbatim, and reading them is an order of magnitude
cheaper than walking model objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from medboard.models import Coding, EvidenceRef, Fact, FactKind, ReferenceRange
from medboard.tools.fhir.codes import CODE_LABELS, LATERALITY_CODES, LOINC, UCUM
from medboard.tools.fhir.record import PatientRecord

JSON = Mapping[str, Any]


@dataclass
class ExtractContext:
    """What an extractor needs besides the resource: the record and cross-resource indexes."""

    record: PatientRecord
    # Observation "Type/id" -> DiagnosticReports listing it in `result`
    reports_of: dict[str, list[str]] = field(default_factory=dict)
    # Observation "Type/id" -> Conditions citing it in `stage.assessment`
    staged_conditions: dict[str, list[str]] = field(default_factory=dict)
    # (resource key, element path) -> decoded attachment text (filled during validation)
    attachment_text: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def subject(self) -> str | None:
        return self.record.patient_ref

    def ref(self, reference: Any) -> str | None:
        """Canonical ``Type/id`` of a Reference dict (or string); the raw string if unresolved."""
        raw = reference.get("reference") if isinstance(reference, Mapping) else reference
        if not isinstance(raw, str) or not raw:
            return None
        return self.record.canonical(raw) or raw

    def refs(self, references: Any) -> list[str]:
        out = [self.ref(r) for r in references or ()]
        return [r for r in out if r]

    def resolve(self, reference: Any, container: JSON | None = None) -> JSON | None:
        """The referenced resource, looking in ``container.contained`` for ``#id`` references."""
        raw = reference.get("reference") if isinstance(reference, Mapping) else reference
        if not isinstance(raw, str):
            return None
        if raw.startswith("#") and container is not None:
            wanted = raw[1:]
            return next((c for c in container.get("contained", ()) if c.get("id") == wanted), None)
        return self.record.get(raw)

    def fact(
        self,
        kind: FactKind,
        key: str,
        label: str,
        *,
        path: str | None = None,
        quote: str | None = None,
        fact_id: str | None = None,
        **fields: Any,
    ) -> Fact:
        """Build a `Fact` citing ``key`` (one EvidenceRef) for the record's patient."""
        return Fact(
            id=fact_id or key,
            kind=kind,
            label=label,
            subject=self.subject,
            evidence=EvidenceRef(reference=key, path=path, quote=quote),
            **fields,
        )


# --- codes -------------------------------------------------------------------------------


def codings(concept: Any, *, prefer: str = LOINC) -> list[Coding]:
    """The codings of a CodeableConcept (or a bare Coding), ``prefer``'s system first."""
    if not isinstance(concept, Mapping):
        return []
    raw = concept.get("coding")
    items = raw if isinstance(raw, list) else [concept] if "code" in concept else []
    out = [
        Coding(system=c.get("system"), code=c.get("code"), display=c.get("display"))
        for c in items
        if isinstance(c, Mapping) and (c.get("code") or c.get("display"))
    ]
    out.sort(key=lambda c: c.system != prefer)
    return out


def code_values(concept: Any) -> list[str]:
    """All code strings of a CodeableConcept (any system)."""
    if not isinstance(concept, Mapping):
        return []
    return [c["code"] for c in concept.get("coding", ()) if isinstance(c, Mapping) and c.get("code")]


def concepts_codes(concepts: Iterable[Any]) -> list[str]:
    return [code for concept in concepts or () for code in code_values(concept)]


def first_code(concept: Any, system: str | None = None) -> str | None:
    if not isinstance(concept, Mapping):
        return None
    for c in concept.get("coding", ()):
        if c.get("code") and (system is None or c.get("system") == system):
            return str(c["code"])
    return None


def display(concept: Any) -> str | None:
    """Human text of a CodeableConcept or Coding: first coding display, else `text`, else code."""
    if not isinstance(concept, Mapping):
        return None
    for c in concept.get("coding", ()):
        if isinstance(c, Mapping) and c.get("display"):
            return str(c["display"])
    if concept.get("display"):
        return str(concept["display"])
    if concept.get("text"):
        return str(concept["text"])
    code = first_code(concept) or concept.get("code")
    return str(code) if code else None


def label_of(concept: Any, fallback: str) -> str:
    """Name of a coded thing: its display/text, else a known label for its code, else the code."""
    if isinstance(concept, Mapping):
        for c in concept.get("coding", ()):
            if isinstance(c, Mapping) and c.get("display"):
                return str(c["display"])
        if concept.get("text"):
            return str(concept["text"])
        codes = code_values(concept)
        for code in codes:
            if code in CODE_LABELS:
                return CODE_LABELS[code]
        if codes:
            return codes[0]
    return fallback


#: A SNOMED CT semantic tag closing a display ("Former smoker (finding)"): it names the concept's
#: hierarchy, not what the record says of the patient.
_SEMANTIC_TAG = re.compile(
    r"\s*\((?:disorder|finding|morphologic abnormality|procedure|qualifier value|body structure|"
    r"situation|observable entity|regime/therapy|event)\)\s*$",
    re.IGNORECASE,
)


def without_semantic_tag(text: str) -> str:
    """A record display without its closing SNOMED CT semantic tag, for sentences a reader reads."""
    return _SEMANTIC_TAG.sub("", text).strip() or text


def displays(concepts: Iterable[Any]) -> list[str]:
    return [d for d in (display(c) for c in concepts or ()) if d]


def profiles(resource: JSON) -> list[str]:
    meta = resource.get("meta") or {}
    return [p for p in meta.get("profile", ()) if isinstance(p, str)]


def has_profile(resource: JSON, names: Iterable[str]) -> bool:
    """True if any meta.profile ends with one of ``names`` (canonical versions ``|x`` ignored)."""
    tails = {p.split("|")[0].rstrip("/").rsplit("/", 1)[-1] for p in profiles(resource)}
    return any(name in tails for name in names)


def cancer_related(resource: JSON, ctx: ExtractContext) -> bool | None:
    """True when an mCODE cancer-related profile says so, or a reason is a cancer Condition.

    None (not False) otherwise: absence of the marker does not mean "not cancer therapy".
    """
    from medboard.tools.fhir.facts.condition import cancer_kind

    if any("cancer-related" in p or "radiotherapy" in p for p in profiles(resource)):
        return True
    for reference in resource.get("reasonReference", ()):
        condition = ctx.resolve(reference, resource)
        if (
            condition is not None
            and condition.get("resourceType") == "Condition"
            and cancer_kind(condition, display(condition.get("code")))
        ):
            return True
    return None


def category_codes(resource: JSON) -> set[str]:
    return set(concepts_codes(resource.get("category", ())))


# --- values ------------------------------------------------------------------------------


def number_text(value: Any) -> str:
    """A JSON number as the source wrote it (ints without a trailing ``.0``)."""
    return str(value)


def quantity_text(quantity: JSON) -> str:
    parts = [quantity.get("comparator", ""), number_text(quantity.get("value", ""))]
    text = "".join(str(p) for p in parts)
    unit = quantity.get("unit") or quantity.get("code")
    return f"{text} {unit}" if unit else text


def quantity_unit(quantity: JSON) -> tuple[str | None, str | None]:
    """(unit as written, UCUM code when the quantity is UCUM-coded)."""
    unit = quantity.get("unit") or quantity.get("code")
    code = quantity.get("code") if quantity.get("system", UCUM) == UCUM else None
    return unit, code


def reference_range(ranges: Any) -> ReferenceRange | None:
    if not ranges:
        return None
    first = ranges[0]
    low, high = first.get("low") or {}, first.get("high") or {}
    if not (low or high or first.get("text")):
        return None
    return ReferenceRange(
        low=low.get("value"),
        high=high.get("value"),
        unit=low.get("unit") or high.get("unit") or low.get("code") or high.get("code"),
        text=first.get("text"),
    )


@dataclass
class Value:
    """A FHIR ``value[x]`` read into Fact fields."""

    value: float | int | bool | str | None = None
    unit: str | None = None
    unit_code: str | None = None
    comparator: str | None = None
    value_codes: list[Coding] = field(default_factory=list)
    path: str | None = None
    quote: str | None = None


_VALUE_KEYS = (
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueDateTime",
    "valuePeriod",
    "valueTime",
    "valueSampledData",
)


def read_value(element: JSON, prefix: str = "") -> Value:
    """Read an element's ``value[x]``; ``prefix`` is the element's own path (``component[1].``)."""
    for key in _VALUE_KEYS:
        if key not in element:
            continue
        raw = element[key]
        path = f"{prefix}{key}"
        if key == "valueQuantity":
            unit, unit_code = quantity_unit(raw)
            number = raw.get("value")
            return Value(
                value=float(number) if number is not None else None,
                unit=unit,
                unit_code=unit_code,
                comparator=raw.get("comparator"),
                path=path,
                quote=quantity_text(raw),
            )
        if key == "valueCodeableConcept":
            text = display(raw)
            return Value(value=text, value_codes=codings(raw), path=path, quote=text)
        if key in ("valueString", "valueDateTime", "valueTime"):
            return Value(value=str(raw), path=path, quote=str(raw))
        if key == "valueBoolean":
            return Value(value=bool(raw), path=path, quote=str(raw).lower())
        if key == "valueInteger":
            return Value(value=int(raw), path=path, quote=str(raw))
        if key == "valueRange":
            low, high = raw.get("low") or {}, raw.get("high") or {}
            text = f"{quantity_text(low) if low else ''}–{quantity_text(high) if high else ''}"
            unit, unit_code = quantity_unit(low or high)
            return Value(value=text, unit=unit, unit_code=unit_code, path=path, quote=text)
        if key == "valueRatio":
            num, den = raw.get("numerator") or {}, raw.get("denominator") or {}
            text = f"{quantity_text(num)}/{quantity_text(den)}"
            return Value(value=text, path=path, quote=text)
        if key == "valuePeriod":
            text = f"{raw.get('start', '')}/{raw.get('end', '')}"
            return Value(value=text, path=path, quote=text)
        return Value(path=path)
    return Value()


# --- dates -------------------------------------------------------------------------------


def effective(resource: JSON, prefix: str = "effective") -> tuple[str | None, str | None]:
    """(start, end) of a ``<prefix>[x]`` choice: dateTime/instant/date, or a Period."""
    for suffix in ("DateTime", "Instant", "Date"):
        value = resource.get(prefix + suffix)
        if value:
            return str(value), None
    period = resource.get(prefix + "Period")
    if isinstance(period, Mapping):
        return period.get("start"), period.get("end")
    return None, None


# --- body site / laterality --------------------------------------------------------------

_LEFT = re.compile(r"\bleft\b", re.IGNORECASE)
_RIGHT = re.compile(r"\bright\b", re.IGNORECASE)
_BILATERAL = re.compile(r"\b(bilateral|both)\b|\bright and left\b|\bleft and right\b", re.IGNORECASE)


def laterality_from_text(text: str | None) -> str | None:
    if not text:
        return None
    if _BILATERAL.search(text):
        return "bilateral"
    left, right = bool(_LEFT.search(text)), bool(_RIGHT.search(text))
    if left and right:
        return "bilateral"
    return "left" if left else "right" if right else None


def laterality_of_concept(concept: Any) -> str | None:
    """Laterality of a body-site CodeableConcept: qualifier extension, SNOMED code, then text."""
    if not isinstance(concept, Mapping):
        return None
    for ext in concept.get("extension", ()):
        if "laterality" in str(ext.get("url", "")).lower():
            found = _laterality_codes(ext.get("valueCodeableConcept")) or laterality_from_text(
                display(ext.get("valueCodeableConcept"))
            )
            if found:
                return found
    found = _laterality_codes(concept)
    if found:
        return found
    texts = [c.get("display") for c in concept.get("coding", ()) if c.get("display")]
    texts.append(concept.get("text"))
    for text in texts:
        found = laterality_from_text(text)
        if found:
            return found
    return None


def _laterality_codes(concept: Any) -> str | None:
    for code in code_values(concept):
        if code in LATERALITY_CODES:
            return LATERALITY_CODES[code]
    return None


def body_site(resource: JSON, key: str = "bodySite") -> tuple[str | None, str | None]:
    """(body site text, laterality) from a ``bodySite`` list or single CodeableConcept."""
    sites = resource.get(key)
    if isinstance(sites, Mapping):
        sites = [sites]
    sites = sites or []
    texts = displays(sites)
    laterality = next((lat for lat in map(laterality_of_concept, sites) if lat), None)
    return ("; ".join(texts) if texts else None), laterality


def extension(resource: JSON, url_tail: str) -> JSON | None:
    """The first extension whose url ends with ``url_tail``."""
    for ext in resource.get("extension", ()):
        if str(ext.get("url", "")).endswith(url_tail):
            return ext
    return None
