"""The shared vocabulary: every agent, tool and interface speaks these pydantic models."""

from medboard.models.dates import FhirDate, FhirDateError, Precision, iso_day
from medboard.models.evidence import EvidenceRef, fhir_ref, image_ref
from medboard.models.facts import Coding, Fact, FactKind, Laterality, ReferenceRange
from medboard.models.findings import Finding, FindingCategory
from medboard.models.summary import (
    DISCLAIMER,
    SCHEMA_VERSION,
    AgentRun,
    CaseSummary,
    CheckResult,
    Discrepancy,
    ModelRun,
    RunMetadata,
    Section,
    SectionKind,
    Statement,
    StruckStatement,
    Verdict,
    VerdictLabel,
)

__all__ = [
    "DISCLAIMER",
    "SCHEMA_VERSION",
    "AgentRun",
    "CaseSummary",
    "CheckResult",
    "Coding",
    "Discrepancy",
    "EvidenceRef",
    "Fact",
    "FactKind",
    "FhirDate",
    "FhirDateError",
    "Finding",
    "FindingCategory",
    "Laterality",
    "ModelRun",
    "Precision",
    "ReferenceRange",
    "RunMetadata",
    "Section",
    "SectionKind",
    "Statement",
    "StruckStatement",
    "Verdict",
    "VerdictLabel",
    "fhir_ref",
    "image_ref",
    "iso_day",
]
