"""Run one corpus item through the real CLI, bounded, and judge what it did.

Each invocation is a child process (`python -m medboard …`) started in its own session with
``RLIMIT_AS`` set (so a memory bomb ends in the child, never on the machine) and a wall timeout
(the whole process group is killed when it runs out). The child's own peak RSS comes from
``os.wait4`` (per child, so it is right even when several items run at once).

`judge` turns an `Outcome` into a list of readable problems: exit code, one line, traceback,
control/bidi characters, credentials, time, memory, and files changed outside ``--out``.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .corpus import Invocation

#: Address-space cap of each child (the issue's bombs reach 4 GB to 285 GiB).
MEMORY_CAP = 2 * 1024**3
#: Wall-clock cap of each child.
TIMEOUT_S = 60.0

#: C0/C1 controls except tab and newline, and the bidi formatting characters.
UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Lines the progress view prints to stderr (``[   0.7s] ehr: ok``): UI, not error text.
PROGRESS_LINE = re.compile(r"^\[\s*\d+(\.\d+)?s\] ")


@dataclass
class Outcome:
    """What one child did."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_mib: float
    timed_out: bool = False
    ended_after_signal_s: float | None = None

    @property
    def hit_memory_cap(self) -> bool:
        return "MemoryError" in self.stderr or "Cannot allocate memory" in self.stderr

    def figures(self) -> str:
        extra = " TIMEOUT" if self.timed_out else ""
        extra += " MEMORY-CAP" if self.hit_memory_cap else ""
        return f"exit {self.returncode}, {self.wall_s:.1f} s, peak RSS {self.peak_rss_mib:.0f} MiB{extra}"


