"""What bounded concurrency buys a tumor board: 8 cases at ``--concurrency 8`` against ``1``.

The board runs as users run it (``medboard board AGENDA --model URL``, a fresh process per run)
against an OpenAI-compatible HTTP server on 127.0.0.1 that answers every call after a fixed
``--latency`` (default 4 s): the case flow awaits each call over real HTTP exactly as it awaits a
vLLM server, so the time a case spends waiting on the model is real waiting, and concurrency is
what overlaps it. The answers come from a deterministic responder (`tests/tumor_board_support.py`: any
patient, every schema: the headline restating the listed findings, the board answer citing one,
each entailment "entailed"); a cassette recorded from it would replay the same answers. The server
runs in its own process, so its threads never compete with the board for this process's GIL.

The 8 cases: the example agenda's three bundled records (medboard/examples/board) cycled to 8,
or with ``--records shared`` the six shared Synthea records and Jenny M twice. Figures:

- wall time of the cases (board.json ``run.seconds``) at ``--concurrency 8`` and ``1``, and the
  ratio (target ≥ 5× on a 2-core machine: the work waits on the model), plus model calls made;
- render time of the largest case's report.html (its record re-loaded, the summary from the
  packet; median of ``--repeat``) and of the packet (index.html alone, and the whole packet written
  to a staging folder: board.json, index.html, every case's files).

``--executor ray`` runs the same boards on a private local Ray (``--ray-workers``, default 2:
the case workers; 127.0.0.1 only), so its figures come from this script too; ``--executor`` may be
given twice to compare in one run (``--executor local --executor ray``). A Ray board's wall time
includes starting Ray and its workers and shutting them down; that start-up cost is also measured
on its own (a fresh process: `ray.init`, the case workers up, `ray.shutdown()` and the wait for
every Ray process to exit), so the two can be told apart.

    .venv/bin/python benchmarks/bench_tumor_board.py [--latency 4] [--cases 8] [--records example|shared]
        [--executor local] [--executor ray] [--ray-workers 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "fhir"
EXAMPLE = ROOT / "medboard" / "examples" / "board"
MEDBOARD = Path(sys.executable).with_name("medboard")


# ----------------------------------------------------------------------------- the model server


def _serve(latency: float, pipe: Any, stop: Any) -> None:
    """Child process: the fake model with a fixed per-call latency, until `stop` is set."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_openai import FakeOpenAIServer
    from tumor_board_support import InFlight, board_responder

    model = InFlight(board_responder(), latency)
    with FakeOpenAIServer(model, models=["bench-model"]) as server:
        pipe.send(server.base_url)
        stop.wait()
        pipe.send({"calls": sum(model.calls.values()), "peak_in_flight": model.peak})


