"""Turning a model's answer text into something to validate.

MedGemma may emit a thinking span (`<unused94>thought…<unused95>`) before its answer, and likes to
wrap JSON in ```json fences even when asked not to. Both are removed before any parsing; nothing
here guesses at content.
"""

from __future__ import annotations

import json
import re
from typing import Any

THINK_OPEN = "<unused94>"
THINK_CLOSE = "<unused95>"
_THINK_SPAN = re.compile(re.escape(THINK_OPEN) + r".*?" + re.escape(THINK_CLOSE), re.DOTALL)
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n?(.*?)(?:```|\Z)", re.DOTALL)


def strip_thinking(text: str) -> str:
    """Remove thinking spans, an unterminated span (to the end), and anything before a stray closer."""
    text = _THINK_SPAN.sub("", text)
    start = text.find(THINK_OPEN)
    if start >= 0:
        text = text[:start]
    end = text.rfind(THINK_CLOSE)
    if end >= 0:
        # The opener was consumed upstream (e.g. it was part of the prompt): keep the answer only.
        text = text[end + len(THINK_CLOSE) :]
    return text.strip()


def strip_fences(text: str) -> str:
    """The body of the first ``` fence (closed or not); the text itself when there is none."""
    match = _FENCE.search(text)
    return match.group(1).strip() if match else text.strip()


def clean_answer(text: str) -> str:
    """Thinking spans and code fences removed: what a JSON parser or a reader should see."""
    return strip_fences(strip_thinking(text))


def load_json(text: str) -> Any:
    """Parse JSON; tolerate prose around one JSON value, raise `json.JSONDecodeError` otherwise."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
        if not starts:
            raise
        try:
            value, _ = json.JSONDecoder().raw_decode(text, min(starts))
        except json.JSONDecodeError:
            raise first from None
        return value