def child_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment with no model configured (no MEDBOARD_*/OPENAI_*), HOME outside the snapshot."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MEDBOARD_", "OPENAI_", "PYTEST_", "COV_"))
    }
    env.update({"HOME": str(home), "TMPDIR": str(home), "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "160"})
    env.update(extra or {})
    return env


def _limit_memory(cap: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def run_cli(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float = TIMEOUT_S,
    memory_cap: int = MEMORY_CAP,
    send_signal: tuple[int, float] | None = None,
) -> Outcome:
    """Run ``python -m medboard ARGS`` bounded; `send_signal` = (signal, after seconds)."""
    argv = [sys.executable, "-m", "medboard", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            preexec_fn=lambda: _limit_memory(memory_cap),
        )
        timed_out = False
        signalled_at: float | None = None
        status, usage = 0, None
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            now = time.monotonic() - started
            if send_signal is not None and signalled_at is None and now >= send_signal[1]:
                os.kill(process.pid, send_signal[0])
                signalled_at = now
            if now > timeout:
                timed_out = True
                os.killpg(process.pid, signal.SIGKILL)
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        wall = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "backslashreplace")
        stderr = err.read().decode("utf-8", "backslashreplace")
    return Outcome(
        argv=argv,
        returncode=process.returncode,
        stdout=stdout,
        stderr=stderr,
        wall_s=wall,
        peak_rss_mib=(usage.ru_maxrss / 1024 if usage else 0.0),
        timed_out=timed_out,
        ended_after_signal_s=None if signalled_at is None else wall - signalled_at,
    )


# --- snapshots ---------------------------------------------------------------------------------


def snapshot(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[str, int, int, str]]:
    """Path → (kind, size, mtime_ns, sha256) of everything under `root`; symlinks are not followed,
    only regular files are read (a FIFO or device in the corpus is never opened)."""
    found: dict[str, tuple[str, int, int, str]] = {}
    skipped = {os.fspath(p) for p in skip}
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skipped]
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            if path in skipped:
                continue
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if os.path.islink(path):
                found[path] = ("link", 0, 0, os.readlink(path))
            elif os.path.isdir(path):
                found[path] = ("dir", 0, 0, "")
            elif os.path.isfile(path):
                digest = hashlib.sha256()
                with open(path, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        digest.update(chunk)
                found[path] = ("file", info.st_size, info.st_mtime_ns, digest.hexdigest())
            else:
                found[path] = ("special", 0, info.st_mtime_ns, "")
    return found


def changed(
    before: dict[str, tuple[str, int, int, str]], after: dict[str, tuple[str, int, int, str]]
) -> list[str]:
    problems = []
    for path in sorted(set(before) | set(after)):
        if path not in after:
            problems.append(f"deleted {path}")
        elif path not in before:
            problems.append(f"created {path}")
        elif before[path] != after[path]:
            problems.append(f"modified {path}")
    return problems


# --- judging ----------------------------------------------------------------------------------


@dataclass
class Verdict:
    item: str
    outcome: Outcome
    problems: list[str] = field(default_factory=list)

    def report(self) -> str:
        o = self.outcome
        tail = "\n".join(o.stderr.strip().splitlines()[-8:])
        lines = [
            f"hostile input {self.item!r}: {len(self.problems)} problem(s)",
            *(f"  - {p}" for p in self.problems),
            f"  command: {' '.join(o.argv[2:])}",
            f"  measured: {o.figures()}",
            "  stderr (last lines):",
            *(f"    | {line}" for line in (tail.splitlines() or ["<empty>"])),
        ]
        if o.stdout.strip() and o.returncode != 0:
            lines.append(f"  stdout (start): {o.stdout.strip()[:300]!r}")
        return "\n".join(lines)


def output_texts(out: Path | None) -> dict[str, str]:
    """Text of every regular file under --out (rendered files included)."""
    if out is None or not out.is_dir():
        return {}
    texts = {}
    for path in out.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 64 * 1024 * 1024:
            texts[str(path)] = path.read_bytes().decode("utf-8", "backslashreplace")
    return texts


def judge(item: str, invocation: Invocation, outcome: Outcome, files_changed: list[str]) -> Verdict:
    """Every rule of the harness contract, as readable problems (empty = the item passed)."""
    verdict = Verdict(item, outcome)
    problems = verdict.problems
    rc = outcome.returncode
    if outcome.timed_out:
        problems.append(f"did not finish within {invocation.timeout:.0f} s (killed)")
    elif rc not in invocation.expect:
        problems.append(f"exit code: expected {' or '.join(map(str, invocation.expect))}, got {rc}")
    if "Traceback" in outcome.stderr or "Traceback" in outcome.stdout:
        problems.append("a Python traceback was printed")
    if outcome.hit_memory_cap:
        problems.append(f"ran out of memory under the {MEMORY_CAP // 1024**3} GiB address-space cap")
    if rc in (2, 3) and not outcome.timed_out:
        lines = [ln for ln in outcome.stderr.splitlines() if ln.strip() and not PROGRESS_LINE.match(ln)]
        if len(lines) != 1:
            problems.append(f"stderr should be exactly one error line, got {len(lines)}")
        elif not lines[0].startswith("medboard"):
            problems.append(f"the error line does not come from medboard: {lines[0][:120]!r}")
    for stream, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
        hit = UNSAFE_CHARS.search(text)
        if hit:
            problems.append(f"raw control/bidi character U+{ord(hit.group()):04X} in {stream}")
    texts = output_texts(invocation.out) if rc == 0 else {}
    for name, text in texts.items():
        if name.endswith((".md", ".html", ".txt")):
            hit = UNSAFE_CHARS.search(text)
            if hit:
                problems.append(f"raw control/bidi character U+{ord(hit.group()):04X} in rendered {name}")
    everything = {"stdout": outcome.stdout, "stderr": outcome.stderr, **texts}
    for secret in invocation.secrets:
        leaks = [where for where, text in everything.items() if secret in text]
        if leaks:
            problems.append(f"secret/identifying value {secret[:24]!r} appears in {', '.join(leaks)}")
    flagged = invocation.flag is None or re.search(invocation.flag, "\n".join(everything.values()), re.I)
    if rc == 0 and not outcome.timed_out and not flagged:
        problems.append(f"accepted (exit 0) without flagging it (no output matches /{invocation.flag}/)")
    problems.extend(files_changed)
    for check in invocation.checks:
        message = check(outcome)
        if message:
            problems.append(message)
    if invocation.signal is not None and outcome.ended_after_signal_s is not None:
        grace = invocation.signal[2]
        if outcome.ended_after_signal_s > grace:
            problems.append(
                f"took {outcome.ended_after_signal_s:.1f} s to stop after the signal (allowed {grace:.0f} s)"
            )
    return verdict


def run_item(name: str, invocation: Invocation, root: Path, home: Path) -> Verdict:
    """Snapshot, run (once, or `parallel` copies at once), snapshot again, judge."""
    skip = (home,)
    before = snapshot(root, skip)
    env = child_env(home, invocation.env)
    signal_spec = (invocation.signal[0], invocation.signal[1]) if invocation.signal else None

    def one() -> Outcome:
        return run_cli(
            invocation.args, cwd=root, env=env, timeout=invocation.timeout, send_signal=signal_spec
        )

    if invocation.parallel <= 1:
        outcomes = [one()]
    else:
        outcomes = [None] * invocation.parallel  # type: ignore[list-item]

        def worker(i: int) -> None:
            outcomes[i] = one()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(invocation.parallel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    verdicts = []
    # --out may change when a run succeeded (with concurrent runs: when any of them did)
    succeeded = any(o.returncode == 0 for o in outcomes)
    for outcome in outcomes:
        allowed_out = invocation.out if succeeded and invocation.out is not None else None
        after = snapshot(root, skip)
        allowed = tuple(p for p in (allowed_out,) if p is not None)
        diffs = changed(_without(before, allowed), _without(after, allowed))
        diffs = [f"file outside --out changed: {d}" for d in diffs]
        diffs += _protected_problems(invocation, after, before)
        verdicts.append(judge(name, invocation, outcome, diffs))
    worst = max(verdicts, key=lambda v: len(v.problems))
    if invocation.parallel > 1:
        codes = [v.outcome.returncode for v in verdicts]
        if invocation.group_check is not None:
            worst.problems.extend(invocation.group_check(codes))
        if any(v.problems for v in verdicts):
            worst.problems.insert(0, f"{invocation.parallel} concurrent runs ended {codes}")
    return worst


def _without(snap: dict[str, tuple[str, int, int, str]], allowed: tuple[Path, ...]) -> dict:
    roots = [os.fspath(p) for p in allowed]
    return {
        path: value
        for path, value in snap.items()
        if not any(path == r or path.startswith(r + os.sep) for r in roots)
    }


def _protected_problems(invocation: Invocation, after: dict, before: dict) -> list[str]:
    """User files that must survive even inside --out."""
    problems = []
    for path in invocation.protected:
        key = os.fspath(path)
        if key in before and after.get(key) != before[key]:
            problems.append(
                f"user file inside --out was {'deleted' if key not in after else 'changed'}: {key}"
            )
    return problems
