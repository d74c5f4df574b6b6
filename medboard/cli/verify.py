"""`medboard verify SUMMARY.json --record BUNDLE`: re-check a case summary against its record.

Usable as a CI gate: exit 1 when any statement is contradicted or unsupported (with `--strict`,
also when any is unverifiable), 0 otherwise, 2 on bad input (a summary that does not validate
against `medboard schema`, an unreadable record, a folder or device given as the summary, a
summary over the size, depth or number-length caps).
Any summary that validates is accepted, hand-edited ones included: a statement with evidence but
no finding ids is checked against its evidence.

Without `--model` the verdicts come from the deterministic checks alone (statements they cannot
decide stay `unverifiable`); with `--model URL|local` (or `--replay CASSETTE`) those go to the
MedGemma entailment check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.text import Text

    from medboard.models import CaseSummary
    from medboard.tools.checks.pipeline import VerifyReport

_COLOURS = {"supported": "green", "unverifiable": "yellow", "unsupported": "red", "contradicted": "bold red"}


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify_command(
        summary_path: Path = typer.Argument(..., metavar="SUMMARY.json", help="A CaseSummary JSON file."),
        record_path: Path = typer.Option(
            ..., "--record", "-r", help="The FHIR Bundle / resource / folder the summary is about."
        ),
        patient: str = typer.Option(
            None, "--patient", help="Patient id when the record holds several (default: the summary's)."
        ),
        case_date: str = typer.Option(
            None, "--case-date", help="The case's 'now' for relative dates (default: latest record date)."
        ),
        model: str = typer.Option(
            None, "--model", "-m", help="Entailment model: endpoint URL or 'local' (default: rules only)."
        ),
        model_name: str = typer.Option(None, "--model-name", help="Served model name (default from env)."),
        replay: Path = typer.Option(None, "--replay", help="Replay model traffic from this cassette."),
        json_out: bool = typer.Option(False, "--json", help="Print {verdicts, discrepancies} as JSON."),
        strict: bool = typer.Option(
            False, "--strict", help="Also fail (exit 1) when any statement is unverifiable (CI gates)."
        ),
    ) -> None:
        """Check every statement of a summary against the record; exit 1 if any fails."""
        import asyncio

        from medboard.tools.fhir import load_record

        summary = load_summary(summary_path)
        wanted = patient or (summary.patient.split("/", 1)[1] if summary.patient else None)
        record = load_record(record_path, patient=wanted)
        overrides = {"model": model_name} if model_name else {}
        report = asyncio.run(_verify(summary, record, case_date, model, replay, overrides))
        if json_out:
            from medboard.cli.terminal import inert_json

            sys.stdout.write(
                inert_json(json.dumps(report.model_dump(mode="json"), ensure_ascii=False)) + "\n"
            )
        else:
            print_report(summary, report)
        if not report.ok or (strict and report.counts().get("unverifiable", 0)):
            raise typer.Exit(1)


async def _verify(
    summary: CaseSummary,
    record: object,
    case_date: str | None,
    model: str | None,
    replay: Path | None,
    overrides: dict[str, str],
) -> VerifyReport:
    from medboard.agents.verifier.entailment import model_entailment
    from medboard.api import open_caller
    from medboard.tools.checks.pipeline import verify_summary

    # Rules only unless a model is asked for explicitly: a CI gate must not change with the env.
    async with open_caller(model or "none", replay=replay, overrides=overrides) as caller:
        entailment = model_entailment(caller) if caller is not None else None
        return await verify_summary(summary, record, case_date=case_date, entailment=entailment)  # type: ignore[arg-type]


def load_summary(path: Path) -> CaseSummary:
    """Read and validate a CaseSummary; bad input names the file and the failing location."""
    from pydantic import ValidationError

    from medboard.errors import validation_input_error
    from medboard.models import CaseSummary
    from medboard.safeio import read_bounded

    # Bounded, regular files only: a folder, a device (/dev/zero) or a FIFO is one clean line.
    data = parse_json_capped(read_bounded(path, cap="max_file_bytes"), str(path))
    try:
        return CaseSummary.model_validate(data)
    except ValidationError as error:
        raise validation_input_error(
            error, source=str(path), location=_location, prefix="not a CaseSummary: ", count_more=True
        ) from None


def parse_json_capped(data: bytes, source: str) -> object:
    """The summary's JSON under the same caps as FHIR input (`medboard.tools.fhir.jsonparse`):
    depth scanned before parsing, number and string length checked in the parser's hooks, NaN
    refused, and a key given twice in one object refused with its path — in a hand-edited summary
    the last of two ``"text"`` keys would otherwise silently be the one verified. A statement of a
    one-page summary is short; one over `max_text_chars` is refused, which also bounds the
    verifier's work per statement."""
    import json

    from medboard.errors import MedboardInputError
    from medboard.tools.fhir.jsonparse import parse_json

    try:
        parsed = parse_json(data, source=source)
    except json.JSONDecodeError as error:
        raise MedboardInputError(
            f"not JSON: {error.msg}", source=source, location=f"line {error.lineno} column {error.colno}"
        ) from None
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text ({error.reason} at byte {error.start})"
        raise MedboardInputError(problem, source=source) from None
    if parsed.duplicates:
        raise MedboardInputError(
            "a key is given twice in one object (which one would be verified?)",
            source=source,
            location=parsed.duplicates[0],
        )
    return parsed.value


def _location(loc: tuple[int | str, ...]) -> str:
    """pydantic's error location as a JSON path: `sections[0].statements[2].evidence[0].reference`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def print_report(summary: CaseSummary, report: VerifyReport) -> None:
    """A verdict table, the discrepancies, and one line of counts."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    texts = {s.id: s.text for s in summary.statements()}
    table = Table(title=_clip(f"{summary.case_id}: verdicts", 200), show_lines=False, expand=True)
    table.add_column("statement", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("text", ratio=3)
    table.add_column("reason", ratio=3)
    for verdict in report.verdicts:
        label = verdict.verdict.value
        table.add_row(
            _clip(verdict.statement_id, 80),
            f"[{_COLOURS[label]}]{label}[/]",
            _clip(texts.get(verdict.statement_id, ""), 160),
            _clip(verdict.reason, 200),
        )
    console.print(table)
    if report.discrepancies:
        found = Table(title="discrepancies", expand=True)
        found.add_column("kind", no_wrap=True)
        found.add_column("severity", no_wrap=True)
        found.add_column("description", ratio=4)
        found.add_column("sources", ratio=2)
        for item in report.discrepancies:
            sources = ", ".join(s.reference for s in item.sources)
            found.add_row(
                _clip(item.kind, 80),
                _clip(item.severity, 20),
                _clip(item.description, 240),
                _clip(sources, 400),
            )
        console.print(found)
    counts = report.counts()
    console.print(
        ", ".join(f"{n} {label}" for label, n in counts.items())
        + f"; {len(report.discrepancies)} discrepancies"
        + ("" if report.ok else " — FAILED (contradicted or unsupported statements)")
    )


def _clip(text: str, limit: int) -> Text:
    """A summary's text (record or model words, maybe hand-edited): one inert rich cell, clipped."""
    from medboard.cli.terminal import cell

    text = " ".join(text.split())
    return cell(text if len(text) <= limit else text[: limit - 1] + "…")
