"""Per-agent progress: a rich live table on a terminal, plain lines otherwise (CI logs).

Agent names and statuses come from the flow (a status can carry a model's or an endpoint's words):
each is printed through `medboard.cli.terminal` (one inert line; rich markup escaped in the table).
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from medboard.cli.terminal import cell, line


class ProgressView:
    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.interactive = enabled and sys.stderr.isatty()
        self._started = time.perf_counter()
        self._status: dict[str, str] = {}
        self._live: Any = None

    def __enter__(self) -> ProgressView:
        if self.interactive:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                self._table(), console=Console(stderr=True), refresh_per_second=8, transient=False
            )
            self._live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)

    def update(self, agent: str, status: str) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self._started
        self._status[line(agent)] = f"{line(status)} ({elapsed:.1f} s)"
        if self._live is not None:
            self._live.update(self._table())
        else:
            print(f"[{elapsed:6.1f}s] {line(agent)}: {line(status)}", file=sys.stderr, flush=True)

    def _table(self):  # type: ignore[no-untyped-def]
        from rich.table import Table

        table = Table(title="medboard case flow", show_header=True)
        table.add_column("agent")
        table.add_column("status")
        for agent, status in self._status.items():
            table.add_row(cell(agent), cell(status))
        return table
