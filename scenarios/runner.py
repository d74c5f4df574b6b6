"""Run one scenario's case once: the inputs loaded, the model opened as the scenario says, the
specialists resolved, the real case flow run, and everything the expectations look at kept.

The case runs through the same pieces as `medboard run` (`load_case`, `medboard.api.open_caller`,
`run_case_flow`), so a scenario pins the pipeline a clinician would get, not a test double.

Model modes:
- `none`: the deterministic pipeline only.
- `{cassette: PATH}`: strict replay. A request the cassette has not seen (a changed prompt, a new
  call) is not an error of the run but its result: `ScenarioRun.replay_miss` carries the prompt
  diff, and every expectation of the scenario fails with it — never a pass on stale recordings.
- `{cassette: PATH}` with `record=True`: the case runs against the live endpoint (the scenario's
  `endpoint`, or the caller's `model_url`) through `RecordingChatClient`; the new cassette replaces
  the old one only when the run finished (a failed recording leaves the old cassette in place).
- `{live: local|URL}`: a live run every time (a health check first: unusable → exit 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medboard.errors import MedboardInputError
from medboard.scenarios.spec import CassetteModel, LiveModel, Scenario, ScenarioInputError

if TYPE_CHECKING:
    from medboard.agents.case import CaseInput
    from medboard.agents.specialist import Specialist
    from medboard.models import CaseSummary
    from medboard.models.picture import ClinicalPicture
    from medboard.scenarios.report import ScenarioResult
    from medboard.tools.fhir.record import PatientRecord


@dataclass
class ScenarioRun:
    """What one run of a scenario's case produced (the expectations read only this)."""

    scenario: Scenario
    summary: CaseSummary | None
    picture: ClinicalPicture | None
    record: PatientRecord | None
    #: Seconds for the whole scenario run: loading the inputs, the case flow, publishing.
    wall_s: float = 0.0
    #: Seconds of the case flow alone.
    flow_s: float = 0.0
    #: A strict-replay miss: the cassette has no recording of a request (message = prompt diff).
    replay_miss: str | None = None
    #: Recordings the replay never used (the pipeline stopped making those calls).
    unused_recordings: int = 0
    #: Model calls recorded into the cassette on a `record` run.
    recorded: int = 0
    mode: str = "none"
    warnings: list[str] = field(default_factory=list)

    @property
    def model_calls(self) -> int:
        return sum(a.model_calls for a in self.summary.run.agents) if self.summary else 0

    @property
    def tokens(self) -> int:
        if self.summary is None:
            return 0
        return sum(a.prompt_tokens + a.completion_tokens for a in self.summary.run.agents)


def run_scenario_sync(scenario: Scenario, **options: Any) -> ScenarioRun:
    """`run_scenario` for callers without an event loop (the CLI, the pytest plugin)."""
    return asyncio.run(run_scenario(scenario, **options))


