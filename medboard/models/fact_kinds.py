"""What kinds of fact there are, and the typed extras each kind carries.

A `Fact` has the fields every kind shares (value, unit, date, body site, ...). What only one kind
knows (a staging fact's TNM category, a genomic fact's gene and HGVS, an imaging study's series)
lives in its ``details``: one small model per kind, tagged with the kind, so pydantic picks the
model from the tag and readers use typed attributes instead of string keys that fail silently
when misspelt. ``extra="forbid"`` everywhere: an extractor that invents a key fails loudly.

Every details field has a default, so ``Fact(kind=..., ...)`` without details gets its kind's empty
details. Adding a kind: a `FactKind` member, its details model below and one line in
`FactDetails`; then its extractor module and one registry line in ``medboard.tools.fhir.facts``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field


class FactKind(StrEnum):
    patient = "patient"
    condition = "condition"
    staging = "staging"
    lab = "lab"
    vital = "vital"
    tumor_marker = "tumor_marker"
    genomic = "genomic"
    observation = "observation"
    medication = "medication"
    procedure = "procedure"
    report = "report"
    document = "document"
    imaging_study = "imaging_study"
    performance_status = "performance_status"
    family_history = "family_history"


CancerKind = Literal["primary", "secondary"]
LateralitySource = Literal["bodySite", "code"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Details(_Strict):
    """A kind's details; each subclass narrows ``kind`` to its own tag (listed first in JSON)."""

    kind: FactKind

    def context_notes(self) -> list[str]:
        """What the model's case context adds to this fact's line beyond the fields every fact
        shares (`agents.prompting.fact_line`); most kinds add nothing."""
        return []


class PatientDetails(_Details):
    kind: Literal[FactKind.patient] = FactKind.patient
    name: str | None = None
    gender: str | None = None
    birth_date: str | None = None
    deceased: bool | str | None = Field(
        default=None, description="`deceasedBoolean`, or the `deceasedDateTime` as written."
    )


class ConditionDetails(_Details):
    kind: Literal[FactKind.condition] = FactKind.condition
    cancer: CancerKind | None = Field(
        default=None, description="A cancer diagnosis, primary or secondary (metastatic); None if not cancer."
    )
    stage: str | None = Field(default=None, description="The Condition's own stage summary, as displayed.")
    histology: str | None = Field(default=None, description="mCODE histology-morphology-behavior display.")
    laterality_source: LateralitySource | None = Field(
        default=None,
        description="Where the fact's laterality was read: the body site, or the diagnosis text.",
    )
    recorded_date: str | None = Field(default=None, description="`recordedDate`, kept only when no onset.")


class StagingDetails(_Details):
    kind: Literal[FactKind.staging] = FactKind.staging
    category: str | None = Field(default=None, description="`T`, `N`, `M` or `stage_group`.")
    stage_type: str | None = Field(default=None, description="`clinical` / `pathologic` when known.")
    system: str | None = Field(default=None, description="The staging system (`method`), as displayed.")
    short: str | None = Field(default=None, description="`cT3`, `IIB`: the stage read from a verbose value.")
    members: list[str] = Field(default_factory=list, description="`hasMember` references (a panel's parts).")


class MeasurementDetails(_Details):
    """Extras of a measured Observation (lab, vital, tumor marker, performance status, other)."""

    interpretation_display: str | None = None
    data_absent_reason: str | None = None
    panel: str | None = Field(default=None, description="The panel's name, on a component's fact.")


class LabDetails(MeasurementDetails):
    kind: Literal[FactKind.lab] = FactKind.lab


class VitalDetails(MeasurementDetails):
    kind: Literal[FactKind.vital] = FactKind.vital


class ObservationDetails(MeasurementDetails):
    kind: Literal[FactKind.observation] = FactKind.observation


class PerformanceStatusDetails(MeasurementDetails):
    kind: Literal[FactKind.performance_status] = FactKind.performance_status


class TumorMarkerDetails(MeasurementDetails):
    kind: Literal[FactKind.tumor_marker] = FactKind.tumor_marker
    marker: str | None = Field(default=None, description="Short marker name (`HER2`, `PSA`) from its code.")


GenomicValue = str | float | int | bool


class GenomicDetails(_Details):
    """Components of a genomics-reporting variant / implication Observation, by what they say."""

    kind: Literal[FactKind.genomic] = FactKind.genomic
    gene: str | None = Field(default=None, description="Gene(s) studied, comma-separated.")
    hgvs_c: GenomicValue | None = None
    hgvs_p: GenomicValue | None = None
    hgvs_g: GenomicValue | None = None
    variant_type: GenomicValue | None = None
    source_class: GenomicValue | None = None
    interpretation: GenomicValue | None = None
    variant: GenomicValue | None = None
    allele_frequency: GenomicValue | None = None
    medication: GenomicValue | None = None
    molecular_consequence: GenomicValue | None = None
    phenotype: GenomicValue | None = None


class TherapyDetails(_Details):
    """What medications and procedures share: why given, and whether the record calls it cancer therapy."""

    reason: list[str] = Field(
        default_factory=list, description="reasonCode displays, then reasonReference refs."
    )
    cancer_related: bool | None = Field(
        default=None, description="True when an mCODE profile or a cancer reason says so; None otherwise."
    )
    profiles: list[str] = Field(default_factory=list, description="`meta.profile` URLs.")


