"""`medboard board AGENDA.yaml` and `medboard batch CASES…`: many cases in, one packet out.

Order of work (each step before the next can cost anything):

1. the agenda (or the case list) is read and checked: bad input is one line, exit 2, nothing run;
2. `--out` is checked against every case's inputs and for files medboard did not write;
3. each distinct model endpoint is health-checked once; the cases of an endpoint that is down
   are marked failed with its reason (exit 3) without being run — the others go on;
4. the cases run through the chosen executor (``--executor local``: asyncio in this process;
   ``--executor ray``: Ray workers, ``--ray-address``/``--ray-workers``, docs/ray.md), at most
   ``--concurrency`` at a time, one progress bar per case on a terminal;
5. the packet (`medboard.report.board`) is written to a staging folder and published under the
   out folder's lock: index.html, board.json and ``cases/<id>/`` for each done case.

The packet is written whatever happened to the cases; the exit code is 0 when every case is
done, else the worst failed case's (3 endpoint unusable over 2 bad input over 1 other), with one
line per failed case on stderr.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from medboard.orchestrator.board import CaseJob, CaseOutcome
    from medboard.report.board import BoardPacket

CONCURRENCY = typer.Option(
    4, "--concurrency", "-c", min=1, max=64, help="How many cases run at once (model calls overlap)."
)
EXECUTOR = typer.Option(
    "local",
    "--executor",
    help="Where cases run: 'local' (asyncio in this process) or 'ray' (Ray tasks; the [ray] extra).",
)
MODEL = typer.Option(
    None,
    "--model",
    "-m",
    help="Model endpoint URL, 'local' or 'none' (default MEDBOARD_MODEL_URL, else none).",
)
MODEL_NAME = typer.Option(None, "--model-name", help="Served model name (default from env).")
REPLAY = typer.Option(None, "--replay", help="Replay model traffic from this cassette (every case).")
TIME_BUDGET = typer.Option(
    None,
    "--time-budget",
    min=1.0,
    help="Seconds for each case's model calls (default MEDBOARD_RUN_BUDGET_S).",
)
JSON_OUT = typer.Option(False, "--json", help="Print board.json to stdout (no progress bars).")
RAY_ADDRESS = typer.Option(
    None,
    "--ray-address",
    help="With --executor ray: an existing cluster ('ray://head:10001' or 'auto'); default: a private "
    "local Ray on 127.0.0.1.",
)
RAY_WORKERS = typer.Option(
    None, "--ray-workers", min=1, max=256, help="With --executor ray: case worker processes (default 2)."
)


def register(app: typer.Typer) -> None:
    @app.command("board")
    def board_command(
        agenda: Path = typer.Argument(..., help="The agenda: a YAML file (board, date, cases)."),
        out: Path = typer.Option(
            None,
            "--out",
            "-o",
            help="The packet's folder (default: ./<agenda name>-board): index.html, board.json, cases/<id>/; "
            "only files medboard wrote there before are replaced.",
        ),
        model: str = MODEL,
        model_name: str = MODEL_NAME,
        replay: Path = REPLAY,
        concurrency: int = CONCURRENCY,
        executor: str = EXECUTOR,
        ray_address: str = RAY_ADDRESS,
        ray_workers: int = RAY_WORKERS,
        time_budget: float = TIME_BUDGET,
        allow_external_paths: bool = typer.Option(
            False,
            "--allow-external-paths",
            help="Let the agenda (and case YAMLs) name files outside their own folder (refused by default).",
        ),
        json_out: bool = JSON_OUT,
    ) -> None:
        """Run a tumor board: every case of the agenda, then the board packet."""
        from medboard.orchestrator.board import load_agenda

        loaded = load_agenda(agenda, allow_external_paths=allow_external_paths)
        code = run_board(
            board=loaded.board,
            day=loaded.date,
            jobs=loaded.cases,
            inputs=loaded.inputs(),
            out=out if out is not None else Path(f"{agenda.stem}-board"),
            model=model,
            model_name=model_name,
            replay=replay,
            concurrency=concurrency,
            executor=executor,
            executor_options=executor_options(executor, ray_address, ray_workers),
            time_budget=time_budget,
            json_out=json_out,
        )
        raise typer.Exit(code)

    @app.command("batch")
    def batch_command(
        cases: list[Path] = typer.Argument(..., help="Bundle files, case folders or case YAMLs."),
        out: Path = typer.Option(
            ..., "--out", "-o", help="The packet's folder: index.html, board.json, cases/<id>/."
        ),
        model: str = MODEL,
        model_name: str = MODEL_NAME,
        replay: Path = REPLAY,
        concurrency: int = CONCURRENCY,
        executor: str = EXECUTOR,
        ray_address: str = RAY_ADDRESS,
        ray_workers: int = RAY_WORKERS,
        time_budget: float = TIME_BUDGET,
        allow_external_paths: bool = typer.Option(
            False,
            "--allow-external-paths",
            help="Let case YAMLs name records, images or masks outside their own folder.",
        ),
        json_out: bool = JSON_OUT,
    ) -> None:
        """Run any list of cases (ids from their file names) into one packet, as a board does."""
        from medboard.orchestrator.board import CaseJob

        ids = batch_ids(cases)
        jobs = [
            CaseJob(id=case_id, bundle=path.resolve(), allow_external_paths=allow_external_paths)
            for case_id, path in zip(ids, cases, strict=True)
        ]
        code = run_board(
            board="Batch",
            day=date.today().isoformat(),
            jobs=jobs,
            inputs=list(cases),
            out=out,
            model=model,
            model_name=model_name,
            replay=replay,
            concurrency=concurrency,
            executor=executor,
            executor_options=executor_options(executor, ray_address, ray_workers),
            time_budget=time_budget,
            json_out=json_out,
        )
        raise typer.Exit(code)


def executor_options(executor: str, ray_address: str | None, ray_workers: int | None) -> dict[str, Any]:
    """The executor's own options from the CLI (the Ray ones only make sense with Ray)."""
    from medboard.errors import MedboardInputError

    if executor != "ray":
        for given, flag in ((ray_address, "--ray-address"), (ray_workers, "--ray-workers")):
            if given is not None:
                raise MedboardInputError("only applies with --executor ray", source=flag)
        return {}
    options: dict[str, Any] = {"address": ray_address}
    if ray_workers is not None:
        options["workers"] = ray_workers
    return options


