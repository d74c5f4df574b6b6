"""Writing a verified summary back to the EHR as FHIR: a Composition, its Provenance, the Devices.

Why a Composition and not a DiagnosticReport: a `CaseSummary` is a document of titled sections,
each a list (or table) of statements citing the record: that is what a Composition is (sections
map 1:1, `section.entry` carries the cited references, a nested `section.section` per statement
carries *its* citations, and `section.text` the readable narrative). A DiagnosticReport is the
report of a diagnostic service (lab, imaging, pathology) whose results are Observations: medboard
runs no test and makes no Observation; its statements restate and cite existing ones.
DiagnosticReport has no sections and would flatten the summary into one conclusion string plus
a `result` list that can only hold Observations (not the Conditions, Procedures and
MedicationRequests a summary cites).

What is written (`build_writeback`): one transaction Bundle with the medboard `Device` (its
version), a `Device` per model of the run, the `Composition` (status ``preliminary``: unreviewed
AI output; LOINC 60591-5; the `AIAST` security label and an ``ai-draft-unreviewed`` tag; one
section per summary section with an escaped XHTML narrative; struck statements left out) and a
`Provenance` (target the Composition; agents medboard and the model; every cited resource as a
``source`` entity; `AIAST` too). Every entry is a conditional create, keyed on the hash of the
summary's clinical content (`summary_hash`), so a re-run writes nothing new. Every resource is
validated with fhir.resources R4B models (plus the narrative and the invariants those models do
not check) before anything is sent.

`write_back(client, summary, patient_ref=...)` posts it through a FHIR client
(`medboard.tools.fhir_server.FhirClient`, or anything with its `transaction`) and reports what
was created (201) and what was already there (200).
"""

from medboard.tools.writeback.bundle import build_writeback
from medboard.tools.writeback.content import clinical_content, summary_hash
from medboard.tools.writeback.errors import (
    WriteBackError,
    WriteBackInputError,
    WriteBackResponseError,
    WriteBackValidationError,
)
from medboard.tools.writeback.transaction import (
    FhirTransactionClient,
    WriteBackResult,
    WrittenEntry,
    read_response,
    write_back,
)

__all__ = [
    "FhirTransactionClient",
    "WriteBackError",
    "WriteBackInputError",
    "WriteBackResponseError",
    "WriteBackResult",
    "WriteBackValidationError",
    "WrittenEntry",
    "build_writeback",
    "clinical_content",
    "read_response",
    "summary_hash",
    "write_back",
]
