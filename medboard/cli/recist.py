"""`medboard recist FILE.json`: RECIST 1.1 response per time point, the arithmetic shown.

Input: ``{"timepoints": [{"date": "YYYY-MM-DD", "new_lesions": false, "lesions": [{"id": "L1",
"organ": "lung", "kind": "target"|"non-target", "lymph_node": false, "diameter_mm": 32.0,
"status": "present"|"absent"|"unequivocal-progression"}]}]}``; the first time point is the
baseline, and ``diameter_mm`` of a lymph node is its short axis. Output (``--json``):
``{"timepoints": [{"date", "sum_diameters_mm", "change_from_baseline_mm",
"change_from_baseline_percent", "change_from_nadir_mm", "change_from_nadir_percent", "nadir_mm",
"response", "reason"}]}``. A malformed file exits 2 naming the file, time point and lesion.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from medboard.cli.terminal import inert_json, line  # record/header text printed inert

_OUTPUT_FIELDS = (
    "date",
    "sum_diameters_mm",
    "change_from_baseline_mm",
    "change_from_baseline_percent",
    "change_from_nadir_mm",
    "change_from_nadir_percent",
    "nadir_mm",
    "target_response",
    "non_target_response",
    "response",
    "reason",
)


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """``timepoint 1 (2020-03-01), lesion L2, diameter_mm`` from a pydantic error location."""
    parts: list[str] = []
    node = data
    index = 0
    while index < len(loc):
        key = loc[index]
        if key == "timepoints" and index + 1 < len(loc) and isinstance(loc[index + 1], int):
            i = loc[index + 1]
            node = node["timepoints"][i] if isinstance(node, dict) else None
            day = node.get("date") if isinstance(node, dict) else None
            parts.append(f"timepoint {i}" + (f" ({day})" if day else ""))
            index += 2
            continue
        if key == "lesions" and index + 1 < len(loc) and isinstance(loc[index + 1], int):
            i = loc[index + 1]
            lesions = node.get("lesions") if isinstance(node, dict) else None
            lesion = lesions[i] if isinstance(lesions, list) and i < len(lesions) else None
            lesion_id = lesion.get("id") if isinstance(lesion, dict) else None
            parts.append(f"lesion {lesion_id}" if lesion_id else f"lesion #{i}")
            node = lesion
            index += 2
            continue
        parts.append(str(key))
        index += 1
    return ", ".join(parts) or "document"


def load_timepoints(path: Path) -> list[Any]:
    """Read and validate the lesion file; every problem is a `MedboardInputError` naming where."""
    from pydantic import BaseModel, ConfigDict, ValidationError

    from medboard.errors import MedboardInputError, validation_input_error
    from medboard.tools.longitudinal.recist import TimePoint

    class _Document(BaseModel):
        model_config = ConfigDict(extra="forbid")
        timepoints: list[TimePoint]

    from medboard.safeio import read_bounded
    from medboard.tools.fhir.jsonparse import parse_json

    raw = read_bounded(path, error=MedboardInputError)  # regular files only, stopped at the cap
    try:
        parsed = parse_json(raw.removeprefix(b"\xef\xbb\xbf"), source=str(path))
    except UnicodeDecodeError as error:
        raise MedboardInputError(
            f"not UTF-8 text ({error.reason} at byte {error.start})", source=str(path)
        ) from None
    except json.JSONDecodeError as error:
        raise MedboardInputError(
            f"not JSON ({error.msg} at line {error.lineno}, column {error.colno})", source=str(path)
        ) from None
    if parsed.duplicates:
        raise MedboardInputError(
            "duplicate JSON key: an object names this key twice, so its value is ambiguous",
            source=str(path),
            location=parsed.duplicates[0],
        )
    data = parsed.value
    try:
        document = _Document.model_validate(data)
    except ValidationError as error:
        raise validation_input_error(
            error, source=str(path), location=lambda loc: _location(loc, data)
        ) from None
    if not document.timepoints:
        raise MedboardInputError("no time points", source=str(path), location="timepoints")
    return list(document.timepoints)


def register(app: typer.Typer) -> None:
    @app.command("recist")
    def recist_command(
        file: Path = typer.Argument(..., help="JSON lesion measurements per time point (first = baseline)."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """RECIST 1.1: sum of diameters, change from baseline and nadir, response per time point."""
        from medboard.errors import MedboardInputError
        from medboard.tools.longitudinal.recist import RecistError, assess
        from medboard.tools.longitudinal.trends import fmt, signed

        timepoints = load_timepoints(file)
        try:
            assessment = assess(timepoints)
        except RecistError as error:
            raise MedboardInputError(error.problem, source=str(file), location=error.location) from None

        if json_out:
            payload = {
                "timepoints": [
                    {name: getattr(result, name) for name in _OUTPUT_FIELDS}
                    for result in assessment.timepoints
                ]
            }
            typer.echo(inert_json(json.dumps(payload, indent=2, ensure_ascii=False)))
            return

        def num(value: float | None, sign: bool = False) -> str:
            if value is None:
                return "–"
            return signed(value) if sign else fmt(value)

        typer.echo(
            f"{'date':<10}  {'sum mm':>8}  {'Δbase mm':>9}  {'Δbase %':>8}  {'Δnadir mm':>9}  response"
        )
        for result in assessment.timepoints:
            typer.echo(
                f"{result.date:<10}  {num(result.sum_diameters_mm):>8}  "
                f"{num(result.change_from_baseline_mm, True):>9}  "
                f"{num(result.change_from_baseline_percent, True):>8}  "
                f"{num(result.change_from_nadir_mm, True):>9}  {result.response or 'baseline'}"
            )
        typer.echo("")
        for result in assessment.timepoints:
            typer.echo(line(f"{result.date}: {result.reason}"))
