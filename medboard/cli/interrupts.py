"""Ctrl-C and SIGTERM end a run within seconds, the same way, leaving nothing half-written.

Why not plain `asyncio.run`: its Ctrl-C handling cancels the main task and then waits for it, and
here that wait has no bound. Cancelling the consumer of an AutoGen `GraphFlow` makes the flow wait
for its runtime to go idle, i.e. for every in-flight model call to end (minutes against a slow
endpoint, seen > 200 s); after the loop, `asyncio.run` joins the default executor's threads and the
interpreter joins every `ThreadPoolExecutor` worker at exit (a CPU-bound image load keeps going).
SIGTERM had no handler at all: the process died where it stood and staging folders stayed behind.

Here both signals take one path:
- outside the event loop (case loading, publishing) a handler raises `RunInterrupted`, so every
  `finally` (the staging folder's removal) runs; publishing itself runs with both signals blocked
  (`signals_deferred`) so a publish is never cut in half;
- inside the loop (`run_interruptible`) the first signal cancels the main task, lets the flow unwind
  for `GRACE_S` (clients closed, a local server stopped), then cancels every task of the loop
  repeatedly (which ends AutoGen's wait), and stops the loop at `HARD_STOP_S` whatever is left; the
  default executor is shut down without waiting for busy threads. A second signal skips the grace.
- the process entry point (`medboard.cli.main.run`) ends an interrupted run with `exit_now`: output
  flushed, `atexit` handlers run (a local vLLM server is stopped), then `os._exit`, so no worker
  thread still busy in C code can hold the exit for minutes. Library callers never get `os._exit`.

Exit codes follow the shell convention: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from medboard.errors import MedboardError

T = TypeVar("T")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Seconds the flow gets to unwind by itself after the first signal.
GRACE_S = 1.0
#: Then every task is cancelled again this often (AutoGen's runtime spawns handler tasks).
CANCEL_EVERY_S = 0.25
#: The loop is stopped this long after the first signal, finished or not.
HARD_STOP_S = 4.0
#: After the loop stopped, what is still pending gets this long to take its cancellation.
DRAIN_S = 0.5


class RunInterrupted(MedboardError):
    """The run was stopped by SIGINT (exit 130) or SIGTERM (exit 143)."""

    exit_code = 130

    def __init__(self, signum: int, detail: str = "") -> None:
        self.signum = signum
        self.exit_code = 128 + int(signum)
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}" + (f"; {detail}" if detail else ""))


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """While inside: SIGINT and SIGTERM raise `RunInterrupted` in the main thread (so cleanup in
    `finally` blocks runs for both). Previous handlers are restored on the way out."""
    if not _in_main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise RunInterrupted(signum)

    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """While inside: SIGINT and SIGTERM wait (blocked) and are delivered on the way out, so the
    short critical section (a publish: a few renames) is never cut in half."""
    if not _in_main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def run_interruptible(coro: Coroutine[Any, Any, T], *, detail: str = "") -> T:
    """`asyncio.run(coro)` that a SIGINT or SIGTERM ends within `HARD_STOP_S` seconds by raising
    `RunInterrupted` (its message adds `detail`)."""
    loop = asyncio.new_event_loop()
    executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="medboard")
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    main = loop.create_task(coro)
    received: list[int] = []

    def cancel_everything() -> None:
        if main.done():
            return
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.call_later(CANCEL_EVERY_S, cancel_everything)

    def on_signal(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            # Cancelled AutoGen handlers log their CancelledError tracebacks at ERROR; the user
            # asked to stop and gets one line, so logging is muted until the loop is gone.
            logging.disable(logging.CRITICAL)
            main.cancel()
            loop.call_later(GRACE_S, cancel_everything)
            loop.call_later(HARD_STOP_S, loop.stop)
        else:
            cancel_everything()
            loop.call_later(0.5, loop.stop)

    main.add_done_callback(lambda _: loop.stop())
    logging_disabled = logging.root.manager.disable
    handlers = _in_main_thread()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS} if handlers else {}
    if handlers:
        for sig in SIGNALS:
            loop.add_signal_handler(sig, on_signal, sig)
    try:
        loop.run_forever()
    finally:
        if handlers:
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
                signal.signal(sig, previous[sig])
        if received:
            try:
                _abandon(loop, executor)
            finally:
                logging.disable(logging_disabled)
        else:
            _finish(loop)
    if received:
        # A result that raced the signal is dropped too: the user asked to stop.
        raise RunInterrupted(received[0], detail)
    return main.result()


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """What `asyncio.run` does after a normal end: leftover tasks cancelled, generators and the
    default executor shut down, the loop closed."""
    try:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _abandon(loop: asyncio.AbstractEventLoop, executor: concurrent.futures.ThreadPoolExecutor) -> None:
    """After a signal: cancelled tasks get `DRAIN_S` to finish (so they are not destroyed while
    pending, which logs tracebacks), then nothing more is waited for. Queued thread work is dropped;
    threads still busy are left to `exit_now`."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.wait(pending, timeout=DRAIN_S))
    for task in pending:  # retrieved: no "exception was never retrieved" at garbage collection
        if task.done() and not task.cancelled():
            task.exception()
    executor.shutdown(wait=False, cancel_futures=True)
    asyncio.set_event_loop(None)
    with contextlib.suppress(Exception):
        loop.close()


def exit_now(code: int) -> None:
    """End the process after an interrupt: flush, run `atexit` handlers, `os._exit(code)`.

    `sys.exit` would first join every thread-pool worker still busy (unbounded); the work those
    threads do is abandoned anyway, and every file medboard cares about is already cleaned up.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    os._exit(code)
