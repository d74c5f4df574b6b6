"""Record- and model-derived text made safe to print: plain lines, rich cells, JSON, error lines.

Anything medboard prints that came from a record, a case file, a model or a file name is data. On a
terminal an ANSI escape in a patient name recolours or rewrites the screen, a BEL rings, an RTL
override reorders a dose, and inside a rich table ``[bold red]…[/]`` in a note would be read as
markup. These helpers cover every way the CLI prints such text:

- `line`: one terminal line: control and bidi characters (`medboard.textsafety.neutralize_line`)
  and every other Unicode format character or line/paragraph separator
  (`medboard.textsafety.neutralize`) shown as visible escapes.
- `cell`: a rich table cell or rich-printed value: `line` as a `rich.text.Text`, which rich never
  parses for markup (``[bold red]``) or emoji codes (``:skull:``); `rich.markup.escape` alone
  leaves emoji codes live.
- `inert_json`: JSON text for stdout with every such character (and C1 controls, DEL) written as a
  ``\\uXXXX`` escape. The decoded JSON is identical, so the output stays the faithful contract;
  only its bytes can no longer act on a terminal. ``json.dumps``/pydantic already escape C0.
- `error_line`: the one line an error becomes on stderr: `line`, URL credentials and query values
  redacted (`medboard.textsafety.redact_urls`), a runaway message cut, never empty.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from medboard.textsafety import format_characters, neutralize_line, redact_urls

if TYPE_CHECKING:
    from rich.text import Text

#: Longest message `error_line` shows; the rest is dropped with a note saying so.
MAX_ERROR_CHARS = 2000

_C1_AND_DEL = re.compile("[\x7f-\x9f]")


def line(text: object) -> str:
    """`text` as one inert terminal line: control, bidi, format and separator characters escaped."""
    return neutralize_line(str(text))


def cell(text: object, style: str = "") -> Text:
    """`text` for a rich table or `Console.print`: one inert line, never read as markup or emoji."""
    from rich.text import Text

    return Text(line(text), style=style)


def inert_json(text: str) -> str:
    """JSON text whose every terminal-active character is a ``\\uXXXX`` escape (same decoded value).

    Outside strings JSON holds only ASCII structure and whitespace, so every match is inside a
    string, where the escape means exactly that character; a character beyond the BMP (the tag
    characters) is written as its UTF-16 surrogate pair, as JSON requires.
    """
    return format_characters().sub(_json_escape, _C1_AND_DEL.sub(_json_escape, text))


def _json_escape(match: re.Match[str]) -> str:
    data = match.group(0).encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{int.from_bytes(data[i : i + 2], 'big'):04x}" for i in range(0, len(data), 2))


def error_line(error: BaseException | str, *, prefix: str = "medboard: error: ") -> str:
    """The one line to print for `error` (an exception or a message): inert, URLs redacted,
    bounded, never empty."""
    text = str(error).strip() or (type(error).__name__ if isinstance(error, BaseException) else "error")
    # Redact before cutting (a cut URL could hide its "@"), on a bounded prefix (the URL pattern
    # is quadratic on a long run of letters).
    shown = line(redact_urls(text[: 4 * MAX_ERROR_CHARS]))
    if len(shown) > MAX_ERROR_CHARS or len(text) > 4 * MAX_ERROR_CHARS:
        shown = f"{shown[:MAX_ERROR_CHARS]}… (message cut at {MAX_ERROR_CHARS} characters)"
    return prefix + shown
