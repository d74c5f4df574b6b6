"""What every model call leaves behind: who called, what for, how long, how many tokens, and why it failed.

These feed `RunMetadata.agents` (model_calls, prompt_tokens, completion_tokens) and the benchmarks.
No prompt or answer text is kept here: records may be logged and written into summaries.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CallRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str
    purpose: str
    schema_name: str | None = Field(default=None, description="Pydantic model asked for (None: text).")
    started_at: datetime
    latency_s: float = Field(description="Wall time of the whole call: retries, backoff and repair included.")
    attempts: int = Field(description="HTTP requests made, repair request included.")
    repaired: bool = Field(default=False, description="A repair request was sent after invalid JSON.")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = Field(default=None, description="Of the last answer: stop, length, ...")
    ok: bool
    error: str | None = Field(default=None, description="Short reason when ok is False.")
    error_kind: str | None = None


class CallTotals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    failed: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    def add(self, record: CallRecord) -> None:
        self.calls += 1
        self.failed += 0 if record.ok else 1
        self.attempts += record.attempts
        self.prompt_tokens += record.prompt_tokens
        self.completion_tokens += record.completion_tokens
        self.latency_s += record.latency_s


def totals_by_agent(records: list[CallRecord]) -> dict[str, CallTotals]:
    totals: dict[str, CallTotals] = {}
    for record in records:
        totals.setdefault(record.agent, CallTotals()).add(record)
    return totals
