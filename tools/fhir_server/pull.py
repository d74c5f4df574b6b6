"""Pull one patient's record from a FHIR server: `pull_patient` → `PulledRecord`.

Strategy, decided by the CapabilityStatement (read first):

- **everything**: the server offers ``Patient/{id}/$everything`` → one operation call (with
  ``_type`` listing the types below and ``_count``), following its ``next`` links. A server that
  then refuses the operation (400/405/422/501, or 404 for the operation itself) gets the search
  strategy instead of an error: capability statements are not always true.
- **search**: ``GET Patient/{id}``, then one search per resource type with
  ``patient=Patient/{id}`` (the full reference: some servers answer a bare id with nothing) and
  ``_count``, following ``next`` links; a few types at a time (`FhirClient.max_concurrency`).
  Types the CapabilityStatement does not list for search are skipped (and reported).

Which types: those medboard reads, all in the R4 patient compartment — every type a fact kind
reads (`medboard.tools.fhir.facts.registry`), the clinical types whose dates the data-quality
checks compare with the date of death (`medboard.tools.reconcile.conflicts.CARE_DATES`:
Encounter, Immunization, ServiceRequest, Specimen, …) and Media (attachments). Derived from
those registries, so a new fact kind is pulled without touching this module. Billing
(Claim, ExplanationOfBenefit), care plans and goals are not pulled: medboard reads none of them,
and in a Synthea record they are a third of the bytes. ``$everything`` answers are filtered to
the same types, so both strategies give the same record. Medications referenced by
``medicationReference`` (Medication is not in the compartment) are then read one by one.

Resources are de-duplicated by ``Type/id`` (an entry can come back on two pages, or as a match
and an include). medboard's own earlier summaries written back to this server (identifier system
``urn:medboard:summary``, see `medboard.tools.writeback`) are left out: an AI summary must never
become evidence for the next one. They are counted in `PulledRecord.excluded`.

`PulledRecord.to_bundle()` is a collection Bundle that `medboard.tools.fhir.load_record` reads,
so a server record then goes through exactly the checks a bundle file does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from medboard.tools.fhir_server.capabilities import Capabilities, read_capabilities
from medboard.tools.fhir_server.client import FHIR_ID_RE, FhirClient, check_id
from medboard.tools.fhir_server.errors import FhirNotFound, FhirRequestRejected

log = logging.getLogger(__name__)

#: The identifier system of medboard's written-back summaries (never pulled as evidence).
MEDBOARD_SUMMARY_SYSTEM = "urn:medboard:summary"
#: Patient-compartment types medboard reads besides the fact kinds' and the date checks'.
EXTRA_COMPARTMENT_TYPES = ("Media",)
#: Types outside the compartment that medboard reads when a pulled resource references them.
REFERENCED_TYPES = ("Medication",)
_MEDICATION_USERS = frozenset(
    {"MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense"}
)

Strategy = Literal["everything", "search"]
T = TypeVar("T")


def compartment_types() -> tuple[str, ...]:
    """The patient-compartment types medboard reads (Patient itself excluded), sorted."""
    from medboard.tools.fhir.facts.registry import DEFAULT_KINDS
    from medboard.tools.reconcile.conflicts import CARE_DATES

    kinds = {kind for spec in DEFAULT_KINDS for kind in spec.reads}
    return tuple(sorted((kinds | set(CARE_DATES) | set(EXTRA_COMPARTMENT_TYPES)) - {"Patient"}))


@dataclass
class PulledRecord:
    """One patient's resources as pulled, and how the pull went."""

    server: str
    patient_id: str
    resources: list[dict[str, Any]]
    strategy: Strategy
    #: HTTP requests sent to the FHIR server (pages and retries included; token requests not).
    requests: int
    seconds: float
    #: Types searched for (search strategy) or kept from ``$everything``.
    types: list[str] = field(default_factory=list)
    #: Types skipped because the server's CapabilityStatement does not list them for search.
    skipped_types: list[str] = field(default_factory=list)
    #: medboard's own earlier summaries left out (identifier system urn:medboard:summary).
    excluded: int = 0
    #: What the pull wants the reader to know (a fallback, a missing referenced Medication).
    warnings: list[str] = field(default_factory=list)

    @property
    def patient_ref(self) -> str:
        return f"Patient/{self.patient_id}"

    def to_bundle(self) -> dict[str, Any]:
        """A ``collection`` Bundle of the resources (what `load_record(dict)` reads)."""
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": resource} for resource in self.resources],
        }

    def ndjson_lines(self) -> Iterable[str]:
        """One resource per line (FHIR Bulk Data NDJSON), as pulled."""
        for resource in self.resources:
            yield json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n"


