"""`medboard board` and `medboard batch` end to end: real records, real runs, a real HTTP model.

The packet is what a board works from, so each test reads it back: board.json validates as
`BoardPacket`, index.html lists every case, a done case has its three files, a failed case has a
row with its reason and no folder. Failures are per case (an endpoint that is down, a case file
naming a missing image, a broken bundle): the others go on, the packet is written, and the exit
code is the worst case's. Concurrency is measured at the model server: with a model name per case,
the server sees how many cases have a call in flight at once.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fake_openai import NEVER, FakeOpenAIServer, always, chat_completion, closed_port_url
from tumor_board_support import InFlight, board_responder

from medboard.cli.main import main
from medboard.examples import EXAMPLES
from medboard.report import CASE_FILES
from medboard.report.board import BoardPacket
from medboard.report.publish import MANIFEST

SHARED_FHIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
DARIN = SHARED_FHIR / "synthea" / "darin_skiles.json"
ANDY = SHARED_FHIR / "synthea" / "andy_schaden.json"
JENNY = SHARED_FHIR / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
EXAMPLE_AGENDA = EXAMPLES / "board" / "agenda.yaml"


def packet_of(out: Path) -> BoardPacket:
    return BoardPacket.model_validate_json((out / "board.json").read_text(encoding="utf-8"))


def case_files(out: Path, case_id: str) -> set[str]:
    folder = out / "cases" / case_id
    return (
        {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        if folder.exists()
        else set()
    )


@pytest.fixture
def board_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "board"
    folder.mkdir()
    shutil.copy(JENNY, folder / "jenny.json")
    shutil.copy(DARIN, folder / "darin.json")
    shutil.copy(ANDY, folder / "andy.json")
    return folder


def write_agenda(folder: Path, cases: str, name: str = "agenda.yaml") -> Path:
    path = folder / name
    path.write_text(f"board: Test board\ndate: 2024-05-02\ncases:\n{cases}", encoding="utf-8")
    return path


JENNY_CASE = (
    "  - id: jenny\n    bundle: jenny.json\n    question: Is she a candidate for breast-conserving surgery?\n"
)


def test_the_example_agenda_makes_a_whole_packet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "packet"
    assert (
        main(["board", str(EXAMPLE_AGENDA), "--out", str(out), "--model", "none", "--concurrency", "3"]) == 0
    )
    captured = capsys.readouterr()
    assert "3 cases, 3 done, 0 failed" in captured.out and str(out / "index.html") in captured.out
    packet = packet_of(out)
    assert packet.board == "Example multidisciplinary tumor board" and packet.date == "2020-06-04"
    assert [c.id for c in packet.cases] == ["jenny-m", "darin-skiles", "andy-schaden"]
    assert packet.exit_code() == 0
    assert packet.run.executor == "local" and packet.run.concurrency == 3 and packet.run.model == "none"
    assert packet.run.finished >= packet.run.started
    index = (out / "index.html").read_text(encoding="utf-8")
    for case in packet.cases:
        assert case.status == "done" and case.folder == f"cases/{case.id}" and case.error is None
        assert case_files(out, case.id) == set(CASE_FILES)
        summary = json.loads((out / "cases" / case.id / "summary.json").read_text())
        assert summary["case_id"] == case.id  # the agenda's id, not the file's stem
        assert summary["question"] == case.question and case.question
        assert case.headline and case.headline.split(",")[0] in index
        statements = sum(len(s["statements"]) for s in summary["sections"])
        assert sum(v for k, v in case.verification.items() if k != "struck") == statements
        assert case.verification["struck"] == len(summary["struck"])
        assert case.discrepancies == len(summary["discrepancies"])
        assert f'href="cases/{case.id}/report.html"' in index
    assert "Content-Security-Policy" in index and "<script" not in index


def test_a_case_whose_endpoint_is_down_fails_and_the_others_go_on(
    board_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    down = closed_port_url()
    agenda = write_agenda(
        board_folder, JENNY_CASE + f"  - id: darin\n    bundle: darin.json\n    model: {down}\n"
    )
    out = tmp_path / "packet"
    assert main(["board", str(agenda), "--out", str(out), "--model", "none"]) == 3
    captured = capsys.readouterr()
    packet = packet_of(out)
    jenny, darin = packet.cases
    assert jenny.status == "done" and case_files(out, "jenny") == set(CASE_FILES)
    assert darin.status == "failed" and darin.exit_code == 3 and darin.folder is None
    assert darin.error and "unreachable" in darin.error and "127.0.0.1" in darin.error
    assert not (out / "cases" / "darin").exists()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "FAILED" in index and "unreachable" in index and 'href="cases/darin/' not in index
    failed_lines = [line for line in captured.err.splitlines() if "FAILED" in line]
    assert len(failed_lines) == 1 and "case darin FAILED (exit 3)" in failed_lines[0]


def test_every_case_failing_on_a_down_board_endpoint_still_writes_the_packet(
    board_folder: Path, tmp_path: Path
) -> None:
    agenda = write_agenda(board_folder, JENNY_CASE + "  - id: darin\n    bundle: darin.json\n")
    out = tmp_path / "packet"
    assert main(["board", str(agenda), "--out", str(out), "--model", closed_port_url()]) == 3
    packet = packet_of(out)
    assert [c.status for c in packet.cases] == ["failed", "failed"]
    assert all(c.exit_code == 3 and c.error and "unreachable" in c.error for c in packet.cases)
    assert not (out / "cases").exists() and (out / "index.html").is_file()


def test_bad_case_inputs_fail_their_case_with_exit_2(
    board_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A case YAML declaring an image that is not there, and a bundle cut off mid-file.
    declared = board_folder / "declared"
    declared.mkdir()
    shutil.copy(DARIN, declared / "record.json")
    (declared / "case.yaml").write_text(
        "record: record.json\nimages:\n  - path: scans/ct/\n", encoding="utf-8"
    )
    text = JENNY.read_text(encoding="utf-8")
    (board_folder / "broken.json").write_text(text[: len(text) // 2], encoding="utf-8")
    agenda = write_agenda(
        board_folder,
        JENNY_CASE
        + "  - id: declared\n    bundle: declared/case.yaml\n"
        + "  - id: broken\n    bundle: broken.json\n",
    )
    out = tmp_path / "packet"
    assert main(["board", str(agenda), "--out", str(out), "--model", "none"]) == 2
    err = capsys.readouterr().err
    jenny, declared_case, broken = packet_of(out).cases
    assert jenny.status == "done" and case_files(out, "jenny") == set(CASE_FILES)
    assert declared_case.status == "failed" and declared_case.exit_code == 2
    assert (
        declared_case.error and "images[0]" in declared_case.error and "does not exist" in declared_case.error
    )
    assert broken.status == "failed" and broken.exit_code == 2 and broken.error
    assert "broken.json" in broken.error
    assert case_files(out, "declared") == set() and case_files(out, "broken") == set()
    assert "case declared FAILED (exit 2)" in err and "case broken FAILED (exit 2)" in err


def test_the_worst_failure_sets_the_exit_code(board_folder: Path, tmp_path: Path) -> None:
    (board_folder / "broken.json").write_text("{", encoding="utf-8")
    agenda = write_agenda(
        board_folder,
        "  - id: broken\n    bundle: broken.json\n"
        + f"  - id: down\n    bundle: jenny.json\n    model: {closed_port_url()}\n",
    )
    out = tmp_path / "packet"
    assert main(["board", str(agenda), "--out", str(out), "--model", "none"]) == 3  # 3 over 2
    assert [c.exit_code for c in packet_of(out).cases] == [2, 3]


def test_batch_runs_any_list_of_cases(
    board_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "batch"
    code = main(
        [
            "batch",
            str(board_folder / "jenny.json"),
            str(board_folder / "darin.json"),
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    printed = BoardPacket.model_validate_json(capsys.readouterr().out)
    packet = packet_of(out)
    assert printed == packet
    assert [c.id for c in packet.cases] == ["jenny", "darin"]
    assert all(c.status == "done" and case_files(out, c.id) == set(CASE_FILES) for c in packet.cases)


def test_batch_ids_are_unique_folder_names(tmp_path: Path) -> None:
    from medboard.cli.board import batch_ids

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "my case").mkdir()
    paths = [
        tmp_path / "a" / "x.json",
        tmp_path / "b" / "x.json",
        tmp_path / "my case" / "case.yaml",
        tmp_path / "b",
        tmp_path / "a" / "X.json",
    ]
    assert batch_ids(paths) == ["x", "x-2", "my-case", "b", "X-3"]


def _concurrency_agenda(folder: Path) -> Path:
    """Three patients, each with its own model name: the server tells their calls apart."""
    return write_agenda(
        folder,
        "  - id: jenny\n    bundle: jenny.json\n    question: Surgery?\n    model_name: m-jenny\n"
        "  - id: darin\n    bundle: darin.json\n    question: Surveillance?\n    model_name: m-darin\n"
        "  - id: andy\n    bundle: andy.json\n    question: Treatment?\n    model_name: m-andy\n",
    )


@pytest.mark.slow
@pytest.mark.parametrize("concurrency", [3, 1])
def test_concurrency_bounds_the_cases_in_flight_at_the_model(
    board_folder: Path, tmp_path: Path, concurrency: int
) -> None:
    agenda = _concurrency_agenda(board_folder)
    model = InFlight(board_responder(), latency=0.5)
    out = tmp_path / f"packet-{concurrency}"
    with FakeOpenAIServer(model, models=["m-jenny", "m-darin", "m-andy"]) as server:
        code = main(
            [
                "board",
                str(agenda),
                "--out",
                str(out),
                "--model",
                server.base_url,
                "--concurrency",
                str(concurrency),
            ]
        )
    assert code == 0
    assert set(model.calls) == {"m-jenny", "m-darin", "m-andy"}  # every case called its model
    assert model.max_models_in_flight() == concurrency
    packet = packet_of(out)
    assert all(c.status == "done" for c in packet.cases)
    assert packet.run.model.startswith("http://127.0.0.1:")


@pytest.mark.slow
def test_model_calls_are_capped_per_endpoint_across_the_boards_cases(
    board_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three cases at once against one endpoint whose cap is 2: never more than 2 calls in flight
    there (each case's own caller would allow 2 each, 6 in all)."""
    monkeypatch.setenv("MEDBOARD_MODEL_CONCURRENCY", "2")
    agenda = _concurrency_agenda(board_folder)
    model = InFlight(board_responder(), latency=0.3)
    with FakeOpenAIServer(model, models=["m-jenny", "m-darin", "m-andy"]) as server:
        code = main(
            ["board", str(agenda), "--out", str(tmp_path / "packet"), "--model", server.base_url,
             "--concurrency", "3"]
        )  # fmt: skip
    assert code == 0
    assert model.peak == 2, model.peak
    assert model.max_models_in_flight() >= 2  # the cases did overlap


