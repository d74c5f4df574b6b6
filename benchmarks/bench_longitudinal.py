"""Longitudinal-tools benchmark: cost of the deterministic core beside loading the record.

For every Synthea bundle in ../shared/data/fhir/synthea (years of labs, vitals, medications), prints
the time of `load_record` (the baseline, same process), of `compute_trends`, `build_timeline` and
the whole `longitudinal_findings`, the ratio findings / load, and the counts (analytes, points,
skipped values, lines, findings). Asserts nothing.

    .venv/bin/python benchmarks/bench_longitudinal.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medboard.agents.longitudinal.core import longitudinal_findings
from medboard.tools.fhir import load_record
from medboard.tools.longitudinal.timeline import build_timeline
from medboard.tools.longitudinal.trends import compute_trends

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA = ROOT.parent / "shared" / "data" / "fhir" / "synthea"


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    compute_trends([])  # warm imports (pint registry is built on first conversion)
    print(
        f"{'bundle':<22} {'facts':>6} {'load s':>8} {'trends s':>9} {'timeline s':>10} "
        f"{'findings s':>10} {'ratio':>6} {'analytes':>8} {'points':>7} {'skipped':>7} {'lines':>5} "
        f"{'findings':>8}"
    )
    ratios = []
    for path in sorted(SYNTHEA.glob("*.json")):
        load_s, record = best_of(args.repeats, lambda path=path: load_record(path))
        trends_s, report = best_of(args.repeats, lambda record=record: compute_trends(record.facts))
        timeline_s, timeline = best_of(args.repeats, lambda record=record: build_timeline(record.facts))
        findings_s, findings = best_of(args.repeats, lambda record=record: longitudinal_findings(record))
        ratio = findings_s / load_s
        ratios.append(ratio)
        points = sum(len(a.points) for a in report.analytes)
        skipped = sum(len(a.skipped) for a in report.analytes) + len(report.unassigned)
        print(
            f"{path.name:<22} {len(record.facts):>6} {load_s:>8.3f} {trends_s:>9.3f} {timeline_s:>10.3f} "
            f"{findings_s:>10.3f} {ratio:>6.2f} {len(report.analytes):>8} {points:>7} {skipped:>7} "
            f"{len(timeline.lines):>5} {len(findings):>8}"
        )
    if ratios:
        print(f"median findings/load ratio: {statistics.median(ratios):.2f} (best of {args.repeats})")


if __name__ == "__main__":
    main()
