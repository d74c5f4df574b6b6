"""Regressions found by sweeping every official FHIR R4 example (and the shared records) through
the loader and the no-model case flow. Each test uses real example files, unchanged (see
tests/data/fhir/r4examples/SOURCE.md), and asserts what any record of the same shape must get.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from medboard.errors import FhirInputError
from medboard.models import CaseSummary, SectionKind, VerdictLabel
from medboard.orchestrator.case import load_case
from medboard.orchestrator.flow import run_case_flow
from medboard.tools.checks.pipeline import FAILING
from medboard.tools.fhir import load_record

DATA = Path(__file__).parent / "data" / "fhir"
R4 = DATA / "r4examples"


async def summarise(path: Path) -> CaseSummary:
    return await run_case_flow(load_case(path), caller=None)


def flagged(summary: CaseSummary) -> list[str]:
    """Statements the verifier did not accept, and everything struck: none expected from facts."""
    bad = [
        f"{s.text} -> {s.verdict.reason}"
        for s in summary.statements()
        if s.verdict and s.verdict.verdict in {VerdictLabel.contradicted, VerdictLabel.unsupported}
    ]
    return bad + [f"struck: {s.statement.text} -> {s.reason}" for s in summary.struck]


# --- verifier false alarms on correct deterministic statements ------------------------------------


async def test_condition_named_with_a_negation_word_is_not_negated() -> None:
    """'... heart disease without congestive heart failure': the 'without' is the name's."""
    summary = await summarise(DATA / "mcode" / "Condition-us-core-condition-hypertension-jenny-m.json")
    assert flagged(summary) == []
    problems = [s for s in summary.statements() if "without" in s.text]
    assert problems and all(s.verdict.verdict == VerdictLabel.supported for s in problems)


def test_negating_a_condition_named_with_a_negation_word_is_still_caught() -> None:
    from medboard.tools.checks.evidence import resolve_citations
    from medboard.tools.checks.status import check_status

    record = load_record(DATA / "mcode" / "Condition-us-core-condition-hypertension-jenny-m.json")
    (fact,) = record.facts_of("condition")
    assert "without" in fact.label and fact.status == "active"
    cited = resolve_citations([fact.evidence], record)
    assert check_status(f"Active problem: {fact.label}.", cited, record).outcome == "pass"
    assert check_status(f"No {fact.label}.", cited, record).outcome == "fail"


async def test_pressure_written_mm_space_hg_is_read_as_one_unit() -> None:
    """valueQuantity.unit 'mm Hg' (UCUM code mm[Hg]) quoted in the statement: the same unit."""
    summary = await summarise(R4 / "Observation-map-sitting.json")
    assert flagged(summary) == []
    assert any("mm Hg" in s.text for s in summary.statements())

    from medboard.tools.checks.extract import extract_claims
    from medboard.tools.checks.units import compare

    (quantity,) = extract_claims("Mean blood pressure: 60 mm Hg on 2018-04-02.", None).quantities
    assert (quantity.value, quantity.unit) == (60.0, "mm Hg")
    assert compare(60, "60", "mm Hg", 60, "mm[Hg]").agrees
    assert compare(60, "60", "mm Hg", 8, "kPa").agrees  # 8 kPa = 60.0 mmHg
    assert not compare(60, "60", "mm Hg", 60, "kPa").agrees


async def test_recist_not_computable_is_a_data_quality_statement_not_a_struck_one() -> None:
    summary = await summarise(DATA / "mcode" / "Observation-tumor-size-pathology.json")
    assert flagged(summary) == []
    (finding,) = [f for f in summary.findings if f.text.startswith("No RECIST response")]
    assert "one time point" in finding.text and finding.evidence  # says why, still cites the measurement
    # stated once, as data quality: citing the measurement, left open by the rules, never struck
    (stated,) = [s for s in summary.statements() if finding.id in s.finding_ids]
    assert stated.text == finding.text
    section = summary.section(SectionKind.data_quality)
    assert section is not None and stated in section.statements
    assert stated.verdict is not None  # checked, and not failed (`flagged` above)
    assert finding.text not in [q for s in summary.sections for q in s.open_questions]


@pytest.mark.parametrize(
    "name", ["MedicationAdministration-medadmin0301.json", "MedicationDispense-meddisp0301.json"]
)
async def test_in_progress_administration_or_dispense_called_current_is_supported(name: str) -> None:
    summary = await summarise(R4 / name)
    assert flagged(summary) == []
    (statement,) = [s for s in summary.statements() if s.text.startswith("Current medication")]
    # current by the clinical picture: the in-progress source is evidence on the case date
    assert statement.claim is not None and statement.claim.concept == "medication"
    assert statement.claim.status == "current"
    assert statement.verdict.verdict == VerdictLabel.supported, statement.verdict.reason


