"""Every expectation type against one real run (Jenny M, deterministic pipeline): each passes when
the summary says what it asks, fails when it does not, and its report carries what a reviewer needs
(what was expected, what was found, the statements with their evidence)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scenario_support import jenny_scenario

from medboard.scenarios.checks import Outcome, check
from medboard.scenarios.report import evaluate_one, failure_text
from medboard.scenarios.runner import ScenarioRun, run_scenario_sync
from medboard.scenarios.spec import Scenario, load_scenario


@pytest.fixture(scope="module")
def jenny_run(tmp_path_factory: pytest.TempPathFactory) -> ScenarioRun:
    folder = tmp_path_factory.mktemp("jenny")
    scenario = load_scenario(jenny_scenario(folder, "- type: no_discrepancies"))
    return run_scenario_sync(scenario)


def outcome(run: ScenarioRun, folder: Path, expect: str, **options: bool) -> tuple[Outcome, Scenario]:
    """Check one expectation (YAML list item) on the shared run."""
    scenario = load_scenario(jenny_scenario(folder, expect))
    run.scenario = scenario
    return check(scenario.expect[0], run, **options), scenario


def test_appears_by_concept_code_cites_text_and_pattern(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    for selector in (
        "concept: biomarker:ER",
        "code: http://loinc.org|85337-4",
        "code: '85337-4'",
        "cites: [Observation/tumor-marker-test-er-jenny-m]",
        "text: estrogen receptor",
        "pattern: 'Estrogen receptor.*Positive'",
    ):
        result, _ = outcome(jenny_run, tmp_path, f"- type: appears\n  {selector}\n  section: cancer")
        assert result.passed, (selector, result)
    result, _ = outcome(jenny_run, tmp_path, "- type: appears\n  code: http://snomed.info/sct|85337-4")
    assert not result.passed, "a code of another system is another code"


def test_appears_fails_with_where_else_it_is_and_what_the_section_holds(
    jenny_run: ScenarioRun, tmp_path: Path
) -> None:
    result, _ = outcome(jenny_run, tmp_path, "- type: appears\n  text: ER Positive\n  section: cancer")
    assert not result.passed and result.found == "0 matching statement(s) in `cancer`"
    text = "\n".join(result.details)
    assert "matching statements in other sections (1):" in text
    assert '[headline] (supported) "ER Positive, PR Negative' in text
    assert "statements in `cancer` (" in text and "← Condition/primary-cancer-condition-jenny-m" in text


def test_a_concept_not_in_the_picture_says_so(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    result, _ = outcome(jenny_run, tmp_path, "- type: appears\n  concept: biomarker:KRAS")
    assert not result.passed
    assert "concept: biomarker:KRAS: not in the clinical picture" in result.details


def test_min_count(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    result, _ = outcome(jenny_run, tmp_path, "- type: appears\n  concept: biomarker:ER\n  min_count: 3")
    assert not result.passed and result.found.startswith("2 matching")  # headline + cancer section


def test_absent_fails_with_the_statements_and_their_evidence(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    result, _ = outcome(
        jenny_run, tmp_path, "- type: absent\n  concept: medication:anastrozole\n  section: medications"
    )
    assert not result.passed and result.found == "1 matching statement(s):"
    assert result.details[0].startswith('[medications] (supported) "Current medication: anastrozole')
    assert "← MedicationRequest/cancer-related-medication-request-anastrozole-jenny-m" in result.details[0]
    passed, _ = outcome(jenny_run, tmp_path, "- type: absent\n  text: no cancer")
    assert passed.passed


def test_headline_mentions_and_word_limit(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    result, _ = outcome(
        jenny_run, tmp_path, "- type: headline\n  mentions: [cancer:breast, biomarker:ER, vital_status]"
    )
    assert result.passed
    result, _ = outcome(
        jenny_run,
        tmp_path,
        "- type: headline\n  mentions: [biomarker:ER, lab:Body weight]\n  mentions_text: [tamoxifen]\n"
        "  max_words: 10",
    )
    assert not result.passed
    assert result.found == "missing: lab:Body weight, 'tamoxifen'"
    text = "\n".join(result.details)
    assert "not cited by the headline: lab:Body weight = lab Body weight" in text
    assert "words (at most 10)" in text and '[headline] (supported) "Jenny M, 53-year-old female' in text


def test_discrepancy_found_or_not(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    found, _ = outcome(
        jenny_run,
        tmp_path,
        "- type: discrepancy\n  kind: stage_mismatch\n  cites: [Condition/primary-cancer-condition-jenny-m]",
    )
    assert found.passed and "IIIC" in found.found
    wrong, _ = outcome(
        jenny_run,
        tmp_path,
        "- type: discrepancy\n  kind: stage_mismatch\n"
        "  cites: [Observation/tnm-pathologic-stage-group-jenny-m]",
    )
    assert not wrong.passed and wrong.found == "none citing all of them"
    assert any(line.startswith("stage_mismatch (warning):") for line in wrong.details)
    assert "not in the record at all: Observation/tnm-pathologic-stage-group-jenny-m" in wrong.details
    other, _ = outcome(jenny_run, tmp_path, "- type: discrepancy\n  kind: laterality_conflict")
    assert not other.passed and other.found == "none of that kind"
    assert "other discrepancies (1):" in other.details


def test_no_discrepancies(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    any_kind, _ = outcome(jenny_run, tmp_path, "- type: no_discrepancies")
    assert not any_kind.passed and any_kind.details[0].startswith("stage_mismatch")
    other_kinds, _ = outcome(jenny_run, tmp_path, "- type: no_discrepancies\n  kinds: [after_death]")
    assert other_kinds.passed


def test_status_checks_the_picture_and_the_statements_claims(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    result, _ = outcome(
        jenny_run,
        tmp_path,
        "- type: status\n  medications: {anastrozole: current, cyclophosphamide: [stale, stopped]}\n"
        "  lines: {cyclophosphamide + doxorubicin + paclitaxel: stopped}",
    )
    assert result.passed, result
    result, _ = outcome(
        jenny_run,
        tmp_path,
        "- type: status\n  medications: {anastrozole: stopped, tamoxifen: current}\n"
        "  lines: {letrozole: current}",
    )
    assert not result.passed
    assert "anastrozole is current" in result.found
    assert "a statement says anastrozole is current" in result.found, "the summary's claim is checked too"
    assert (
        "tamoxifen: not in the picture" in result.found
        and "line letrozole: not in the picture" in result.found
    )
    text = "\n".join(result.details)
    assert "medications in the picture: anastrozole, cyclophosphamide, doxorubicin, paclitaxel" in text
    assert "Current medication: anastrozole" in text


def test_verdict_limits(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    ok, _ = outcome(jenny_run, tmp_path, "- type: verdicts\n  max_unsupported: 0")
    assert ok.passed and "contradicted 0" in ok.found
    strict, _ = outcome(jenny_run, tmp_path, "- type: verdicts\n  max_unverifiable: 0")
    assert not strict.passed and strict.found.startswith("unverifiable ")
    assert strict.details[0] == "unverifiable statements:"
    assert "(unverifiable)" in strict.details[1] and "[verifier: " in strict.details[1]


def test_budget(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    ok, _ = outcome(jenny_run, tmp_path, "- type: budget\n  wall_s: 120\n  model_calls: 0\n  tokens: 0")
    assert ok.passed and "0 model calls" in ok.found
    tight, _ = outcome(jenny_run, tmp_path, "- type: budget\n  wall_s: 0.0001")
    assert not tight.passed and tight.found.startswith("wall time ")
    assert any(line.startswith("ehr: ok") for line in tight.details)


def test_section_state(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    ok, _ = outcome(
        jenny_run, tmp_path, "- type: section\n  kind: cancer\n  status: ok\n  min_statements: 10"
    )
    assert ok.passed
    empty, _ = outcome(jenny_run, tmp_path, "- type: section\n  kind: imaging\n  status: ok")
    assert not empty.passed and empty.found == "`Imaging` is empty"
    none, _ = outcome(jenny_run, tmp_path, "- type: section\n  kind: trial_screen")
    assert not none.passed and none.found == "no such section"


def test_snapshot_missing_written_equal_then_diffed(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    expect = "- type: snapshot\n  path: snaps/jenny.json"
    missing, _ = outcome(jenny_run, tmp_path, expect)
    assert not missing.passed and missing.found == "no snapshot stored yet"
    written, _ = outcome(jenny_run, tmp_path, expect, update_snapshots=True)
    stored_path = tmp_path / "snaps" / "jenny.json"
    assert written.passed and stored_path.is_file()
    stored = json.loads(stored_path.read_text())
    first = stored["statements"][0]
    assert set(first) == {"section", "text", "verdict", "evidence"}, "no ids, timings or run metadata"
    same, _ = outcome(jenny_run, tmp_path, expect)
    assert same.passed and same.found.endswith("unchanged")
    stored["statements"][0]["text"] = "Jenny M, 54-year-old female, alive."
    stored_path.write_text(json.dumps(stored))
    changed, _ = outcome(jenny_run, tmp_path, expect)
    assert not changed.passed and changed.found.startswith("2 statement line(s) differ")
    assert (
        "-[headline] (supported) Jenny M, 54-year-old female, alive. <- Patient/cancer-patient-jenny-m"
        in (changed.details)
    )
    assert any(
        line.startswith("+[headline] (supported) Jenny M, 53-year-old female") for line in changed.details
    )


def test_a_failure_report_names_the_file_line_expectation_and_why(
    jenny_run: ScenarioRun, tmp_path: Path
) -> None:
    expect = (
        "- type: appears\n  name: er-in-medications\n  concept: biomarker:ER\n  section: medications\n"
        "  why: The board reads receptor status next to the drugs."
    )
    scenario = load_scenario(jenny_scenario(tmp_path, expect))
    jenny_run.scenario = scenario
    report = failure_text(scenario, evaluate_one(scenario, jenny_run, 0))
    lines = report.splitlines()
    assert lines[0] == "scenario_jenny.yaml:9 expect[0] appears (er-in-medications) FAILED"
    assert lines[1] == "  why:      The board reads receptor status next to the drugs."
    assert lines[2] == "  expected: a statement citing biomarker:ER in section `medications`"
    assert lines[3] == "  found:    0 matching statement(s) in `medications`"
    assert "    concept: biomarker:ER = biomarker ER of Primary malignant neoplasm" in report
    assert "Observation/tumor-marker-test-er-jenny-m" in report


def test_a_replay_miss_fails_every_expectation_with_the_diff(jenny_run: ScenarioRun, tmp_path: Path) -> None:
    scenario = load_scenario(jenny_scenario(tmp_path, "- type: no_discrepancies\n  kinds: [after_death]"))
    missed = ScenarioRun(
        scenario=scenario,
        summary=None,
        picture=None,
        record=None,
        replay_miss="no recording matches.\nPrompt diff (recorded -> requested):\n-old line\n+new line",
    )
    result = check(scenario.expect[0], missed)
    assert not result.passed and "strict replay" in result.found
    assert result.details[-2:] == ["-old line", "+new line"]
