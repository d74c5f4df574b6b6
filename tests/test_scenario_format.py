"""The scenario format: what a valid file reads as, and every bad input as one error that names the
file, the key and the line — never an expectation silently ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scenario_support import ROOT, jenny_scenario, write_scenario

from medboard.cli.main import main
from medboard.scenarios.runner import load_inputs, resolve_specialists, run_file
from medboard.scenarios.spec import (
    Appears,
    CassetteModel,
    ScenarioInputError,
    find_scenarios,
    json_schema,
    load_scenario,
)


def error_of(path: Path) -> ScenarioInputError:
    with pytest.raises(ScenarioInputError) as caught:
        load_scenario(path)
    return caught.value


def test_a_valid_scenario_reads_with_its_lines(tmp_path: Path) -> None:
    path = jenny_scenario(
        tmp_path,
        """
        - type: appears
          concept: biomarker:ER
          section: cancer
        - type: status
          medications: {anastrozole: current}
        """,
    )
    scenario = load_scenario(path)
    assert scenario.label == "jenny" and scenario.tags == ["breast"]
    assert isinstance(scenario.expect[0], Appears) and scenario.expect[0].concept == "biomarker:ER"
    assert scenario.inputs.case_date == "2018-11-01", "dates stay the strings written"
    assert scenario.line_of("expect", 0) == 9 and scenario.line_of("expect", 1) == 12
    assert scenario.expectation_name(1) == "1-status"
    assert scenario.where("expect", 1, "medications") == "expect[1].medications (line 13)"


def test_yaml_syntax_error_names_the_file_the_key_and_the_line(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        """
        inputs:
          record: {JENNY}
          question: [unclosed
        expect: []
        """,
    )
    error = error_of(path)
    assert error.source == str(path)
    assert "invalid YAML" in error.problem
    assert error.location is not None and "line 4" in error.location and "`expect`" in error.location


def test_a_wrong_type_names_the_key_and_its_line(tmp_path: Path) -> None:
    path = jenny_scenario(
        tmp_path,
        """
        - type: verdicts
          max_unsupported: lots
        """,
    )
    error = error_of(path)
    assert error.source == str(path)
    assert error.location == "expect[0].max_unsupported (line 10)"
    assert "valid integer" in error.problem
    assert str(error).startswith(f"{path}: expect[0].max_unsupported (line 10): ")


def test_an_unknown_expectation_type_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    path = jenny_scenario(
        tmp_path,
        """
        - type: appears
          text: anastrozole
        - type: apears
          text: anastrozole
        """,
    )
    error = error_of(path)
    assert error.location == "expect[1].type (line 11)"
    assert "unknown expectation type 'apears'" in error.problem
    assert "appears, absent, headline, discrepancy" in error.problem


def test_an_unknown_key_is_refused_not_ignored(tmp_path: Path) -> None:
    path = jenny_scenario(
        tmp_path,
        """
        - type: appears
          text: anastrozole
          sektion: medications
        """,
    )
    error = error_of(path)
    assert error.location == "expect[0].sektion (line 11)"
    assert "unknown key" in error.problem


@pytest.mark.parametrize(
    ("expect", "location", "words"),
    [
        ("- text: anastrozole", "expect[0].type (line 9)", "needs `type:`"),
        ("- type: appears\n  section: cancer", "expect[0] (line 9)", "exactly one of `code`, `concept`"),
        ("- type: appears\n  text: a\n  concept: biomarker:ER", "expect[0] (line 9)", "exactly one of"),
        ("- type: appears\n  concept: tumour:ER", "expect[0].concept (line 10)", "should match pattern"),
        (
            "- type: appears\n  pattern: '(unclosed'",
            "expect[0].pattern (line 10)",
            "not a regular expression",
        ),
        ("- type: budget", "expect[0] (line 9)", "give `wall_s`"),
        ("- type: status\n  medications: {x: taken}", "expect[0].medications.x (line 10)", "'current'"),
    ],
)
def test_expectation_problems_are_located(tmp_path: Path, expect: str, location: str, words: str) -> None:
    error = error_of(jenny_scenario(tmp_path, expect))
    assert error.location == location
    assert words in error.problem


def test_a_bad_model_and_a_bad_endpoint_are_refused(tmp_path: Path) -> None:
    error = error_of(jenny_scenario(tmp_path, "- type: no_discrepancies", model="{casette: x.jsonl}"))
    assert (
        error.location == "model (line 7)"
        and "`none`, {cassette: PATH} or {live: local|URL}" in error.problem
    )
    error = error_of(jenny_scenario(tmp_path, "- type: no_discrepancies", model="{live: gpu-host:8000}"))
    assert error.location == "model.live (line 7)" and "http(s) URL" in error.problem


def test_inputs_need_exactly_one_record_source(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "inputs:\n  question: q\nexpect:\n  - type: no_discrepancies\n")
    error = error_of(path)
    assert error.location == "inputs (line 1)" and "exactly one of `record`" in error.problem
    error = error_of(write_scenario(tmp_path, "inputs:\n  record: {JENNY}\n"))
    assert error.location == "expect (line 1)" and error.problem == "required key missing"


def test_a_missing_input_file_names_the_key_and_line(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        """
        inputs:
          record: data/nowhere.json
        expect:
          - type: no_discrepancies
        """,
    )
    with pytest.raises(ScenarioInputError) as caught:
        load_inputs(load_scenario(path))
    assert caught.value.location == "inputs.record (line 2)"
    assert "'data/nowhere.json' not found" in caught.value.problem


def test_a_missing_image_and_a_missing_cassette_are_clear(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        """
        inputs:
          record: {JENNY}
          images:
            - path: {DATA}/imaging/mr_brain_tumor/brain1_image.nrrd
              mask: masks/missing.nrrd
        expect:
          - type: no_discrepancies
        """,
    )
    with pytest.raises(ScenarioInputError) as caught:
        load_inputs(load_scenario(path))
    assert caught.value.location == "inputs.images[0].mask (line 5)"
    path = jenny_scenario(tmp_path, "- type: no_discrepancies", model="{cassette: cassettes/none.jsonl}")
    result = run_file(path)
    assert result is not None and result.exit_code == 2
    assert result.error is not None and "model.cassette (line 7)" in result.error
    assert "record it with `medboard scenarios run" in result.error


def test_specialists_resolve_or_fail_with_their_line(tmp_path: Path) -> None:
    base = "inputs:\n  record: {JENNY}\nexpect:\n  - type: no_discrepancies\n"
    path = write_scenario(tmp_path, base + "specialists: [ehr, default]\n")
    names = [cls.agent_name for cls in resolve_specialists(load_scenario(path)) or []]
    assert names == ["ehr", "imaging", "longitudinal"]
    path = write_scenario(tmp_path, base + "specialists: [ehr, radiomics]\n")
    with pytest.raises(ScenarioInputError) as caught:
        resolve_specialists(load_scenario(path))
    assert (
        caught.value.location == "specialists[1] (line 5)"
        and "no registered specialist 'radiomics'" in str(caught.value)
    )
    path = write_scenario(tmp_path, base + "specialists: [nowhere_module:Thing]\n")
    with pytest.raises(ScenarioInputError, match="cannot import 'nowhere_module'"):
        resolve_specialists(load_scenario(path))
    (tmp_path / "not_a_specialist.py").write_text("class Thing:\n    pass\n")
    path = write_scenario(tmp_path, base + "specialists: [not_a_specialist:Thing]\n")
    with pytest.raises(ScenarioInputError, match=r"not a medboard\.agents\.specialist\.Specialist subclass"):
        resolve_specialists(load_scenario(path))


def test_the_published_schema_is_the_cli_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    stored = json.loads((ROOT / "docs" / "scenario.schema.json").read_text())
    assert printed == json_schema() == stored, (
        "regenerate: medboard scenarios schema > docs/scenario.schema.json"
    )
    kinds = {ref["$ref"].rsplit("/", 1)[1] for ref in printed["properties"]["expect"]["items"]["oneOf"]}
    assert {"Appears", "Absent", "Headline", "DiscrepancyFound", "Status", "Snapshot"} <= kinds


def test_every_bundled_scenario_is_valid_and_found() -> None:
    files = find_scenarios([ROOT / "scenarios"])
    assert len(files) >= 15
    planted = [load_scenario(p) for p in files if p.name.startswith("scenario_planted_")]
    assert len(planted) >= 4
    for scenario in planted:
        kinds = [e.type for e in scenario.expect]
        assert "discrepancy" in kinds and ("status" in kinds or "absent" in kinds or "appears" in kinds)
    cassettes = [s for s in map(load_scenario, files) if isinstance(s.model, CassetteModel)]
    assert all(s.resolve(s.model.cassette).is_file() for s in cassettes if isinstance(s.model, CassetteModel))
