"""`medboard scenarios run|schema`: scenario regression tests outside pytest.

`run PATH…` takes scenario files or folders (searched for `scenario_*.yaml`), runs each case once
and checks its expectations. Exit code: 0 all passed, 1 an expectation failed (a strict-replay
miss included), 2 a scenario or its inputs are unusable, 3 a model endpoint is unusable — the
worst over all scenarios. `--record` re-runs cassette scenarios against their live endpoint
(`endpoint:` in the file, or `--model URL`) and rewrites the cassettes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

scenarios_app = typer.Typer(
    help="Scenario regression tests: a case, a model (none, a cassette, live) and expectations in YAML.",
    no_args_is_help=True,
)


@scenarios_app.command("run")
def run_command(
    paths: list[Path] = typer.Argument(..., metavar="PATH...", help="Scenario files or folders."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    record: bool = typer.Option(
        False, "--record", help="Re-run cassette scenarios against a live endpoint and rewrite the cassettes."
    ),
    tag: list[str] = typer.Option([], "--tag", help="Only scenarios with this tag (repeatable)."),
    model: str = typer.Option(
        None,
        "--model",
        help="Live endpoint (URL or 'local') for --record and live scenarios; overrides the scenario's.",
    ),
    model_name: str = typer.Option(None, "--model-name", help="Served model name at that endpoint."),
    update_snapshots: bool = typer.Option(
        False, "--update-snapshots", help="Rewrite snapshot files instead of comparing."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show passing expectations too."),
) -> None:
    """Run scenarios and check their expectations."""
    from medboard.cli.terminal import inert_json
    from medboard.scenarios.report import scenario_json, scenario_text
    from medboard.scenarios.runner import run_file
    from medboard.scenarios.spec import ScenarioInputError, find_scenarios

    files = find_scenarios(paths)
    if not files:
        raise ScenarioInputError("no scenario_*.yaml files found", source=", ".join(str(p) for p in paths))
    results = []
    for path in files:
        result = run_file(
            path,
            record=record,
            model_url=model,
            model_name=model_name,
            update_snapshots=update_snapshots,
            tags=tag,
        )
        if result is None:
            continue
        results.append(result)
        if not json_out:
            typer.echo(scenario_text(result, verbose=verbose))
    worst = max((r.exit_code for r in results), default=0)
    if json_out:
        body = {"exit_code": worst, "scenarios": [scenario_json(r) for r in results]}
        sys.stdout.write(inert_json(json.dumps(body, ensure_ascii=False, indent=1)) + "\n")
    else:
        passed = sum(r.passed for r in results)
        typer.echo(f"{passed}/{len(results)} scenarios passed")
    if worst:
        raise typer.Exit(worst)


@scenarios_app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of a scenario file (also docs/scenario.schema.json)."""
    from medboard.scenarios.spec import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(scenarios_app, name="scenarios")
