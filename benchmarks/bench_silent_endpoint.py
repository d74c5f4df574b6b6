"""Time to a published summary against a model endpoint that never answers. Prints figures.

A real HTTP server (tests/fake_openai.py) accepts every connection and reads every request but
never answers chat completions (`--mode chat`), or never answers anything, the health check's
GET /v1/models included (`--mode all`). `medboard run` runs the example case with a board question
against it, as a user would, with the default settings (nothing overridden unless `--env` says so),
and the script prints the wall time, the exit code, whether summary.json was published and which
sections say they failed.

    python benchmarks/bench_silent_endpoint.py [--mode chat|all] [--case PATH] [--env K=V ...]
    # before/after: run main's code by pointing --pythonpath at a checkout laid out as a package
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake OpenAI server lives with the tests

from fake_openai import NEVER, FakeOpenAIServer, always, chat_completion  # noqa: E402

DEFAULT_MODEL = "google/medgemma-1.5-4b-it"
QUESTION = "Is she a candidate for endocrine therapy?"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("chat", "all"), default="chat")
    parser.add_argument("--case", type=Path, default=ROOT / "medboard" / "examples" / "jenny-m")
    parser.add_argument("--env", action="append", default=[], help="K=V added to the run's environment")
    parser.add_argument("--pythonpath", default=None, help="Run medboard from this import root instead")
    parser.add_argument("--limit", type=float, default=1800.0, help="Give up after this many seconds")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDBOARD_")}
    env.update(dict(item.split("=", 1) for item in args.env))
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    models_delay = NEVER if args.mode == "all" else 0.0
    responder = always(200, chat_completion("{}"), delay=NEVER)
    server = FakeOpenAIServer(responder, models=[DEFAULT_MODEL], models_delay=models_delay)
    with server, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        command = [sys.executable, "-m", "medboard", "run", str(args.case), "--model", server.base_url]
        command += ["--question", QUESTION, "--out", str(out)]
        started = time.perf_counter()
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.limit)
            code, stderr = done.returncode, done.stderr
        except subprocess.TimeoutExpired as expired:
            code, stderr = None, str(expired.stderr or "")
        wall = time.perf_counter() - started
        summary = out / "summary.json"
        print(f"mode={args.mode} case={args.case.name} env={args.env or 'defaults'}")
        print(f"wall_s={wall:.1f} exit={code} published={summary.exists()} requests={len(server.requests)}")
        if summary.exists():
            _print_summary(json.loads(summary.read_text(encoding="utf-8")))
        for line in [line for line in stderr.splitlines() if line.strip()][-3:]:
            print(f"  stderr: {line[:200]}")


def _print_summary(data: dict) -> None:
    for section in data["sections"]:
        if section.get("status") not in ("ok", "empty"):
            print(f"  section {section['kind']}: {section['status']}: {(section.get('error') or '')[:140]}")
    for agent in data["run"]["agents"]:
        print(f"  agent {agent['agent']}: {agent['status']} {(agent.get('error') or '')[:140]}")
    for warning in data["run"]["warnings"]:
        if warning.startswith("model:"):
            print(f"  warning {warning[:160]}")


if __name__ == "__main__":
    main()
