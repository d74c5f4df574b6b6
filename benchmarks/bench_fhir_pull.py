"""FHIR server pull benchmark. Prints figures; asserts nothing.

Starts the test FHIR server (medplum's fhir-router in memory, tests/medplum_server.py, on
127.0.0.1), loads the largest shared Synthea record (austin_franecki.json) and pulls that patient
with each strategy, best of N runs (interleaved, so load spikes hit each alike):

- ``$everything`` (the server's operation, paged along ``next`` links),
- search + paging (one search per resource type, ``patient=Patient/{id}``, ``next`` links; a few
  types in flight at once), at the default page size and at ``--page-size`` (50),

and prints, per strategy, the pull time, resources, requests, bytes and the client's own CPU
time (the server is another process), and the ratio against
reading the same bundle from disk with ``load_record`` in the same process (the baseline), both
for the pull alone and for pull + ``load_record`` of the pulled bundle (what ``medboard run
--fhir-server`` does before the case runs).

The server is part of what is measured: medplum's memory store re-runs the compartment searches
for every page of its ``$everything`` (the test wrapper pages a list it rebuilds each time), so
that strategy's time is mostly the server's, not the client's.

    python benchmarks/bench_fhir_pull.py [--runs 5] [--page-size 50] [--record austin_franecki]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from medplum_server import MedplumServer, bundle_path  # noqa: E402

from medboard.tools.fhir import load_record  # noqa: E402
from medboard.tools.fhir_server import FhirClient, PulledRecord, pull_patient  # noqa: E402


def best(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def pull(server: MedplumServer, pid: str, *, everything: bool, page_size: int) -> tuple[PulledRecord, int]:
    server.configure(everything=everything)

    async def go() -> tuple[PulledRecord, int]:
        async with FhirClient(server.base_url, page_size=page_size) as client:
            pulled = await pull_patient(client, pid)
            return pulled, client.bytes_received

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--record", default="austin_franecki")
    args = parser.parse_args()

    path = bundle_path(args.record)
    server = MedplumServer()
    try:
        pid = server.load(args.record)
        load_record(path)  # warm imports (fhir.resources models) before any timing
        baseline, record = best(lambda: load_record(path), args.runs)
        print(f"record: {path.name} ({path.stat().st_size / 1e6:.1f} MB, {len(record.resources)} resources)")
        print(f"baseline  load_record(file) in process: {baseline * 1000:8.1f} ms  (best of {args.runs})")
        print()
        header = (
            f"{'strategy':<28} {'pull ms':>9} {'x base':>7} {'+load ms':>9} {'x base':>7} "
            f"{'res':>5} {'req':>5} {'MB':>6} {'cli cpu':>8}"
        )
        print(header)
        print("-" * len(header))
        cases = [
            ("$everything (_count=200)", True, 200),
            ("search + paging (_count=200)", False, 200),
            (f"search + paging (_count={args.page_size})", False, args.page_size),
            (f"$everything (_count={args.page_size})", True, args.page_size),
        ]
        results: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        cpu: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        loaded: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        last: dict[str, tuple[PulledRecord, int]] = {}
        for _ in range(args.runs):
            for name, everything, page_size in cases:
                start, cpu_start = time.perf_counter(), time.process_time()
                pulled, size = pull(server, pid, everything=everything, page_size=page_size)
                pulled_at = time.perf_counter()
                cpu[name].append(time.process_time() - cpu_start)
                load_record(pulled.to_bundle(), name=f"FHIR server {server.base_url}")
                results[name].append(pulled_at - start)
                loaded[name].append(time.perf_counter() - start)
                last[name] = (pulled, size)
        for name, _, _ in cases:
            pulled, size = last[name]
            seconds, with_load = min(results[name]), min(loaded[name])
            client_cpu = min(cpu[name]) * 1000
            counts = f"{len(pulled.resources):5d} {pulled.requests:5d} {size / 1e6:6.2f} {client_cpu:8.1f}"
            print(
                f"{name:<28} {seconds * 1000:9.1f} {seconds / baseline:7.2f} {with_load * 1000:9.1f} "
                f"{with_load / baseline:7.2f} {counts}"
            )
        print()
        print("x base: time / load_record(file) time in this process;")
        print("+load: the pull, then load_record of the pulled bundle;")
        print("res: resources pulled (the types medboard reads); req: HTTP requests (metadata, pages);")
        print("cli cpu: CPU ms of this process during the pull (the client's own work; the server is node).")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
