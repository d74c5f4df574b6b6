"""The fact kinds the FHIR reader knows: per kind, what it reads, its details and its context rank.

One `FactKindSpec` per `FactKind`, in `DEFAULT_KINDS` (a test fails for a kind without one). Each
spec says which resource types the kind reads and with which extractor, which details model its
facts carry, and where its facts stand in the case context every text agent sees first. The
extraction dispatch and the prompt code both iterate this registry, so a new kind cannot be read
and then silently left out of the model's context.

Several kinds read one resource type (seven read Observation): their specs are tried in registry
order, each kind's ``claims`` deciding whether the resource is its own; the last spec for a type
may claim unconditionally. That order is the classification order (staging, performance status,
genomics, tumor marker by code or profile; then vital and lab by category; else ``observation``).

Adding a fact kind: its `FactKind` member and details model (``medboard/models/fact_kinds.py``),
its module here (claims + extractor), and one line below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from pydantic import BaseModel

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import (
    DETAILS_MODELS,
    ConditionDetails,
    DocumentDetails,
    FamilyHistoryDetails,
    GenomicDetails,
    ImagingStudyDetails,
    LabDetails,
    MedicationDetails,
    ObservationDetails,
    PatientDetails,
    PerformanceStatusDetails,
    ProcedureDetails,
    ReportDetails,
    StagingDetails,
    TumorMarkerDetails,
    VitalDetails,
)
from medboard.tools.fhir.facts.common import JSON, ExtractContext
from medboard.tools.fhir.facts.condition import extract_condition
from medboard.tools.fhir.facts.document import extract_composition, extract_document_reference
from medboard.tools.fhir.facts.family_history import extract_family_history
from medboard.tools.fhir.facts.genomic import extract_genomic, is_genomic
from medboard.tools.fhir.facts.imaging import extract_imaging_study
from medboard.tools.fhir.facts.medication import extract_medication
from medboard.tools.fhir.facts.observation import (
    is_lab,
    is_performance_status,
    is_tumor_marker,
    is_vital,
    measurements,
)
from medboard.tools.fhir.facts.patient import extract_patient
from medboard.tools.fhir.facts.procedure import extract_procedure
from medboard.tools.fhir.facts.report import extract_report
from medboard.tools.fhir.facts.staging import extract_staging, is_staging

Extractor = Callable[[JSON, str, ExtractContext], list[Fact]]
"""(resource JSON, its ``Type/id``, context) -> the facts it yields."""

Claim = Callable[[JSON, str, ExtractContext], bool]
"""Whether a resource that several kinds read belongs to this kind."""


@dataclass(frozen=True)
class FactKindSpec:
    """Everything medboard knows about one fact kind, in one place."""

    kind: FactKind
    details: type[BaseModel]
    reads: Mapping[str, Extractor]
    """Resource type -> the extractor that reads it into facts of this kind."""
    context_rank: int | None
    """Place in the model's case context, lowest first (truncation drops the highest ranks);
    None: deliberately not listed (documents reach the model as data blocks instead)."""
    claims: Claim | None = None
    """For a resource type several kinds read: does this kind take the resource? None: it takes
    whatever the kinds before it left."""
    latest_only: bool = False
    """The context shows only the latest fact per code (a lab series is a trend's job)."""

    def __post_init__(self) -> None:
        if DETAILS_MODELS.get(self.kind) is not self.details:
            raise ValueError(f"{self.kind.value}: details model {self.details.__name__} is not its kind's")
        object.__setattr__(self, "reads", MappingProxyType(dict(self.reads)))


_MEDICATION_TYPES = (
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "MedicationDispense",
)

DEFAULT_KINDS: tuple[FactKindSpec, ...] = (
    FactKindSpec(FactKind.patient, PatientDetails, {"Patient": extract_patient}, context_rank=10),
    FactKindSpec(FactKind.condition, ConditionDetails, {"Condition": extract_condition}, context_rank=20),
    # Next to the genomic results (50) it bears on (a germline PALB2 variant and a sister's breast
    # cancer); few lines, so it costs the context little.
    FactKindSpec(
        FactKind.family_history,
        FamilyHistoryDetails,
        {"FamilyMemberHistory": extract_family_history},
        context_rank=55,
    ),
    # Observation kinds, in classification order (see the module docstring).
    FactKindSpec(
        FactKind.staging, StagingDetails, {"Observation": extract_staging}, context_rank=30, claims=is_staging
    ),
    FactKindSpec(
        FactKind.performance_status,
        PerformanceStatusDetails,
        {"Observation": measurements(FactKind.performance_status)},
        context_rank=60,
        claims=is_performance_status,
    ),
    FactKindSpec(
        FactKind.genomic, GenomicDetails, {"Observation": extract_genomic}, context_rank=50, claims=is_genomic
    ),
    FactKindSpec(
        FactKind.tumor_marker,
        TumorMarkerDetails,
        {"Observation": measurements(FactKind.tumor_marker)},
        context_rank=40,
        claims=is_tumor_marker,
    ),
    FactKindSpec(
        FactKind.vital,
        VitalDetails,
        {"Observation": measurements(FactKind.vital)},
        context_rank=110,
        claims=is_vital,
        latest_only=True,
    ),
    FactKindSpec(
        FactKind.lab,
        LabDetails,
        {"Observation": measurements(FactKind.lab)},
        context_rank=100,
        claims=is_lab,
        latest_only=True,
    ),
    FactKindSpec(
        FactKind.observation,
        ObservationDetails,
        {"Observation": measurements(FactKind.observation)},
        context_rank=120,
        latest_only=True,
    ),
    FactKindSpec(
        FactKind.medication,
        MedicationDetails,
        dict.fromkeys(_MEDICATION_TYPES, extract_medication),
        context_rank=70,
    ),
    FactKindSpec(FactKind.procedure, ProcedureDetails, {"Procedure": extract_procedure}, context_rank=80),
    FactKindSpec(FactKind.report, ReportDetails, {"DiagnosticReport": extract_report}, context_rank=130),
    FactKindSpec(
        FactKind.document,
        DocumentDetails,
        {"DocumentReference": extract_document_reference, "Composition": extract_composition},
        context_rank=None,
    ),
    FactKindSpec(
        FactKind.imaging_study, ImagingStudyDetails, {"ImagingStudy": extract_imaging_study}, context_rank=90
    ),
)


Dispatch = Mapping[str, Sequence[tuple[FactKindSpec, Extractor]]]


def dispatch_table(kinds: Sequence[FactKindSpec] = DEFAULT_KINDS) -> Dispatch:
    """Resource type -> the (spec, extractor) pairs that read it, in registry order.

    Refuses a registry where a spec can never be reached: one listed after an unconditional spec
    for the same resource type, or a second spec for the same kind.
    """
    seen: set[FactKind] = set()
    table: dict[str, list[tuple[FactKindSpec, Extractor]]] = {}
    for spec in kinds:
        if spec.kind in seen:
            raise ValueError(f"fact kind {spec.kind.value!r} registered twice")
        seen.add(spec.kind)
        for resource_type, extractor in spec.reads.items():
            readers = table.setdefault(resource_type, [])
            if readers and readers[-1][0].claims is None:
                raise ValueError(
                    f"{spec.kind.value!r} can never read {resource_type}: "
                    f"{readers[-1][0].kind.value!r} before it takes every {resource_type}"
                )
            readers.append((spec, extractor))
    return MappingProxyType({k: tuple(v) for k, v in table.items()})


def extractor_for(resource: JSON, key: str, ctx: ExtractContext, table: Dispatch) -> Extractor | None:
    """The extractor of the first kind that claims the resource; None when no kind reads its type."""
    for spec, extractor in table.get(str(resource.get("resourceType", "")), ()):
        if spec.claims is None or spec.claims(resource, key, ctx):
            return extractor
    return None


def in_context_order(kinds: Sequence[FactKindSpec] = DEFAULT_KINDS) -> list[FactKindSpec]:
    """The kinds the case context lists, in the order it lists them."""
    listed = [spec for spec in kinds if spec.context_rank is not None]
    return sorted(listed, key=lambda spec: (spec.context_rank or 0, spec.kind.value))


DEFAULT_DISPATCH = dispatch_table(DEFAULT_KINDS)
