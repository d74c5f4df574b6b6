"""The board's "Risk factors and history" section, end to end and under the real verifier.

Real records: Jenny M's mCODE bundle (smoking 20 pack-years, two relatives with cancer), Synthea
records (a "Former smoker", a "Never smoker"), and a copy of a Synthea bundle with a relative's
FamilyMemberHistory (mCODE's loose resource of Jenny's sister, re-pointed at the Synthea patient)
and a pack-years Observation planted into it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from board_support import JENNY, SHARED, Case, add, bundle, planted, shared_synthea

from medboard.agents.synthesizer.board.base import state
from medboard.api import run_case_sync
from medboard.models import SectionKind, VerdictLabel
from medboard.models.sections import BOARD_BY_KIND
from medboard.tools.checks.pipeline import verify_statement

HISTORY = SectionKind.history
SISTER_FILE = SHARED / "mcode" / "FamilyMemberHistory-family-member-history-sister-jenny-m.json"


def _supported(case: Case) -> list[str]:
    """The history section's texts, each checked to be `supported` by the real verifier."""
    statements = case.section(HISTORY).statements
    for statement in statements:
        verdict = case.verdict(statement)
        assert verdict.verdict == VerdictLabel.supported, (statement.text, verdict.reason)
    return [s.text for s in statements]


def test_jennys_risk_factors_are_stated_cited_and_supported() -> None:
    case = Case(JENNY)
    assert _supported(case) == [
        "Tobacco smoking status: Smokes tobacco daily on 2018-03-16; 20 pack-years on 2018-03-16.",
        "Family history: maternal aunt — Malignant tumor of ovary (onset at 69 years).",
        "Family history: paternal uncle — Malignant tumor of pancreas (contributed to death); deceased.",
    ]
    cited = [(e.reference, e.path) for s in case.section(HISTORY).statements[1:] for e in s.evidence]
    assert cited == [
        ("FamilyMemberHistory/family-member-history-aunt-jenny-m", "condition[0]"),
        ("FamilyMemberHistory/family-member-history-uncle-jenny-m", "condition[0]"),
    ]
    # Stated once, here: not again in the appendix or a cancer's section.
    assert not any("Family history" in t or "smoking" in t for t in case.stated_elsewhere(HISTORY))
    # Laid out after the therapy context and before imaging.
    kinds = [s.kind for s in case.sections]
    assert kinds.index(SectionKind.medications) < kinds.index(HISTORY) < kinds.index(SectionKind.imaging)
    assert case.section(HISTORY).title == BOARD_BY_KIND[HISTORY].title == "Risk factors and history"


def test_jennys_summary_states_them_with_supported_verdicts(tmp_path: Path) -> None:
    """The whole run (`medboard run --model none`): the published summary keeps every statement."""
    summary = run_case_sync(JENNY, model="none")
    section = summary.section(HISTORY)
    assert section is not None and section.status == "ok"
    assert [s.verdict.verdict if s.verdict else None for s in section.statements] == [
        VerdictLabel.supported
    ] * 3
    assert any("paternal uncle" in s.text for s in section.statements)


def test_a_synthea_former_smoker_is_stated_with_its_date() -> None:
    case = Case(shared_synthea("austin_franecki"))
    assert _supported(case) == ["Tobacco smoking status NHIS: Former smoker on 1988-09-10."]
    (statement,) = case.section(HISTORY).statements
    assert statement.evidence[0].reference == "Observation/fc38aad9-b2cc-452f-906d-689987e6ef5d"


def _pack_years(resource_id: str, value: float, when: str) -> dict[str, Any]:
    """Pack-years as US Core's example codes them (SNOMED CT 782516008), filed as social history."""
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "social-history",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "782516008",
                    "display": "Number of calculated smoking pack years (observable entity)",
                }
            ]
        },
        "subject": {},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value,
            "unit": "{PackYears}",
            "system": "http://unitsofmeasure.org",
            "code": "{PackYears}",
        },
    }


def test_a_relative_planted_into_a_synthea_bundle_appears(tmp_path: Path) -> None:
    if not SISTER_FILE.is_file():
        pytest.skip("the loose mCODE FamilyMemberHistory files are not available")
    data = bundle(shared_synthea("darin_skiles"))
    sister = add(data, json.loads(SISTER_FILE.read_text()))
    father = add(
        data,
        {
            "resourceType": "FamilyMemberHistory",
            "id": "planted-father",
            "status": "completed",
            "patient": {},
            "relationship": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                        "code": "FTH",
                        "display": "father",
                    }
                ]
            },
            "deceasedDate": "2001-05-04",
        },
    )
    add(data, _pack_years("planted-pack-years", 12.5, "2019-01-20"))
    case = Case(planted(data, tmp_path))
    assert _supported(case) == [
        "Tobacco smoking status NHIS: Never smoker on 2020-08-23; 12.5 pack-years on 2019-01-20.",
        "Family history: natural sister — Malignant neoplasm of breast (onset at 64 years).",
        "Family history: father; deceased on 2001-05-04.",
    ]
    refs = [e.reference for s in case.section(HISTORY).statements[1:] for e in s.evidence]
    assert refs == [sister, father]


def test_the_verifier_catches_a_hand_edited_relative() -> None:
    """The words a family history states are checked, not merely present: a wrong onset, a death
    the record does not hold, or a cause of death it does not give is contradicted."""
    case = Case(JENNY)
    aunt = next(f for f in case.findings if "maternal aunt" in f.text)
    for edited in (
        "Family history: maternal aunt — Malignant tumor of ovary (onset at 59 years).",
        "Family history: maternal aunt — Malignant tumor of ovary (onset at 69 years); deceased.",
        "Family history: maternal aunt — Malignant tumor of ovary (contributed to death).",
    ):
        forged = aunt.model_copy(update={"text": edited, "id": "forged"})
        statement = state(HISTORY, edited, [forged])
        verdict = verify_statement(statement, [*case.findings, forged], case.record, case.picture.case_date)
        assert verdict.verdict == VerdictLabel.contradicted, (edited, verdict.reason)
