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

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Bidirectional formatting characters (embeddings, overrides, isolates, marks).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
#: Other invisible characters that change how text reads or compares.
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")

_KEEP = frozenset("\n\t")


_UNSAFE_RE = re.compile(
    "["
    + "".join(
        re.escape(chr(c))
        for c in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0))
        if chr(c) not in _KEEP
    )
    + "".join(re.escape(c) for c in sorted(BIDI_CONTROLS | INVISIBLE))
    + "]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def neutralize(text: str, *, keep_newlines: bool = True) -> str:
    """`text` with control and bidi characters shown as escapes; newlines kept unless told."""
    result = _UNSAFE_RE.sub(_escape, text)
    if not keep_newlines:
        result = result.replace("\r", "\\r").replace("\n", "\\n")
    return result


def neutralize_line(text: str) -> str:
    """One terminal line: like `neutralize`, and newlines shown as ``\\n``."""
    return neutralize(text, keep_newlines=False)


def has_unsafe(text: str) -> bool:
    return _UNSAFE_RE.search(text) is not None


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