def test_rerunning_into_the_same_out_replaces_only_medboards_files(
    board_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "packet"
    agenda = write_agenda(board_folder, JENNY_CASE + "  - id: darin\n    bundle: darin.json\n")
    assert main(["board", str(agenda), "--out", str(out), "--model", "none"]) == 0
    assert case_files(out, "darin") == set(CASE_FILES)
    (out / "notes.txt").write_text("the chair's notes", encoding="utf-8")
    (out / "cases" / "darin" / "pathology.txt").write_text("slides due", encoding="utf-8")

    # The second run: darin's bundle is now broken, so darin fails.
    (board_folder / "darin.json").write_text("{", encoding="utf-8")
    assert main(["board", str(agenda), "--out", str(out), "--model", "none"]) == 2
    packet = packet_of(out)
    assert [c.status for c in packet.cases] == ["done", "failed"]
    assert (out / "notes.txt").read_text(encoding="utf-8") == "the chair's notes"
    assert (out / "cases" / "darin" / "pathology.txt").read_text(encoding="utf-8") == "slides due"
    # darin's old outputs are gone: the packet never shows the earlier, now stale, case as done.
    assert case_files(out, "darin") == {"pathology.txt"}
    assert case_files(out, "jenny") == set(CASE_FILES)
    assert json.loads((out / "cases" / "jenny" / "summary.json").read_bytes())["case_id"] == "jenny"
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert "notes.txt" not in manifest["files"] and "cases/darin/pathology.txt" not in manifest["files"]


def test_a_file_medboard_did_not_write_where_the_packet_goes_is_refused_before_any_run(
    board_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "packet"
    (out / "cases" / "jenny").mkdir(parents=True)
    (out / "index.html").write_text("my own page", encoding="utf-8")
    agenda = write_agenda(board_folder, JENNY_CASE)
    assert main(["board", str(agenda), "--out", str(out), "--model", "none"]) == 2
    err = capsys.readouterr().err
    assert "index.html" in err and "not written by medboard" in err
    assert (out / "index.html").read_text(encoding="utf-8") == "my own page"
    assert not (out / "board.json").exists()


def test_out_inside_the_inputs_is_refused(board_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder_case = board_folder / "folder-case"
    folder_case.mkdir()
    shutil.copy(JENNY, folder_case / "bundle.json")
    agenda = write_agenda(board_folder, "  - id: f\n    bundle: folder-case\n")
    assert main(["board", str(agenda), "--out", str(folder_case / "out"), "--model", "none"]) == 2
    assert "inside the case input folder" in capsys.readouterr().err


def test_an_unknown_executor_is_bad_input(
    board_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agenda = write_agenda(board_folder, JENNY_CASE)
    code = main(["board", str(agenda), "--out", str(tmp_path / "p"), "--executor", "dask"])
    assert code == 2
    assert "--executor" in capsys.readouterr().err and not (tmp_path / "p").exists()


def test_a_missing_cassette_is_bad_input(
    board_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agenda = write_agenda(board_folder, JENNY_CASE)
    code = main(
        ["board", str(agenda), "--out", str(tmp_path / "p"), "--replay", str(tmp_path / "none.jsonl")]
    )
    assert code == 2 and "no such cassette" in capsys.readouterr().err


def test_the_board_schema_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--board"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "BoardPacket" and {"board", "date", "cases", "run"} <= set(schema["properties"])


def test_a_case_pulled_from_a_fhir_server_sits_beside_bundle_cases(
    fhir_server: Any, board_folder: Path, tmp_path: Path
) -> None:
    pid = fhir_server.load("darin_skiles")
    agenda = write_agenda(
        board_folder,
        JENNY_CASE
        + f"  - id: remote\n    fhir_server: {fhir_server.base_url}\n    patient: '{pid}'\n"
        + "    question: Surveillance?\n"
        + f"  - id: nobody\n    fhir_server: {fhir_server.base_url}\n    patient: no-such-patient\n",
    )
    out = tmp_path / "packet"
    assert main(["board", str(agenda), "--out", str(out), "--model", "none"]) == 2
    jenny, remote, nobody = packet_of(out).cases
    assert jenny.status == "done" and remote.status == "done"
    summary = json.loads((out / "cases" / "remote" / "summary.json").read_text(encoding="utf-8"))
    assert summary["case_id"] == "remote" and summary["patient"] == f"Patient/{pid}"
    assert summary["question"] == "Surveillance?" and remote.headline and "Darin" in remote.headline
    assert nobody.status == "failed" and nobody.exit_code == 2 and nobody.error and "404" in nobody.error


def test_model_local_starts_one_server_for_the_whole_board(
    board_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib

    import medboard.api
    from medboard.llm.endpoint import ModelEndpoint

    model = InFlight(board_responder(), latency=0.0)
    started: list[str] = []
    with FakeOpenAIServer(model, models=["local-gemma"]) as server:

        @contextlib.asynccontextmanager
        async def fake_local(spec: str, overrides: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
            started.append(spec)  # the real one starts vLLM here; this one is already listening
            yield ModelEndpoint(
                base_url=server.base_url, model="local-gemma", context_length=4096, vision=False
            )

        monkeypatch.setattr(medboard.api, "model_endpoint", fake_local)
        agenda = write_agenda(board_folder, JENNY_CASE + "  - id: darin\n    bundle: darin.json\n")
        out = tmp_path / "packet"
        assert main(["board", str(agenda), "--out", str(out), "--model", "local", "--concurrency", "2"]) == 0
    assert started == ["local"], "one local server for two cases"
    assert model.calls.get("local-gemma", 0) >= 2
    packet = packet_of(out)
    assert packet.run.model == "local" and all(c.status == "done" for c in packet.cases)
    summary = json.loads((out / "cases" / "darin" / "summary.json").read_text(encoding="utf-8"))
    assert summary["run"]["model"]["name"] == "local-gemma"


@pytest.mark.slow
def test_ctrl_c_stops_the_board_and_publishes_nothing(board_folder: Path, tmp_path: Path) -> None:
    """SIGINT while every case waits on a model that never answers: exit 130 within seconds,
    no packet, no staging folder left behind."""
    agenda = write_agenda(board_folder, JENNY_CASE + "  - id: darin\n    bundle: darin.json\n")
    out = tmp_path / "packet"
    medboard = Path(sys.executable).with_name("medboard")
    with FakeOpenAIServer(always(200, chat_completion("{}"), NEVER)) as server:
        command = [str(medboard), "board", str(agenda), "--out", str(out), "--model", server.base_url]
        process = subprocess.Popen(
            [*command, "--model-name", "fake-model"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while not server.requests and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert server.requests, f"the cases reached the model: {process.poll()} {process.stderr}"
        stopped = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        elapsed = time.monotonic() - stopped
    assert process.returncode == 130, err
    assert elapsed < 15
    assert "interrupted" in err and "nothing was published" in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".medboard-staging-")]
