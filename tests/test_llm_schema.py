"""Answer cleaning (thinking spans, fences) and bounded JSON Schemas for guided decoding."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from medboard.agents.ehr.reader import TextReading
from medboard.llm.parsing import clean_answer, load_json, strip_thinking
from medboard.llm.schema import UnboundedSchemaError, bounded_schema, response_format_for

# ------------------------------------------------------------------------------- thinking spans


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<unused94>thought\nLet me look.<unused95>The answer.", "The answer."),
        ("Before <unused94>a<unused95> middle <unused94>b<unused95> after", "Before  middle  after"),
        ("The answer.<unused94>thought\nnever closed", "The answer."),
        ("<unused94>thought only, cut off by max_tokens", ""),
        ("thinking whose opener was in the prompt<unused95>\nThe answer.", "The answer."),
        ("No thinking at all.", "No thinking at all."),
    ],
)
def test_strip_thinking(raw: str, expected: str) -> None:
    assert strip_thinking(raw) == expected


def test_clean_answer_removes_fences_and_prose() -> None:
    assert clean_answer('<unused94>x<unused95>```json\n{"a": 1}\n```') == '{"a": 1}'
    assert clean_answer('```\n{"a": 1}') == '{"a": 1}'  # unterminated fence (truncated answer)
    assert load_json('Here it is: {"a": [1, 2]} hope that helps') == {"a": [1, 2]}


# ------------------------------------------------------------------------------ bounded schemas


class Laterality(StrEnum):
    left = "left"
    right = "right"


class Lesion(BaseModel):
    site: str
    laterality: Laterality | None = None
    size_mm: float = Field(ge=0, le=500)
    slice_index: int | None = Field(default=None, ge=0, le=2000)
    seen_on: date | None = None


class ImagingReading(BaseModel):
    """Example of what an imaging reader asks for."""

    lesions: list[Lesion] = Field(default_factory=list)
    impression: str = Field(max_length=500)
    box: list[int] = Field(default_factory=list, description="[y0,x0,y1,x1] on 0-1000")
    certainty: Literal[1, 2, 3] = 2


class BoxFixed(BaseModel):
    box: list[Annotated[int, Field(ge=0, le=1000)]] = Field(default_factory=list, max_length=4)


class Unbounded(BaseModel):
    count: int
    nested: list[Lesion]
    ratio: float = Field(ge=0)


#: Schemas agents send to the model; add new ones here so the bound check covers them.
AGENT_SCHEMAS: list[type[BaseModel]] = [Lesion, BoxFixed, TextReading]


@pytest.mark.parametrize("model", AGENT_SCHEMAS, ids=lambda m: m.__name__)
def test_agent_schemas_are_bounded(model: type[BaseModel]) -> None:
    schema = bounded_schema(model)
    assert schema["type"] == "object"


def test_unbounded_numbers_are_rejected_with_their_paths() -> None:
    with pytest.raises(UnboundedSchemaError) as info:
        bounded_schema(Unbounded)
    message = str(info.value)
    assert "Unbounded.count" in message and "Unbounded.ratio" in message
    assert "Lesion" not in message  # the nested model is fine
    with pytest.raises(UnboundedSchemaError, match=r"ImagingReading.box\[\]"):
        bounded_schema(ImagingReading)


def test_strings_arrays_and_objects_are_capped() -> None:
    schema = bounded_schema(Lesion, max_string_length=300)
    props = schema["properties"]
    assert props["site"]["maxLength"] == 300
    assert "maxLength" not in props["seen_on"]["anyOf"][0]  # dates keep their format instead
    assert props["slice_index"]["anyOf"][0]["maximum"] == 2000
    assert schema["additionalProperties"] is False
    fixed = bounded_schema(BoxFixed)
    assert fixed["properties"]["box"]["maxItems"] == 4  # an explicit cap wins over the default


def test_response_format_has_the_openai_shape_and_is_a_copy() -> None:
    fmt = response_format_for(Lesion)
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Lesion" and fmt["json_schema"]["strict"] is True
    fmt["json_schema"]["schema"]["properties"].clear()
    assert bounded_schema(Lesion)["properties"]  # the cache is not shared with callers
