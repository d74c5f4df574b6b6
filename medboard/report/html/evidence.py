"""The report's Evidence part: one entry per cited reference, and the links that point at it.

Every citation in the report (a statement's evidence, a discrepancy's sources, a struck statement's
evidence) is a link ``#ev-…`` to one entry here: a FHIR resource as pretty-printed JSON with its
``Type/id`` as heading, or an image frame with its boxes drawn. The anchors are derived from the
reference alone (a readable slug and a short hash, so ``Observation/a.b`` and ``Observation/a-b``
never share one), so the same reference has the same anchor in every report.

Resource JSON is the record's own text and is escaped by the template like any other value. Two
things keep it readable: a string longer than `LONG_STRING` characters (a base64 attachment) is
cut in the JSON view, and a text attachment (``contentType`` ``text/*``, a clinical note) is
decoded and shown as text beneath it, capped at `ATTACHMENT_CHARS`.

What is withheld (`displayed`): a report travels (a board packet is printed and mailed), and the
evidence a board reads is clinical, so the values that identify a person and prove nothing about
the case are shown as `WITHHELD`: every ``identifier`` value (SSN, MRN, driver's licence, at any
depth), ``telecom`` values, an ``address`` below the state, and the generated XHTML narrative
(``text.div``: a rendering of the same resource that carries the MRN and address along). Name,
birth date and sex stay: the summary states them and cites the Patient for them. The rule is
medboard's own (errors never quote identifiers either; `docs/hostile-input.md`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from medboard.models import CaseSummary, EvidenceRef

#: Strings longer than this are shortened in the JSON view (attachments are decoded below it).
LONG_STRING = 2000
#: The JSON view of one resource stops after this many characters.
JSON_CHARS = 60_000
#: A decoded text attachment stops after this many characters.
ATTACHMENT_CHARS = 20_000
#: What a withheld value reads as in the JSON view.
WITHHELD = "(withheld from the report)"
#: The parts of an address that stay (coarser than a town).
_ADDRESS_KEPT = frozenset({"use", "type", "state", "country", "period"})
_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def anchor(reference: str) -> str:
    """The HTML id of a reference's evidence entry (a valid fragment: letters, digits, ``-``, ``_``)."""
    slug = _SLUG.sub("-", reference).strip("-")[:60]
    digest = hashlib.sha1(reference.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"ev-{slug}-{digest}"


def short_label(reference: str) -> str:
    """A citation's visible text: ``Observation/6f73ae09-af58-…`` (the full reference is its title)."""
    ref = EvidenceRef(reference=reference)
    if ref.kind == "image":
        return f"{ref.series} frame {ref.frame}"
    rid = ref.resource_id or ""
    return f"{ref.resource_type}/{rid[:14]}…" if len(rid) > 18 else reference


@dataclass
class Attachment:
    title: str
    content_type: str
    text: str
    truncated: bool = False


@dataclass
class EvidenceEntry:
    """One cited reference, ready for the template (every string is escaped there)."""

    reference: str
    anchor: str
    kind: Literal["fhir", "image"]
    quotes: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    json_text: str | None = None
    json_truncated: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    image: str | None = None
    boxes: int = 0
    note: str | None = None


def cited_references(summary: CaseSummary) -> Iterator[EvidenceRef]:
    """Every evidence reference the report links, in reading order (duplicates included)."""
    for section in summary.sections:
        for statement in section.statements:
            yield from statement.evidence
    for discrepancy in summary.discrepancies:
        yield from discrepancy.sources
    for struck in summary.struck:
        yield from struck.statement.evidence


def build_entries(
    refs: Iterable[EvidenceRef], resources: dict[str, dict[str, Any]], frames: Any
) -> list[EvidenceEntry]:
    """One entry per distinct reference, in first-cited order.

    `resources` maps ``Type/id`` to the record's resources (`PatientRecord.resources`); `frames`
    is the report's `FrameImages` (a frame is drawn once, even when it is also a key image).
    """
    entries: dict[str, EvidenceEntry] = {}
    for ref in refs:
        entry = entries.get(ref.reference)
        if entry is None:
            entry = entries[ref.reference] = _entry(ref, resources, frames)
        if ref.quote and ref.quote not in entry.quotes:
            entry.quotes.append(ref.quote)
        if ref.path and ref.path not in entry.paths:
            entry.paths.append(ref.path)
        if ref.box is not None:
            entry.boxes += 1
    return list(entries.values())


def _entry(ref: EvidenceRef, resources: dict[str, dict[str, Any]], frames: Any) -> EvidenceEntry:
    entry = EvidenceEntry(reference=ref.reference, anchor=anchor(ref.reference), kind=ref.kind)
    if ref.kind == "image":
        assert ref.series is not None and ref.frame is not None
        entry.image = frames.uri(ref.series, ref.frame)
        if entry.image is None:
            entry.note = f"Image not shown: {frames.problem(ref.series, ref.frame) or 'not available'}."
        return entry
    resource = resources.get(ref.reference)
    if resource is None:
        entry.note = "This reference is not in the record the report was made from."
        return entry
    entry.json_text, entry.json_truncated = resource_json(resource)
    entry.attachments = list(text_attachments(resource))
    return entry


def resource_json(resource: dict[str, Any]) -> tuple[str, bool]:
    """The resource as shown: `displayed`, pretty-printed (2-space indent, the record's key order)."""
    text = json.dumps(displayed(resource), indent=2, ensure_ascii=False)
    if len(text) > JSON_CHARS:
        return text[:JSON_CHARS], True
    return text, False


def displayed(value: Any, key: str | None = None) -> Any:
    """A copy of a resource (or any part) with identifying values withheld and long strings cut."""
    if isinstance(value, list):
        return [displayed(item, key) for item in value]
    if isinstance(value, str):
        return f"{value[:120]}… [{len(value)} characters in all]" if len(value) > LONG_STRING else value
    if not isinstance(value, dict):
        return value
    if key in ("identifier", "telecom"):
        return {k: (WITHHELD if k == "value" else displayed(v, k)) for k, v in value.items()}
    if key == "address":
        return {k: (displayed(v, k) if k in _ADDRESS_KEPT else WITHHELD) for k, v in value.items()}
    if key == "text" and "div" in value:
        return {k: (WITHHELD if k == "div" else displayed(v, k)) for k, v in value.items()}
    return {k: displayed(v, k) for k, v in value.items()}


def text_attachments(resource: dict[str, Any]) -> Iterator[Attachment]:
    """Every inline text attachment of the resource (a FHIR ``Attachment`` with base64 ``data``)."""
    for node in _dicts(resource):
        data, content_type = node.get("data"), node.get("contentType")
        if not isinstance(data, str) or not isinstance(content_type, str):
            continue
        if not content_type.lower().startswith("text/"):
            continue
        try:
            raw = base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError):
            continue
        charset = "utf-8"
        match = re.search(r"charset=([A-Za-z0-9_.-]+)", content_type)
        if match:
            charset = match.group(1)
        try:
            text = raw.decode(charset, errors="replace")
        except LookupError:
            text = raw.decode("utf-8", errors="replace")
        title = node.get("title") if isinstance(node.get("title"), str) else ""
        yield Attachment(
            title=str(title),
            content_type=content_type,
            text=text[:ATTACHMENT_CHARS],
            truncated=len(text) > ATTACHMENT_CHARS,
        )


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
