"""`medboard schema`: the JSON Schema of `CaseSummary`, the contract other tools read (or, with
``--board``, of a board packet's board.json)."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema_command(
        model: str = typer.Option(
            "CaseSummary", "--model", help="Vocabulary model to export (CaseSummary, Finding, Fact, ...)."
        ),
        board: bool = typer.Option(
            False, "--board", help="Print the schema of a board packet's board.json (BoardPacket) instead."
        ),
    ) -> None:
        """Print the JSON Schema of the case summary (or another vocabulary model, or board.json)."""
        from medboard import models
        from medboard.errors import MedboardInputError

        if board:
            from medboard.report.board import BoardPacket

            typer.echo(json.dumps(BoardPacket.model_json_schema(), indent=2))
            return
        target = getattr(models, model, None)
        if target is None or not hasattr(target, "model_json_schema"):
            raise MedboardInputError(f"unknown model {model!r}; try CaseSummary, Finding, Fact, Verdict")
        typer.echo(json.dumps(target.model_json_schema(), indent=2))
