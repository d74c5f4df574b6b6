"""The pytest plugin, run in a nested pytest (`pytester`): one item per expectation, the case run
once per file, readable failure reports, bad scenario files as collection errors, tag selection,
the prompt diff of a strict-replay miss, snapshot updates and the local-model skip."""

from __future__ import annotations

import shutil

import pytest
from scenario_support import JENNY_CASSETTE, JENNY_QUESTION, jenny_scenario

pytest_plugins = ("pytester",)


def in_order(output: str, *parts: str) -> None:
    """Each part occurs in `output`, in this order (literal text: report lines hold brackets)."""
    position = 0
    for part in parts:
        found = output.find(part, position)
        assert found >= 0, f"not found after position {position}: {part!r}\n{output}"
        position = found + len(part)


@pytest.fixture(scope="module", autouse=True)
def _imported_once(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Run one scenario in this process first: the nested in-process pytest runs drop the modules
    they import when they end, and numpy cannot be imported a second time in one process."""
    from medboard.scenarios.runner import run_file

    folder = tmp_path_factory.mktemp("warm")
    (folder / "cassettes").mkdir()
    shutil.copyfile(JENNY_CASSETTE, folder / "cassettes" / "jenny.jsonl")
    result = run_file(jenny_scenario(folder, "- type: verdicts", model="{cassette: cassettes/jenny.jsonl}"))
    assert result is not None and result.passed


EXPECT_MIXED = """
- type: status
  name: anastrozole-current
  medications: {anastrozole: current}
- type: appears
  name: er-in-medications
  concept: biomarker:ER
  section: medications
  why: Deliberately wrong, to see the report.
- type: discrepancy
  kind: stage_mismatch
  cites: [Condition/primary-cancer-condition-jenny-m]
"""

COUNTING_CONFTEST = """
import medboard.scenarios.runner as runner

RUNS = []
_original = runner.run_scenario_sync


def counting(scenario, **options):
    RUNS.append(scenario.label)
    return _original(scenario, **options)


runner.run_scenario_sync = counting


def pytest_sessionfinish(session):
    (session.config.rootpath / "runs.txt").write_text(",".join(RUNS))
"""


def test_items_per_expectation_the_case_runs_once_and_a_failure_reads_well(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(COUNTING_CONFTEST)
    jenny_scenario(pytester.path, EXPECT_MIXED)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*scenario_jenny.yaml::anastrozole-current PASSED*",
            "*scenario_jenny.yaml::er-in-medications FAILED*",
            "*scenario_jenny.yaml::2-discrepancy PASSED*",
        ]
    )
    assert (pytester.path / "runs.txt").read_text() == "jenny", "one run of the case for three items"
    in_order(
        result.stdout.str(),
        "scenario_jenny.yaml:12 expect[1] appears (er-in-medications) FAILED\n",
        "  why:      Deliberately wrong, to see the report.\n",
        "  expected: a statement citing biomarker:ER in section `medications`\n",
        "  found:    0 matching statement(s) in `medications`\n",
        "    concept: biomarker:ER = biomarker ER of Primary malignant neoplasm of female left breast",
        "    matching statements in other sections (2):\n",
        '    [headline] (supported) "ER Positive, PR Negative',
        '    [cancer] (supported) "Estrogen receptor',
        'Positive on 2018-03-10." ← Observation/tumor-marker-test-er-jenny-m "Positive"',
        "    statements in `medications` (2):\n",
    )
    assert "Traceback" not in result.stdout.str() and "def runtest" not in result.stdout.str()


def test_a_malformed_scenario_is_a_collection_error_naming_file_key_line(pytester: pytest.Pytester) -> None:
    jenny_scenario(pytester.path, "- type: verdicts\n  max_unsupported: [1]")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    in_order(
        result.stdout.str(),
        "ERROR collecting scenario_jenny.yaml",
        "scenario_jenny.yaml: expect[0].max_unsupported (line 10): Input should be a valid integer",
    )
    assert "Traceback" not in result.stdout.str()


def test_a_missing_input_fails_each_item_with_the_one_line_error(pytester: pytest.Pytester) -> None:
    jenny_scenario(pytester.path, "- type: no_discrepancies\n- type: verdicts")
    path = pytester.path / "scenario_jenny.yaml"
    path.write_text(path.read_text().replace("jenny-m.json", "jenny-x.json"))
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    in_order(
        result.stdout.str(), "ScenarioInputError (exit 2): ", "inputs.record (line 4): record ", "not found"
    )


def test_tags_select_scenarios(pytester: pytest.Pytester) -> None:
    jenny_scenario(pytester.path, "- type: no_discrepancies\n  kinds: [after_death]")
    result = pytester.runpytest("--scenario-tag", "lung")
    result.assert_outcomes(deselected=1)
    result = pytester.runpytest("--scenario-tag", "lung", "--scenario-tag", "breast")
    result.assert_outcomes(passed=1)


def test_a_strict_replay_miss_fails_with_the_prompt_diff(pytester: pytest.Pytester) -> None:
    (pytester.path / "cassettes").mkdir()
    shutil.copyfile(JENNY_CASSETTE, pytester.path / "cassettes" / "jenny.jsonl")
    path = jenny_scenario(pytester.path, "- type: verdicts", model="{cassette: cassettes/jenny.jsonl}")
    assert pytester.runpytest().ret == 0
    path.write_text(path.read_text().replace(JENNY_QUESTION, "Should she receive a CDK4/6 inhibitor?"))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    in_order(
        result.stdout.str(),
        "found:    the run did not finish: strict replay found a model request the cassette has not recorded",
        "Prompt diff (recorded -> requested):",
        "-BOARD QUESTION: Is she a candidate for breast-conserving surgery after neoadjuvant therapy?",
        "+BOARD QUESTION: Should she receive a CDK4/6 inhibitor?",
        "Re-record the cassette if the change is intended.",
    )


def test_snapshot_update_then_compare(pytester: pytest.Pytester) -> None:
    jenny_scenario(pytester.path, "- type: snapshot\n  path: snapshots/jenny.json")
    pytester.runpytest().assert_outcomes(failed=1)
    pytester.runpytest("--scenario-update-snapshots").assert_outcomes(passed=1)
    assert (pytester.path / "snapshots" / "jenny.json").is_file()
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_live_local_scenario_is_skipped_without_the_local_model(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDBOARD_LOCAL_MODEL", raising=False)
    jenny_scenario(pytester.path, "- type: verdicts\n- type: no_discrepancies", model="{live: local}")
    result = pytester.runpytest("-rs", "-m", "local_model")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*runs live against the local model: set MEDBOARD_LOCAL_MODEL=1*"])
