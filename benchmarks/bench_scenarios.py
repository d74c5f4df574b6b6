"""Scenario suite benchmark (issue 14): what a scenario costs on top of its case, and the suite's time.

For every bundled scenario that runs without a live endpoint (`scenarios/bundled`, plus the
custom-specialist example), in this process, after one warm-up run of each:

1. the scenario — `run_file`: load and validate the YAML, load the inputs, run the case (strict
   replay of its cassette, or no model), build the picture, check every expectation;
2. the baseline — the same case through `medboard.api.run_case` (replay or no model), without the
   scenario layer;

and prints both (median of `--repeats`) with their ratio, then the whole suite as CI runs it:
`python -m pytest scenarios -q` in a subprocess (wall time, including interpreter start and
imports), and the slowest items from `--durations`. Prints figures; asserts nothing.

    python benchmarks/bench_scenarios.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

from medboard.api import run_case
from medboard.scenarios.runner import run_file
from medboard.scenarios.spec import CassetteModel, LiveModel, find_scenarios, load_scenario

ROOT = Path(__file__).resolve().parents[1]


def timed(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def baseline(path: Path) -> float:
    scenario = load_scenario(path)
    inputs = scenario.inputs
    record = scenario.resolve(inputs.case or inputs.record or "")
    replay = scenario.resolve(scenario.model.cassette) if isinstance(scenario.model, CassetteModel) else None
    if inputs.images:  # images are added by the scenario layer; the baseline is the scenario run itself
        return float("nan")
    started = time.perf_counter()
    asyncio.run(run_case(record, model="none", replay=replay, question=inputs.question))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    files = [
        p for p in find_scenarios([ROOT / "scenarios"]) if not isinstance(load_scenario(p).model, LiveModel)
    ]
    print(f"{'scenario':<34} {'mode':<7} {'items':>5} {'scenario s':>10} {'case s':>8} {'ratio':>6}")
    total = 0.0
    for path in files:
        result = run_file(path)  # warm-up (imports, caches)
        assert result is not None
        runs = [timed(lambda p=path: run_file(p)) for _ in range(args.repeats)]
        bases = [baseline(path) for _ in range(args.repeats)]
        scenario_s, case_s = statistics.median(runs), statistics.median(bases)
        total += scenario_s
        mode = result.run.mode if result.run else "error"
        ratio = f"{scenario_s / case_s:6.2f}" if case_s == case_s else "     -"
        status = "" if result.passed else "  (FAILED)"
        print(
            f"{result.label:<34} {mode:<7} {len(result.results):>5} {scenario_s:>10.2f} "
            f"{case_s:>8.2f} {ratio}{status}"
        )
    print(f"sum of per-scenario medians: {total:.2f} s over {len(files)} scenarios")
    started = time.perf_counter()
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "scenarios", "-q", "-p", "no:cacheprovider", "--durations=5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    lines = suite.stdout.strip().splitlines()
    last = lines[-1] if lines else ""
    print(f"python -m pytest scenarios: {wall:.1f} s wall (exit {suite.returncode}); {last}")
    slowest = [line for line in lines if line.strip().startswith(tuple("0123456789")) and " call " in line]
    for line in slowest:
        print(f"  {line.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
