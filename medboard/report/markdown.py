"""Markdown rendering of a `CaseSummary` (jinja2 template next to this file).

Every value from the summary is untrusted (record text, model text, file names, case ids): the
template passes each through the ``md`` filter (`escape_markdown`), and the environment's
``finalize`` escapes any value that reaches the output without it, so forgetting the filter cannot
make a value live. Only `MarkdownText` from this module is emitted as is: the verdict marks, the
citations (escaped references), and the links to key images medboard itself wrote to ``images/``.

Verdict marks are code spans at the start of each bullet: record text cannot produce a code span
(its backticks are escaped) and cannot reach that position, so a statement that carries a forged
"[✓ supported]" still shows its real verdict first, in the mark's own style.

`summary.json` is not touched by this: JSON is the contract and carries the record's text
faithfully; JSON string escaping already makes control characters inert there.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from medboard.models import CaseSummary, EvidenceRef, Section, Statement
from medboard.report.escaping import MarkdownText, escape_markdown
from medboard.textsafety import redact_url

_BADGES = {"supported": "✓", "unsupported": "✗", "contradicted": "✗✗", "unverifiable": "?"}
_MAX_CITED = 4


def _badge(statement: Statement) -> MarkdownText:
    if statement.verdict is None:
        return MarkdownText("`unchecked`")
    label = statement.verdict.verdict.value
    return MarkdownText(f"`{_BADGES[label]} {label}`")


def _refs(evidence: Iterable[EvidenceRef], limit: int | None = None) -> MarkdownText:
    """Distinct references, escaped, comma-separated; past `limit`, a count of the rest."""
    refs = list(dict.fromkeys(e.reference for e in evidence))
    shown = ", ".join(escape_markdown(r) for r in refs[:limit])
    if limit is not None and len(refs) > limit:
        shown += f" (+{len(refs) - limit})"
    return MarkdownText(shown)


def _cite(statement: Statement) -> MarkdownText:
    return _refs(statement.evidence, _MAX_CITED)


def _image_link(name: str) -> MarkdownText:
    """A link to a key image in ``images/``; a name that is not a plain PNG file name stays text."""
    if not name.lower().endswith(".png") or "/" in name or "\\" in name or name.startswith("."):
        return escape_markdown(name)
    return MarkdownText(f"![{escape_markdown(name)}](images/{quote(name, safe='._-~')})")


def _cell(value: object) -> MarkdownText:
    """A table cell: escaped like any value (one line, ``|`` escaped: it cannot open a column);
    a blank cell is a dash, not "(empty)" (a table's blank means "none", e.g. a line not stopped)."""
    text = "" if value is None else str(value)
    return MarkdownText("–") if not text.strip() else escape_markdown(text)


def _table_rows(section: Section) -> list[Statement]:
    """The statements that are rows of the section's table (their cells match its columns)."""
    width = len(section.columns or [])
    return [st for st in section.statements if st.cells is not None and len(st.cells) == width]


def _endpoint(url: str | None) -> str:
    return redact_url(url) if url else "(no endpoint)"


def _finalize(value: object) -> str:
    """Applied by jinja2 to every ``{{ … }}``: escape what is not already safe Markdown."""
    return escape_markdown("" if value is None else value)


def render_markdown(summary: CaseSummary, *, images: list[str] | None = None) -> str:
    """The summary as Markdown; `images` are key-frame PNGs (in `images/` next to the file)."""
    from jinja2 import Environment, FileSystemLoader

    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=False,
        finalize=_finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = escape_markdown
    env.filters["cell"] = _cell
    template = env.get_template("summary.md.j2")
    return template.render(
        s=summary,
        badge=_badge,
        cite=_cite,
        refs=_refs,
        table_rows=_table_rows,
        image_link=_image_link,
        endpoint=_endpoint,
        images=images or [],
    )
