"""Untrusted text made inert in Markdown: one function, `escape_markdown`.

Everything the record, a model or a file name contributes to `summary.md` is data. Left raw, a
report conclusion holding ``<img src=x onerror=…>`` runs in a viewer that allows HTML,
``![t](http://tracker/…)`` loads a tracking pixel when the summary is opened, ``[click](javascript:…)``
is one click from script, and Markdown structure characters forge the summary's own structure: a
``#`` line becomes a heading, ``|`` splits a table cell, ``>``/``-``/``1.`` open quotes and lists,
``*``/``_``/``~`` change emphasis, a newline ends a bullet. `escape_markdown` returns text that a
CommonMark/GFM renderer shows literally, character for character, wherever a single-line value can
sit (a bullet, a heading, a table cell, after ``**label:**``):

- ``\\r\\n``/``\\r`` become newlines, then control and bidi characters become visible escapes
  (`medboard.textsafety.neutralize`), and so does every other Unicode *format* character
  (category Cf: tag characters that hide "ASCII-smuggled" text, invisible operators, deprecated
  shaping controls; `medboard.textsafety.neutralize`), then every whitespace run (newlines, tabs) becomes one
  space: a value never spans lines, so it cannot end its bullet or cell or start a block of its own.
- ``&``, ``<``, ``>`` become HTML entities (inert in every Markdown flavour and in HTML: no tag, no
  autolink, no entity that decodes to a bidi character, no ``>`` quote).
- Inline syntax is backslash-escaped: ``\\ ` * [ ] ~ | $ #`` always, ``_`` unless it sits inside a
  word (where CommonMark never reads it as emphasis; ``NM_024675`` stays readable). Without an
  unescaped ``[`` there is no link, image, footnote or reference definition.
- Line-leading block syntax is escaped at the start of the value: ``-``, ``+``, ``=`` and the ``.``
  or ``)`` of an ordered-list number (``1.`` → ``1\\.``); ``#``, ``*``, ``>``, fences are already
  covered above.
- An empty (or all-whitespace) value becomes ``(empty)``: a bare ``- `` under a line of text is a
  setext heading underline, and an empty cell or bullet hides that the record said nothing.

Why hand-written: neither dependency offers this. Jinja2's autoescape is HTML escaping only (and its
escape function cannot be swapped); markdown-it-py parses and renders Markdown but has no escaper
for Markdown source. markdown-it-py is what the tests use to prove the result inert.

`MarkdownText` marks a string that is already safe Markdown (escaped, or written by medboard itself:
verdict marks, links to the key images it saved). The summary template escapes every other value by
default, so a field added later without the filter is still inert.
"""

from __future__ import annotations

import re

from medboard.textsafety import neutralize  # neutralize_format: re-exported


class MarkdownText(str):
    """Markdown that is safe to emit as is: already escaped, or medboard's own structure."""

    __slots__ = ()


#: What an empty or all-whitespace value renders as.
EMPTY = "(empty)"

_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ALWAYS = frozenset("\\`*[]~|$#")
_LEADING_BLOCK = frozenset("-+=")
_ORDERED_MARKER = re.compile(r"^(\d{1,9})([.)])")


def escape_markdown(value: object) -> MarkdownText:
    """`value` as one line of Markdown that renders literally (see the module docstring).

    `MarkdownText` passes unchanged (it is already safe); anything else is converted with `str`.
    """
    if isinstance(value, MarkdownText):
        return value
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = " ".join(neutralize(text).split())
    if not text:
        return MarkdownText(EMPTY)
    out: list[str] = []
    last = len(text) - 1
    for i, char in enumerate(text):
        if char in _HTML:
            out.append(_HTML[char])
        elif char in _ALWAYS:
            out.append("\\" + char)
        elif char == "_" and not (0 < i < last and text[i - 1].isalnum() and text[i + 1].isalnum()):
            out.append("\\_")
        else:
            out.append(char)
    escaped = "".join(out)
    if escaped[:1] in _LEADING_BLOCK:
        escaped = "\\" + escaped
    else:
        escaped = _ORDERED_MARKER.sub(r"\1\\\2", escaped, count=1)
    return MarkdownText(escaped)
