"""Ctrl-C and SIGTERM stop `medboard run` within seconds, exit 130 / 143 with one line, and leave
no staging folder; an earlier run's published output survives untouched.

A real `medboard run` subprocess against a fake OpenAI endpoint whose every call hangs (the case
that took > 200 s to stop before), the signal sent while the model calls are in flight.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer, chat_completion
from outputs_support import snapshot, staging_left

from medboard.cli.interrupts import RunInterrupted, run_interruptible, signals_raise

JENNY = Path(__file__).parent / "data" / "fhir" / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
REPO = Path(__file__).resolve().parents[1]
#: Generous for a loaded 2-core CI machine; the measured figure is ~1 s (benchmarks/bench_run_outputs.py).
STOP_WITHIN_S = 6.0


def hang(body: dict) -> tuple[int, dict, float]:
    return 200, chat_completion("ok"), 600.0


def interrupted_run(sig: signal.Signals, out: Path, cwd: Path) -> tuple[int, str, float]:
    with FakeOpenAIServer(hang, models=["fake-model"]) as server:
        model = ["--model", server.base_url, "--model-name", "fake-model"]
        run = subprocess.Popen(
            # The embedded default case: its board question is always put to the model (a bundle
            # alone may need no model call at all once every statement is supported by the rules).
            [sys.executable, "-m", "medboard", "run", *model, "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        deadline = time.monotonic() + 120
        while not server.requests and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.05)
        assert server.requests, "the run reached the model"
        time.sleep(0.3)
        sent = time.monotonic()
        run.send_signal(sig)
        try:
            _, err = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate()
        return run.returncode, err, time.monotonic() - sent


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["int", "term"])
def test_a_signal_stops_the_run_within_seconds(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    out = tmp_path / "out"
    returncode, err, took = interrupted_run(sig, out, tmp_path)
    assert returncode == code, err
    assert took < STOP_WITHIN_S, f"stopped after {took:.1f} s"
    lines = [line for line in err.splitlines() if line.startswith("medboard:")]
    assert lines == [f"medboard: error: interrupted by {sig.name}; nothing was published"], err
    assert "Traceback" not in err and "ERROR" not in err, err
    assert not out.exists(), "nothing was published"
    assert not staging_left(tmp_path)


def test_a_signal_leaves_the_earlier_output_as_it_was(tmp_path: Path) -> None:
    """Staging sits inside an existing --out; after SIGTERM only the earlier run's files are there."""
    from medboard.cli.main import main

    out = tmp_path / "out"
    assert main(["run", str(JENNY), "--model", "none", "--out", str(out)]) == 0
    before = snapshot(tmp_path)
    returncode, err, took = interrupted_run(signal.SIGTERM, out, tmp_path)
    assert returncode == 143 and took < STOP_WITHIN_S, err
    assert snapshot(tmp_path) == before
    assert not staging_left(tmp_path, out)


def test_run_interruptible_does_not_wait_for_a_busy_thread() -> None:
    """A worker thread busy in blocking work (an image load) does not hold the stop."""
    release = threading.Event()

    async def busy() -> None:
        await asyncio.to_thread(release.wait, 120)

    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()
    try:
        with signals_raise(), pytest.raises(RunInterrupted) as caught:
            run_interruptible(busy())
    finally:
        release.set()
    assert caught.value.exit_code == 143
    assert time.monotonic() - started < STOP_WITHIN_S


def test_outside_the_loop_a_signal_raises_the_same_error() -> None:
    """Case loading and publishing run outside the event loop: SIGINT there is a RunInterrupted
    too (exit 130), so every cleanup in `finally` runs."""
    with signals_raise(), pytest.raises(RunInterrupted) as caught:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    assert caught.value.exit_code == 130
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "the handler was restored"