async def run_scenario(
    scenario: Scenario,
    *,
    record: bool = False,
    model_url: str | None = None,
    model_name: str | None = None,
) -> ScenarioRun:
    """Run the scenario's case once and return what the expectations need.

    `record`: re-record the cassette against the live endpoint (`model_url` overrides the
    scenario's `endpoint`; `model_name` its `name`). Raises `ScenarioInputError` (exit 2) for
    inputs that cannot be used, `ModelEndpointError` (exit 3) for an unusable endpoint.
    """
    from medboard.api import open_caller
    from medboard.llm.errors import CassetteMissError
    from medboard.orchestrator.flow import run_case_flow
    from medboard.tools.reconcile import picture_of

    started = time.perf_counter()
    case = load_inputs(scenario)
    specialists = resolve_specialists(scenario)
    model = scenario.model
    run = ScenarioRun(scenario=scenario, summary=None, picture=None, record=case.record)
    spec, replay, cassette, overrides, final = _model_plan(scenario, record, model_url, model_name)
    run.mode = "record" if cassette else "replay" if replay else "live" if spec else "none"
    try:
        async with open_caller(
            spec or "none", replay=replay, cassette=cassette, overrides=overrides
        ) as caller:
            flow_started = time.perf_counter()
            try:
                with _quiet_runtime_errors():
                    run.summary = await run_case_flow(case, caller=caller, specialists=specialists)
            except CassetteMissError as miss:
                run.replay_miss = str(miss)
            run.flow_s = time.perf_counter() - flow_started
            client: Any = getattr(caller, "client", None)
            if replay is not None and hasattr(client, "unused") and run.replay_miss is None:
                run.unused_recordings = len(client.unused())
            run.recorded = int(getattr(client, "recorded", 0) or 0)
    except BaseException:
        if cassette is not None:
            cassette.unlink(missing_ok=True)  # the old cassette stays as it was
        raise
    if cassette is not None and final is not None:
        if run.summary is None:
            cassette.unlink(missing_ok=True)
        else:
            os.replace(cassette, final)
    run.picture = picture_of(case.record, case_date=case.effective_date)
    run.wall_s = time.perf_counter() - started
    if isinstance(model, CassetteModel) and not record and run.unused_recordings:
        run.warnings.append(
            f"{run.unused_recordings} recording(s) in the cassette were never asked for "
            "(the pipeline makes fewer model calls than when it was recorded)"
        )
    return run


@contextlib.contextmanager
def _quiet_runtime_errors() -> Iterator[None]:
    """autogen-core logs, at ERROR and with a traceback, every exception an agent raises — a strict
    replay miss included, which the scenario reports itself (with the prompt diff). Its runtime
    logger is raised to CRITICAL for the run: a genuine fault still ends the run as an error."""
    logger = logging.getLogger("autogen_core")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _model_plan(
    scenario: Scenario, record: bool, model_url: str | None, model_name: str | None
) -> tuple[str | None, Path | None, Path | None, dict[str, Any], Path | None]:
    """(live spec, replay cassette, recording temp file, endpoint overrides, cassette to replace)."""
    model = scenario.model
    if isinstance(model, LiveModel):
        name = model_name or model.name
        return model_url or model.live, None, None, ({"model": name} if name else {}), None
    if not isinstance(model, CassetteModel):
        return None, None, None, {}, None
    path = scenario.resolve(model.cassette)
    if not record:
        if not path.is_file():
            raise scenario.error(
                f"cassette {model.cassette!r} not found; record it with `medboard scenarios run "
                f"{scenario.path.name} --record --model URL`",
                "model",
                "cassette",
            )
        return None, path, None, {}, None
    endpoint = model_url or model.endpoint
    if endpoint is None:
        raise scenario.error(
            "recording needs a live endpoint: `endpoint:` in the scenario or --model URL", "model"
        )
    name = model_name or model.name
    temporary = path.with_name(f".{path.name}.recording")
    temporary.parent.mkdir(parents=True, exist_ok=True)
    temporary.unlink(missing_ok=True)
    return endpoint, None, temporary, ({"model": name} if name else {}), path


# ------------------------------------------------------------------------------------- inputs


def load_inputs(scenario: Scenario) -> CaseInput:
    """The scenario's case as a `CaseInput`; a missing or unreadable input names its key and line."""
    from medboard.orchestrator.case import load_case

    inputs = scenario.inputs
    key = "case" if inputs.case is not None else "record"
    written = inputs.case if inputs.case is not None else inputs.record
    assert written is not None  # the model validator guarantees one of them
    path = scenario.resolve(written)
    if not path.exists():
        raise scenario.error(f"{key} {written!r} not found", "inputs", key)
    try:
        case = load_case(path, patient=inputs.patient, question=inputs.question)
    except ScenarioInputError:
        raise
    except MedboardInputError as error:
        raise ScenarioInputError(
            f"{key} {written!r} cannot be used: {error}",
            source=str(scenario.path),
            location=scenario.where("inputs", key),
        ) from None
    case.case_id = scenario.label
    if inputs.question:
        case.question = inputs.question
    if inputs.case_date:
        case.case_date = inputs.case_date
    for index, image in enumerate(inputs.images):
        entry = image.model_dump()
        for part in ("path", "mask"):
            if entry[part] is None:
                continue
            resolved = scenario.resolve(entry[part])
            if not resolved.exists():
                raise scenario.error(
                    f"image {part} {entry[part]!r} not found", "inputs", "images", index, part
                )
            entry[part] = str(resolved)
        case.images.append(entry)
        if image.study:
            case.image_links[image.study] = entry["path"]
    return case


