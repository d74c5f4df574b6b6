"""Scenario results as text (the CLI, pytest failure reports) and as JSON (`--json`).

A failure names the scenario file and the line of the expectation, the expectation itself, the
clinical reason written with it (`why`), what was expected and what was found, then the statements
and evidence behind it (or the prompt diff of a strict-replay miss).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from medboard.scenarios.checks import Outcome, check
from medboard.textsafety import neutralize

if TYPE_CHECKING:
    from medboard.scenarios.runner import ScenarioRun
    from medboard.scenarios.spec import Scenario


@dataclass
class ExpectationResult:
    index: int
    name: str
    type: str
    line: int | None
    why: str | None
    outcome: Outcome

    @property
    def passed(self) -> bool:
        return self.outcome.passed


@dataclass
class ScenarioResult:
    """One scenario file's result; `error` is set when it could not run (exit 2 or 3)."""

    path: str
    label: str
    scenario: Scenario | None = None
    results: list[ExpectationResult] = field(default_factory=list)
    run: ScenarioRun | None = None
    error: str | None = None
    exit_code: int = 0

    @property
    def passed(self) -> bool:
        return self.error is None and all(r.passed for r in self.results)


def evaluate(
    scenario: Scenario, run: ScenarioRun, *, update_snapshots: bool = False
) -> list[ExpectationResult]:
    return [
        evaluate_one(scenario, run, index, update_snapshots=update_snapshots)
        for index in range(len(scenario.expect))
    ]


def evaluate_one(
    scenario: Scenario, run: ScenarioRun, index: int, *, update_snapshots: bool = False
) -> ExpectationResult:
    expectation = scenario.expect[index]
    return ExpectationResult(
        index=index,
        name=scenario.expectation_name(index),
        type=expectation.type,
        line=scenario.line_of("expect", index),
        why=expectation.why,
        outcome=check(expectation, run, update_snapshots=update_snapshots),
    )


def failure_text(scenario: Scenario, result: ExpectationResult) -> str:
    """The readable report of one expectation (pass or fail)."""
    where = f"{scenario.path.name}:{result.line}" if result.line else scenario.path.name
    head = f"{where} expect[{result.index}] {result.type}"
    if result.name and not result.name.startswith(f"{result.index}-"):
        head += f" ({result.name})"
    lines = [head + (" FAILED" if not result.passed else " passed")]
    if result.why:
        lines.append(f"  why:      {result.why}")
    lines.append(f"  expected: {result.outcome.expected}")
    lines.append(f"  found:    {result.outcome.found}")
    lines += [f"    {line}" for line in result.outcome.details]
    return neutralize("\n".join(lines))


def scenario_text(result: ScenarioResult, *, verbose: bool = False) -> str:
    """The CLI's block for one scenario: a status line, then each failure in full."""
    if result.error is not None:
        return f"ERROR {result.error}"
    run = result.run
    passed = sum(r.passed for r in result.results)
    timing = ""
    if run is not None:
        timing = f" [{run.mode}, {run.wall_s:.2f} s, {run.model_calls} model calls]"
    status = "PASS" if result.passed else "FAIL"
    lines = [f"{status} {result.label} ({passed}/{len(result.results)} expectations){timing}"]
    if run is not None:
        lines += [f"  warning: {w}" for w in run.warnings]
        if run.mode == "record":
            lines.append(f"  recorded {run.recorded} model call(s) into the cassette")
    for item in result.results:
        if (not item.passed or verbose) and result.scenario is not None:
            lines.append("  " + failure_text(result.scenario, item).replace("\n", "\n  "))
    return "\n".join(lines)


def scenario_json(result: ScenarioResult) -> dict[str, Any]:
    run = result.run
    return {
        "scenario": result.label,
        "path": result.path,
        "passed": result.passed,
        "error": result.error,
        "exit_code": result.exit_code,
        "run": None
        if run is None
        else {
            "mode": run.mode,
            "wall_s": round(run.wall_s, 3),
            "flow_s": round(run.flow_s, 3),
            "model_calls": run.model_calls,
            "tokens": run.tokens,
            "recorded": run.recorded,
            "replay_miss": run.replay_miss,
            "warnings": run.warnings,
        },
        "expectations": [
            {
                "index": r.index,
                "name": r.name,
                "type": r.type,
                "line": r.line,
                "passed": r.passed,
                "expected": r.outcome.expected,
                "found": r.outcome.found,
                "details": r.outcome.details,
            }
            for r in result.results
        ],
    }
