"""Untrusted text in summary.md and on the terminal: what stays live. Prints figures; asserts nothing.

Runs the real flow on a copy of the Jenny M bundle whose text fields (patient name, condition,
ER value, medication, procedure, a report conclusion, case id, board question) carry hostile
text of five families (HTML, images, links, Markdown structure, control/bidi), renders summary.md,
parses it with markdown-it-py and counts what a viewer would act on; then prints `medboard record`
on a forced-colour terminal and an error line for a hostile path, and counts active characters.
Uses only APIs that exist before and after the hardening, so it runs on either tree:

    python benchmarks/bench_render_safety.py            # this tree
    PYTHONPATH=/path/to/other/tree python benchmarks/bench_render_safety.py
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from markdown_it import MarkdownIt  # noqa: E402
from rich.console import Console  # noqa: E402
from test_cli_output_safety import ACTIVE, TERMINAL_PAYLOADS, _hostile_record  # noqa: E402
from test_render_safety import JENNY, PAYLOADS, _hostile_case, _walk, payload_runs  # noqa: E402

from medboard.api import run_case_sync  # noqa: E402
from medboard.cli.main import main  # noqa: E402
from medboard.cli.record import print_overview  # noqa: E402
from medboard.report.markdown import render_markdown  # noqa: E402
from medboard.tools.fhir import load_record  # noqa: E402

PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
SGR = re.compile(r"\x1b\[[0-9;]*m")


def markdown_counts(markdown: str) -> dict[str, int]:
    tokens = list(_walk(PARSER.parse(markdown)))
    html = [t.content for t in tokens if t.type in ("html_inline", "html_block")]
    blocks = ("code_block", "fence", "table_open")
    return {
        "raw HTML tokens (not <sub>)": sum(1 for h in html if h not in ("<sub>", "</sub>")),
        "image tokens": sum(1 for t in tokens if t.type == "image"),
        "links": sum(1 for t in tokens if t.type == "link_open"),
        "headings": sum(1 for t in tokens if t.type == "heading_open"),
        "code blocks / fences / tables": sum(1 for t in tokens if t.type in blocks),
        "control/bidi characters": sum(1 for c in markdown if c in ACTIVE),
    }


def main_bench() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clean = render_markdown(run_case_sync(JENNY / "case.yaml", model="none"))
        runs = payload_runs()
        before = markdown_counts(clean)
        after = dict.fromkeys(before, 0)
        headings_changed = 0
        started = time.perf_counter()
        for index, (_, payloads) in enumerate(runs):
            case, _ = _hostile_case(Path(tmp) / str(index), payloads)
            summary = run_case_sync(case, model="none")
            counts = markdown_counts(render_markdown(summary))
            headings_changed += counts["headings"] != before["headings"]
            for key, value in counts.items():
                after[key] += value
        render_s = (time.perf_counter() - started) / len(runs)
        print(f"summary.md: {len(PAYLOADS)} payloads in 5 families, {len(runs)} hostile runs of 8 fields:")
        for key in after:
            if key != "headings":
                print(f"  {key:32s} clean run {before[key]:4d}   hostile runs (sum) {after[key]:4d}")
        print(f"  {'runs whose heading count changed':32s} {headings_changed} of {len(runs)}")
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            render_markdown(summary)
            times.append(time.perf_counter() - t0)
        print(f"  run + render {render_s:.2f} s per run; render alone {min(times) * 1000:.1f} ms (best of 5)")

        (Path(tmp) / "rec").mkdir()
        path, _ = _hostile_record(Path(tmp) / "rec")
        buffer = io.StringIO()
        print_overview(load_record(path), console=Console(file=buffer, force_terminal=True, width=400))
        output = SGR.sub("", buffer.getvalue())
        print(f"medboard record ({len(TERMINAL_PAYLOADS)} terminal payloads), forced colour terminal:")
        print(f"  active characters beyond rich's SGR colours: {sum(1 for c in output if c in ACTIVE)}")
        print(f"  rich markup obeyed ([link] → OSC 8): {buffer.getvalue().count(chr(27) + ']8;')}")
        print(f"  emoji codes obeyed (:skull: → 💀): {output.count('💀')}")

        err = io.StringIO()
        hostile_path = Path(tmp) / "no\x1b[2Jsuch\u202efile\nsecond-line.json"
        with contextlib.redirect_stderr(err):
            code = main(["record", str(hostile_path)])
        text = err.getvalue()
        print("error line for a hostile path:")
        active = sum(1 for c in text if c in ACTIVE)
        print(f"  exit {code}, {len(text.splitlines())} line(s), {active} active chars")


if __name__ == "__main__":
    main_bench()
