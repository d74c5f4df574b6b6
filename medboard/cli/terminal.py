"""Record- and model-derived text made safe to print: plain lines, rich cells, JSON on stdout.

Anything medboard prints that came from a record, a case file, a model or a file name is data. On a
terminal an ANSI escape in a patient name recolours or rewrites the screen, a BEL rings, an RTL
override reorders a dose, and inside a rich table ``[bold red]…[/]`` in a note would be read as
markup. Three helpers cover every way the CLI prints such text:

- `line`: one terminal line (`medboard.textsafety.neutralize_line`; also the Unicode line and
  paragraph separators, which `str.splitlines` and some terminals break on).
- `cell`: a rich table cell or rich-printed value: `line` as a `rich.text.Text`, which rich never
  parses for markup (``[bold red]``) or emoji codes (``:skull:``); `rich.markup.escape` alone
  leaves emoji codes live.
- `inert_json`: JSON text for stdout with C1 controls, DEL, bidi and invisible characters written
  as ``\\uXXXX`` escapes. The decoded JSON is identical (the output stays the faithful contract);
  only its bytes can no longer act on a terminal. ``json.dumps``/pydantic already escape C0.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from medboard.textsafety import BIDI_CONTROLS, INVISIBLE, neutralize_line

if TYPE_CHECKING:
    from rich.text import Text

_SEPARATORS = {"\u2028": "\\u2028", "\u2029": "\\u2029"}
_JSON_UNSAFE = re.compile(
    "["
    + re.escape("".join(chr(c) for c in range(0x7F, 0xA0)))
    + re.escape("".join(sorted(BIDI_CONTROLS | INVISIBLE | set(_SEPARATORS))))
    + "]"
)


def line(text: object) -> str:
    """`text` as one inert terminal line: control, bidi and line-breaking characters shown as escapes."""
    result = neutralize_line(str(text))
    for char, shown in _SEPARATORS.items():
        result = result.replace(char, shown)
    return result


def cell(text: object, style: str = "") -> Text:
    """`text` for a rich table or `Console.print`: one inert line, never read as markup or emoji."""
    from rich.text import Text

    return Text(line(text), style=style)


def inert_json(text: str) -> str:
    """JSON text whose every terminal-active character is a ``\\uXXXX`` escape (same decoded value).

    Outside strings JSON holds only ASCII structure and whitespace, so every match is inside a
    string, where ``\\uXXXX`` means exactly that character.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
