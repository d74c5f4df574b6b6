"""`load_record`: any FHIR source -> one patient's `PatientRecord` with typed facts.

Pipeline: read (sources.py) -> flatten bundles (entries.py) -> validate each resource once with
its R4B model and decode its attachments (validation.py, attachments.py) -> index by ``Type/id``
with fullUrl aliases -> pick the patient (patients.py) -> report dangling references
(references.py) -> extract facts (facts/). Bad input raises `FhirInputError` naming the file, the
entry and the problem; ``lenient=True`` skips bad entries (and bad files of a folder, bad NDJSON
lines) and lists them in ``record.skipped`` instead.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from medboard.errors import FhirInputError, MedboardInputError
from medboard.limits import LimitExceededError, limits
from medboard.tools.fhir.attachments import AttachmentError, decode_attachments
from medboard.tools.fhir.dates import future_birth_problem, implausible_dates
from medboard.tools.fhir.entries import Entry, describe_keys, flatten
from medboard.tools.fhir.facts import extract_facts
from medboard.tools.fhir.patients import select_patient
from medboard.tools.fhir.record import PatientRecord, SkippedEntry
from medboard.tools.fhir.references import (
    contained_aliases,
    find_dangling,
    reference_type_and_id,
    uuid_id_aliases,
)
from medboard.tools.fhir.sources import Document, Reader, duplicate_key_error
from medboard.tools.fhir.validation import R4_ONLY_TYPES, model_class, validate_resource

log = logging.getLogger(__name__)

_TYPE_NAME = re.compile(r"^[A-Za-z]{1,64}$")
_ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_ATTACHMENT_TYPES = frozenset({"DocumentReference", "DiagnosticReport", "Media", "Binary"})


def load_record(
    source: str | os.PathLike[str] | bytes | dict[str, Any],
    *,
    patient: str | None = None,
    lenient: bool = False,
    name: str | None = None,
    max_bytes: int | None = None,
) -> PatientRecord:
    """Load one patient's record from a FHIR R4 source.

    ``source``: a Bundle / resource / NDJSON file path, a folder of them, raw bytes or JSON text,
    or a parsed dict. ``patient`` picks one patient (``id`` or ``Patient/id``) when the source has
    several (Bulk Data NDJSON); ``name`` labels bytes/dict sources in messages; ``max_bytes``
    bounds each file read (default: the max_file_bytes cap, MEDBOARD_MAX_FILE_BYTES).
    """
    reader = Reader(max_bytes=max_bytes, lenient=lenient)
    documents = reader.read(source, name)
    indexer = _Indexer(lenient=lenient)
    indexer.skipped.extend(reader.skipped)
    for document in documents:
        try:
            entries = list(flatten(document))
            _check_duplicates_inside_entries(document, entries)
        except FhirInputError as error:
            if not (lenient and len(documents) > 1):
                raise
            indexer.skip(error.describe(), document.origin)
            continue
        for entry in entries:
            indexer.count(entry)
            duplicates = [p for p in document.duplicates if entry.owns(p)]
            if duplicates:
                refusal = duplicate_key_error(entry.origin, duplicates)
                indexer.fail(entry, f"{duplicates[0]}: {refusal.problem}", _label(entry))
                continue
            indexer.add_contained(entry)

    label = name or _source_label(source)
    if not indexer.resources:
        raise _nothing_loaded(label, indexer.skipped)
    record = PatientRecord(
        source=label,
        patient_id=None,
        resources=indexer.resources,
        aliases=indexer.aliases,
        skipped=indexer.skipped,
        warnings=indexer.warnings,
    )
    record.aliases.update(uuid_id_aliases(record.resources, record.aliases))
    record.patient_id = select_patient(record, patient)
    record.aliases.update(contained_aliases(record))
    record.dangling = find_dangling(record)
    if record.dangling:
        targets = list(dict.fromkeys(d.target for d in record.dangling))
        example = ", ".join(targets[:3]) + (", …" if len(targets) > 3 else "")
        record.warnings.append(
            f"{len(record.dangling)} reference(s) point to resources not in the record "
            f"({len(targets)} distinct: {example})"
        )
    if record.patient is None:
        who = f" for {record.patient_ref}" if record.patient_ref else ""
        record.warnings.append(f"no Patient resource{who}: demographics are missing")
    if record.skipped:
        record.warnings.append(
            f"{len(record.skipped)} entr{'y' if len(record.skipped) == 1 else 'ies'} "
            "skipped (lenient mode); see `skipped`"
        )
    record.facts = extract_facts(record, indexer.attachment_text, lenient=lenient, where=indexer.where_of)
    if not record.resources:  # lenient mode skipped every resource while extracting facts
        raise _nothing_loaded(label, record.skipped)
    record.warnings.extend(implausible_dates(record))
    log.info("loaded %d resources, %d facts", len(record.resources), len(record.facts))
    return record


def _nothing_loaded(label: str, skipped: list[SkippedEntry]) -> FhirInputError:
    reason = ""
    if skipped:
        count, first = len(skipped), skipped[0]
        where = first.location.removeprefix(f"{label}: ")
        reason = (
            f": the only entry was skipped ({where}: {first.problem})"
            if count == 1
            else f": all {count} entries were skipped (first: {where}: {first.problem})"
        )
    return FhirInputError(f"no resource could be loaded{reason}", source=label)


def _check_duplicates_inside_entries(document: Document, entries: list[Entry]) -> None:
    """A repeated key outside every entry (``Bundle.type`` twice) makes the whole document
    ambiguous: refused even in lenient mode, where repeated keys inside an entry skip that entry."""
    stray = [p for p in document.duplicates if not any(e.owns(p) for e in entries)]
    if stray:
        raise duplicate_key_error(document.origin, stray, document.location)


#: FHIR R4 `id`: 1–64 of letters, digits, '-' and '.'.
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _label(entry: Entry) -> str | None:
    resource = entry.resource
    if not isinstance(resource, dict):
        return None
    kind, resource_id = resource.get("resourceType"), resource.get("id")
    if not (isinstance(kind, str) and _TYPE_NAME.match(kind)):
        return None  # a resourceType that is not a name may be data: not quoted
    if not isinstance(resource_id, str):
        return None  # no id to name it by: the entry index names it
    if not _FHIR_ID.fullmatch(resource_id):
        # A valid id is the resource's address and names it; anything else may be data that was
        # put in the wrong place (an SSN, an MRN with spaces): not quoted.
        return f"{kind} (id is not a valid FHIR id)"
    return f"{kind}/{resource_id}"


def _source_label(source: Any) -> str:
    if isinstance(source, dict):
        return "<dict>"
    if isinstance(source, bytes | bytearray):
        return "<bytes>"
    if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
        return "<json text>"
    return str(Path(source))


def _version(resource: dict[str, Any]) -> str | None:
    meta = resource.get("meta")
    return meta.get("versionId") if isinstance(meta, dict) else None


def _later_version(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """The later of two versions of one resource (by meta.lastUpdated, else meta.versionId), or
    None when they are not versions: no version metadata, or the same version with other content."""
    meta_a, meta_b = a.get("meta") or {}, b.get("meta") or {}
    updated_a, updated_b = meta_a.get("lastUpdated"), meta_b.get("lastUpdated")
    version_a, version_b = meta_a.get("versionId"), meta_b.get("versionId")
    if updated_a and updated_b and updated_a != updated_b:
        return a if updated_a > updated_b else b
    if version_a and version_b and version_a != version_b:
        if version_a.isdigit() and version_b.isdigit():
            return a if int(version_a) > int(version_b) else b
        return a if version_a > version_b else b
    return None


class _Indexer:
    """Validates entries one by one and indexes them by ``Type/id``."""

    def __init__(self, *, lenient: bool) -> None:
        self.lenient = lenient
        self.resources: dict[str, dict[str, Any]] = {}
        self.aliases: dict[str, str] = {}
        self.skipped: list[SkippedEntry] = []
        self.warnings: list[str] = []
        self.attachment_text: dict[tuple[str, str], str] = {}
        self._where: dict[str, str] = {}
        self._full_urls: dict[str, str | None] = {}
        self._identical_duplicates = 0
        self._count = 0
        self._max_entries = limits().max_entries

    def count(self, entry: Entry) -> None:
        """Refuse a record with more resources than max_entries (over all documents together)."""
        self._count += 1
        if self._count > self._max_entries:
            raise LimitExceededError(
                f"more than {self._max_entries} resources",
                "max_entries",
                source=entry.origin,
                location=entry.where(),
            )

    def where_of(self, label: str) -> str:
        return self._where.get(label, label)

    def add_contained(self, entry: Entry) -> None:
        """`add`, with any unexpected failure on this entry made an entry error (skipped in
        lenient mode) rather than a traceback that loses the whole record."""
        try:
            self.add(entry)
        except MedboardInputError:
            raise
        except RecursionError:
            self.fail(entry, "resource is nested too deeply to validate", _label(entry))
        except Exception as error:  # hostile input must not escape as a traceback
            log.debug("entry failed", exc_info=True)
            self.fail(entry, f"cannot be read ({type(error).__name__})", _label(entry))

    def skip(self, problem: str, location: str) -> None:
        self.skipped.append(SkippedEntry(location=location, problem=problem))

    def fail(self, entry: Entry, problem: str, resource_label: str | None = None) -> None:
        location = entry.where() + (f" ({resource_label})" if resource_label else "")
        if not self.lenient:
            raise FhirInputError(problem, source=entry.origin, location=location)
        self.skip(problem, f"{entry.origin}: {location}")

    def add(self, entry: Entry) -> None:
        resource = entry.resource
        if not isinstance(resource, dict):
            return self.fail(entry, f"entry resource is not a JSON object (got {type(resource).__name__})")
        resource_type = resource.get("resourceType")
        if resource_type is None:
            keys = describe_keys(resource)
            return self.fail(entry, f"not a FHIR resource: no resourceType (keys: {keys})")
        label = _label(entry)
        r4_only = isinstance(resource_type, str) and resource_type in R4_ONLY_TYPES
        if r4_only and model_class(resource_type) is None:
            if not isinstance(resource.get("id", ""), str):
                return self.fail(entry, f"invalid {resource_type}: id must be a string", label)
            self.warnings.append(
                f"{entry.origin}: {entry.where()}: {resource_type} is an R4 resource type without an "
                "R4B model: kept unvalidated (no facts are extracted from it)"
            )
        elif problem := validate_resource(resource):
            return self.fail(entry, problem, label)
        if resource_type == "Patient" and (problem := future_birth_problem(resource)):
            return self.fail(entry, problem, label)
        if isinstance(resource.get("id"), str):  # the index key: the id as it is (validated above)
            label = f"{resource_type}/{resource['id']}"
        if not label:
            resource = self._with_id(entry, resource)
            label = f"{resource_type}/{resource['id']}"
        texts: dict[str, str] = {}
        if resource_type in _ATTACHMENT_TYPES:
            try:
                texts = decode_attachments(resource)
            except AttachmentError as error:
                return self.fail(entry, f"{resource_type}.{error.path}: {error}", label)
        where = f"{entry.origin}: {entry.where()}"
        existing = self.resources.get(label)
        if existing is not None:
            if existing == resource:
                self._identical_duplicates += 1
                return None
            newer = _later_version(existing, resource)
            if newer is None or self._full_urls.get(label) != entry.full_url:
                problem = f"duplicate id {label}: differs from the resource at {self._where[label]}"
                return self.fail(entry, problem, label)
            # Two versions of one resource (a history bundle): the record holds the latest.
            self.warnings.append(
                f"{where}: {label} appears in several versions; keeping version "
                f"{_version(newer) or '(latest)'}"
            )
            if newer is existing:
                return None
            self.attachment_text = {k: v for k, v in self.attachment_text.items() if k[0] != label}
        self.resources[label] = resource
        self._where[label] = where
        self._full_urls[label] = entry.full_url
        for path, text in texts.items():
            self.attachment_text[(label, path)] = text
        if entry.full_url and entry.full_url != label:
            self.aliases[entry.full_url] = label
        return None

    def _with_id(self, entry: Entry, resource: dict[str, Any]) -> dict[str, Any]:
        """A copy of an id-less resource with the id its fullUrl gives (urn:uuid), or a made-up one."""
        full_url = entry.full_url or ""
        new_id = None
        if full_url.startswith(("urn:uuid:", "urn:oid:")):
            new_id = full_url.split(":", 2)[2]
        elif (parsed := reference_type_and_id(full_url)) and parsed[0] == resource["resourceType"]:
            new_id = parsed[1]
        if not new_id or not _ID_PATTERN.match(new_id):
            stem = entry.where() if entry.location else Path(entry.origin).stem
            new_id = re.sub(r"[^A-Za-z0-9\-.]+", "-", stem).strip("-")[:64] or "resource"
            self.warnings.append(
                f"{entry.origin}: {entry.where()}: {resource['resourceType']} has no id; using {new_id!r}"
            )
        return {**resource, "id": new_id}
