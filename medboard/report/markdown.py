"""Markdown rendering of a `CaseSummary` (jinja2 template next to this file)."""

from __future__ import annotations

from pathlib import Path

from medboard.models import CaseSummary, Statement

_BADGES = {"supported": "✓", "unsupported": "✗", "contradicted": "✗✗", "unverifiable": "?"}


def _badge(statement: Statement) -> str:
    if statement.verdict is None:
        return "[unchecked]"
    return f"[{_BADGES[statement.verdict.verdict.value]} {statement.verdict.verdict.value}]"


def _cite(statement: Statement) -> str:
    refs = list(dict.fromkeys(e.reference for e in statement.evidence))
    shown = ", ".join(refs[:4])
    return f"{shown} (+{len(refs) - 4})" if len(refs) > 4 else shown


def render_markdown(summary: CaseSummary, *, images: list[str] | None = None) -> str:
    """The summary as Markdown; `images` are key-frame PNGs (in `images/` next to the file)."""
    from jinja2 import Environment, FileSystemLoader

    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("summary.md.j2")
    return template.render(s=summary, badge=_badge, cite=_cite, images=images or [])
