"""JSON Schemas for guided decoding, made safe to decode.

vLLM turns `response_format: json_schema` into a grammar the sampler must follow. An unbounded
number lets a small model emit digits forever (the grammar never forces the closing token); an
unbounded string or array can loop the same way until `max_tokens` truncates the JSON. So:
- every integer/number must carry both bounds (or be an enum/const): a model that lacks them is a
  programming error, raised as `UnboundedSchemaError` (tests run this over every model agents send);
- strings without `maxLength` (and without enum/const/format/pattern) get a default cap, arrays without
  `maxItems` get one too, objects get `additionalProperties: false` — in the schema sent to the
  server only; pydantic validation of the answer stays as the model class defines it.

The request shape is the one the openai SDK (and so autogen-ext's `json_output=<model>`) builds:
`{"type": "json_schema", "json_schema": {"name", "schema", "strict": true}}`. `ModelCaller` sends
it itself instead of `json_output=<model>` because autogen-ext then uses the SDK's `parse()`, which
raises inside the SDK on a thinking span, a code fence or truncated JSON and loses the raw text we
need for stripping, repair and the failure reason.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

DEFAULT_MAX_STRING_LENGTH = 2000
DEFAULT_MAX_ITEMS = 100
_NUMERIC = {"integer", "number"}


class UnboundedSchemaError(ValueError):
    """A model sent for guided decoding has a number without both bounds."""


def bounded_schema(
    model: type[BaseModel],
    *,
    max_string_length: int | None = DEFAULT_MAX_STRING_LENGTH,
    max_items: int | None = DEFAULT_MAX_ITEMS,
) -> dict[str, Any]:
    """The JSON Schema of `model`, checked and capped for guided decoding (a fresh copy each call)."""
    return copy.deepcopy(_bounded_schema_cached(model, max_string_length, max_items))


@lru_cache(maxsize=256)
def _bounded_schema_cached(
    model: type[BaseModel], max_string_length: int | None, max_items: int | None
) -> dict[str, Any]:
    schema = model.model_json_schema()
    problems: list[str] = []
    _walk(schema, model.__name__, problems, max_string_length, max_items)
    if problems:
        raise UnboundedSchemaError(
            f"{model.__name__}: numbers need both bounds (Field(ge=..., le=...)) for guided decoding: "
            + ", ".join(problems)
        )
    return schema


def response_format_for(model: type[BaseModel], **caps: Any) -> dict[str, Any]:
    """The OpenAI `response_format` payload for `model` (vLLM guided decoding accepts it)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": model.__name__, "schema": bounded_schema(model, **caps), "strict": True},
    }


def schema_text(model: type[BaseModel]) -> str:
    """Compact JSON of the bounded schema, for quoting in a prompt (the repair request)."""
    return json.dumps(bounded_schema(model), separators=(",", ":"), sort_keys=True)


def _types(node: dict[str, Any]) -> set[str]:
    declared = node.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return set()


def _walk(node: Any, path: str, problems: list[str], max_str: int | None, max_items: int | None) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, f"{path}[{i}]", problems, max_str, max_items)
        return
    if not isinstance(node, dict):
        return
    types = _types(node)
    fixed = "enum" in node or "const" in node
    if types & _NUMERIC and not fixed:
        has_low = "minimum" in node or "exclusiveMinimum" in node
        has_high = "maximum" in node or "exclusiveMaximum" in node
        if not (has_low and has_high):
            problems.append(path)
    # xgrammar cannot combine a length cap with `format`/`pattern` (vLLM would fall back to another
    # backend); those strings are shaped by their format or pattern anyway.
    if "string" in types and not fixed and max_str is not None and not {"format", "pattern"} & node.keys():
        node.setdefault("maxLength", max_str)
    if "array" in types and max_items is not None:
        node.setdefault("maxItems", max_items)
    if "object" in types and "properties" in node:
        node.setdefault("additionalProperties", False)

    for key, child in node.items():
        if key in ("properties", "$defs", "definitions", "patternProperties"):
            if isinstance(child, dict):
                for name, sub in child.items():
                    where = name if key == "$defs" else f"{path}.{name}"
                    _walk(sub, where, problems, max_str, max_items)
        elif key in ("items", "additionalProperties", "not", "contains"):
            _walk(child, f"{path}[]" if key == "items" else path, problems, max_str, max_items)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for sub in child:
                _walk(sub, path, problems, max_str, max_items)
