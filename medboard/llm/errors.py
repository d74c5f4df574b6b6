"""Errors of the model layer (light: no autogen/openai import)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from medboard.errors import MedboardError, ModelEndpointError

if TYPE_CHECKING:
    from medboard.llm.records import CallRecord

FailureKind = Literal[
    "timeout",
    "connection",
    "server_error",
    "client_error",
    "bad_response",
    "invalid_json",
    "truncated",
    "schema_violation",
    "empty",
    "budget",
]


class ModelCallError(ModelEndpointError):
    """One model call gave up after its bounded retries (and repair attempt).

    Agents catch this and mark their section failed with `reason`; it never hides a section.
    `reason` is short and free of prompt/answer text and of the endpoint's error text (it ends up
    in the summary and in WARNING logs): a fixed category, e.g. "timeout after 3 attempts",
    "HTTP 400 (prompt longer than the served context …)", "response body is not JSON after 3
    attempts", "run time budget of 240 s used up (MEDBOARD_RUN_BUDGET_S)" (`kind="budget"`).
    """

    def __init__(
        self,
        reason: str,
        *,
        kind: FailureKind,
        agent: str = "",
        purpose: str = "",
        record: CallRecord | None = None,
    ) -> None:
        self.reason = reason
        self.kind: FailureKind = kind
        self.agent = agent
        self.purpose = purpose
        self.record = record
        who = f"{agent}/{purpose}: " if agent or purpose else ""
        super().__init__(f"model call failed: {who}{reason}")


class CassetteMissError(MedboardError):
    """A strict replay saw a request that no cassette entry matches; the message shows the prompt diff."""
