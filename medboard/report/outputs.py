"""A case's output files, written into one folder: summary.json, summary.md and report.html.

One function for every caller that publishes a case (`medboard run --out`, a board packet's
per-case folders), so they all write the same three files from the same summary. The folder is a
staging folder the caller publishes (`medboard.report.publish`); key-frame overlays the run wrote
into its ``images/`` are linked from summary.md and inlined into report.html.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medboard.agents.case import CaseInput
    from medboard.models import CaseSummary

#: The files `write_case_outputs` writes (publish.OUTPUT_FILES lists them for `--out`).
CASE_FILES = ("summary.json", "summary.md", "report.html")


def write_case_outputs(summary: CaseSummary, case: CaseInput, folder: Path) -> None:
    """Write summary.json (the contract), summary.md and report.html into `folder` (created if
    needed); overlays already in ``folder/images/`` are used by both renderings."""
    from medboard.report.html import render_report
    from medboard.report.markdown import render_markdown

    folder.mkdir(parents=True, exist_ok=True)
    images_dir = folder / "images"
    images = sorted(p.name for p in images_dir.glob("*.png")) if images_dir.is_dir() else []
    (folder / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    (folder / "summary.md").write_text(render_markdown(summary, images=images), encoding="utf-8")
    html = render_report(summary, case, images_dir=images_dir if images_dir.is_dir() else None)
    (folder / "report.html").write_text(html, encoding="utf-8")