def batch_ids(paths: list[Path]) -> list[str]:
    """A folder-safe, unique id per case: the file's stem, a case YAML's folder (``x/case.yaml``
    is ``x``), a folder's name; characters a folder name cannot hold become ``-``; repeats get
    ``-2``, ``-3``."""
    from medboard.orchestrator.case import CASE_FILE_NAMES

    ids: list[str] = []
    taken: set[str] = set()
    for path in paths:
        if path.name in CASE_FILE_NAMES:
            stem = path.resolve().parent.name
        elif path.is_dir():
            stem = path.resolve().name
        else:
            stem = path.stem
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-_")[:60] or "case"
        if not base[0].isalnum():
            base = f"case-{base}"
        candidate, n = base, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate.casefold())
        ids.append(candidate)
    return ids


def run_board(
    *,
    board: str,
    day: str,
    jobs: list[CaseJob],
    inputs: list[Path],
    out: Path,
    model: str | None,
    model_name: str | None,
    replay: Path | None,
    concurrency: int,
    executor: str,
    time_budget: float | None,
    json_out: bool,
    executor_options: dict[str, Any] | None = None,
) -> int:
    """Run `jobs` and publish their packet to `out`; returns the board's exit code."""
    from medboard import __version__
    from medboard.api import resolve_model_spec
    from medboard.cli.interrupts import run_interruptible, signals_raise
    from medboard.errors import MedboardInputError
    from medboard.orchestrator.board import make_executor
    from medboard.report import CASE_FILES, publish
    from medboard.report.board import BoardRun, build_packet, describe_model, packet_outputs

    if replay is not None and not replay.is_file():
        raise MedboardInputError("no such cassette file", source=f"--replay {replay}")
    publish.check_out_folder(
        out,
        inputs,
        other_files=[replay] if replay else [],
        outputs=packet_outputs([job.id for job in jobs], CASE_FILES),
    )
    runner = make_executor(executor, **(executor_options or {}))
    spec = resolve_model_spec(model)
    jobs = [
        job.model_copy(
            update={
                "model": job.model or spec,
                "model_name": job.model_name or model_name,
                "replay": replay.resolve() if replay else None,
                "time_budget": time_budget,
            }
        )
        for job in jobs
    ]
    started = datetime.now(UTC)
    clock = time.perf_counter()
    with signals_raise():
        outcomes = run_interruptible(
            _run_cases(jobs, runner, concurrency, progress_on=not json_out and sys.stderr.isatty()),
            detail="nothing was published",
        )
    packet = build_packet(
        board=board,
        date=day,
        outcomes=outcomes,
        run=BoardRun(
            medboard_version=__version__,
            model=describe_model(spec, replay),
            executor=executor,
            concurrency=concurrency,
            started=started,
            finished=datetime.now(UTC),
            seconds=round(time.perf_counter() - clock, 3),
        ),
    )
    _publish_packet(packet, outcomes, out)
    _report(packet, out, json_out)
    return packet.exit_code()


