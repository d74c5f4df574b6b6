"""`--executor ray`: a board's cases as Ray tasks, model calls capped per endpoint, loopback only.

The Ray tests start a real local Ray (2 workers, 80 MB object store) once, run real cases on it —
the embedded jenny-m and a shared Synthea record without a model, and the same two against a real
local HTTP model endpoint (tests/fake_openai.py) through the endpoint's gate actor — and prove:
- every port any Ray process listens on is bound to 127.0.0.1 (read with `ss -ltunp` while the
  cases run; on these machines Ray binds the machine's address and all interfaces by default);
- the endpoint never had more requests in flight than its cap (MEDBOARD_MODEL_CONCURRENCY), across
  both worker processes, and every request went through the gate;
- after the run no Ray process is left running (raylet, gcs_server, the workers: every process
  that appeared under this one while Ray ran).
They are skipped, with the reason, when Ray is not installed; CI installs the `[ray]` extra.

The gate's bookkeeping (leases, expiry, forfeit, withdrawal) is plain asyncio and is tested
without Ray.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAIServer
from tumor_board_support import board_responder

from medboard.cli.main import main
from medboard.errors import ExecutorError, MedboardInputError
from medboard.examples import DEFAULT_CASE, EXAMPLES
from medboard.models import CaseSummary
from medboard.orchestrator.board import CaseJob, make_executor
from medboard.orchestrator.board.ray_executor import RayExecutor, forwarded_env
from medboard.orchestrator.board.ray_gate import EndpointGate, gate_name, lease_seconds

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
DATA = Path(__file__).parent / "data" / "fhir"
SYNTHEA = next(
    p
    for p in (SHARED / "synthea" / "austin_franecki.json", DATA / "synthea" / "loyd_connelly.json")
    if p.is_file()
)

needs_ray = pytest.mark.skipif(
    find_spec("ray") is None, reason="Ray is not installed (pip install 'medboard[ray]'; CI installs it)"
)
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}


# ------------------------------------------------------------------------ without Ray


def test_missing_ray_is_one_line_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(MedboardInputError) as info:
        make_executor("ray", workers=2)
    assert info.value.exit_code == 2
    assert str(info.value) == "--executor ray: Ray is not installed (pip install 'medboard[ray]')"


def test_board_cli_without_ray_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    agenda = EXAMPLES / "board" / "agenda.yaml"
    assert main(["board", str(agenda), "--out", str(tmp_path / "p"), "--executor", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "medboard: error: --executor ray: Ray is not installed (pip install 'medboard[ray]')"
    assert not (tmp_path / "p").exists()


def test_ray_options_need_the_ray_executor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["batch", str(DEFAULT_CASE), "--out", str(tmp_path / "p"), "--ray-address", "auto"]
    assert main(args) == 2
    assert (
        capsys.readouterr().err.strip() == "medboard: error: --ray-address: only applies with --executor ray"
    )


def test_workers_get_the_medboard_settings_but_not_the_service_tokens() -> None:
    env = {
        "MEDBOARD_MODEL_URL": "http://vllm:8000/v1",
        "MEDBOARD_MODEL_CONCURRENCY": "3",
        "MEDBOARD_API_TOKEN": "service-secret",
        "HOME": "/root",
    }
    assert forwarded_env(env) == {
        "MEDBOARD_MODEL_URL": "http://vllm:8000/v1",
        "MEDBOARD_MODEL_CONCURRENCY": "3",
    }


def test_gate_names_hide_the_url_and_leases_outlive_a_request() -> None:
    name = gate_name("http://user:secret@vllm-0:8000/v1")
    assert name.startswith("medboard-gate-") and "secret" not in name and "vllm" not in name
    assert name == gate_name("http://user:secret@vllm-0:8000/v1") != gate_name("http://vllm-1:8000/v1")
    assert lease_seconds(120.0) > 120.0 * 1.25 + 0.25  # ModelCaller's guard on one request


async def test_endpoint_gate_caps_leases_and_hands_them_on_in_order() -> None:
    gate = EndpointGate(2, "http://vllm/v1")
    assert await gate.acquire("a", 60) and await gate.acquire("b", 60)
    third = asyncio.create_task(gate.acquire("c", 60))
    await asyncio.sleep(0.05)
    assert not third.done()  # full: the third waits
    await gate.release("a")
    assert await asyncio.wait_for(third, 1) is True
    stats = await gate.stats()
    assert (stats.limit, stats.in_use, stats.peak, stats.granted) == (2, 2, 2, 3)


async def test_a_resized_gate_admits_up_to_its_new_cap() -> None:
    gate = EndpointGate(1)
    assert await gate.acquire("a", 60)
    waiting = asyncio.create_task(gate.acquire("b", 60))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await gate.resize(2)
    assert await asyncio.wait_for(waiting, 1) is True
    assert (await gate.stats()).limit == 2


async def test_a_lease_never_released_expires() -> None:
    """A worker that died holding a slot gives it back when its lease runs out."""
    gate = EndpointGate(1)
    assert await gate.acquire("dead-worker", 0.2)
    started = time.monotonic()
    assert await asyncio.wait_for(gate.acquire("next", 60), 2) is True
    assert 0.15 <= time.monotonic() - started < 1.5
    assert (await gate.stats()).expired == 1


async def test_a_dead_workers_leases_are_forfeited_at_once() -> None:
    gate = EndpointGate(2)
    assert await gate.acquire("l1", 600, "worker-0") and await gate.acquire("l2", 600, "worker-0")
    waiting = asyncio.create_task(gate.acquire("l3", 600, "worker-1"))
    await asyncio.sleep(0.05)
    assert await gate.forfeit("worker-0") == 2
    assert await asyncio.wait_for(waiting, 1) is True
    stats = await gate.stats()
    assert (stats.in_use, stats.forfeited) == (1, 2)


async def test_a_withdrawn_request_is_not_granted_later() -> None:
    """A caller cancelled while waiting withdraws (release before grant): the slot is not lost."""
    gate = EndpointGate(1)
    assert await gate.acquire("holder", 600)
    withdrawn = asyncio.create_task(gate.acquire("cancelled", 600))
    await asyncio.sleep(0.05)
    await gate.release("cancelled")  # what RayGate sends when its wait is cancelled
    assert await asyncio.wait_for(withdrawn, 1) is False
    await gate.release("holder")
    assert await gate.acquire("next", 600) is True
    assert (await gate.stats()).in_use == 1


# ------------------------------------------------------------------------------ with Ray


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (ppid, state, command) of every process, from ps (less ps itself)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,stat=,args="], capture_output=True, text=True).stdout
    table: dict[int, tuple[int, str, str]] = {}
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3 and not (len(parts) > 3 and parts[3].startswith("ps -eo")):
            table[int(parts[0])] = (int(parts[1]), parts[2], parts[3] if len(parts) > 3 else "")
    return table


def _running_below(root: int) -> set[int]:
    table = _processes()
    found, todo = set(), [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, state, _) in table.items():
            if ppid == parent and pid not in found and not state.startswith("Z"):
                found.add(pid)
                todo.append(pid)
    return found


def _listeners() -> list[tuple[str, int, str]]:
    """(local address, pid, process name) of every listening TCP/UDP socket, from `ss`."""
    out = subprocess.run(["ss", "-Hltunp"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        local = fields[4]
        address = local.rsplit(":", 1)[0].strip("[]")
        for name, pid in re.findall(r'\("([^"]+)",pid=(\d+)', line):
            found.append((address, int(pid), name))
    return found


class _PeakEndpoint:
    """A real local OpenAI-compatible endpoint that counts the requests in flight at once."""

    def __init__(self, delay_s: float) -> None:
        self.answer = board_responder()  # the board's model calls, answered as a model would
        self.lock = threading.Lock()
        self.now = self.peak = 0
        self.delay_s = delay_s
        self.server = FakeOpenAIServer(self.respond, models=["fake-model"])

    def respond(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.delay_s)
        with self.lock:
            self.now -= 1
        return self.answer(body)


@needs_ray
def test_board_on_local_ray_stays_on_loopback_caps_the_endpoint_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if shutil.which("ss") is None:
        pytest.fail("`ss` (iproute2) is needed to prove Ray listens on 127.0.0.1 only")
    cap = 2
    monkeypatch.setenv("MEDBOARD_MODEL_CONCURRENCY", str(cap))
    me = os.getpid()
    before = _running_below(me)
    seen_ray: set[int] = set()
    listening: list[tuple[str, int, str]] = []
    stages: dict[str, list[str]] = {}

    def look() -> None:
        ray_pids = _running_below(me) - before
        seen_ray.update(ray_pids)
        listening.extend(entry for entry in _listeners() if entry[1] in ray_pids)

    def progress(case_id: str, stage: str) -> None:
        stages.setdefault(case_id, []).append(stage)
        if stage in ("loading", "done", "failed"):
            look()  # while Ray runs: the driver's loop calls this between polls

    endpoint = _PeakEndpoint(delay_s=0.3)
    with endpoint.server:
        url = endpoint.server.base_url
        jobs = [
            CaseJob(id="jenny-m", bundle=DEFAULT_CASE, model="none"),
            CaseJob(id="synthea", bundle=SYNTHEA, model="none", question="What is the current problem list?"),
            CaseJob(id="jenny-m-model", bundle=DEFAULT_CASE, model=url, model_name="fake-model"),
            CaseJob(id="synthea-model", bundle=SYNTHEA, model=url, model_name="fake-model"),
        ]
        executor = RayExecutor(workers=2)
        outcomes = asyncio.run(executor.run_all(jobs, concurrency=4, progress=progress))
    run = executor.last_run
    assert run is not None and run.started_ray and run.local
    # The loopback setting was only for the start: a later connection to a real cluster from this
    # process advertises the machine's address again (Ray's own default on Linux).
    import ray

    assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER" not in os.environ
    assert ray._private.ray_constants.ENABLE_RAY_CLUSTER is True

    # The cases: all four published, with their outputs as bytes, in the jobs' order.
    assert [o.id for o in outcomes] == [j.id for j in jobs]
    assert [o.status for o in outcomes] == ["done"] * 4, [o.error for o in outcomes]
    for outcome in outcomes:
        assert {"summary.json", "summary.md", "report.html"} <= set(outcome.files)
        summary = CaseSummary.model_validate_json(outcome.files["summary.json"])
        assert summary.statements() and outcome.headline
        assert b"<html" in outcome.files["report.html"][:2000].lower()
    assert "Jenny" in (outcomes[0].headline or "") and "Austin" in (outcomes[1].headline or "")
    for outcome in outcomes[2:]:  # the model's calls succeeded on the workers, through the gate
        model_run = CaseSummary.model_validate_json(outcome.files["summary.json"])
        assert model_run.run.model is not None and model_run.run.model.name == "fake-model"
        calling = [a for a in model_run.run.agents if a.model_calls]
        assert calling and all(a.status != "failed" for a in calling), model_run.run.agents
    # Progress came from the workers, stage by stage, not only queued/done.
    assert all(s[0] == "queued" and "loading" in s and s[-1] == "done" for s in stages.values())
    assert all(any(":" in stage for stage in s) for s in stages.values())

    # The gate: every model request took a slot from the one actor for this endpoint, and the
    # endpoint never saw more than the cap in flight across both workers (and did see the cap).
    assert len(run.worker_pids) == 2 and len(set(run.worker_pids)) == 2
    assert len(endpoint.server.requests) > cap
    (stats,) = run.gates.values()
    assert stats.limit == cap and stats.granted == len(endpoint.server.requests)
    assert stats.in_use == 0 and stats.expired == 0
    assert endpoint.peak <= cap and stats.peak <= cap
    assert endpoint.peak == cap  # concurrency was there to cap

    # Loopback only: every listener of every Ray process (GCS, raylet, workers, agents).
    names = {name for _, _, name in listening}
    assert {"gcs_server", "raylet"} <= names, names
    assert any(name.startswith("ray::CaseWorker") for name in names), names
    assert {address for address, _, _ in listening} <= LOOPBACK, sorted(set(listening))

    # Nothing left: every process that appeared under this one while Ray ran has exited.
    assert set(run.worker_pids) <= seen_ray
    assert run.survivors == set()  # none had to be killed after ray.shutdown()
    left = _running_below(me) - before
    assert not left, [_processes().get(pid) for pid in left]
    table = _processes()
    still = [pid for pid in seen_ray if pid in table and not table[pid][1].startswith("Z")]
    assert not still, [table[pid] for pid in still]
    # The same by name (a zombie has exited: it only waits for init to reap it).
    pgrep = subprocess.run(["pgrep", "-f", "ray::|raylet|gcs_server"], capture_output=True, text=True)
    named = {int(p) for p in pgrep.stdout.split()} & seen_ray
    table = _processes()
    assert not [table[pid] for pid in named if pid in table and not table[pid][1].startswith("Z")]


@needs_ray
def test_medboard_batch_on_ray_writes_the_packet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI path: `medboard batch CASES… --executor ray --ray-workers 1` on a private local Ray."""
    from medboard.report.board import BoardPacket

    out = tmp_path / "packet"
    args = ["batch", str(DEFAULT_CASE), str(SYNTHEA), "--out", str(out), "--model", "none"]
    assert main([*args, "--executor", "ray", "--ray-workers", "1", "--concurrency", "2"]) == 0
    assert "2 cases, 2 done, 0 failed" in capsys.readouterr().out
    packet = BoardPacket.model_validate_json((out / "board.json").read_text(encoding="utf-8"))
    assert packet.run.executor == "ray" and [c.status for c in packet.cases] == ["done", "done"]
    for case in packet.cases:
        assert (out / "cases" / case.id / "report.html").is_file()