class ModelServer:
    def __init__(self, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._parent, child = context.Pipe()
        self._stop = context.Event()
        self._process = context.Process(target=_serve, args=(latency, child, self._stop), daemon=True)

    def __enter__(self) -> str:
        self._process.start()
        return str(self._parent.recv())

    def stats(self) -> dict[str, int]:
        self._stop.set()
        return dict(self._parent.recv())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()


# ----------------------------------------------------------------------------------- the board


def make_agenda(folder: Path, records: str, cases: int) -> Path:
    """An agenda of `cases` cases over copies of the chosen records in `folder`."""
    if records == "example":
        example = yaml.safe_load((EXAMPLE / "agenda.yaml").read_text(encoding="utf-8"))
        sources = [(c["id"], EXAMPLE / c["bundle"], c["question"]) for c in example["cases"]]
    else:
        synthea = sorted((SHARED / "synthea").glob("*.json"))
        jenny = SHARED / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
        sources = [(p.stem.replace("_", "-"), p, "What does the board need to decide?") for p in synthea]
        sources += [("jenny-m", jenny, "Is she a candidate for breast-conserving surgery?")]
    agenda_cases = []
    for n, (case_id, path, question) in zip(range(cases), itertools.cycle(sources), strict=False):
        target = folder / path.name
        if not target.exists():
            shutil.copy(path, target)
        agenda_cases.append({"id": f"{n + 1:02d}-{case_id}", "bundle": path.name, "question": question})
    agenda = folder / "agenda.yaml"
    agenda.write_text(
        yaml.safe_dump({"board": "Benchmark board", "date": "2024-05-02", "cases": agenda_cases}),
        encoding="utf-8",
    )
    return agenda


def run_board(
    agenda: Path, out: Path, model_url: str, concurrency: int, executor: str, ray_workers: int = 2
) -> dict[str, Any]:
    command = [
        str(MEDBOARD),
        "board",
        str(agenda),
        "--out",
        str(out),
        "--model",
        model_url,
        "--model-name",
        "bench-model",
        "--concurrency",
        str(concurrency),
        "--executor",
        executor,
        *(["--ray-workers", str(ray_workers)] if executor == "ray" else []),
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    process_s = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"board failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    packet = json.loads((out / "board.json").read_text(encoding="utf-8"))
    return {"cases_s": packet["run"]["seconds"], "process_s": process_s, "packet": packet}


RAY_STARTUP = """
import asyncio, json, sys, time
from medboard.orchestrator.board import CaseJob
from medboard.orchestrator.board.ray_executor import RayExecutor
executor = RayExecutor(workers=int(sys.argv[1]))
job = CaseJob(id="empty")  # fails at once (no bundle): the run is start-up and shutdown only
start = time.perf_counter()
(outcome,) = asyncio.run(executor.run_all([job], concurrency=1, progress=lambda *_: None))
total = time.perf_counter() - start
run = executor.last_run
print(json.dumps({"init_s": run.start_seconds, "workers_s": run.workers_seconds,
                  "shutdown_s": run.stop_seconds, "total_s": total, "survivors": len(run.survivors)}))
"""


def ray_startup(workers: int) -> dict[str, float]:
    """Ray's own cost, in a fresh process as a board pays it: init, workers up, shutdown."""
    done = subprocess.run(
        [sys.executable, "-c", RAY_STARTUP, str(workers)], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ------------------------------------------------------------------------------------- renders


def _median(repeat: int, function: Any) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def render_figures(agenda: Path, out: Path, repeat: int) -> dict[str, Any]:
    """Render times of the largest case's report.html and of the packet, in this process."""
    from medboard.models import CaseSummary
    from medboard.orchestrator.board import CaseOutcome, load_agenda
    from medboard.orchestrator.case import load_case
    from medboard.report.board import BoardPacket, write_packet
    from medboard.report.html import render_report
    from medboard.report.html.board_index import render_board_index

    jobs = {job.id: job for job in load_agenda(agenda).cases}
    largest = max(jobs.values(), key=lambda job: job.bundle.stat().st_size if job.bundle else 0)
    folder = out / "cases" / largest.id
    summary = CaseSummary.model_validate_json((folder / "summary.json").read_text(encoding="utf-8"))
    assert largest.bundle is not None
    case = load_case(largest.bundle, question=largest.question)
    case.case_id = largest.id
    render_report(summary, case)  # warm: matplotlib imported, fonts cached
    report_s = _median(repeat, lambda: render_report(summary, case))

    packet = BoardPacket.model_validate_json((out / "board.json").read_text(encoding="utf-8"))
    outcomes = [
        CaseOutcome(
            id=c.id,
            status=c.status,
            files={
                p.relative_to(out / "cases" / c.id).as_posix(): p.read_bytes()
                for p in (out / "cases" / c.id).rglob("*")
                if p.is_file()
            },
        )
        for c in packet.cases
    ]
    index_s = _median(repeat, lambda: render_board_index(packet))

    def write() -> None:
        with tempfile.TemporaryDirectory() as staging:
            write_packet(packet, outcomes, Path(staging))

    packet_s = _median(repeat, write)
    return {
        "largest_case": largest.id,
        "largest_bundle_bytes": largest.bundle.stat().st_size,
        "report_render_s": report_s,
        "report_bytes": (folder / "report.html").stat().st_size,
        "index_render_s": index_s,
        "packet_write_s": packet_s,
        "packet_bytes": sum(p.stat().st_size for p in out.rglob("*") if p.is_file()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=4.0, help="seconds per model call")
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--high", type=int, default=8, help="the concurrency compared with 1")
    parser.add_argument("--records", choices=["example", "shared"], default="example")
    parser.add_argument("--executor", action="append", help="local (default), ray, ...")
    parser.add_argument("--ray-workers", type=int, default=2, help="case workers of --executor ray")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    executors = args.executor or ["local"]
    print(
        f"{os.cpu_count()} CPUs; {args.cases} cases ({args.records} records); "
        f"{args.latency:g} s per model call"
    )
    with tempfile.TemporaryDirectory(prefix="medboard-bench-board-") as temp:
        root = Path(temp)
        (root / "agenda").mkdir()
        agenda = make_agenda(root / "agenda", args.records, args.cases)
        results: dict[str, dict[int, dict[str, Any]]] = {}
        last_out = None
        for executor in executors:
            results[executor] = {}
            for concurrency in (args.high, 1):
                server = ModelServer(args.latency)
                with server as url:
                    out = root / f"out-{executor}-{concurrency}"
                    run = run_board(agenda, out, url, concurrency, executor, args.ray_workers)
                    run.update(server.stats())
                    last_out = out
                done = sum(1 for c in run["packet"]["cases"] if c["status"] == "done")
                results[executor][concurrency] = run
                print(
                    f"  {executor:6s} --concurrency {concurrency}: cases {run['cases_s']:7.1f} s "
                    f"(process {run['process_s']:.1f} s), {done}/{args.cases} done, "
                    f"{run['calls']} model calls, at most {run['peak_in_flight']} in flight"
                )
            high, one = results[executor][args.high], results[executor][1]
            print(f"  {executor:6s} speed-up {args.high} vs 1: {one['cases_s'] / high['cases_s']:.2f}×")
            if executor == "ray":
                startup = ray_startup(args.ray_workers)
                print(
                    f"  ray    start-up on its own ({args.ray_workers} workers): "
                    f"init {startup['init_s']:.1f} s, "
                    f"workers up {startup['workers_s']:.1f} s, shutdown {startup['shutdown_s']:.1f} s "
                    f"(total {startup['total_s']:.1f} s; {startup['survivors']} process(es) left)"
                )
        if len(executors) > 1:
            base = results[executors[0]][args.high]["cases_s"]
            for executor in executors[1:]:
                other = results[executor][args.high]["cases_s"]
                print(
                    f"  {executor} against {executors[0]} at {args.high}: {base / other:.2f}× ({other:.1f} s)"
                )
        assert last_out is not None
        figures = render_figures(agenda, last_out, args.repeat)
        print(
            f"  largest report ({figures['largest_case']}, "
            f"bundle {figures['largest_bundle_bytes'] / 1e6:.1f} MB): "
            f"render {figures['report_render_s']:.2f} s, {figures['report_bytes'] / 1e3:.0f} kB"
        )
        print(
            f"  packet: index.html {figures['index_render_s'] * 1000:.1f} ms; whole packet written "
            f"{figures['packet_write_s'] * 1000:.0f} ms ({figures['packet_bytes'] / 1e6:.1f} MB)"
        )


if __name__ == "__main__":
    main()
