"""A board's progress: one rich progress bar per case, on a terminal only.

A case advances through its stages: loading, each specialist, the synthesizer, the verifier (once
more per revision), the publisher, rendering. The bar counts the distinct stages seen out of
those expected and shows the latest; a finished case fills its bar and reads ``done`` or
``FAILED``. Case ids and stage text pass through `medboard.cli.terminal.line` (one inert line,
never rich markup). Off with ``--json`` or when stderr is not a terminal (a CI log gets the
final summary line only).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from medboard.cli.terminal import line

#: Stages of one case besides its specialists: loading, synthesizer, verifier, publisher, rendering.
_FIXED_STAGES = 5


def expected_stages() -> int:
    from medboard.agents.registry import default_specialists

    return len(default_specialists()) + _FIXED_STAGES


class BoardProgressView:
    def __init__(self, case_ids: list[str], *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.case_ids = case_ids
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._seen: dict[str, set[str]] = {case_id: set() for case_id in case_ids}
        self._total = expected_stages() if enabled else 1

    def __enter__(self) -> BoardProgressView:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.fields[case]}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stage]}", markup=False),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._progress.__enter__()
        for case_id in self.case_ids:
            self._tasks[case_id] = self._progress.add_task(
                "", total=self._total, case=line(case_id), stage="waiting", start=False
            )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)

    def update(self, case_id: str, stage: str) -> None:
        """Called by the executor with a case's new stage (``"ehr: done"``, ``"done"``, ``"failed"``)."""
        if self._progress is None or case_id not in self._tasks:
            return
        task = self._tasks[case_id]
        if stage == "queued":
            return
        self._progress.start_task(task)
        if stage in ("done", "failed"):
            shown = "done" if stage == "done" else "FAILED"
            self._progress.update(task, completed=self._total, stage=shown)
            self._progress.stop_task(task)
            return
        self._seen[case_id].add(stage.split(":", 1)[0])
        completed = min(len(self._seen[case_id]), self._total - 1)
        self._progress.update(task, completed=completed, stage=line(stage)[:60])
