"""`medboard run --out` safety figures (issue 15, "outputs never destroy anything"). Prints
figures; asserts nothing.

1. Seconds from SIGINT / SIGTERM to exit, with every model call hanging on a slow fake endpoint,
   the exit code, and the staging folders left behind.
2. Four concurrent runs to one `--out`: their exit codes.
3. Seconds to refuse `--out CASE_FOLDER` (a copy of a case folder holding its MR volume and mask),
   and whether the case's images survived.

The medboard under test is whichever `--python` imports (default: this interpreter), so the same
script measures another checkout's virtual environment (before/after):

    python benchmarks/bench_run_outputs.py [--python /path/to/.venv/bin/python]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake OpenAI server and case helpers live with the tests

from fake_openai import FakeOpenAIServer, chat_completion  # noqa: E402
from outputs_support import case_folder_with_images  # noqa: E402

JENNY = ROOT / "tests" / "data" / "fhir" / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".medboard-") and p.is_dir()]


def signal_stop(python: str, sig: signal.Signals, work: Path) -> None:
    def hang(body: dict) -> tuple[int, dict, float]:
        return 200, chat_completion("ok"), 600.0

    out = work / f"out-{sig.name}"
    with FakeOpenAIServer(hang, models=["fake-model"]) as server:
        run = subprocess.Popen(
            [
                python,
                "-m",
                "medboard",
                "run",
                str(JENNY),
                "--model",
                server.base_url,
                "--model-name",
                "fake-model",
                "--out",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=work,
        )
        started = time.monotonic()
        while not server.requests and time.monotonic() - started < 120:
            time.sleep(0.05)
        time.sleep(0.5)
        sent = time.monotonic()
        run.send_signal(sig)
        try:
            _, err = run.communicate(timeout=240)
            took = f"{time.monotonic() - sent:.2f} s"
        except subprocess.TimeoutExpired:
            run.kill()
            _, err = run.communicate()
            took = "> 240 s (killed)"
    last = err.strip().splitlines()[-1] if err.strip() else ""
    print(
        f"{sig.name}: exit {run.returncode} after {took}; staging left: {leftovers(work) or 'none'}; "
        f"last line: {last[:100]}"
    )
    for name in leftovers(work):
        shutil.rmtree(work / name, ignore_errors=True)


def concurrent(python: str, work: Path, count: int = 4) -> None:
    out = work / "shared-out"
    runs = [
        subprocess.Popen(
            [python, "-m", "medboard", "run", str(JENNY), "--model", "none", "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=work,
        )
        for _ in range(count)
    ]
    codes = []
    crashes = 0
    for run in runs:
        _, err = run.communicate(timeout=600)
        codes.append(run.returncode)
        crashes += "Traceback" in err
    print(f"{count} concurrent runs to one --out: exit codes {codes}, {crashes} with a traceback")


def refuse_case_folder(python: str, work: Path) -> None:
    case = case_folder_with_images(work / "case")
    started = time.monotonic()
    run = subprocess.run(
        [python, "-m", "medboard", "run", str(case), "--model", "none", "--out", str(case)],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=600,
    )
    took = time.monotonic() - started
    kept = (case / "images" / "brain1_image.nrrd").exists() and (
        case / "images" / "brain1_label.nrrd"
    ).exists()
    print(
        f"--out CASE_FOLDER: exit {run.returncode} after {took:.2f} s (process start included); "
        f"input volume and mask still there: {kept}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter whose medboard is measured")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-outputs-"))
    try:
        env_note = subprocess.run(
            [args.python, "-c", "import medboard, os; print(os.path.dirname(medboard.__file__))"],
            capture_output=True,
            text=True,
            cwd=work,
        ).stdout.strip()
        print(f"medboard under test: {env_note}")
        refuse_case_folder(args.python, work)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal_stop(args.python, sig, work)
        concurrent(args.python, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
