"""`medboard run` through its CLI: outputs, exit codes, and record → replay of model traffic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer, closed_port_url
from sample_records import tiny_bundle
from test_case_flow import NOTE, QUESTION, clinical_responder

from medboard.cli.main import main
from medboard.models import CaseSummary

DATA = Path(__file__).parent / "data" / "fhir"
JENNY = DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"


@pytest.fixture
def tiny_case(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(tiny_bundle(note=NOTE)))
    case = tmp_path / "case.yaml"
    case.write_text(f"id: tiny\nrecord: bundle.json\nquestion: {QUESTION}\n")
    return case


def test_run_writes_summary_json_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", str(JENNY), "--model", "none", "--out", str(out)]) == 0
    summary = CaseSummary.model_validate_json((out / "summary.json").read_text())
    assert summary.patient == "Patient/cancer-patient-jenny-m"
    assert summary.statements() and all(s.verdict for s in summary.statements())
    markdown = (out / "summary.md").read_text()
    assert markdown.startswith("# Case summary") and "Not a diagnostic device" in markdown
    written = sorted(p.name for p in out.iterdir())
    assert written == [".medboard-manifest.json", "report.html", "summary.json", "summary.md"], (
        "no temporary leftovers"
    )
    assert "statements" in capsys.readouterr().out


def test_run_json_prints_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(JENNY), "--model", "none", "--json"]) == 0
    summary = CaseSummary.model_validate_json(capsys.readouterr().out)
    assert summary.case_id and summary.disclaimer


def test_run_embedded_default_case(tmp_path: Path) -> None:
    assert main(["run", "--model", "none", "--out", str(tmp_path)]) == 0
    summary = CaseSummary.model_validate_json((tmp_path / "summary.json").read_text())
    # the board layout: the headline first, then the answer to the case's question
    assert summary.question and [s.kind for s in summary.sections[:2]] == ["headline", "answer"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "invalid JSON"),
        ('{"resourceType": "Bundel", "type": "collection"}', "resourceType"),
    ],
    ids=["missing", "invalid-json", "misspelled-type"],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "case.json"
    if content is not None:
        path.write_text(content)
    out = tmp_path / "out"
    assert main(["run", str(path), "--model", "none", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "case.json" in err and message in err and "Traceback" not in err
    assert not out.exists(), "nothing half-written"


def test_unreachable_endpoint_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(JENNY), "--model", closed_port_url(), "--out", str(tmp_path / "o")]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()
    assert not (tmp_path / "o").exists()


def test_endpoint_serving_another_model_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(clinical_responder(), models=["some-other-model"]) as server:
        code = main(["run", str(JENNY), "--model", server.base_url, "--model-name", "medgemma", "--json"])
    assert code == 3
    assert "some-other-model" in capsys.readouterr().err


def test_recorded_traffic_replays_to_the_same_summary(tiny_case: Path, tmp_path: Path) -> None:
    cassette = tmp_path / "traffic.jsonl"
    live, replayed = tmp_path / "live", tmp_path / "replayed"
    with FakeOpenAIServer(clinical_responder(), models=["fake-model"]) as server:
        args = ["run", str(tiny_case), "--model", server.base_url, "--model-name", "fake-model"]
        assert main([*args, "--record-cassette", str(cassette), "--out", str(live)]) == 0
        calls = len(server.requests)
    recorded = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert calls >= 2 and len(recorded) == calls
    purposes = {(r["agent"], r["purpose"]) for r in recorded}
    assert {("synthesizer", "answer"), ("synthesizer", "headline")} <= purposes

    assert main(["run", str(tiny_case), "--replay", str(cassette), "--out", str(replayed)]) == 0
    first = CaseSummary.model_validate_json((live / "summary.json").read_text())
    second = CaseSummary.model_validate_json((replayed / "summary.json").read_text())
    assert [s.text for s in first.statements()] == [s.text for s in second.statements()]
    assert [f.id for f in first.findings] == [f.id for f in second.findings]


def test_replay_of_a_changed_prompt_fails_loudly(
    tiny_case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = tmp_path / "traffic.jsonl"
    with FakeOpenAIServer(clinical_responder(), models=["fake-model"]) as server:
        args = ["run", str(tiny_case), "--model", server.base_url, "--model-name", "fake-model"]
        assert main([*args, "--record-cassette", str(cassette), "--json"]) == 0
    capsys.readouterr()
    code = main(["run", str(tiny_case), "--replay", str(cassette), "--question", "A different question?"])
    assert code != 0
    err = capsys.readouterr().err
    assert "cassette" in err.lower() and "Traceback" not in err


def test_lenient_run_skips_a_bad_entry_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = DATA.parent / "fhir_bad" / "invalid_resource.json"
    assert main(["run", str(bad), "--model", "none", "--out", str(tmp_path / "strict")]) == 2
    capsys.readouterr()
    assert main(["run", str(bad), "--model", "none", "--lenient", "--out", str(tmp_path / "o")]) == 0
    summary = CaseSummary.model_validate_json((tmp_path / "o" / "summary.json").read_text())
    skipped = [w for w in summary.run.warnings if w.startswith("skipped ")]
    assert len(skipped) == 1 and "entry" in skipped[0]


def test_case_date_sets_the_cases_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--case-date` is the case's "now" (it wins over the YAML's); a value that is no FHIR date is
    refused before any work, in one line naming the option."""
    import medboard.api

    seen: list[str | None] = []
    real = medboard.api.run_case

    async def spy(case, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(case.case_date)
        return await real(case, **kwargs)

    monkeypatch.setattr(medboard.api, "run_case", spy)
    assert main(["run", str(JENNY), "--model", "none", "--case-date", "2019-01-15", "--json"]) == 0
    assert seen == ["2019-01-15"]


def test_a_bad_case_date_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", str(JENNY), "--model", "none", "--case-date", "2019-13-01", "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert "--case-date" in error and len(error.splitlines()) == 1
    assert not out.exists(), "refused before any work"
