"""Reconciliation: one clinical picture of the patient from every fact of the record.

`build_picture(record, case_date=...)` groups the record's facts by clinical concept — the patient's
vital status (`patient.py`), each cancer with its stages, biomarkers, lines and markers
(`cancers.py`), each medication ingredient with its status at the case date (`medications.py`,
`currency.py`), each lab series in one comparable unit (`labs.py`) — and lists the conflicts
(`conflicts.py`) and data-quality problems it finds. Deterministic; no model, no agent.
`index.py` answers the verifier's question about a built picture: which concept(s) a record
reference belongs to, and which source decided a concept's status.
"""

from __future__ import annotations

import weakref

from medboard.models.picture import ClinicalPicture
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile.cancers import cancers_of, unassigned_therapy
from medboard.tools.reconcile.conflicts import picture_discrepancies
from medboard.tools.reconcile.labs import lab_series
from medboard.tools.reconcile.medications import medications_of
from medboard.tools.reconcile.patient import patient_status


def build_picture(record: PatientRecord, *, case_date: str | None = None) -> ClinicalPicture:
    """The reconciled picture at `case_date` (default: the latest date in the record)."""
    day = case_date or record.latest_date()
    patient = patient_status(record)
    picture = ClinicalPicture(case_date=day, patient=patient)
    picture.cancers = cancers_of(record, case_date=day, patient=patient)
    picture.medications = medications_of(record, case_date=day, patient=patient)
    picture.labs, quality = lab_series(record, case_date=day, patient=patient)
    picture.data_quality.extend(quality)
    # Cancer therapy no cancer of the record can own: listed, never given to the wrong cancer.
    picture.data_quality.extend(unassigned_therapy(record))
    picture.discrepancies = picture_discrepancies(record, picture)
    return picture


#: id(record) → its pictures by case date; an entry goes with its record (records compare by value,
#: so they are not hashable and cannot key a WeakKeyDictionary).
_PICTURES: dict[int, dict[str | None, ClinicalPicture]] = {}


def picture_of(record: PatientRecord, *, case_date: str | None = None) -> ClinicalPicture:
    """`build_picture`, built once per record and case date: specialists, the synthesizer and
    every verifier check read the same picture without rebuilding it (a record is read-only once
    loaded). Callers must not mutate the returned picture."""
    key = id(record)
    if key not in _PICTURES:
        _PICTURES[key] = {}
        weakref.finalize(record, _PICTURES.pop, key, None)
    by_date = _PICTURES[key]
    day = case_date or record.latest_date()  # the same picture whether the default is named or not
    if day not in by_date:
        by_date[day] = build_picture(record, case_date=day)
    return by_date[day]


__all__ = ["build_picture", "picture_of"]
