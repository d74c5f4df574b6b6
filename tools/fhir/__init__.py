"""FHIR ingestion: any R4 source -> one patient's `PatientRecord` with typed, cited facts.

``from medboard.tools.fhir import load_record``. `fhir.resources` is imported on first use, so
importing this package stays cheap.
"""

from medboard.tools.fhir.loader import load_record
from medboard.tools.fhir.record import DanglingReference, PatientRecord, SkippedEntry
from medboard.tools.fhir.sources import DEFAULT_MAX_BYTES

__all__ = ["DEFAULT_MAX_BYTES", "DanglingReference", "PatientRecord", "SkippedEntry", "load_record"]