# -------------------------------------------------------------------------------- specialists


def registered_specialists() -> dict[str, type[Specialist]]:
    """The registry's specialists by name (`ehr`, `imaging`, `longitudinal`)."""
    from medboard.agents.registry import default_specialists

    return {cls.agent_name: cls for cls in default_specialists()}


def resolve_specialists(scenario: Scenario) -> list[type[Specialist]] | None:
    """None for the default set; else the listed classes (a registered name, `default`, or a
    `module:Class` imported with the scenario's folder on the import path)."""
    from medboard.agents.specialist import Specialist

    if scenario.specialists == "default":
        return None
    registry = registered_specialists()
    chosen: list[type[Specialist]] = []
    for index, item in enumerate(scenario.specialists):
        if item == "default":
            found: Sequence[type[Specialist]] = list(registry.values())
        elif ":" in item:
            found = [_import_specialist(scenario, item, index)]
        elif item in registry:
            found = [registry[item]]
        else:
            raise scenario.error(
                f"no registered specialist {item!r} (registered: {', '.join(registry)}, or `module:Class`)",
                "specialists",
                index,
            )
        chosen.extend(cls for cls in found if cls not in chosen)
        if not issubclass(chosen[-1], Specialist):  # pragma: no cover - checked on import
            raise scenario.error(f"{item!r} is not a Specialist", "specialists", index)
    return chosen


def _import_specialist(scenario: Scenario, item: str, index: int) -> type[Specialist]:
    from medboard.agents.specialist import Specialist

    module_name, _, class_name = item.partition(":")
    folder = str(scenario.folder)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise scenario.error(
            f"cannot import {module_name!r} ({type(error).__name__}: {error})", "specialists", index
        ) from None
    finally:
        if added:
            sys.path.remove(folder)
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Specialist)):
        raise scenario.error(
            f"{item!r} is not a medboard.agents.specialist.Specialist subclass", "specialists", index
        )
    return cls


# ---------------------------------------------------------------------------------- whole files


def run_file(
    path: Path,
    *,
    record: bool = False,
    model_url: str | None = None,
    model_name: str | None = None,
    update_snapshots: bool = False,
    tags: Sequence[str] = (),
) -> ScenarioResult | None:
    """Load, run and check one scenario file. None when `tags` are given and it has none of them.

    Exit codes on the result: 0 every expectation passed, 1 one failed (a replay miss included),
    2 the scenario or its inputs are unusable, 3 the model endpoint is.
    """
    from medboard.errors import MedboardError
    from medboard.scenarios.report import ScenarioResult, evaluate
    from medboard.scenarios.spec import load_scenario

    label = path.stem.removeprefix("scenario_")
    try:
        scenario = load_scenario(path)
    except MedboardError as error:
        return ScenarioResult(str(path), label, error=str(error), exit_code=error.exit_code)
    if tags and not set(tags) & set(scenario.tags):
        return None
    result = ScenarioResult(str(path), scenario.label, scenario=scenario)
    try:
        run = run_scenario_sync(scenario, record=record, model_url=model_url, model_name=model_name)
    except MedboardError as error:
        result.error, result.exit_code = str(error), error.exit_code
        return result
    result.run = run
    result.results = evaluate(scenario, run, update_snapshots=update_snapshots)
    result.exit_code = 0 if result.passed else 1
    return result
