"""`medboard schema`: the JSON Schema of `CaseSummary`, the contract other tools read."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema_command(
        model: str = typer.Option(
            "CaseSummary", "--model", help="Vocabulary model to export (CaseSummary, Finding, Fact, ...)."
        ),
    ) -> None:
        """Print the JSON Schema of the case summary (or another vocabulary model)."""
        from medboard import models
        from medboard.errors import MedboardInputError

        target = getattr(models, model, None)
        if target is None or not hasattr(target, "model_json_schema"):
            raise MedboardInputError(f"unknown model {model!r}; try CaseSummary, Finding, Fact, Verdict")
        typer.echo(json.dumps(target.model_json_schema(), indent=2))
