"""What write-back costs to build: the transaction Bundle (validated with fhir.resources R4B)
against serialising the same summary to summary.json, in the same process.

Runs the case once with no model (the embedded Jenny M case by default), then times
``build_writeback`` (Devices, Composition with its XHTML narratives, Provenance, all validated)
and ``CaseSummary.model_dump_json`` (the baseline), and prints the bundle's size and statement
count. Posting it is timed against the real server by the tests, not here (it needs node).

    .venv/bin/python benchmarks/bench_writeback.py [BUNDLE] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path


def _best(repeat: int, function) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    from medboard.api import run_case_sync
    from medboard.examples import DEFAULT_CASE
    from medboard.tools.writeback import build_writeback

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=DEFAULT_CASE)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    summary = run_case_sync(args.bundle, model="none")
    patient = summary.patient or "Patient/unknown"
    now = datetime.now(UTC)
    baseline = _best(args.repeat, summary.model_dump_json)
    build = _best(args.repeat, lambda: build_writeback(summary, patient_ref=patient, now=now))
    bundle = build_writeback(summary, patient_ref=patient, now=now)
    print(f"case: {summary.case_id}, {len(summary.statements())} statements")
    print(f"summary.model_dump_json (baseline): {baseline * 1000:8.1f} ms  (best of {args.repeat})")
    print(f"build_writeback + validation:       {build * 1000:8.1f} ms  ({build / baseline:.1f}x baseline)")
    print(f"bundle: {len(bundle['entry'])} entries, {len(json.dumps(bundle)) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
