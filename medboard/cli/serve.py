"""`medboard serve`: the HTTP service (cases over HTTP, CDS Hooks) under uvicorn.

Order matters: the settings are checked (an API token is required unless `--insecure-no-auth` on
a loopback host), then the case engine starts and opens the model (an unusable endpoint exits 3
here, one line), and only then does uvicorn bind its port. FastAPI and uvicorn are the
``[server]`` extra: without them the command says how to install them (exit 2) — nothing else in
medboard imports them.
"""

from __future__ import annotations

from pathlib import Path

import typer

from medboard.errors import MedboardInputError

INSTALL_HINT = "the HTTP service needs FastAPI and uvicorn (the server extra): pip install 'medboard[server]'"


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_command(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
        port: int = typer.Option(8000, "--port", help="Port to bind (0: any free port)."),
        model: str = typer.Option(
            None, "--model", "-m", help="Model endpoint URL, 'local' or 'none' (default MEDBOARD_MODEL_URL)."
        ),
        replay: Path = typer.Option(None, "--replay", help="Answer model calls from this cassette."),
        concurrency: int = typer.Option(
            None, "--concurrency", help="Cases running at once (default 2, MEDBOARD_SERVICE_CONCURRENCY)."
        ),
        max_body_bytes: int = typer.Option(
            None,
            "--max-body-bytes",
            help="Request body cap; larger bodies get 413 (default 64 MiB, MEDBOARD_SERVICE_MAX_BODY_BYTES).",
        ),
        public_url: str = typer.Option(
            None,
            "--public-url",
            help="The URL clients reach the service at (card links, CDS JWT audience; MEDBOARD_PUBLIC_URL).",
        ),
        insecure_no_auth: bool = typer.Option(
            False,
            "--insecure-no-auth",
            help="Serve without API tokens: local development only (refused unless the host is loopback).",
        ),
    ) -> None:
        """Serve cases over HTTP (POST /cases, GET /cases/{id}) and CDS Hooks (/cds-services).

        API tokens come from MEDBOARD_API_TOKEN (one, or several separated by commas).
        """
        try:
            import fastapi  # noqa: F401
            import uvicorn
        except ImportError:
            raise MedboardInputError(INSTALL_HINT) from None
        from medboard.service.app import create_app
        from medboard.service.logs import uvicorn_log_config
        from medboard.service.settings import ServiceSettings

        settings = ServiceSettings.resolve(
            {
                "host": host,
                "port": port,
                "model": model,
                "replay": replay,
                "concurrency": concurrency,
                "max_body_bytes": max_body_bytes,
                "public_url": public_url,
                "insecure_no_auth": insecure_no_auth or None,
            }
        )
        settings.require_auth()
        if replay is not None and not replay.is_file():
            raise MedboardInputError("no such cassette file", source=f"--replay {replay}")
        application = create_app(settings)
        state = application.state.medboard
        state.start()  # the model opens here: an unusable endpoint is exit 3 before the port is bound
        try:
            uvicorn.run(
                application,
                host=settings.host,
                port=settings.port,
                log_config=uvicorn_log_config(),
                server_header=False,
                proxy_headers=False,
            )
        finally:
            state.engine.stop()
