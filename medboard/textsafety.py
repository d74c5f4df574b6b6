"""Untrusted text made inert for terminals and rendered files; credentials kept out of output.

Record text (names, notes, report conclusions), model answers and file names are data. Written raw
to a terminal, an ANSI escape can rewrite the screen, a BEL rings, an RTL override reorders what a
clinician reads (``\u202e`` makes "1.0 mg" display reversed). Written raw into `summary.md`, they
survive into every viewer. `neutralize` replaces every C0/C1 control character except tab and
newline, and every bidirectional formatting character, with a visible escape (``\\x1b``,
``\\u202e``): nothing is silently dropped, nothing acts.

Endpoint URLs may carry credentials (``http://user:pass@host/v1``, ``?token=…``). `redact_url`
removes the user-info and every query value; `redact_urls` does the same for URLs inside a text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Bidirectional formatting characters (embeddings, overrides, isolates, marks).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Other invisible characters that change how text reads or compares.
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")

_KEEP = frozenset("\n\t")


_UNSAFE_RE = re.compile(
    "["
    + "".join(
        re.escape(chr(c)) for c in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0)) if chr(c) not in _KEEP
    )
    + "".join(re.escape(c) for c in sorted(BIDI_CONTROLS | INVISIBLE))
    + "]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def neutralize(text: str, *, keep_newlines: bool = True) -> str:
    """`text` with control, bidi and every other format character shown as escapes; newlines
    kept unless told."""
    result = neutralize_format(_UNSAFE_RE.sub(_escape, text))
    if not keep_newlines:
        result = result.replace("\r", "\\r").replace("\n", "\\n")
    return result


@functools.cache
def format_characters() -> re.Pattern[str]:
    """Every Unicode format character (Cf), the line/paragraph separators, and lone surrogates.

    Cf is scanned once, on first use, over the planes that hold it (BMP to plane 2, and the tag
    block in plane 14); ~50 ms. A lone surrogate (``"\\ud800"`` in a JSON-style YAML escape) is
    no character at all: written to a UTF-8 file or terminal it raises, so it is shown instead.
    """
    planes = (*range(0x80, 0x30000), *range(0xE0000, 0xE1000))
    chars = [chr(c) for c in planes if unicodedata.category(chr(c)) == "Cf"]
    listed = "".join(re.escape(c) for c in [*chars, "\u2028", "\u2029"])
    return re.compile(f"[{listed}\ud800-\udfff]")


def _show(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def neutralize_format(text: str) -> str:
    """`text` with every format character (Cf), line/paragraph separator and lone surrogate as a
    visible escape.

    Part of `neutralize`: it complements the named controls, bidi and invisibles with the whole
    Unicode category, so a character the list does not name cannot act either.
    """
    return format_characters().sub(_show, text)


def neutralize_line(text: str) -> str:
    """One terminal line: like `neutralize`, and newlines shown as ``\\n``."""
    return neutralize(text, keep_newlines=False)


def redact_url(url: str) -> str:
    """The URL without user-info and with every query value replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        query = urlencode([(key, "***") for key, _ in parse_qsl(query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, "" if not parts.fragment else "***"))


_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_urls(text: str) -> str:
    """Every URL in `text` passed through `redact_url`."""
    return _URL_RE.sub(lambda m: redact_url(m.group(0)), text)


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def lone_surrogate_path(value: object) -> str | None:
    """The path (``entry[2].resource.name[0].family``) of the first string holding a lone UTF-16
    surrogate, or None. JSON and YAML escapes (``\\ud800``) can produce such strings; they are not
    Unicode text, cannot be written as UTF-8, and would crash every output at the very end of a
    run, so inputs are refused up front. Iterative: the input's depth is already capped."""
    stack: list[tuple[str, object]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE_RE.search(node):
                return path or "(root)"
        elif isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str) and _SURROGATE_RE.search(key):
                    return (path + "." if path else "") + "(a key)"
                stack.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(node))
    return None
