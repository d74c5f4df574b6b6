"""One case of a board as a job: what a worker needs in (`CaseJob`), what comes back (`CaseOutcome`).

Both are plain pydantic models (picklable, no open handles), so the same job runs in this process
(`LocalExecutor`) or in another (a Ray task): the worker loads the case itself, runs it, writes
its outputs into a temporary folder with `write_case_outputs` and returns their bytes. The board
publishes those bytes; a worker never writes into the packet, so a case that fails halfway leaves
nothing behind that could pass for a finished case.

`run_job` never raises for a case's own failure (bad input, an unusable endpoint, a flow that
ended without a summary): it returns ``status="failed"`` with the error's one line (the
`MedboardError`'s own words, which name files and keys but no patient data) and its exit code,
so one bad case cannot stop a board. Cancellation (Ctrl-C) is not a case failure and propagates.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.errors import CaseInputError, MedboardError
from medboard.orchestrator.case import ImageSpec
from medboard.textsafety import neutralize_line

if TYPE_CHECKING:
    from medboard.agents.case import CaseInput
    from medboard.models import CaseSummary

log = logging.getLogger(__name__)

#: Verdict labels counted per case, and the count of struck statements.
STRUCK = "struck"


class CaseJob(BaseModel):
    """Everything a worker needs to run one case; resolved by the agenda, picklable."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The case's id on the board (its folder name in the packet).")
    bundle: Path | None = Field(
        default=None, description="A bundle file, case folder or case YAML (absolute, resolved)."
    )
    fhir_server: str | None = Field(default=None, description="Base URL of a FHIR server to pull from.")
    patient: str | None = Field(default=None, description="Patient id on the FHIR server (or in the bundle).")
    images: list[ImageSpec] = Field(
        default_factory=list, description="Images as a case YAML lists them; paths absolute, checked."
    )
    question: str | None = None
    case_date: str | None = None
    model: str | None = Field(default=None, description="'none' | 'local' | an endpoint URL (as --model).")
    model_name: str | None = None
    model_settings: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="More endpoint settings (context_length, vision, ...): run_case's model_overrides.",
    )
    replay: Path | None = Field(default=None, description="A cassette to replay model traffic from.")
    time_budget: float | None = Field(default=None, description="Seconds for the case's model calls.")
    allow_external_paths: bool = Field(
        default=False, description="Let a case YAML named by `bundle` read files outside its folder."
    )


class CaseOutcome(BaseModel):
    """What one job produced: its status, and when done, the case's output files as bytes."""

    model_config = ConfigDict(extra="forbid")

    id: str
    status: Literal["done", "failed"]
    error: str | None = Field(default=None, description="One line, no patient data (when failed).")
    exit_code: int = Field(default=0, description="0 done; 2 bad input, 3 endpoint unusable, 1 other.")
    files: dict[str, bytes] = Field(
        default_factory=dict,
        description="Relative path -> content: summary.json, summary.md, report.html, images/*.png.",
    )
    headline: str | None = None
    question: str | None = None
    discrepancies: int = 0
    verification: dict[str, int] = Field(
        default_factory=dict, description="Statements per verdict label, plus 'struck'."
    )
    seconds: float = 0.0


async def run_job(
    job: CaseJob,
    *,
    gate: Any | None = None,  # medboard.llm.gate.CallGate (Helper F)
    progress: Callable[[str], None] | None = None,
) -> CaseOutcome:
    """Load, run and render one case; never raises for the case's own failure.

    `gate`: a model-call concurrency gate (`medboard.llm.gate.CallGate`), passed to
    `medboard.api.run_case` when it accepts one. `progress`: called with ``"agent: status"`` as
    the case's flow advances (plus ``"loading"`` and ``"rendering"``).
    """
    started = time.perf_counter()
    try:
        summary, files = await _run(job, gate=gate, progress=progress)
    except MedboardError as error:
        return _failed(job, one_line(error), error.exit_code, started)
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception as error:  # a bug must not stop the board; its type only (no data)
        log.warning("board case failed with an internal error: %s", type(error).__name__)
        return _failed(job, f"internal error ({type(error).__name__})", 1, started)
    return CaseOutcome(
        id=job.id,
        status="done",
        files=files,
        headline=headline_of(summary),
        question=summary.question or job.question,
        discrepancies=len(summary.discrepancies),
        verification=verification_counts(summary),
        seconds=round(time.perf_counter() - started, 3),
    )


