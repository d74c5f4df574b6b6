"""A deterministic fake MedGemma for recording the bundled scenarios' cassettes (and their tests).

It answers every structured request medboard's agents make the way a careful reader would, from
the prompt alone: the headline and the board answer restate findings the prompt lists, citing
their own ids; the entailment judge agrees; the imaging reader reports one boxed finding on the
first image; the longitudinal comparer sees no change; the note reader reports nothing. The same
prompt always gets the same answer, so a recorded cassette replays byte for byte.

    with FakeOpenAIServer(scenario_responder, models=[FAKE_MODEL]) as server:
        medboard scenarios run scenarios/bundled --record --model {server.base_url} --model-name fake-medgemma
"""

from __future__ import annotations

import json
from typing import Any

from fake_openai import chat_completion
from test_case_flow import _enum_ids

FAKE_MODEL = "fake-medgemma"


def _prompt(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return "\n".join(parts)


def _listed(body: dict[str, Any], limit: int, max_words: int = 90) -> list[dict[str, Any]]:
    """The prompt's listed findings (`- <id>: <text>`), restated word for word with their ids."""
    ids = set(_enum_ids(body["response_format"]["json_schema"]["schema"]))
    statements: list[dict[str, Any]] = []
    words = 0
    for line in _prompt(body).splitlines():
        found, _, text = line[2:].partition(": ")
        if not line.startswith("- ") or found not in ids or not text:
            continue
        words += len(text.split())
        if words > max_words or len(statements) == limit:
            break
        statements.append({"text": text[:400], "finding_ids": [found]})
    return statements


def scenario_responder(body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
    if "response_format" not in body:  # free text (the EHR reader's prefix warm-up)
        return 200, chat_completion("ok", completion_tokens=1), 0.0
    name = body["response_format"]["json_schema"]["name"]
    prompt_tokens = max(1, len(_prompt(body)) // 4)
    if name == "TextReading":
        answer: dict[str, Any] = {"findings": []}
    elif name == "BoardHeadline":
        answer = {"statements": _listed(body, 8)}
    elif name == "BoardAnswer":
        supporting = _listed(body, 3, max_words=60)
        answer = {
            "answer": "The record bears on the question through the findings cited below; "
            "the board should weigh them with the premise checks.",
            "supporting": supporting,
            "not_in_record": ["No multidisciplinary recommendation is recorded."],
        }
    elif name == "EntailmentJudgement":
        answer = {"label": "entailed", "reason": "The cited finding says so."}
    elif name == "ImagingReading":
        answer = {
            "findings": [
                {
                    "text": "Focal hyperdensity in the left hemisphere on this slice.",
                    "slice": 1,
                    "box": [420, 300, 540, 430],
                    "laterality": "left",
                }
            ]
        }
    elif name == "ImagingChange":
        answer = {"changes": []}
    else:
        return 400, {"error": {"message": f"unexpected schema {name}"}}, 0.0
    return 200, chat_completion(json.dumps(answer), prompt_tokens=prompt_tokens, completion_tokens=40), 0.0