@needs_ray
def test_ctrl_c_during_a_ray_board_leaves_no_ray_process(tmp_path: Path) -> None:
    """SIGINT once the case workers run: exit 130, nothing published, every Ray process gone."""
    import signal

    medboard = Path(sys.executable).with_name("medboard")
    agenda = EXAMPLES / "board" / "agenda.yaml"
    out = tmp_path / "packet"
    command = [str(medboard), "board", str(agenda), "--out", str(out), "--executor", "ray", "--model", "none"]
    board = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and board.poll() is None:
            below = _running_below(board.pid)
            seen |= below
            table = _processes()
            if any("ray::CaseWorker" in table.get(pid, (0, "", ""))[2] for pid in below):
                break
            time.sleep(0.2)
        assert board.poll() is None, "the board ended before its Ray workers were seen"
        board.send_signal(signal.SIGINT)
        _, err = board.communicate(timeout=60)
    finally:
        if board.poll() is None:
            board.kill()
    assert board.returncode == 130, err
    assert "interrupted by SIGINT" in err and not out.exists()
    table = _processes()  # the executor waited for the workers before the process ended
    still = [table[pid] for pid in seen if pid in table and not table[pid][1].startswith("Z")]
    assert not still, still


@needs_ray
def test_an_unreachable_cluster_is_one_line_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `ray.init(address=…)` raises when nothing answers (real: ConnectionError after ~30 s)."""
    import ray

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("ray client connection timeout")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    executor = make_executor("ray", address="ray://user:secret@head:10001", workers=2)
    job = CaseJob(id="c", bundle=DEFAULT_CASE, model="none")
    with pytest.raises(ExecutorError) as info:
        asyncio.run(executor.run_all([job], concurrency=1, progress=lambda *_: None))
    assert info.value.exit_code == 3
    assert "secret" not in str(info.value) and "cannot connect (ConnectionError)" in str(info.value)
