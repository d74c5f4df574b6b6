"""Every system and code the write-back puts on the server, in one place, each with why.

medboard's own systems are URNs (``urn:medboard:…``): a URI is all FHIR asks of an identifier or
coding system, and medboard has no web domain whose URLs it could promise to keep resolvable; a
single prefix here makes moving them to published CodeSystem URLs a one-line change.
"""

from __future__ import annotations

from typing import Any

#: Identifier system of the Composition (value: the summary hash) and tag system of the
#: Provenance (code: the same hash): what conditional create searches on.
SUMMARY_SYSTEM = "urn:medboard:summary"
#: Identifier system of the medboard Device (value ``medboard-<version>``: one Device per version,
#: so a Provenance always names the version that wrote it).
DEVICE_SYSTEM = "urn:medboard:device"
#: Identifier system of a model's Device (value: the served model name).
MODEL_SYSTEM = "urn:medboard:model"
#: Composition.section.code: the summary's section kind (`Section.kind`), plus ``discrepancies``.
SECTION_KIND_SYSTEM = "urn:medboard:section-kind"
#: A statement sub-section's code: the verifier's verdict on it (``unchecked`` without one).
VERDICT_SYSTEM = "urn:medboard:verdict"
#: A discrepancy sub-section's code: the discrepancy's kind (``stage_mismatch``, …).
DISCREPANCY_SYSTEM = "urn:medboard:discrepancy-kind"
#: medboard's workflow tag: findable with ``_tag=urn:medboard:tag|ai-draft-unreviewed``.
TAG_SYSTEM = "urn:medboard:tag"

#: Section kind code of the section that lists the summary's discrepancies.
DISCREPANCIES_KIND = "discrepancies"

#: HL7 v3 ObservationValue AIAST, "Artificial Intelligence asserted": the security label the HL7
#: AI Transparency IG asks every AI-influenced resource to carry in `meta.security` (and uses as
#: Provenance.reason in its examples).
AIAST: dict[str, Any] = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "AIAST",
    "display": "Artificial Intelligence asserted",
}

#: The workflow tag: an AI draft no clinician has reviewed yet. A security label says *what* the
#: data is (AI-asserted, for access and display policy); this tag is for the EHR's work queue.
DRAFT_TAG: dict[str, Any] = {
    "system": TAG_SYSTEM,
    "code": "ai-draft-unreviewed",
    "display": "Drafted by medboard (AI); not reviewed by a clinician",
}

#: Composition.type. LOINC 60591-5 "Patient summary Document": medboard summarizes the patient's
#: whole record across encounters (cancers, stages, therapy lines, labs, medications, history),
#: which is what this document type names (the IPS uses it too). Rejected: 34133-9 "Summary of
#: episode note" (one episode; medboard spans all of them), 11488-4 "Consult note" (a consultant's
#: opinion and recommendations; medboard recommends nothing).
DOCUMENT_TYPE: dict[str, Any] = {
    "coding": [{"system": "http://loinc.org", "code": "60591-5", "display": "Patient summary Document"}],
    "text": "Case summary (AI draft)",
}

#: Why a section holds no entries (http://terminology.hl7.org/CodeSystem/list-empty-reason).
EMPTY_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
#: "Nil Known": medboard looked in the record and found nothing for the section.
EMPTY_NIL_KNOWN: dict[str, Any] = {
    "coding": [{"system": EMPTY_REASON_SYSTEM, "code": "nilknown", "display": "Nil Known"}]
}
#: "Unavailable": the section failed (a model did not answer), so its content is unknown.
EMPTY_UNAVAILABLE: dict[str, Any] = {
    "coding": [{"system": EMPTY_REASON_SYSTEM, "code": "unavailable", "display": "Unavailable"}]
}

PARTICIPANT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def participant(code: str, display: str) -> dict[str, Any]:
    """A Provenance.agent.type (provenance-participant-type)."""
    return {"coding": [{"system": PARTICIPANT_TYPE_SYSTEM, "code": code, "display": display}]}


#: Provenance.activity: the summary was created (HL7 v3 DataOperation CREATE).
ACTIVITY_CREATE: dict[str, Any] = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "CREATE"}]
}
