"""The FHIR-server source shared by `run`, `record` and `reconcile`: options and checks.

``--fhir-server URL --patient ID`` replaces the CASE / PATH argument (giving both is a usage
error, as is a server without a patient, or credentials without a server). Credentials come from
``--fhir-token`` or the SMART options, else from ``MEDBOARD_FHIR_*`` variables
(`medboard.tools.fhir_server.settings`). The option objects are defined once here and used as
defaults by each command, so the three commands spell and document them identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from medboard.orchestrator.server_case import ServerCase
    from medboard.tools.fhir import PatientRecord

FHIR_SERVER = typer.Option(
    None,
    "--fhir-server",
    help="Pull the record from this FHIR R4 server (its base URL) instead of a file; needs --patient.",
)
FHIR_TOKEN = typer.Option(
    None,
    "--fhir-token",
    help="Static bearer token for --fhir-server (or MEDBOARD_FHIR_TOKEN).",
    show_default=False,
)
SMART_CLIENT_ID = typer.Option(None, "--smart-client-id", help="SMART Backend Services client id.")
SMART_KEY = typer.Option(None, "--smart-key", help="SMART: the client's PEM private key file.")
SMART_KID = typer.Option(
    None, "--smart-kid", help="SMART: the key's id (kid) in the client's registered JWKS."
)
SMART_ALG = typer.Option(None, "--smart-alg", help="SMART: RS384 (default) or ES384.")
SMART_TOKEN_URL = typer.Option(
    None,
    "--smart-token-url",
    help="SMART token endpoint (default: from {server}/.well-known/smart-configuration).",
)
SMART_SCOPE = typer.Option(None, "--smart-scope", help="SMART scope (default system/*.read).")

#: click's usage error (typer vendors click: found through a public subclass, as in cli/main.py).
#: Raised with the command's context, it prints as one line ending "(see 'medboard run --help')".
_USAGE_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def usage_error(message: str, ctx: typer.Context | None) -> Exception:
    return _USAGE_ERROR(message, ctx=ctx)  # type: ignore[call-arg]


@dataclass(frozen=True)
class ServerSource:
    """What the command line says about a FHIR server source."""

    url: str
    patient: str
    options: dict[str, Any]

    def load(self, *, question: str | None = None, lenient: bool = False) -> ServerCase:
        """Pull the case (Ctrl-C and SIGTERM end it within seconds, as a run)."""
        from medboard.cli.interrupts import run_interruptible
        from medboard.orchestrator.server_case import load_server_case
        from medboard.tools.fhir_server import FhirServerSettings

        settings = FhirServerSettings.load(**self.options)
        return run_interruptible(
            load_server_case(self.url, self.patient, settings=settings, question=question, lenient=lenient)
        )


def server_source(
    *,
    ctx: typer.Context | None = None,
    path: Path | None,
    path_name: str,
    fhir_server: str | None,
    patient: str | None,
    token: str | None,
    smart_client_id: str | None,
    smart_key: Path | None,
    smart_kid: str | None,
    smart_alg: str | None,
    smart_token_url: str | None,
    smart_scope: str | None,
) -> ServerSource | None:
    """The server source the options describe, or None for a file source; usage errors (exit 2)."""
    credentials = {
        "--fhir-token": token,
        "--smart-client-id": smart_client_id,
        "--smart-key": smart_key,
        "--smart-kid": smart_kid,
        "--smart-alg": smart_alg,
        "--smart-token-url": smart_token_url,
        "--smart-scope": smart_scope,
    }
    if fhir_server is None:
        given = [name for name, value in credentials.items() if value is not None]
        if given:
            raise usage_error(f"{given[0]} is only used with --fhir-server", ctx)
        return None
    if path is not None:
        raise usage_error(f"give {path_name} or --fhir-server, not both", ctx)
    if not patient:
        raise usage_error("--fhir-server needs --patient ID (the patient to pull)", ctx)
    from medboard.tools.fhir_server.client import check_base_url, check_id

    url = check_base_url(fhir_server)
    check_id(patient.removeprefix("Patient/"), what="--patient")
    options = {
        "token": token,
        "smart_client_id": smart_client_id,
        "smart_key": smart_key,
        "smart_kid": smart_kid,
        "smart_alg": smart_alg.upper() if smart_alg else None,
        "smart_token_url": smart_token_url,
        "smart_scope": smart_scope,
    }
    return ServerSource(url=url, patient=patient, options=options)


def load_source_record(
    path: Path | None,
    *,
    patient: str | None,
    server: ServerSource | None,
    lenient: bool = False,
    ctx: typer.Context | None = None,
) -> PatientRecord:
    """The record of `record` / `reconcile`: pulled from the server, or read from PATH."""
    if server is not None:
        return server.load(lenient=lenient).case.record
    if path is None:
        raise usage_error("give a PATH (a FHIR file or folder) or --fhir-server URL --patient ID", ctx)
    from medboard.tools.fhir import load_record

    return load_record(path, patient=patient, lenient=lenient)