async def pull_patient(
    client: FhirClient,
    patient_id: str,
    *,
    strategy: Strategy | None = None,
    types: Iterable[str] | None = None,
    page_size: int | None = None,
) -> PulledRecord:
    """Pull `patient_id`'s record (``abc`` or ``Patient/abc``) from `client`'s server.

    `strategy` forces ``everything`` or ``search`` (default: what the server offers); `types`
    replaces the resource types pulled (default `compartment_types()`); `page_size` is the
    ``_count`` asked for (default the client's).
    """
    patient_id = check_id(patient_id.removeprefix("Patient/"), what="patient id")
    started = time.perf_counter()
    first_request = client.requests
    wanted = tuple(types) if types is not None else compartment_types()
    count = str(page_size or client.page_size)
    capabilities = read_capabilities(await client.capabilities())
    chosen: Strategy = strategy or ("everything" if capabilities.patient_everything else "search")
    warnings: list[str] = []
    resources: list[dict[str, Any]] | None = None
    skipped: list[str] = []
    if chosen == "everything":
        try:
            params = {"_type": ",".join(("Patient", *wanted)), "_count": count}
            found = await client.everything(patient_id, params)
            keep = {"Patient", *wanted, *REFERENCED_TYPES}
            resources = [r for r in found if r.get("resourceType") in keep]
            if not any(_is_patient(r, patient_id) for r in resources):
                resources.insert(0, await client.read("Patient", patient_id))
        except (FhirRequestRejected, FhirNotFound) as error:
            log.info("$everything refused (%s); pulling by search instead", error.problem.split(":")[0])
            warnings.append(f"$everything refused ({error.problem.split(':')[0]}); pulled by search instead")
            chosen = "search"
    if resources is None:
        resources, skipped = await _search_all(client, patient_id, wanted, capabilities, count)
    resources = _unique(resources)
    missing = await _referenced(client, resources)
    resources.extend(missing.found)
    warnings.extend(missing.warnings)
    kept = [r for r in resources if not _is_own_summary(r)]
    pulled = PulledRecord(
        server=client.server,
        patient_id=patient_id,
        resources=kept,
        strategy=chosen,
        requests=client.requests - first_request,
        seconds=time.perf_counter() - started,
        types=list(wanted),
        skipped_types=skipped,
        excluded=len(resources) - len(kept),
        warnings=warnings,
    )
    log.info(
        "pulled %d resources (%s) in %d requests, %.2f s",
        len(pulled.resources),
        pulled.strategy,
        pulled.requests,
        pulled.seconds,
    )
    return pulled


async def _search_all(
    client: FhirClient, patient_id: str, wanted: tuple[str, ...], capabilities: Capabilities, count: str
) -> tuple[list[dict[str, Any]], list[str]]:
    searched = [t for t in wanted if capabilities.can_search(t)]
    skipped = [t for t in wanted if not capabilities.can_search(t)]
    patient = await client.read("Patient", patient_id)  # first: an unknown id fails in one request
    gate = asyncio.Semaphore(client.max_concurrency)
    reference = f"Patient/{patient_id}"

    async def one(resource_type: str) -> list[dict[str, Any]]:
        async with gate:
            return await client.search(resource_type, {"patient": reference, "_count": count})

    pages = await gather_or_cancel([one(t) for t in searched])
    return [patient, *(r for page in pages for r in page)], skipped


async def gather_or_cancel(coroutines: list[Coroutine[Any, Any, T]]) -> list[T]:
    """`asyncio.gather`, but the first failure cancels the others (no searches left running
    against the server after the pull has failed) and is raised as itself (a `TaskGroup` would
    wrap it in an ExceptionGroup, and the CLI prints one line per `MedboardError`)."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@dataclass
class _Referenced:
    found: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


async def _referenced(client: FhirClient, resources: list[dict[str, Any]]) -> _Referenced:
    """Medications named by ``medicationReference`` that the pull does not hold yet."""
    held = {_key(r) for r in resources}
    wanted: list[str] = []
    for resource in resources:
        if resource.get("resourceType") not in _MEDICATION_USERS:
            continue
        reference = resource.get("medicationReference")
        target = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(target, str):
            continue
        parts = target.split("?", 1)[0].rstrip("/").split("/")
        if len(parts) < 2 or parts[-2] not in REFERENCED_TYPES or not FHIR_ID_RE.match(parts[-1]):
            continue  # a contained (#id), conditional or foreign reference: nothing to read here
        key = f"{parts[-2]}/{parts[-1]}"
        if key not in held and key not in wanted:
            wanted.append(key)
    out = _Referenced()
    gate = asyncio.Semaphore(client.max_concurrency)

    async def one(key: str) -> None:
        kind, ident = key.split("/", 1)
        async with gate:
            try:
                out.found.append(await client.read(kind, ident))
            except FhirNotFound:
                out.warnings.append(f"{key} is referenced but not on the server")

    await gather_or_cancel([one(k) for k in wanted])
    return out


def _key(resource: dict[str, Any]) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def _unique(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """First occurrence of each ``Type/id`` (resources without an id are kept as they are)."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for resource in resources:
        if resource.get("id") is None:
            out.append(resource)
            continue
        key = _key(resource)
        if key not in seen:
            seen.add(key)
            out.append(resource)
    return out


def _is_patient(resource: dict[str, Any], patient_id: str) -> bool:
    return resource.get("resourceType") == "Patient" and resource.get("id") == patient_id


def _is_own_summary(resource: dict[str, Any]) -> bool:
    identifiers = resource.get("identifier")
    if isinstance(identifiers, dict):
        identifiers = [identifiers]
    return isinstance(identifiers, list) and any(
        isinstance(i, dict) and i.get("system") == MEDBOARD_SUMMARY_SYSTEM for i in identifiers
    )