def test_in_progress_medication_called_stopped_is_contradicted() -> None:
    from medboard.tools.checks.evidence import resolve_citations
    from medboard.tools.checks.status import check_status

    record = load_record(R4 / "MedicationAdministration-medadmin0301.json")
    (fact,) = record.facts_of("medication")
    cited = resolve_citations([fact.evidence], record)
    assert check_status(f"{fact.label} was discontinued.", cited, record).outcome == "fail"


# --- loader ---------------------------------------------------------------------------------------


def test_empty_nested_search_in_a_batch_response_adds_nothing() -> None:
    record = load_record(R4 / "Bundle-bundle-response.json")
    assert record.patient is not None and record.patient_id
    assert not record.skipped


def test_r4_only_resource_type_loads_unvalidated_with_a_warning() -> None:
    record = load_record(R4 / "MedicinalProduct-example.json")
    assert "MedicinalProduct/example" in record.resources
    assert any("MedicinalProduct is an R4 resource type" in w for w in record.warnings)
    assert any("demographics are missing" in w for w in record.warnings)


def test_misspelt_type_is_still_unknown() -> None:
    data = json.loads((R4 / "MedicinalProduct-example.json").read_text())
    data["resourceType"] = "MedicinalProducts"
    with pytest.raises(FhirInputError, match="unknown resourceType 'MedicinalProducts'"):
        load_record(data)


def test_translation_extension_on_an_extension_value_is_valid() -> None:
    """``extension[i]._valueString`` (FHIR JSON primitive extension) that the R4B models reject."""
    source = json.loads((R4 / "CodeSystem-v2-0061.json").read_text())
    assert "_valueString" in json.dumps(source)
    record = load_record(R4 / "CodeSystem-v2-0061.json")
    assert record.resources["CodeSystem/v2-0061"] == source  # kept as the source wrote it

    broken = copy.deepcopy(source)
    broken["concept"][0]["extension"][0]["_valueStrin"] = {"id": "x"}
    with pytest.raises(FhirInputError, match="_valueStrin: unknown element"):
        load_record(broken)


def test_versions_of_one_resource_keep_the_latest() -> None:
    """Bundle-bundle-references carries Patient/45 twice (versionId 1 and 2) under one fullUrl."""
    record = load_record(R4 / "Bundle-bundle-references.json", lenient=True, patient="45")
    assert record.patient["meta"]["versionId"] == "2"
    assert any("several versions; keeping version 2" in w for w in record.warnings)


def test_same_id_on_two_servers_is_a_clean_duplicate_error() -> None:
    """Observation/14 from http://example.org/fhir and …/fhir-2: ambiguous as ``Type/id``."""
    with pytest.raises(FhirInputError, match=r"entry\[6\] \(Observation/14\): duplicate id Observation/14"):
        load_record(R4 / "Bundle-bundle-references.json", patient="45")


def test_lenient_load_with_nothing_left_says_why() -> None:
    data = json.loads((R4 / "Observation-map-sitting.json").read_text())
    data["valueQuantity"]["value"] = "sixty"
    with pytest.raises(FhirInputError) as error:
        load_record(data, lenient=True)
    assert "the only entry was skipped" in str(error.value)
    assert "Observation.valueQuantity.value" in str(error.value)


# --- case folders ---------------------------------------------------------------------------------


async def test_case_folder_of_resource_files_is_one_record(tmp_path: Path) -> None:
    for name in ("MedicationAdministration-medadmin0301.json", "MedicationDispense-meddisp0301.json"):
        (tmp_path / name).write_bytes((R4 / name).read_bytes())
    case = load_case(tmp_path)
    assert case.record.patient_id == "pat1"
    assert {"MedicationAdministration/medadmin0301", "MedicationDispense/meddisp0301"} <= set(
        case.record.resources
    )
    summary = await run_case_flow(case, caller=None)
    assert flagged(summary) == []


# --- CLIs -------------------------------------------------------------------------------------------


