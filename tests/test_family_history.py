"""Family history as a fact kind, and the EHR's risk-factor findings (smoking, relatives).

Real data: Jenny M's mCODE bundle (two relatives: a maternal aunt with ovarian cancer at 69, a
paternal uncle who died of pancreatic cancer), the loose mCODE FamilyMemberHistory of her sister
planted into it, and Synthea records (smoking status under the ``survey`` category). Variations
(a second condition, a relative without one, a history entered in error) are edits of those real
resources, loaded through the real loader.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from board_support import JENNY, SHARED, add, bundle, planted, shared_synthea

from medboard.agents.ehr.core import ehr_findings
from medboard.agents.ehr.history import family_history, smoking
from medboard.agents.ehr.screen import Screen
from medboard.agents.prompting import build_case_context
from medboard.models import FactKind, Finding, FindingCategory, SectionKind
from medboard.models.fact_kinds import FamilyHistoryDetails
from medboard.tools.fhir import load_record
from medboard.tools.reconcile import build_picture

AUNT = "FamilyMemberHistory/family-member-history-aunt-jenny-m"
UNCLE = "FamilyMemberHistory/family-member-history-uncle-jenny-m"
SISTER_FILE = SHARED / "mcode" / "FamilyMemberHistory-family-member-history-sister-jenny-m.json"


def _history(record: Any) -> list[Finding]:
    return [f for f in ehr_findings(record) if f.section == SectionKind.history]


def _jenny_resource(resource_id: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle(JENNY)["entry"] if e["resource"]["id"] == resource_id)


def test_jennys_relatives_become_family_history_facts() -> None:
    record = load_record(JENNY)
    facts = {f.id: f for f in record.facts_of(FactKind.family_history)}
    assert set(facts) == {f"{AUNT}#condition[0]", f"{UNCLE}#condition[0]"}

    aunt = facts[f"{AUNT}#condition[0]"]
    assert isinstance(aunt.details, FamilyHistoryDetails)
    assert (aunt.details.relationship, aunt.details.relationship_code) == ("maternal aunt", "MAUNT")
    assert aunt.details.condition == "Malignant tumor of ovary (disorder)"
    assert (aunt.details.onset_age, aunt.details.onset_unit, aunt.details.onset) == (69, "a", "69 a")
    assert aunt.details.deceased is None and aunt.details.contributed_to_death is None
    assert [c.code for c in aunt.codes] == ["363443007"]
    assert (aunt.evidence.reference, aunt.evidence.path) == (AUNT, "condition[0]")
    assert aunt.value is None  # the aunt's age is not a measurement of the patient

    uncle = facts[f"{UNCLE}#condition[0]"]
    assert isinstance(uncle.details, FamilyHistoryDetails)
    assert uncle.details.deceased is True and uncle.details.contributed_to_death is True
    assert uncle.details.onset_age is None
    assert uncle.subject == record.patient_ref


def test_family_history_sits_next_to_genomics_in_the_case_context() -> None:
    lines = build_case_context(load_record(JENNY)).splitlines()
    family = [i for i, line in enumerate(lines) if "] family_history: " in line]
    assert len(family) == 2
    genomic = [i for i, line in enumerate(lines) if "] genomic: " in line]
    status = next(i for i, line in enumerate(lines) if "] performance_status: " in line)
    assert max(genomic) < min(family) and max(family) < status
    uncle = next(lines[i] for i in family if UNCLE in lines[i])
    assert "paternal uncle: Malignant tumor of pancreas" in uncle
    assert "contributed to death" in uncle and "relative deceased" in uncle
    assert "onset=69 a" in next(lines[i] for i in family if AUNT in lines[i])


def test_jennys_smoking_and_family_history_findings() -> None:
    findings = _history(load_record(JENNY))
    smoke, *family = findings
    assert smoke.category == FindingCategory.social_history
    assert (
        smoke.text
        == "Tobacco smoking status: Smokes tobacco daily on 2018-03-16; 20 pack-years on 2018-03-16."
    )
    assert [e.reference for e in smoke.evidence] == [
        "Observation/us-core-smokingstatus-jenny-m",
        "Observation/observation-smoking-pack-years-jenny-m",
    ]
    assert smoke.value == 20
    texts = {f.evidence[0].reference: f.text for f in family}
    assert texts == {
        AUNT: "Family history: maternal aunt — Malignant tumor of ovary (onset at 69 years).",
        UNCLE: (
            "Family history: paternal uncle — Malignant tumor of pancreas (contributed to death); deceased."
        ),
    }
    assert all(f.category == FindingCategory.family_history and "cancer_in_family" in f.tags for f in family)
    assert all(e.path == "condition[0]" for f in family for e in f.evidence)


def test_a_planted_relative_is_read_like_the_bundled_ones(tmp_path: Path) -> None:
    """The sister's loose mCODE resource (breast cancer at 64, contributedToDeath false)."""
    if not SISTER_FILE.is_file():
        pytest.skip("the loose mCODE FamilyMemberHistory files are not available")
    data = bundle(JENNY)
    reference = add(data, json.loads(SISTER_FILE.read_text()))
    record = load_record(planted(data, tmp_path))
    finding = next(f for f in _history(record) if f.evidence[0].reference == reference)
    assert (
        finding.text == "Family history: natural sister — Malignant neoplasm of breast (onset at 64 years)."
    )