async def _run_cases(
    jobs: list[CaseJob], runner: Any, concurrency: int, *, progress_on: bool
) -> list[CaseOutcome]:
    """Health-check each endpoint once, then run the cases whose endpoint answered."""
    from medboard.cli.board_progress import BoardProgressView
    from medboard.orchestrator.board import CaseOutcome

    async with _local_model(jobs) as jobs:
        refused = await _health_checks(jobs)
        runnable = [job for job in jobs if job.id not in refused]
        with BoardProgressView([job.id for job in jobs], enabled=progress_on) as view:
            for case_id, outcome in refused.items():
                view.update(case_id, outcome.status)
            done = (
                await runner.run_all(runnable, concurrency=concurrency, progress=view.update)
                if runnable
                else []
            )
    by_id = {**refused, **{outcome.id: outcome for outcome in done}}
    lost = "the executor returned no outcome for this case"
    return [
        by_id.get(job.id)
        or CaseOutcome(id=job.id, status="failed", error=lost, exit_code=1, question=job.question)
        for job in jobs
    ]


@contextlib.asynccontextmanager
async def _local_model(jobs: list[CaseJob]) -> AsyncIterator[list[CaseJob]]:
    """`--model local` for a board: the local server started once, its URL given to every case
    that asked for it (each case starting its own would load the model once per case)."""
    from medboard.api import LOCAL_MODEL, model_endpoint

    wants = [job.model == LOCAL_MODEL and job.replay is None for job in jobs]
    if not any(wants):
        yield jobs
        return
    async with model_endpoint(LOCAL_MODEL) as endpoint:
        settings = {"context_length": endpoint.context_length, "vision": endpoint.vision}
        update = {"model": endpoint.base_url, "model_name": endpoint.model, "model_settings": settings}
        yield [job.model_copy(update=update) if want else job for job, want in zip(jobs, wants, strict=True)]


async def _health_checks(jobs: list[CaseJob]) -> dict[str, CaseOutcome]:
    """One health check per distinct endpoint (URL and model name); the cases of an endpoint that
    fails it, as failed outcomes carrying its one-line reason and exit code."""
    from medboard.errors import MedboardError
    from medboard.llm.endpoint import ModelEndpoint
    from medboard.llm.health import health_check
    from medboard.orchestrator.board import CaseOutcome
    from medboard.orchestrator.board.jobs import one_line

    problems: dict[tuple[str, str | None], tuple[str, int] | None] = {}
    for job in jobs:
        if job.replay is not None or not job.model or not job.model.startswith(("http://", "https://")):
            continue
        key = (job.model, job.model_name)
        if key in problems:
            continue
        settings: dict[str, Any] = {"base_url": job.model, **job.model_settings}
        if job.model_name:
            settings["model"] = job.model_name
        try:
            await health_check(ModelEndpoint.from_sources(settings))
            problems[key] = None
        except MedboardError as error:
            problems[key] = (one_line(error), error.exit_code)
    refused = {}
    for job in jobs:
        problem = problems.get((job.model or "", job.model_name))
        if problem is not None:
            refused[job.id] = CaseOutcome(
                id=job.id, status="failed", error=problem[0], exit_code=problem[1], question=job.question
            )
    return refused


def _publish_packet(packet: BoardPacket, outcomes: list[CaseOutcome], out: Path) -> None:
    from medboard.cli.interrupts import signals_deferred
    from medboard.report import publish
    from medboard.report.board import write_packet

    with publish.staging_folder(out, cleanup_guard=signals_deferred) as staging:
        try:
            write_packet(packet, outcomes, staging)
        except OSError as exc:  # disk full, the folder removed under the run
            reason = exc.strerror or type(exc).__name__
            raise publish.OutputFolderError(
                f"cannot write the packet ({reason}); nothing was published", source=f"--out {out}"
            ) from None
        with signals_deferred():
            publish.publish(staging, out)


def _report(packet: BoardPacket, out: Path, json_out: bool) -> None:
    from medboard.cli.terminal import error_line, inert_json, line

    for case in packet.failed:
        typer.echo(error_line(f"case {case.id} FAILED (exit {case.exit_code}): {case.error}"), err=True)
    if json_out:
        sys.stdout.write(inert_json(packet.model_dump_json(indent=2)) + "\n")
        return
    done = len(packet.cases) - len(packet.failed)
    typer.echo(
        line(
            f"{packet.board} ({packet.date}): {len(packet.cases)} cases, {done} done, "
            f"{len(packet.failed)} failed in {packet.run.seconds:.1f} s → {out}/index.html"
        )
    )
