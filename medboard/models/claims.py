"""Structured claims: what a templated statement asserts, as fields the verifier checks directly.

A statement the template writes from the clinical picture says something about one clinical
concept (a medication's status, a biomarker's results, a stage, a line of therapy, the patient's
vital status). Parsing that sentence back out of English to check it would check our own
wording, not the patient; so the finding carries its `Claim` and the statement copies it. The
verifier (`medboard.tools.checks.claims`) checks the claim against the *whole* picture — the cited
facts must say it, and no other source about the same concept may contradict it. Model-written
statements have no claim; their claims are extracted from the text.

One model per concept, discriminated by ``concept`` (a JSON reader switches on it); every claim
names the facts (``Type/id``) it rests on.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Reference = str  # "Type/id"

#: What the record says of a medication or a line at the case date.
#: current — no source stops or completes it, the patient was alive, and there is evidence within
#: the therapy's window before the case date; stale — still marked active, but no evidence within
#: that window; stopped / completed — a source says so; unknown — the record cannot tell.
CurrencyStatus = Literal["current", "stopped", "completed", "stale", "unknown"]

StageType = Literal["clinical", "pathologic", "post_therapy", "unspecified"]

ResultValue = str | float | int | bool | None


class _Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facts: list[Reference] = Field(min_length=1, description="The facts (`Type/id`) the claim rests on.")


class ClaimedResult(BaseModel):
    """One result as claimed: its value (and unit), its date and the fact that says it."""

    model_config = ConfigDict(extra="forbid")

    value: ResultValue = None
    unit: str | None = None
    date: str | None = None
    source: Reference


class MedicationClaim(_Claim):
    """ "<ingredient> is <status> at the case date (last evidence <date>)"."""

    concept: Literal["medication"] = "medication"
    ingredient: str
    status: CurrencyStatus
    last_evidence_date: str | None = None


class ClaimedStop(BaseModel):
    """A drug of a line that one source says stopped: the stop date that source records (None: the
    source records no stop date, and the statement says so)."""

    model_config = ConfigDict(extra="forbid")

    drug: str
    date: str | None = None
    source: Reference


class LineClaim(_Claim):
    """ "A line of <drugs> for <cancer>, <start> – <end>, <status>" and any stop of one of its drugs
    the statement names ("anastrozole stopped on <date>"), so the verifier compares that date too."""

    concept: Literal["line"] = "line"
    cancer: Reference | None = Field(default=None, description="The cancer's Condition, when assigned.")
    drugs: list[str] = Field(min_length=1)
    start: str | None = None
    end: str | None = None
    status: CurrencyStatus
    stops: list[ClaimedStop] = Field(default_factory=list)


class ResultClaim(_Claim):
    """ "<test> was <value> on <date>" — a biomarker, tumour marker, lab or vital sign.

    A statement that reports a conflict claims every side: `results` holds each one.
    """

    concept: Literal["result"] = "result"
    kind: Literal["biomarker", "marker", "lab", "vital", "performance_status"] = "lab"
    name: str
    code: str | None = None
    cancer: Reference | None = None
    results: list[ClaimedResult] = Field(min_length=1)


class StageClaim(_Claim):
    """ "<cancer> is stage <group> (<type>)"."""

    concept: Literal["stage"] = "stage"
    cancer: Reference | None = None
    type: StageType = "unspecified"
    group: str


class DiagnosisClaim(_Claim):
    """ "The patient has <cancer> (<kind>, <laterality>, <clinical status>)"."""

    concept: Literal["diagnosis"] = "diagnosis"
    condition: Reference
    name: str
    kind: Literal["primary", "secondary", "unknown"] = "unknown"
    laterality: Literal["left", "right", "bilateral"] | None = None
    clinical_status: str | None = None


class VitalStatusClaim(_Claim):
    """ "The patient is alive" / "died on <date> (of <cause>)"."""

    concept: Literal["vital_status"] = "vital_status"
    deceased: bool
    date: str | None = None
    cause: str | None = None


Claim = Annotated[
    MedicationClaim | LineClaim | ResultClaim | StageClaim | DiagnosisClaim | VitalStatusClaim,
    Field(discriminator="concept"),
]

__all__ = [
    "Claim",
    "ClaimedResult",
    "ClaimedStop",
    "CurrencyStatus",
    "DiagnosisClaim",
    "LineClaim",
    "MedicationClaim",
    "Reference",
    "ResultClaim",
    "StageClaim",
    "StageType",
    "VitalStatusClaim",
]
