"""`medboard scenarios run`: exit codes, JSON, recording a cassette against a live endpoint and
replaying it strictly, a cassette recorded for another prompt, and a team's own specialist."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer, closed_port_url
from scenario_responder import FAKE_MODEL, scenario_responder
from scenario_support import JENNY_CASSETTE, JENNY_QUESTION, ROOT, jenny_scenario

from medboard.cli.main import main
from medboard.llm.cassette import load_cassette
from medboard.scenarios.runner import run_file

EXAMPLE = ROOT / "scenarios" / "examples" / "custom_specialist"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["scenarios", "run", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_passing_and_failing_scenarios_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jenny_scenario(tmp_path, "- type: status\n  medications: {anastrozole: current}", name="scenario_ok.yaml")
    jenny_scenario(
        tmp_path,
        "- type: status\n  medications: {anastrozole: stopped}\n- type: appears\n  concept: biomarker:ER",
        name="scenario_bad.yaml",
    )
    code, out, _ = run_cli(capsys, str(tmp_path / "scenario_ok.yaml"))
    assert (
        code == 0
        and out.startswith("PASS jenny (1/1 expectations) [none, ")
        and "1/1 scenarios passed" in out
    )
    code, out, _ = run_cli(capsys, str(tmp_path), "--json")
    assert code == 1
    body = json.loads(out)
    assert body["exit_code"] == 1 and [s["passed"] for s in body["scenarios"]] == [False, True]
    failed = body["scenarios"][0]["expectations"]
    assert [e["passed"] for e in failed] == [False, True]
    assert failed[0]["found"].startswith("anastrozole is current") and failed[0]["line"] == 9
    assert body["scenarios"][0]["run"]["mode"] == "none" and body["scenarios"][0]["run"]["model_calls"] == 0


def test_bad_input_exits_2_and_tags_select(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jenny_scenario(tmp_path, "- type: apears\n  text: x", name="scenario_bad.yaml")
    code, out, _ = run_cli(capsys, str(tmp_path))
    assert code == 2 and "expect[0].type (line 9): unknown expectation type 'apears'" in out
    code, out, _ = run_cli(capsys, str(tmp_path), "--tag", "lung")
    assert code == 2 and "unknown expectation type" in out, "a file whose tags cannot be read is reported"
    (tmp_path / "scenario_bad.yaml").unlink()
    jenny_scenario(tmp_path, "- type: no_discrepancies\n  kinds: [after_death]", name="scenario_ok.yaml")
    code, out, _ = run_cli(capsys, str(tmp_path), "--tag", "lung")
    assert code == 0 and out.strip() == "0/0 scenarios passed"
    code, out, _ = run_cli(capsys, str(tmp_path), "--tag", "breast")
    assert code == 0 and "1/1 scenarios passed" in out
    code, _, err = run_cli(capsys, str(tmp_path / "nothing_here"))
    assert code == 2 and "no such file or folder" in err


def test_an_unusable_live_endpoint_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jenny_scenario(tmp_path, "- type: no_discrepancies", model=f"{{live: {closed_port_url()}, name: m}}")
    code, out, _ = run_cli(capsys, str(tmp_path))
    assert code == 3 and "is unreachable" in out


def test_record_then_replay_strictly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = jenny_scenario(
        tmp_path,
        "- type: section\n  kind: answer\n  status: ok\n- type: budget\n  model_calls: 20",
        model="{cassette: cassettes/jenny.jsonl}",
    )
    cassette = tmp_path / "cassettes" / "jenny.jsonl"
    code, out, _ = run_cli(capsys, str(path), "--record")
    assert code == 2 and "recording needs a live endpoint" in out and not cassette.exists()
    with FakeOpenAIServer(scenario_responder, models=[FAKE_MODEL]) as server:
        code, out, _ = run_cli(
            capsys, str(path), "--record", "--model", server.base_url, "--model-name", FAKE_MODEL
        )
        calls = len(server.requests)
    assert code == 0 and "[record, " in out, out
    entries = load_cassette(cassette)
    assert len(entries) == calls > 0 and {e.request.model for e in entries} == {FAKE_MODEL}
    assert not list(tmp_path.glob("cassettes/.*")), "no temporary file left behind"
    code, out, _ = run_cli(capsys, str(path))
    assert code == 0 and "[replay, " in out and f"{calls} model calls" in out


def test_a_failed_recording_keeps_the_old_cassette(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = jenny_scenario(tmp_path, "- type: no_discrepancies", model="{cassette: cassettes/jenny.jsonl}")
    cassette = tmp_path / "cassettes" / "jenny.jsonl"
    cassette.parent.mkdir()
    shutil.copyfile(JENNY_CASSETTE, cassette)
    before = cassette.read_bytes()
    code, _, _ = run_cli(capsys, str(path), "--record", "--model", closed_port_url(), "--model-name", "m")
    assert code == 3 and cassette.read_bytes() == before
    assert not list(cassette.parent.glob(".*")), "the partial recording is removed"


def test_a_cassette_recorded_for_another_prompt_fails_with_the_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cassettes").mkdir()
    shutil.copyfile(JENNY_CASSETTE, tmp_path / "cassettes" / "jenny.jsonl")
    path = jenny_scenario(
        tmp_path,
        "- type: verdicts\n- type: status\n  medications: {anastrozole: current}",
        model="{cassette: cassettes/jenny.jsonl}",
    )
    code, out, _ = run_cli(capsys, str(path))
    assert code == 0, "the cassette was recorded for exactly this case and question"
    changed = path.read_text().replace(
        JENNY_QUESTION, "Is she a candidate for a trial of a CDK4/6 inhibitor?"
    )
    path.write_text(changed)
    code, out, _ = run_cli(capsys, str(path))
    assert code == 1, "never a pass on recordings of another prompt"
    assert "FAIL jenny (0/2 expectations)" in out
    assert "found:    the run did not finish: strict replay found a model request" in out
    assert "Prompt diff (recorded -> requested):" in out
    assert "-BOARD QUESTION: Is she a candidate for breast-conserving surgery" in out or (
        "-" in out and "breast-conserving surgery" in out
    )
    assert "CDK4/6 inhibitor" in out


def test_the_custom_specialist_example_passes() -> None:
    results = [run_file(p) for p in sorted(EXAMPLE.glob("scenario_*.yaml"))]
    assert len(results) == 2
    for result in results:
        assert result is not None and result.passed, result
        assert result.run is not None and result.run.summary is not None
        panel = result.run.summary.section("biomarker_panel")
        assert panel is not None and panel.statements and panel.title == "Biomarker panel"
        assert any(a.agent == "panel" and a.status == "ok" for a in result.run.summary.run.agents)
