"""Per-agent progress: a rich live table on a terminal, plain lines otherwise (CI logs)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any


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
        self._status[agent] = f"{status} ({elapsed:.1f} s)"
        if self._live is not None:
            self._live.update(self._table())
        else:
            print(f"[{elapsed:6.1f}s] {agent}: {status}", file=sys.stderr, flush=True)

    def _table(self):  # type: ignore[no-untyped-def]
        from rich.table import Table

        table = Table(title="medboard case flow", show_header=True)
        table.add_column("agent")
        table.add_column("status")
        for agent, status in self._status.items():
            table.add_row(agent, status)
        return table
