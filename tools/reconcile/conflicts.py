"""Discrepancies from the picture: wherever two sources about one concept cannot both be true."""

from __future__ import annotations

from medboard.models import Discrepancy
from medboard.models.picture import ClinicalPicture
from medboard.tools.fhir.record import PatientRecord


def picture_discrepancies(record: PatientRecord, picture: ClinicalPicture) -> list[Discrepancy]:
    return []
