"""Test support for the headline and answer blocks: shared real records, their picture, findings, a Board.

Records are the shared mCODE Jenny M bundle and the six Synthea patients (`../shared/data/fhir`);
each is loaded, reconciled and run through the EHR and longitudinal cores once per test session.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from medboard.agents.ehr.core import ehr_findings
from medboard.agents.longitudinal.core import longitudinal_findings
from medboard.agents.synthesizer.board.base import Board
from medboard.models import Finding, Statement, Verdict
from medboard.models.picture import ClinicalPicture
from medboard.tools.checks.pipeline import verify_statement
from medboard.tools.fhir import load_record
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile import picture_of

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir"
JENNY = SHARED / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
SYNTHEA_NAMES = (
    "adan_pulido",
    "andy_schaden",
    "austin_franecki",
    "darin_skiles",
    "loyd_connelly",
    "micah_schinner",
)
RECORDS = ("jenny", *SYNTHEA_NAMES)
JENNY_QUESTION = "Is she a candidate for breast-conserving surgery after neoadjuvant therapy?"

needs_shared = pytest.mark.skipif(not JENNY.is_file(), reason="shared FHIR data not available")


def path_of(name: str) -> Path:
    return JENNY if name == "jenny" else SHARED / "synthea" / f"{name}.json"


@functools.cache
def case(name: str) -> tuple[PatientRecord, ClinicalPicture, tuple[Finding, ...]]:
    record = load_record(path_of(name))
    picture = picture_of(record)
    return record, picture, tuple(ehr_findings(record, picture) + longitudinal_findings(record, picture))


def board(name: str, question: str | None = None, findings: list[Finding] | None = None) -> Board:
    record, picture, found = case(name)
    return Board(
        picture=picture,
        findings=list(found if findings is None else findings),
        record=record,
        question=question,
    )


def verdict(name: str, statement: Statement, findings: list[Finding] | None = None) -> Verdict:
    """The rules-only verifier's verdict on one statement, against the whole record."""
    record, picture, found = case(name)
    return verify_statement(
        statement, list(found if findings is None else findings), record, picture.case_date
    )
