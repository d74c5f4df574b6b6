"""Record model traffic from a live (local HTTP) endpoint, replay it, and explain misses."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from autogen_core import Image
from autogen_core.models import SystemMessage, UserMessage
from fake_openai import FakeOpenAIServer, always, chat_completion
from PIL import Image as PILImage
from pydantic import BaseModel, Field
from pydicom import dcmread
from pydicom.data import get_testdata_file

from medboard.errors import MedboardInputError
from medboard.llm import (
    CassetteMissError,
    ModelCaller,
    ModelEndpoint,
    RecordingChatClient,
    ReplayChatClient,
    make_chat_client,
)


class SliceReading(BaseModel):
    abnormal: bool
    finding: str = Field(max_length=200)
    confidence: float = Field(ge=0, le=1)


def ct_image() -> Image:
    """A real CT slice (pydicom's CT_small), windowed to 8 bit the simple way."""
    pixels = dcmread(get_testdata_file("CT_small.dcm")).pixel_array.astype(np.float32)
    scaled = (pixels - pixels.min()) / max(float(np.ptp(pixels)), 1.0) * 255
    return Image.from_pil(PILImage.fromarray(scaled.astype(np.uint8)).convert("RGB"))


def messages(question: str) -> list[Any]:
    return [
        SystemMessage(content="You are a radiologist's assistant."),
        UserMessage(content=["Axial CT slice follows.", ct_image(), "SLICE 1", question], source="user"),
    ]


ANSWER = {"abnormal": False, "finding": "No focal lesion.", "confidence": 0.7}
QUESTION = "Is there a focal lesion? Answer as JSON."


async def record(tmp_path: Path) -> tuple[Path, Any]:
    """Run one structured call against a live local server through the recorder."""
    cassette = tmp_path / "ct.jsonl"

    def responder(body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        return 200, chat_completion(json.dumps(ANSWER), prompt_tokens=300, completion_tokens=25), 0.0

    with FakeOpenAIServer(responder, models=["live-model"]) as server:
        endpoint = ModelEndpoint(base_url=server.base_url, model="live-model", timeout_s=5)
        caller = ModelCaller(RecordingChatClient(make_chat_client(endpoint), cassette), endpoint)
        live = await caller.structured(
            messages=messages(QUESTION), schema=SliceReading, agent="imaging", purpose="ct slice"
        )
        await caller.close()
    return cassette, live


async def test_record_then_replay_round_trip(tmp_path: Path) -> None:
    cassette, live = await record(tmp_path)
    lines = cassette.read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert (entry["agent"], entry["purpose"]) == ("imaging", "ct slice")
    assert entry["request"]["json_schema"] == "SliceReading"
    assert entry["request"]["model"] == "live-model"
    image_part = entry["request"]["messages"][1]["content"][1]["image"]
    assert len(image_part["sha256"]) == 64 and image_part["size"] == [128, 128]
    assert "base64" not in lines[0]
    assert entry["response"]["prompt_tokens"] == 300

    # Replay on another endpoint (different model name): same value, same token counts.
    replay = ModelCaller(ReplayChatClient(cassette), ModelEndpoint(model="another-model"))
    again = await replay.structured(
        messages=messages(QUESTION), schema=SliceReading, agent="imaging", purpose="ct slice"
    )
    assert again.value == live.value == SliceReading(**ANSWER)
    assert (again.record.prompt_tokens, again.record.completion_tokens) == (300, 25)


async def test_changed_prompt_is_a_miss_with_a_diff(tmp_path: Path) -> None:
    cassette, _ = await record(tmp_path)
    replay = ModelCaller(ReplayChatClient(cassette), ModelEndpoint())
    with pytest.raises(CassetteMissError) as info:
        await replay.structured(
            messages=messages("Is there a focal lesion or nodule? Answer as JSON."),
            schema=SliceReading,
            agent="imaging",
            purpose="ct slice",
        )
    message = str(info.value)
    assert "agent=imaging, purpose=ct slice" in message
    assert "-Is there a focal lesion? Answer as JSON." in message
    assert "+Is there a focal lesion or nodule? Answer as JSON." in message
    assert "First difference at character" in message
    assert replay.records == []  # a miss is not a model failure: it is not recorded as one


async def test_different_image_is_a_miss(tmp_path: Path) -> None:
    cassette, _ = await record(tmp_path)
    flipped = messages(QUESTION)
    content = list(flipped[1].content)
    content[1] = Image.from_pil(content[1].image.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT))
    flipped[1] = UserMessage(content=content, source="user")
    client = ReplayChatClient(cassette)
    with pytest.raises(CassetteMissError, match=r"-<image sha256=\w{16} size=128x128>"):
        await client.create(flipped)


async def test_replay_latency_and_usage(tmp_path: Path) -> None:
    cassette, _ = await record(tmp_path)
    client = ReplayChatClient(cassette, latency_s=0.05)
    started = time.perf_counter()
    result = await ModelCaller(client, ModelEndpoint()).structured(
        messages=messages(QUESTION), schema=SliceReading, agent="imaging", purpose="ct slice"
    )
    assert time.perf_counter() - started >= 0.05
    assert result.record.ok and client.total_usage().prompt_tokens == 300
    assert client.unused() == []
    assert client.count_tokens(messages(QUESTION)) > 256  # the image alone counts 256


def test_missing_or_malformed_cassette(tmp_path: Path) -> None:
    with pytest.raises(MedboardInputError, match="cassette not found"):
        ReplayChatClient(tmp_path / "none.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"fingerprint": "x"}\n')
    with pytest.raises(MedboardInputError, match=r"bad\.jsonl: line 1: not a cassette entry"):
        ReplayChatClient(bad)


async def test_open_cassette_once_records_then_replays(tmp_path: Path) -> None:
    from medboard.llm.cassette import open_cassette

    cassette = tmp_path / "scenario" / "model.jsonl"
    with FakeOpenAIServer(always(200, chat_completion(json.dumps(ANSWER)))) as server:
        endpoint = ModelEndpoint(base_url=server.base_url, model="fake-model", timeout_s=5)
        first = open_cassette(cassette, "once", endpoint=endpoint)
        assert isinstance(first, RecordingChatClient)
        await ModelCaller(first, endpoint).structured(
            messages=messages(QUESTION), schema=SliceReading, agent="imaging", purpose="ct slice"
        )
        await first.close()
    second = open_cassette(cassette, "once")  # no endpoint needed any more
    assert isinstance(second, ReplayChatClient) and len(second.entries) == 1
    result = await ModelCaller(second, ModelEndpoint()).structured(
        messages=messages(QUESTION), schema=SliceReading, agent="imaging", purpose="ct slice"
    )
    assert result.value == SliceReading(**ANSWER)
