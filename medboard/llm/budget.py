"""The whole-run time budget for model calls.

One case run gets one `RunBudget` (`ModelEndpoint.run_budget_s`, `MEDBOARD_RUN_BUDGET_S`, or
`api.run_case(run_budget_s=...)`). It lives in a context variable, not on the `ModelCaller`: a
board agenda runs several cases over one caller at once, each with its own clock, and the
agents' tasks inherit the variable from the flow that starts them. `ModelCaller` cuts every
request at the budget's end and refuses new ones after it, as `ModelCallError(kind="budget")`,
so the flow never waits on the model past the budget; the deterministic work after it
(verification, publishing) still runs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

RUN_BUDGET_ENV = "MEDBOARD_RUN_BUDGET_S"


@dataclass
class RunBudget:
    """`seconds` of model time from `started` (monotonic clock)."""

    seconds: float
    started: float = field(default_factory=time.monotonic)
    #: Set the first time a model call is cut or refused because this budget ran out.
    exhausted: bool = False

    def remaining(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def reason(self) -> str:
        return f"run time budget of {self.seconds:g} s used up ({RUN_BUDGET_ENV})"


current_budget: ContextVar[RunBudget | None] = ContextVar("medboard_run_budget", default=None)


@contextlib.contextmanager
def run_budget(seconds: float) -> Iterator[RunBudget]:
    """Model calls made inside this block (and tasks started in it) share one budget."""
    budget = RunBudget(seconds)
    token = current_budget.set(budget)
    try:
        yield budget
    finally:
        current_budget.reset(token)
