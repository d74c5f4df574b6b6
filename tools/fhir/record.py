"""`PatientRecord`: one patient's FHIR resources, indexed, with their typed facts.

Produced by `medboard.tools.fhir.load_record` (see `loader.py`); consumed by every agent and by
the verifier. Resources are kept as the source's JSON dicts (after validation with the
`fhir.resources` R4B models), keyed by the canonical ``Type/id`` reference, so evidence
references resolve with one dict lookup and quotes come from the source verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medboard.models import Fact, FactKind


@dataclass(frozen=True)
class SkippedEntry:
    """A bundle entry left out in lenient mode, and why."""

    location: str
    problem: str


@dataclass(frozen=True)
class DanglingReference:
    """A reference from one resource to something not in the record (reported, not fatal)."""

    source: str
    path: str
    target: str


@dataclass
class PatientRecord:
    source: str
    patient_id: str | None
    resources: dict[str, dict[str, Any]]
    facts: list[Fact] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dangling: list[DanglingReference] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)
    # fullUrl / alias -> canonical "Type/id" (urn:uuid:…, absolute URLs, contained "#id" keys)
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def patient_ref(self) -> str | None:
        return f"Patient/{self.patient_id}" if self.patient_id else None

    @property
    def patient(self) -> dict[str, Any] | None:
        return self.resources.get(self.patient_ref) if self.patient_ref else None

    def canonical(self, reference: str) -> str | None:
        """Normalise a reference (``Type/id``, ``urn:uuid:…``, absolute URL) to ``Type/id``."""
        if reference in self.resources:
            return reference
        if reference in self.aliases:
            return self.aliases[reference]
        tail = "/".join(reference.rstrip("/").split("/")[-2:])
        if "/_history/" in reference:
            tail = "/".join(reference.split("/_history/")[0].split("/")[-2:])
        return tail if tail in self.resources else None

    def get(self, reference: str) -> dict[str, Any] | None:
        """The resource's JSON for any form of reference to it, or None."""
        canonical = self.canonical(reference)
        return self.resources.get(canonical) if canonical else None

    def __contains__(self, reference: object) -> bool:
        return isinstance(reference, str) and self.canonical(reference) is not None

    def by_type(self, resource_type: str) -> list[dict[str, Any]]:
        prefix = f"{resource_type}/"
        return [r for key, r in self.resources.items() if key.startswith(prefix)]

    def facts_of(self, *kinds: FactKind | str) -> list[Fact]:
        wanted = {FactKind(k) for k in kinds}
        return [f for f in self.facts if f.kind in wanted]

    def fact(self, fact_id: str) -> Fact | None:
        return next((f for f in self.facts if f.id == fact_id), None)

    def facts_citing(self, reference: str) -> list[Fact]:
        """Facts whose evidence is the given resource (a resource can yield several facts)."""
        canonical = self.canonical(reference) or reference
        return [f for f in self.facts if f.evidence.reference == canonical]

    def latest_date(self) -> str | None:
        """The most recent date in the record: the record's 'now' when a case date is not given.

        A recorded date of death counts: a record that says the patient died is read after the
        death, so nothing in it is "current" (Synthea records end days before the death).
        """
        dates: list[str] = [d for f in self.facts for d in (f.date, f.end_date) if d]
        for fact in self.facts_of(FactKind.patient):
            deceased = getattr(fact.details, "deceased", None)
            if isinstance(deceased, str):
                dates.append(deceased)
        return max(dates, default=None)
