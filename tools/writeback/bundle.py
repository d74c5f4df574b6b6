"""The verified summary as one FHIR transaction: Devices, a Composition and its Provenance.

Entries, in order (each a conditional create, so a re-run writes nothing new):

1. the medboard ``Device`` (``identifier=urn:medboard:device|medboard-<version>``);
2. a ``Device`` for the model, when the run had one (``identifier=urn:medboard:model|<name>``);
3. the ``Composition`` (``identifier=urn:medboard:summary|<hash>``);
4. its ``Provenance`` (``_tag=urn:medboard:summary|<hash>``). R4's Provenance has no
   `identifier` element, so it cannot be found the way the others are. The alternatives were
   ``target=`` (the Composition's server id is unknown before the transaction runs, and
   servers differ on whether they resolve a ``urn:uuid:`` placeholder inside a conditional URL:
   medplum does not) or an extension (needs a custom SearchParameter on every server). ``_tag``
   is a search every FHIR server supports on every resource, and the tag also lets a user find
   the Provenance of a Composition by its identifier alone.

Entries refer to each other by ``urn:uuid:`` fullUrls, derived from the summary hash (UUIDv5) so
the same summary builds the same Bundle; the server rewrites them to the ids it assigns (or
finds, for an entry that already exists). Citations are relative references (``Observation/…``):
they are the record's own ids, which are the server's when the record was pulled from it (which
is why ``medboard run --write-back`` needs ``--fhir-server``).

Every resource is validated (`medboard.tools.writeback.validation`) before the Bundle is returned:
a failure raises, and nothing is sent.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from medboard.models import CaseSummary, EvidenceRef, Section, Statement
from medboard.models.sections import BOARD_BY_KIND, BUILTIN_BY_KIND
from medboard.tools.writeback import codes
from medboard.tools.writeback.content import summary_hash
from medboard.tools.writeback.errors import WriteBackInputError
from medboard.tools.writeback.narrative import (
    composition_div,
    discrepancies_div,
    one_paragraph_div,
    plain,
    section_div,
)
from medboard.tools.writeback.validation import validate_transaction

_PATIENT_REF = re.compile(r"^Patient/[A-Za-z0-9\-\.]{1,64}$")
_FHIR_REF = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-\.]{1,64}$")
#: Identifier values used verbatim in a conditional URL: no FHIR search escapes needed (``, | $ \``).
_TOKEN_SAFE = re.compile(r"^[A-Za-z0-9._:/@+-]{1,200}$")
#: An element id (and XHTML ``id``) taken from a statement id as is.
_ANCHOR_SAFE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-.]{0,63}$")
#: A FHIR `code` taken from a discrepancy kind as is.
_CODE_SAFE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
#: Namespace of the UUIDv5 fullUrls.
_UUID_NAMESPACE = uuid.UUID("5b1e0c1e-6f0a-5d8e-9c39-6d65646f6172")


def build_writeback(summary: CaseSummary, *, patient_ref: str, now: datetime) -> dict[str, Any]:
    """The transaction Bundle that writes `summary` for `patient_ref` (``Patient/<id>``).

    `now` (timezone-aware) becomes the Composition's `date` and the Provenance's `recorded`; it
    does not enter the summary hash, so a re-run at another time finds what the first one wrote.
    Raises `WriteBackInputError` for a patient reference that is not ``Patient/<id>`` or that
    names another patient than the summary's, and `WriteBackValidationError` when a resource
    fails validation (medboard's bug; nothing is sent).
    """
    _check_patient(summary, patient_ref)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (FHIR instants carry a zone)")
    digest = summary_hash(summary, patient_ref=patient_ref)
    when = _instant(now)

    medboard_device = _medboard_device(summary.run.medboard_version)
    medboard_url = _urn(_identifier_value(medboard_device))
    model_device = _model_device(summary.run.model.name) if summary.run.model else None
    model_url = _urn(_identifier_value(model_device)) if model_device else None
    composition = _composition(
        summary, patient_ref=patient_ref, digest=digest, date=when, author=medboard_url
    )
    composition_url = _urn(f"{digest}/Composition")
    provenance = _provenance(
        summary,
        composition_url=composition_url,
        medboard_url=medboard_url,
        model_url=model_url,
        cited=_composition_references(composition),
        digest=digest,
        recorded=when,
    )
    entries = [_entry(medboard_device, medboard_url, "identifier")]
    if model_device and model_url:
        entries.append(_entry(model_device, model_url, "identifier"))
    entries.append(_entry(composition, composition_url, "identifier"))
    entries.append(_entry(provenance, _urn(f"{digest}/Provenance"), "_tag"))
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    validate_transaction(bundle)
    return bundle


# --- inputs ---------------------------------------------------------------------------------------


def _check_patient(summary: CaseSummary, patient_ref: str) -> None:
    if not _PATIENT_REF.match(patient_ref):
        raise WriteBackInputError(
            "the patient to write to must be a reference 'Patient/<id>'", source="write-back"
        )
    if summary.patient and summary.patient != patient_ref:
        # Never file a summary in another patient's chart.
        raise WriteBackInputError(
            "the summary is about another patient than the one it would be written to; nothing was sent",
            source="write-back",
        )


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _urn(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_UUID_NAMESPACE, key)}"


def _token_value(text: str, prefix: str) -> str:
    """`text` if it can stand in a conditional URL as is, else ``prefix-sha256-<hex>`` of it."""
    if _TOKEN_SAFE.match(text):
        return text
    return f"{prefix}-sha256-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _identifier_value(resource: dict[str, Any]) -> str:
    identifier = resource["identifier"]
    first = identifier[0] if isinstance(identifier, list) else identifier
    return f"{first['system']}|{first['value']}"


# --- entries --------------------------------------------------------------------------------------


def _entry(resource: dict[str, Any], full_url: str, search: str) -> dict[str, Any]:
    """A conditional-create entry: POST unless a resource matching `search` exists already."""
    if search == "identifier":
        query = _identifier_value(resource)
    else:  # "_tag": the summary-hash tag
        tag = next(t for t in resource["meta"]["tag"] if t["system"] == codes.SUMMARY_SYSTEM)
        query = f"{tag['system']}|{tag['code']}"
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": f"{search}={quote(query, safe=':/|@')}",
        },
    }


def _medboard_device(version: str) -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "identifier": [
            {"system": codes.DEVICE_SYSTEM, "value": _token_value(f"medboard-{version}", "medboard")}
        ],
        "status": "active",
        "deviceName": [{"name": "medboard", "type": "user-friendly-name"}],
        "version": [{"value": plain(version)}],
        "type": {"text": "Clinical case summarization software (multi-agent AI); not a diagnostic device"},
        "text": {
            "status": "generated",
            "div": one_paragraph_div(
                f"medboard {version}: software that drafts cited, verifier-checked case summaries "
                "from a patient's FHIR record. Not a diagnostic device."
            ),
        },
    }


def _model_device(name: str) -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "identifier": [{"system": codes.MODEL_SYSTEM, "value": _token_value(name, "model")}],
        "status": "active",
        "deviceName": [{"name": plain(name), "type": "model-name"}],
        "type": {"text": "AI language model"},
        "text": {"status": "generated", "div": one_paragraph_div(f"AI language model {name}.")},
    }


def _meta(digest: str) -> dict[str, Any]:
    return {
        "security": [dict(codes.AIAST)],
        "tag": [dict(codes.DRAFT_TAG), {"system": codes.SUMMARY_SYSTEM, "code": digest}],
    }


def _reference_list(references: Iterable[str]) -> list[dict[str, str]]:
    return [{"reference": r} for r in dict.fromkeys(references)]


def _fhir_refs(evidence: Iterable[EvidenceRef]) -> list[str]:
    return list(dict.fromkeys(e.reference for e in evidence if e.kind == "fhir"))


def _anchors(ids: Iterable[str], used: set[str], prefix: str) -> list[str]:
    """Element ids for statements/discrepancies: their own id when safe and unused, else a hash."""
    out: list[str] = []
    for raw in ids:
        anchor = (
            raw if _ANCHOR_SAFE.match(raw) else f"{prefix}-{hashlib.sha256(raw.encode()).hexdigest()[:12]}"
        )
        base, n = anchor, 1
        while anchor in used:
            n += 1
            anchor = f"{base}.{n}"
        used.add(anchor)
        out.append(anchor)
    return out


def _section_code(kind: str) -> dict[str, Any]:
    spec = BOARD_BY_KIND.get(kind) or BUILTIN_BY_KIND.get(kind)
    coding: dict[str, Any] = {"system": codes.SECTION_KIND_SYSTEM, "code": kind}
    if spec is not None:
        coding["display"] = spec.title
    return {"coding": [coding]}


def _statement_section(statement: Statement, anchor: str) -> dict[str, Any] | None:
    """A statement's own sub-section: its text, its verdict as the code, the resources it cites.
    None when it cites no FHIR resource (its image frames are named in the narrative)."""
    refs = _fhir_refs(statement.evidence)
    if not refs:
        return None
    verdict = statement.verdict.verdict.value if statement.verdict else "unchecked"
    return {
        "id": anchor,
        "title": plain(statement.text),
        "code": {"coding": [{"system": codes.VERDICT_SYSTEM, "code": verdict}]},
        "entry": _reference_list(refs),
    }


def _section(section: Section, used: set[str]) -> dict[str, Any]:
    anchors = _anchors((st.id for st in section.statements), used, "st")
    refs = [r for st in section.statements for r in _fhir_refs(st.evidence)]
    out: dict[str, Any] = {
        "title": plain(section.title, empty=section.kind),
        "code": _section_code(section.kind),
        "text": {"status": "generated", "div": section_div(section, anchors)},
    }
    if section.subject and _FHIR_REF.match(section.subject):
        out["focus"] = {"reference": section.subject}
    if refs:
        out["entry"] = _reference_list(refs)
    elif not section.statements:
        out["emptyReason"] = (
            codes.EMPTY_UNAVAILABLE if section.status in ("failed", "degraded") else codes.EMPTY_NIL_KNOWN
        )
    subsections = [
        sub
        for st, anchor in zip(section.statements, anchors, strict=True)
        if (sub := _statement_section(st, anchor)) is not None
    ]
    if subsections:
        out["section"] = subsections
    return out


def _discrepancy_section(summary: CaseSummary, used: set[str]) -> dict[str, Any]:
    anchors = _anchors((d.id for d in summary.discrepancies), used, "disc")
    subsections = []
    for discrepancy, anchor in zip(summary.discrepancies, anchors, strict=True):
        sub: dict[str, Any] = {"id": anchor, "title": plain(discrepancy.description)}
        if _CODE_SAFE.match(discrepancy.kind):
            sub["code"] = {"coding": [{"system": codes.DISCREPANCY_SYSTEM, "code": discrepancy.kind}]}
        refs = _fhir_refs(discrepancy.sources)
        if refs:
            sub["entry"] = _reference_list(refs)
            subsections.append(sub)
    out: dict[str, Any] = {
        "title": "Discrepancies",
        "code": {
            "coding": [
                {
                    "system": codes.SECTION_KIND_SYSTEM,
                    "code": codes.DISCREPANCIES_KIND,
                    "display": "Discrepancies",
                }
            ]
        },
        "text": {"status": "generated", "div": discrepancies_div(summary.discrepancies, anchors)},
    }
    refs = [r for d in summary.discrepancies for r in _fhir_refs(d.sources)]
    if refs:
        out["entry"] = _reference_list(refs)
    if subsections:
        out["section"] = subsections
    return out


def _composition(
    summary: CaseSummary, *, patient_ref: str, digest: str, date: str, author: str
) -> dict[str, Any]:
    used: set[str] = set()
    sections = [_section(section, used) for section in summary.sections]
    if summary.discrepancies:
        sections.append(_discrepancy_section(summary, used))
    title = f"Case summary: {plain(summary.case_id)} (AI draft, not reviewed)"
    return {
        "resourceType": "Composition",
        "meta": _meta(digest),
        "text": {
            "status": "generated",
            "div": composition_div(
                summary,
                title=title,
                date=date,
                statements=len(summary.statements()),
                sections=len(summary.sections),
            ),
        },
        "identifier": {"system": codes.SUMMARY_SYSTEM, "value": digest},
        # preliminary: unreviewed AI output. A clinician who reviews it makes it final (or amends it).
        "status": "preliminary",
        "type": codes.DOCUMENT_TYPE,
        "subject": {"reference": patient_ref},
        "date": date,
        "author": [{"reference": author}],
        "title": title,
        "section": sections,
    }


def _composition_references(composition: dict[str, Any]) -> list[str]:
    """Every resource the Composition cites (section and sub-section entries), first seen first."""
    found: list[str] = []

    def walk(sections: list[dict[str, Any]]) -> None:
        for section in sections:
            found.extend(e["reference"] for e in section.get("entry", []))
            walk(section.get("section", []))

    walk(composition["section"])
    return list(dict.fromkeys(found))


def _provenance(
    summary: CaseSummary,
    *,
    composition_url: str,
    medboard_url: str,
    model_url: str | None,
    cited: list[str],
    digest: str,
    recorded: str,
) -> dict[str, Any]:
    agents: list[dict[str, Any]] = [
        # medboard assembled the document and is its author (Composition.author).
        {"type": codes.participant("author", "Author"), "who": {"reference": medboard_url}},
    ]
    if model_url:
        # The model wrote or checked statements inside medboard's run: it performed part of it.
        agents.append({"type": codes.participant("performer", "Performer"), "who": {"reference": model_url}})
    run = summary.run
    period: dict[str, str] = {"start": _instant(_aware(run.started_at))}
    if run.finished_at:
        period["end"] = _instant(_aware(run.finished_at))
    model = run.model
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "meta": _meta(digest),
        "text": {
            "status": "generated",
            "div": one_paragraph_div(
                f"Case summary drafted by medboard {run.medboard_version}"
                + (f" with the model {model.name}" if model else " without a model")
                + f" from {len(cited)} cited resource(s) of the record;"
                + " AI-asserted, not reviewed by a clinician."
            ),
        },
        "target": [{"reference": composition_url}],
        "occurredPeriod": period,
        "recorded": recorded,
        "reason": [{"coding": [dict(codes.AIAST)]}],
        "activity": codes.ACTIVITY_CREATE,
        "agent": agents,
    }
    if cited:
        provenance["entity"] = [{"role": "source", "what": {"reference": ref}} for ref in cited]
    return provenance


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