def test_trends_picks_one_patient_of_a_multi_patient_source(capsys: pytest.CaptureFixture[str]) -> None:
    from medboard.cli.main import main

    bulk = DATA / "bulk"
    assert main(["trends", str(bulk), "--json"]) == 2
    assert "--patient" in capsys.readouterr().err
    assert main(["trends", str(bulk), "--patient", "p1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["patient"] == "Patient/p1"


async def test_synthea_bundle_split_into_ndjson_keeps_its_urn_uuid_references(tmp_path: Path) -> None:
    """Resources out of a Synthea bundle, as Bulk-Data-style NDJSON (no fullUrls left): their
    ``urn:uuid:<id>`` references still name the resources with those ids."""
    bundle_path = DATA / "synthea" / "loyd_connelly.json"
    bundle = json.loads(bundle_path.read_text())
    by_type: dict[str, list[str]] = {}
    for entry in bundle["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(json.dumps(entry["resource"]))
    for resource_type, lines in by_type.items():
        (tmp_path / f"{resource_type}.ndjson").write_text("\n".join(lines))

    original, split = load_record(bundle_path), load_record(tmp_path)
    assert split.patient_id == original.patient_id
    assert not split.dangling or len(split.dangling) == len(original.dangling)
    assert sorted((f.id, str(f.value), f.date) for f in split.facts) == sorted(
        (f.id, str(f.value), f.date) for f in original.facts
    )
    summary = await run_case_flow(load_case(tmp_path), caller=None)
    # Every citation resolves: nothing is unsupported, and the only contradictions are the
    # record-global ones (the template's "Current medication"/"ongoing" from a 2004 order, its
    # implausible values: true of the cited resource, false of the patient at the case date).
    judged = [*summary.statements(), *(s.statement for s in summary.struck)]
    failing = [s for s in judged if s.verdict and s.verdict.verdict in FAILING]
    by_citation = [
        s.text
        for s in failing
        if {c.name for c in s.verdict.checks if c.outcome == "fail"} - {"record_agrees", "claim_agrees"}  # type: ignore[union-attr]
    ]
    assert by_citation == [] and len(judged) > 20
    assert all(s.verdict.verdict == VerdictLabel.contradicted for s in failing)  # type: ignore[union-attr]


# --- what the rules can decide on deterministic statements ------------------------------------------


async def test_imaging_study_series_and_instance_counts_are_checked() -> None:
    summary = await summarise(R4 / "ImagingStudy-example-xr.json")
    (statement,) = [s for s in summary.statements() if s.text.startswith("Imaging study")]
    assert "1 series, 2 instances" in statement.text and "not available" in statement.text
    assert statement.verdict.verdict == VerdictLabel.supported, statement.verdict.reason

    from medboard.tools.checks.arithmetic import check_counts
    from medboard.tools.checks.evidence import resolve_citations

    record = load_record(R4 / "ImagingStudy-example-xr.json")
    cited = resolve_citations(statement.evidence, record)
    assert check_counts(statement.text, cited, record).outcome == "pass"
    wrong = statement.text.replace("2 instances", "5 instances")
    assert check_counts(wrong, cited, record).outcome != "pass"


async def test_a_missing_value_said_not_recorded_is_not_a_negation() -> None:
    """'gender not recorded' is about the record's data, like 'no LOINC code'."""
    summary = await summarise(R4 / "Patient-ihe-pcd.json")
    (statement,) = [s for s in summary.statements() if "not recorded" in s.text]
    assert statement.verdict.verdict == VerdictLabel.supported, statement.verdict.reason


def test_a_negative_quoted_from_the_cited_value_is_the_records_own() -> None:
    """'Not Applicable' quoted from a staging value, 'negative for …' from a valueString."""
    from medboard.models import Statement
    from medboard.tools.checks.pipeline import verify_statement

    data = json.loads((R4 / "Observation-map-sitting.json").read_text())
    data.pop("valueQuantity")
    data["valueString"] = "not elevated"
    record = load_record(data)
    (fact,) = record.facts_of("vital", "observation", "lab")
    text = f"{fact.label}: not elevated on {fact.date[:10]}."
    statement = Statement(id="s1", text=text, evidence=[fact.evidence])
    verdict = verify_statement(statement, {}, record)
    assert verdict.verdict == VerdictLabel.supported, verdict.reason


async def test_medication_on_hold_is_not_called_current() -> None:
    summary = await summarise(R4 / "MedicationDispense-meddisp0312.json")
    (statement,) = [s for s in summary.statements() if "(status on-hold)" in s.text]
    assert statement.text.startswith("Medication on hold: ")
    assert statement.verdict.verdict == VerdictLabel.supported, statement.verdict.reason


async def test_a_lone_non_patient_resource_loads_and_runs_with_a_warning() -> None:
    record = load_record(R4 / "Organization-hl7.json")
    assert record.patient_id is None and record.facts == []
    assert any("demographics are missing" in w for w in record.warnings)
    summary = await summarise(R4 / "Organization-hl7.json")
    assert summary.patient is None and flagged(summary) == []
    assert all(run.status != "failed" for run in summary.run.agents)
