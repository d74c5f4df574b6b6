"""A deterministic model for board tests and the board benchmark: any patient, every schema.

`board_responder()` answers like `test_case_flow.clinical_responder` but for any record: the
headline restates the findings the prompt lists (word for word, with their ids), the board answer
cites the first of them, every entailment question is "entailed", a note reading finds nothing.
`InFlight` wraps a responder so each call sleeps `latency` seconds *inside* the server's request
thread while counted as in flight, per served model name: a test gives each case its own model name
and reads how many cases had a call in flight at once.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from fake_openai import chat_completion
from test_case_flow import _enum_ids, _restated, schema_of


def board_responder():  # type: ignore[no-untyped-def]
    def respond(body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        if "response_format" not in body:  # free text (a prefix warm-up)
            return 200, chat_completion("ok", completion_tokens=1), 0.0
        name = body["response_format"]["json_schema"]["name"]
        if name == "TextReading":
            return 200, chat_completion(json.dumps({"findings": []})), 0.0
        if name == "BoardHeadline":
            headline = {"statements": _restated(body, _enum_ids(schema_of(body)))}
            return 200, chat_completion(json.dumps(headline), prompt_tokens=200, completion_tokens=40), 0.0
        if name == "BoardAnswer":
            supporting = _restated(body, _enum_ids(schema_of(body)))[:1]
            answer = {
                "answer": "The record bears on the question as the cited finding states.",
                "supporting": supporting,
                "not_in_record": ["No performance status is recorded."],
            }
            return 200, chat_completion(json.dumps(answer), prompt_tokens=300, completion_tokens=60), 0.0
        if name == "EntailmentJudgement":
            verdict = {"label": "entailed", "reason": "The cited finding says so."}
            return 200, chat_completion(json.dumps(verdict)), 0.0
        return 400, {"error": {"message": f"unexpected schema {name}"}}, 0.0

    return respond


class InFlight:
    """A responder that holds each call `latency` s and records, per model name, calls in flight."""

    def __init__(self, responder: Any, latency: float) -> None:
        self.responder = responder
        self.latency = latency
        self._lock = threading.Lock()
        self._now: dict[str, int] = {}
        #: (seconds since start, set of model names with a call in flight) after every change
        self.timeline: list[tuple[float, frozenset[str]]] = []
        self.calls: dict[str, int] = {}
        #: the most calls (of any model) in flight at once
        self.peak = 0
        self._start = time.perf_counter()

    def __call__(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        model = str(body.get("model"))
        self._change(model, +1)
        try:
            time.sleep(self.latency)
            return self.responder(body)
        finally:
            self._change(model, -1)

    def _change(self, model: str, step: int) -> None:
        with self._lock:
            self._now[model] = self._now.get(model, 0) + step
            if step > 0:
                self.calls[model] = self.calls.get(model, 0) + 1
            self.peak = max(self.peak, sum(self._now.values()))
            active = frozenset(m for m, n in self._now.items() if n > 0)
            self.timeline.append((time.perf_counter() - self._start, active))

    def max_models_in_flight(self) -> int:
        """The most cases (model names) that had a call in flight at the same moment."""
        return max((len(active) for _, active in self.timeline), default=0)
