"""The shared vocabulary: every agent, tool and interface speaks these pydantic models."""

from medboard.models.dates import FhirDate, FhirDateError, Precision, iso_day
from medboard.models.evidence import EvidenceRef, fhir_ref, image_ref
from medboard.models.facts import Coding, Fact, FactKind, Laterality, ReferenceRange
from medboard.models.findings import Finding, FindingCategory, default_section
from medboard.models.sections import BUILTIN_SECTIONS, SectionId, SectionKind, SectionSpec
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
    Statement,
    StruckStatement,
    Verdict,
    VerdictLabel,
)

__all__ = [
    "BUILTIN_SECTIONS",
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
    "SectionId",
    "SectionKind",
    "SectionSpec",
    "Statement",
    "StruckStatement",
    "Verdict",
    "VerdictLabel",
    "default_section",
    "fhir_ref",
    "image_ref",
    "iso_day",
]
