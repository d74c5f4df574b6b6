"""``medboard run … --write-back``: the verified summary written back to the FHIR server the record
was pulled from, as one idempotent transaction (`medboard.tools.writeback`).

Only with ``--fhir-server``: the summary's citations are the record's resource ids, which are the
server's own only when the record came from that server; written to another server (or from a
file) they would point at nothing, or at someone else's resources. So ``--write-back`` alone is a
usage error (exit 2), checked before any work.

The write happens after the summary is produced and published (``--out``): a server that refuses
it (exit 3, the FHIR client's one-line error) costs the write only, not the summary. Interrupted
mid-write, the server has applied the transaction whole or not at all, and a second run writes
nothing twice (conditional creates), so running again is always safe.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from medboard.models import CaseSummary
    from medboard.tools.writeback import FhirTransactionClient, WriteBackResult

WRITE_BACK = typer.Option(
    False,
    "--write-back",
    help="Write the verified summary back to --fhir-server: a preliminary Composition (AI-labelled) "
    "and its Provenance, in one transaction; a re-run writes nothing new. Needs a token or SMART "
    "scope that may create Composition, Provenance and Device.",
)


#: The SMART scope asked for with --write-back when none is given: read the record, create the three
#: resource types the write-back holds (SMART v1 spelling, which v2 servers also accept).
WRITE_SCOPE = "system/*.read system/Composition.write system/Provenance.write system/Device.write"


def check_write_back(write_back: bool, *, fhir_server: str | None) -> None:
    """Usage error (exit 2) for ``--write-back`` without ``--fhir-server``."""
    if write_back and not fhir_server:
        raise typer.BadParameter(
            "needs --fhir-server: a summary is written back to the server its record was pulled from",
            param_hint="'--write-back'",
        )


def write_back_to_server(
    summary: CaseSummary,
    *,
    patient: str,
    open_client: Callable[[], AbstractAsyncContextManager[FhirTransactionClient]],
) -> WriteBackResult:
    """Open a client (`open_client()`, e.g. ``lambda: settings.client(url)``) and write `summary`
    to ``Patient/<patient>``; Ctrl-C and SIGTERM end it within seconds, as a run."""
    from medboard.cli.interrupts import run_interruptible
    from medboard.tools.writeback import write_back

    async def write() -> WriteBackResult:
        async with open_client() as client:
            return await write_back(client, summary, patient_ref=f"Patient/{patient}")

    return run_interruptible(
        write(), detail="the server applies the write-back whole or not at all; running again is safe"
    )


def outcome_line(result: WriteBackResult) -> str:
    """One line for the terminal: what was written, or that it was all there already."""
    if not result.created:
        return (
            f"write-back: already on the server, nothing new written ({result.composition or 'Composition'})"
        )
    created = ", ".join(e.reference or e.resource_type for e in result.created)
    line = f"write-back: created {created}"
    if result.existing:
        line += f"; already there: {', '.join(e.reference or e.resource_type for e in result.existing)}"
    return line
