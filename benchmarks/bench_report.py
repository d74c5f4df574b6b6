"""What the visual report costs: render time of report.html against summary.md, and its size.

For the largest shared record (austin_franecki by default) this runs the case once with no model,
then, in the same process, times

- ``render_markdown`` (summary.md, the baseline),
- ``render_report`` the first time (matplotlib imported and warmed, the picture's trends built),
- ``render_report`` again (the steady cost a board packet pays per case), and its parts: the plots
  alone (matplotlib) and the evidence entries alone,

and prints the report's size in bytes (with its SVG, inline PNG and evidence JSON shares), against
summary.md's and summary.json's. Nothing is asserted; run it on two commits and compare.

    .venv/bin/python benchmarks/bench_report.py [BUNDLE ...] [--repeat 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir"
DEFAULT = SHARED / "synthea" / "austin_franecki.json"


def _best(repeat: int, function: object) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(path: Path, repeat: int) -> None:
    from medboard.api import run_case_sync
    from medboard.orchestrator.case import load_case
    from medboard.report.html import render_report
    from medboard.report.html.evidence import build_entries, cited_references
    from medboard.report.html.figures import key_lab_plots, picture_trend_report, timeline_data
    from medboard.report.html.images import FrameImages
    from medboard.report.html.plots import timeline_svg, trend_svg
    from medboard.report.markdown import render_markdown
    from medboard.tools.reconcile import picture_of

    case = load_case(path)
    summary = run_case_sync(case, model="none")

    start = time.perf_counter()
    html = render_report(summary, case)
    first = time.perf_counter() - start
    markdown_s = _best(repeat, lambda: render_markdown(summary))
    report_s = _best(repeat, lambda: render_report(summary, case))

    picture = picture_of(case.record, case_date=case.effective_date)
    trends = picture_trend_report(picture, case.record)

    def plots() -> None:
        for n, plot in enumerate(key_lab_plots(trends, case.record)):
            trend_svg(plot, case_date=None, death=None, salt=f"b{n}")
        data = timeline_data(picture, case.record, trends)
        if not data.empty:
            timeline_svg(data, salt="bt")

    plots_s = _best(repeat, plots)
    evidence_s = _best(
        repeat,
        lambda: build_entries(
            cited_references(summary), case.record.resources, FrameImages(summary=summary, case=case)
        ),
    )

    size = len(html.encode("utf-8"))
    svg = sum(len(m.encode("utf-8")) for m in re.findall(r"<svg.*?</svg>", html, re.S))
    png = sum(len(m) for m in re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]+", html))
    json_part = sum(len(m.encode("utf-8")) for m in re.findall(r'<pre class="json">.*?</pre>', html, re.S))
    markdown = render_markdown(summary)
    summary_json = summary.model_dump_json(indent=2)
    statements = len(summary.statements())
    cited = len({r.reference for r in cited_references(summary)})

    resources = len(case.record.resources)
    print(f"{path.stem}: {statements} statements, {cited} cited references, {resources} resources")
    print(f"  summary.md      {markdown_s * 1000:8.1f} ms   (baseline)")
    print(f"  report.html     {report_s * 1000:8.1f} ms   = {report_s / markdown_s:6.1f} × summary.md")
    print(f"    first render  {first * 1000:8.1f} ms   (matplotlib import and warm-up included)")
    print(f"    plots only    {plots_s * 1000:8.1f} ms   ({plots_s / report_s:.0%} of the render)")
    print(f"    evidence only {evidence_s * 1000:8.1f} ms   ({evidence_s / report_s:.0%} of the render)")
    print(f"  size report.html {size:>10,} bytes = {size / len(markdown.encode()):5.1f} × summary.md")
    print(f"    SVG {svg / size:.0%}, inline PNG {png / size:.0%}, evidence JSON {json_part / size:.0%}")
    md_bytes, json_bytes = len(markdown.encode()), len(summary_json.encode())
    print(f"  size summary.md  {md_bytes:>10,} bytes; summary.json {json_bytes:,} bytes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="*", type=Path, default=[DEFAULT])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    for path in args.bundles:
        if not path.exists():
            print(f"{path}: not found", file=sys.stderr)
            return 2
        measure(path, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
