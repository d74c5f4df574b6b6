"""The Python API: the CLI's operations as async functions, with thin sync wrappers.

```python
from medboard.api import run_case_sync
summary = run_case_sync("bundle.json", model="none", question="Is she a candidate for …?")
```
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medboard.errors import MedboardInputError, ModelEndpointError

if TYPE_CHECKING:
    from medboard.agents.case import CaseInput
    from medboard.llm.calls import ModelCaller
    from medboard.llm.endpoint import ModelEndpoint
    from medboard.llm.gate import CallGate
    from medboard.models import CaseSummary
    from medboard.orchestrator.flow import ProgressCallback

#: `--model` values that are not URLs.
NO_MODEL = "none"
LOCAL_MODEL = "local"


def resolve_model_spec(model: str | None, env: dict[str, str] | None = None) -> str:
    """`--model` given > MEDBOARD_MODEL_URL set > none. Returns 'none', 'local' or a URL."""
    env = dict(os.environ) if env is None else env
    if model:
        return model
    return env.get("MEDBOARD_MODEL_URL") or NO_MODEL


@contextlib.asynccontextmanager
async def open_caller(
    model: str | None,
    *,
    cassette: Path | None = None,
    replay: Path | None = None,
    overrides: dict[str, Any] | None = None,
    gate: CallGate | None = None,
) -> AsyncIterator[ModelCaller | None]:
    """A `ModelCaller` for `--model` (URL, 'local', 'none'), or None; closes what it opened.

    `replay` runs against a cassette with no endpoint at all; `cassette` records live traffic.
    The calls made inside the block share the endpoint's run budget (`run_budget_s`), so a
    command that is not a case flow (`medboard verify --model URL`) is bounded too; a case flow
    inside starts its own budget. `gate` caps requests in flight across callers (a board's workers
    sharing one endpoint); by default the caller caps its own at the endpoint's `max_concurrency`.
    """
    from medboard.llm.budget import run_budget

    spec = resolve_model_spec(model)
    if replay is not None:
        from medboard.llm.calls import ModelCaller
        from medboard.llm.cassette import ReplayChatClient
        from medboard.llm.endpoint import ModelEndpoint

        replayer = ReplayChatClient(replay)
        # The run names the model whose answers it replays (unless told otherwise): a summary
        # written back with its Provenance must not credit the environment's default model.
        recorded = next((e.request.model for e in replayer.entries if e.request.model), None)
        settings = {**({"model": recorded} if recorded else {}), **(overrides or {})}
        endpoint = ModelEndpoint.from_sources(settings)
        caller = ModelCaller(replayer, endpoint, gate=gate)
        try:
            with run_budget(endpoint.run_budget_s):
                yield caller
        finally:
            await caller.close()
        return
    if spec == NO_MODEL:
        yield None
        return
    async with _endpoint_for(spec, overrides or {}) as endpoint:
        from medboard.llm.calls import ModelCaller
        from medboard.llm.client import make_chat_client
        from medboard.llm.health import health_check

        await health_check(endpoint)
        client: Any = make_chat_client(endpoint)
        if cassette is not None:
            from medboard.llm.cassette import RecordingChatClient

            client = RecordingChatClient(client, cassette)
        caller = ModelCaller(client, endpoint, gate=gate)
        try:
            with run_budget(endpoint.run_budget_s):
                yield caller
        finally:
            await caller.close()


def model_endpoint(spec: str, overrides: dict[str, Any] | None = None) -> Any:
    """The endpoint a `--model` URL or 'local' names, as an async context manager (no health check):
    'local' starts the local server for the block and stops it after (a board starts it once for
    all its cases)."""
    return _endpoint_for(spec, overrides or {})


@contextlib.asynccontextmanager
async def _endpoint_for(spec: str, overrides: dict[str, Any]) -> AsyncIterator[ModelEndpoint]:
    from medboard.llm.endpoint import ModelEndpoint

    if spec == LOCAL_MODEL:
        from medboard.llm.local_server import LocalServer

        server = LocalServer()
        try:
            await asyncio.to_thread(server.start)
        except Exception as error:
            raise ModelEndpointError(f"the local model server did not start: {error}") from error
        try:
            settings = {"base_url": server.base_url, "model": server.model, **overrides}
            settings.setdefault("context_length", getattr(server, "max_model_len", 8192))
            settings.setdefault("vision", False)
            yield ModelEndpoint.from_sources(settings)
        finally:
            await asyncio.to_thread(server.stop)
        return
    if not spec.startswith(("http://", "https://")):
        # A wrong value is bad input (exit 2), not an unusable endpoint (exit 3); it is not quoted:
        # a mistyped URL may still carry a password or a token.
        where = "--model / MEDBOARD_MODEL_URL"
        raise MedboardInputError("must be an http(s) URL, 'local' or 'none'", source=where)
    yield ModelEndpoint.from_sources({"base_url": spec, **overrides})


async def run_case(
    case: str | Path | CaseInput,
    *,
    model: str | None = None,
    question: str | None = None,
    patient: str | None = None,
    cassette: Path | None = None,
    replay: Path | None = None,
    model_overrides: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    max_revise_rounds: int = 1,
    overlay_dir: Path | None = None,
    lenient: bool = False,
    run_budget_s: float | None = None,
    allow_external_paths: bool = False,
    gate: CallGate | None = None,
) -> CaseSummary:
    """Run one case end to end and return its verified `CaseSummary`.

    `overlay_dir`: where to write key frames with the imaging reader's boxes drawn (PNG).
    `lenient`: load the rest of a bundle when an entry is bad; what was skipped shows in the run
    warnings.
    `allow_external_paths`: let a case YAML name files outside its own folder (refused by default).
    `gate`: where model requests take their slot (`medboard.llm.gate`); default: this run's own cap.
    `run_budget_s`: wall-clock seconds for all of the run's model calls (default: the endpoint's
    `run_budget_s`, i.e. MEDBOARD_RUN_BUDGET_S or 240). When it runs out, the model calls still
    pending fail as "budget" and the deterministic summary is verified and returned with the
    model sections marked failed, with the reason.
    """
    from medboard.orchestrator.case import load_case
    from medboard.orchestrator.flow import run_case_flow

    case_input = (
        case
        if not isinstance(case, (str, Path))
        else load_case(
            case,
            patient=patient,
            question=question,
            lenient=lenient,
            allow_external_paths=allow_external_paths,
        )
    )
    if question and not case_input.question:
        case_input.question = question
    overrides = dict(model_overrides or {})
    if run_budget_s is not None:
        overrides["run_budget_s"] = run_budget_s
    async with open_caller(model, cassette=cassette, replay=replay, overrides=overrides, gate=gate) as caller:
        return await run_case_flow(
            case_input,
            caller=caller,
            progress=progress,
            max_revise_rounds=max_revise_rounds,
            overlay_dir=overlay_dir,
            run_budget_s=run_budget_s,
        )


def run_case_sync(case: str | Path | CaseInput, **kwargs: Any) -> CaseSummary:
    """Blocking wrapper of `run_case` for scripts and notebooks without an event loop."""
    return asyncio.run(run_case(case, **kwargs))