def test_several_conditions_no_condition_and_a_history_entered_in_error(tmp_path: Path) -> None:
    data = bundle(JENNY)
    aunt = copy.deepcopy(_jenny_resource("family-member-history-aunt-jenny-m"))
    aunt["id"] = "aunt-two-cancers"
    aunt["sex"] = {
        "coding": [
            {"system": "http://hl7.org/fhir/administrative-gender", "code": "female", "display": "Female"}
        ]
    }
    breast = copy.deepcopy(_jenny_resource("family-member-history-aunt-jenny-m")["condition"][0])
    breast["code"]["coding"][0].update(code="254837009", display="Malignant neoplasm of breast (disorder)")
    breast["onsetAge"]["value"] = 52
    aunt["condition"].append(breast)
    father = {
        "resourceType": "FamilyMemberHistory",
        "id": "father-no-condition",
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
    }
    void = copy.deepcopy(_jenny_resource("family-member-history-uncle-jenny-m"))
    void["id"] = "uncle-in-error"
    void["status"] = "entered-in-error"
    for resource in (aunt, father, void):
        add(data, resource)
    record = load_record(planted(data, tmp_path))

    facts = [f for f in record.facts_of(FactKind.family_history) if "aunt-two-cancers" in f.id]
    assert [f.evidence.path for f in facts] == ["condition[0]", "condition[1]"]
    texts = {
        f.evidence[0].reference: f.text for f in family_history(record, Screen.of(build_picture(record)))
    }
    assert texts["FamilyMemberHistory/aunt-two-cancers"] == (
        "Family history: maternal aunt (Female) — Malignant tumor of ovary (onset at 69 years); "
        "Malignant neoplasm of breast (onset at 52 years)."
    )
    assert (
        texts["FamilyMemberHistory/father-no-condition"] == "Family history: father; deceased on 2001-05-04."
    )
    assert "FamilyMemberHistory/uncle-in-error" not in texts
    (father_fact,) = [f for f in record.facts_of(FactKind.family_history) if "father" in f.id]
    assert father_fact.evidence.path == "relationship" and father_fact.label == "father"


def test_synthea_smoking_status_is_read_from_the_survey_category() -> None:
    """Synthea files tobacco status under ``survey``: it stays an ``observation`` fact (no other
    kind's classification moves), and the latest one the case date admits is stated with its date."""
    record = load_record(shared_synthea("andy_schaden"))
    statuses = [f for f in record.facts if any(c.code == "72166-2" for c in f.codes)]
    assert statuses and {f.kind for f in statuses} == {FactKind.observation}

    (latest,) = smoking(record, Screen.of(build_picture(record)))
    assert latest.text == "Tobacco smoking status NHIS: Former smoker on 2021-02-25."
    (earlier,) = smoking(record, Screen.of(build_picture(record, case_date="2015-06-01")))
    assert earlier.text == "Tobacco smoking status NHIS: Former smoker on 2015-01-22."
    assert earlier.evidence[0].reference != latest.evidence[0].reference