class MedicationDetails(TherapyDetails):
    kind: Literal[FactKind.medication] = FactKind.medication
    resource_type: str | None = Field(default=None, description="MedicationRequest / Statement / ...")
    intent: str | None = None
    dosage: str | None = None


class ProcedureDetails(TherapyDetails):
    kind: Literal[FactKind.procedure] = FactKind.procedure
    surgery: bool = False
    radiotherapy: bool = False


class ReportMedia(_Strict):
    comment: str | None = None
    link: str | None = None


class PresentedForm(_Strict):
    content_type: str | None = None
    title: str | None = None
    url: str | None = None
    decoded: bool = Field(default=False, description="Whether its text was decoded into `Fact.text`.")


class ReportDetails(_Details):
    kind: Literal[FactKind.report] = FactKind.report
    category: list[str] = Field(default_factory=list)
    conclusion: str | None = None
    media: list[ReportMedia] = Field(default_factory=list)
    presented_form: list[PresentedForm] = Field(default_factory=list)


class DocumentDetails(_Details):
    kind: Literal[FactKind.document] = FactKind.document
    content_type: str | None = Field(default=None, description="The first attachment's content type.")
    content_types: list[str | None] = Field(default_factory=list, description="Per attachment, in order.")
    category: list[str] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    description: str | None = None
    resource_type: str | None = Field(default=None, description="Set for a Composition.")


class ImagingSeries(_Strict):
    uid: str | None = None
    number: int | None = None
    modality: str | None = None
    body_site: str | None = None
    instances: int | None = None
    description: str | None = None


class ImagingStudyDetails(_Details):
    kind: Literal[FactKind.imaging_study] = FactKind.imaging_study
    study_uid: str | None = Field(default=None, description="DICOM Study Instance UID (no `urn:oid:`).")
    modalities: list[str] = Field(default_factory=list)
    series: list[ImagingSeries] = Field(default_factory=list)
    description: str | None = None
    procedures: list[str] = Field(default_factory=list)
    number_of_instances: int | None = None


class FamilyHistoryDetails(_Details):
    """One relative's recorded condition (``FamilyMemberHistory.condition[i]``), or the relative
    alone when no condition is listed.

    The relative's own fields (relationship, sex, deceased) repeat on each of their conditions'
    facts, so each fact reads whole in the case context. The onset age lives here, not in
    `Fact.value`: a fact's value is a measurement of the patient, and 69 years is the aunt's.
    """

    kind: Literal[FactKind.family_history] = FactKind.family_history
    relationship: str | None = Field(
        default=None, description="`relationship` as displayed (`maternal aunt`)."
    )
    relationship_code: str | None = Field(default=None, description="HL7 v3 RoleCode (`MAUNT`), when coded.")
    sex: str | None = Field(default=None, description="`sex` as displayed (`female`).")
    deceased: bool | str | None = Field(
        default=None,
        description="`deceasedBoolean`, or the `deceasedAge` / `deceasedDate` / `deceasedString` as written.",
    )
    condition: str | None = Field(
        default=None, description="The condition as displayed; None on a relative alone."
    )
    onset: str | None = Field(
        default=None, description="`onset[x]` as written (`69 a`, `40 a–50 a`, `in her forties`)."
    )
    onset_age: float | None = Field(default=None, description="An `onsetAge`'s number (`69`).")
    onset_unit: str | None = Field(default=None, description="An `onsetAge`'s unit, UCUM code first (`a`).")
    contributed_to_death: bool | None = None
    outcome: str | None = Field(default=None, description="The condition's `outcome`, as displayed.")

    def context_notes(self) -> list[str]:
        notes = [f"sex={self.sex}"] if self.sex else []
        if self.onset:
            notes.append(f"onset={self.onset}")
        if self.contributed_to_death:
            notes.append("contributed to death")
        if self.outcome:
            notes.append(f"outcome={self.outcome}")
        if self.deceased is True:
            notes.append("relative deceased")
        elif self.deceased not in (None, False):
            notes.append(f"relative deceased={self.deceased}")
        return notes


FactDetails = Annotated[
    PatientDetails
    | ConditionDetails
    | StagingDetails
    | LabDetails
    | VitalDetails
    | TumorMarkerDetails
    | GenomicDetails
    | ObservationDetails
    | MedicationDetails
    | ProcedureDetails
    | ReportDetails
    | DocumentDetails
    | ImagingStudyDetails
    | PerformanceStatusDetails
    | FamilyHistoryDetails,
    Field(discriminator="kind"),
]
"""A fact's kind-specific extras; pydantic picks the model by its ``kind`` tag."""

DETAILS_MODELS: dict[FactKind, type[BaseModel]] = {
    model.model_fields["kind"].default: model for model in get_args(get_args(FactDetails)[0])
}
"""Each kind's details model, read off `FactDetails` (so the union is the one list to extend)."""


def empty_details(kind: FactKind | str) -> Any:
    """The details of a fact that has no extras: its kind's model with every default."""
    return DETAILS_MODELS[FactKind(kind)]()