async def _run(
    job: CaseJob, *, gate: Any | None, progress: Callable[[str], None] | None
) -> tuple[CaseSummary, dict[str, bytes]]:
    from medboard.api import run_case

    def tell(stage: str) -> None:
        if progress is not None:
            progress(stage)

    tell("loading")
    case = await load_job_case(job)
    extra: dict[str, Any] = {}
    if gate is not None:
        extra["gate"] = gate
    with tempfile.TemporaryDirectory(prefix="medboard-case-") as temp:
        folder = Path(temp)
        summary = await run_case(
            case,
            model=job.model,
            replay=job.replay,
            model_overrides={**job.model_settings, **({"model": job.model_name} if job.model_name else {})},
            progress=lambda agent, status: tell(f"{agent}: {status}"),
            overlay_dir=folder / "images",
            run_budget_s=job.time_budget,
            **extra,
        )
        tell("rendering")
        files = await asyncio.to_thread(_render, summary, case, folder)
    return summary, files


async def load_job_case(job: CaseJob) -> CaseInput:
    """The job's case: from its bundle / case folder / case YAML, or pulled from its FHIR server;
    the agenda's question, case date and images laid over what the case file says."""
    if job.fhir_server is not None:
        from medboard.orchestrator.server_case import load_server_case

        if job.patient is None:  # the agenda refuses this; a hand-made job may not
            raise CaseInputError("fhir_server without patient", source=f"case {job.id}")
        case = (await load_server_case(job.fhir_server, job.patient, question=job.question)).case
    elif job.bundle is not None:
        from medboard.orchestrator.case import load_case

        bundle = job.bundle
        case = await asyncio.to_thread(
            lambda: load_case(
                bundle,
                patient=job.patient,
                question=job.question,
                allow_external_paths=job.allow_external_paths,
            )
        )
    else:
        raise CaseInputError("neither a bundle nor a FHIR server", source=f"case {job.id}")
    case.case_id = job.id
    if job.question:
        case.question = job.question
    if job.case_date:
        case.case_date = job.case_date
    for image in job.images:
        case.images.append(image_entry(image))
        if image.study:
            case.image_links[image.study] = image.path
    return case


def image_entry(image: ImageSpec) -> dict[str, Any]:
    """An image as `CaseInput.images` holds it (the shape `load_case` builds from a case YAML)."""
    return image.model_dump()


def _render(summary: CaseSummary, case: CaseInput, folder: Path) -> dict[str, bytes]:
    from medboard.report import write_case_outputs

    write_case_outputs(summary, case, folder)
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def headline_of(summary: CaseSummary) -> str | None:
    """The headline section's statements as one line (None when the summary has none)."""
    section = summary.section("headline")
    if section is None or not section.statements:
        return None
    return " ".join(s.text.strip() for s in section.statements if s.text.strip()) or None


def verification_counts(summary: CaseSummary) -> dict[str, int]:
    """Statements per verdict label (every label present, 0 when none), ``unchecked`` for a
    statement without a verdict, and ``struck``."""
    from medboard.models.summary import VerdictLabel

    counts = {label.value: 0 for label in VerdictLabel}
    for statement in summary.statements():
        label = statement.verdict.verdict.value if statement.verdict else "unchecked"
        counts[label] = counts.get(label, 0) + 1
    counts[STRUCK] = len(summary.struck)
    return counts


#: A failed case's reason is one line of at most this many characters.
MAX_ERROR_CHARS = 300


def one_line(error: MedboardError) -> str:
    """The error's first line only (a cassette miss continues with a prompt diff: patient data),
    control characters made visible, bounded."""
    describe = getattr(error, "describe", None)
    text = str(describe() if callable(describe) else error)
    first = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = neutralize_line(" ".join(first.split())) or type(error).__name__
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


def _failed(job: CaseJob, error: str, exit_code: int, started: float) -> CaseOutcome:
    return CaseOutcome(
        id=job.id,
        status="failed",
        error=error,
        exit_code=exit_code if exit_code in (1, 2, 3) else 1,
        question=job.question,
        seconds=round(time.perf_counter() - started, 3),
    )
