"""The processes a locally started Ray left, and making sure they are gone.

`ray.shutdown()` stops Ray's own servers (GCS, raylet) before it returns, but the worker processes
notice their raylet is gone and exit on their own a moment later (seen: up to ~1 s). A board must
leave nothing behind, so the executor notes which processes appeared under it while Ray ran, waits
for them after the shutdown, and kills any that outlive the wait. Linux only (it reads /proc);
elsewhere it finds nothing and waits for nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) of `pid`, or None when it does not exist."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses; split after the last ')'.
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[1]), fields[0]


def descendants(root: int) -> set[int]:
    """Every live process below `root` (children, their children, …)."""
    parents: dict[int, list[int]] = {}
    for entry in PROC.glob("[0-9]*"):
        stat = _stat(int(entry.name))
        if stat is not None and stat[1] != "Z":
            parents.setdefault(stat[0], []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie has exited: it only waits to be reaped)."""
    return {pid for pid in pids if (stat := _stat(pid)) is not None and stat[1] != "Z"}


def wait_gone(pids: set[int], timeout_s: float = 10.0) -> set[int]:
    """Wait for `pids` to exit; SIGKILL what is left after `timeout_s`. Returns what never went."""
    deadline = time.monotonic() + timeout_s
    while (left := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while (left := alive(left)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
