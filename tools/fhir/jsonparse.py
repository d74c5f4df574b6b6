"""Bounded JSON parsing: depth, number length, string length and duplicate keys checked.

`json.loads` alone is unsafe on hostile input: nesting 100k deep overflows its recursive scanner,
a 5,000-digit integer trips Python's int-string conversion limit (a ValueError), ``NaN`` and
``Infinity`` are accepted although JSON has no such values, a 60 MB string goes through, and a
duplicate key silently keeps the last value (``"gender": "female", "gender": "male"``).

`parse_json` runs a linear, iterative, string-aware depth scan over the bytes *before* parsing
(vectorised with numpy, in chunks, so it costs a fraction of the parse), then parses with hooks:
``parse_int``/``parse_float`` see each number literal before it is converted, ``parse_constant``
refuses NaN/Infinity, and ``object_pairs_hook`` refuses over-long strings and marks objects with
a repeated key. Repeated short strings (codes, systems, units, statuses) are shared while parsing,
which cuts the memory of a large bundle by about a quarter. Errors name the cap and where it was
exceeded (the line, or the JSON path of a duplicate key), never the offending value.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from medboard.limits import LimitExceededError, limits
from medboard.textsafety import lone_surrogate_path

_SCAN_CHUNK = 4 * 1024 * 1024
#: Below this size the depth scan is pure Python (regex + accumulate): numpy's import alone costs
#: more than scanning a few MB, so it is imported only for large documents.
_NUMPY_FROM_BYTES = 16 * 1024 * 1024
#: One JSON string, possessive (linear, no backtracking); an unterminated one runs to the end.
_STRING = re.compile(rb'"(?:[^"\\]++|\\[\s\S])*+(?:"|\Z)')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET = re.compile(rb"[\[\]{}]")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_INTERN_CHARS = 64
#: ``\ud800``–``\udfff`` escapes: the only way JSON text can carry a (possibly lone) surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_ELEMENT_NAME = re.compile(r"^_?[A-Za-z][A-Za-z0-9]{0,63}$")
#: Keys whose string values are base64 payloads (Attachment.data, Binary.data, Signature.data):
#: capped by max_string_chars; every other string by the smaller max_text_chars.
_PAYLOAD_KEYS = frozenset({"data"})


class DuplicateKeyObject(dict):  # type: ignore[type-arg]
    """A JSON object that named a key more than once (the keys are listed, values are not)."""

    duplicate_keys: tuple[str, ...] = ()


class _Refused(Exception):
    """Raised from a parse hook; turned into a `LimitExceededError` with the line by `parse_json`."""

    def __init__(self, what: str, cap: str | None, needle: bytes | None = None) -> None:
        super().__init__(what)
        self.what, self.cap, self.needle = what, cap, needle


@dataclass
class ParsedJson:
    value: Any
    #: JSON paths (``entry[3].resource.gender``) of keys that occur twice in one object.
    duplicates: list[str] = field(default_factory=list)


def depth_overflow(data: bytes, cap: int) -> int | None:
    """The line where container nesting first goes deeper than ``cap`` (None if it never does)."""
    if len(data) < _NUMPY_FROM_BYTES:
        return _depth_small(data, cap)
    offset = _depth_numpy(data, cap)
    return None if offset is None else data.count(b"\n", 0, offset) + 1


def _depth_small(data: bytes, cap: int) -> int | None:
    """Strings removed (one linear regex pass), then a running sum over the brackets left.

    Returns the line (JSON strings hold no raw newline, so the string-free text has the same
    line numbers as ``data``)."""
    bare = _STRING.sub(b"", data)
    steps = bare.translate(None, _NOT_BRACKETS)
    opening = frozenset(b"[{")
    for index, level in enumerate(itertools.accumulate(1 if b in opening else -1 for b in steps)):
        if level > cap:
            match = next(itertools.islice(_BRACKET.finditer(bare), index, None))
            return bare.count(b"\n", 0, match.start()) + 1
    return None


def _depth_numpy(data: bytes, cap: int) -> int | None:
    """Byte offset where container nesting first goes deeper than ``cap`` (None if it never does).

    Linear and iterative: only the bytes ``"``, ``\\``, brackets and braces are looked at; brackets
    inside strings are ignored (a quote after an odd run of backslashes does not end a string).
    Chunks never split a run of backslashes, so only the string state and the depth carry over.
    """
    import numpy as np

    interesting = np.zeros(256, dtype=bool)
    interesting[[_QUOTE, _BACKSLASH, ord("["), ord("]"), ord("{"), ord("}")]] = True
    step_of = np.zeros(256, dtype=np.int8)  # +1 opens a container, -1 closes one
    step_of[[ord("["), ord("{")]] = 1
    step_of[[ord("]"), ord("}")]] = -1
    view = np.frombuffer(data, dtype=np.uint8)
    depth, in_string, start, size = 0, 0, 0, len(view)
    while start < size:
        stop = min(start + _SCAN_CHUNK, size)
        while stop < size and view[stop - 1] == _BACKSLASH:
            stop += 1
        chunk = view[start:stop]
        positions = np.flatnonzero(interesting[chunk])
        codes = chunk[positions]
        quotes = codes == _QUOTE
        backslash = codes == _BACKSLASH
        if backslash.any():
            index = np.arange(len(codes), dtype=np.int64)
            joined = np.zeros(len(codes), dtype=bool)  # a backslash right after another one
            joined[1:] = backslash[1:] & backslash[:-1] & (positions[1:] == positions[:-1] + 1)
            run_start = np.maximum.accumulate(np.where(backslash & ~joined, index, 0))
            escaped = np.zeros(len(codes), dtype=bool)
            escaped[1:] = (
                backslash[:-1]
                & (positions[:-1] + 1 == positions[1:])
                & (((index[:-1] - run_start[:-1]) & 1) == 0)  # odd run length
            )
            quotes &= ~escaped
        parity = (np.cumsum(quotes, dtype=np.int64) + in_string) & 1
        step = np.where(parity == 0, step_of[codes], 0)
        if step.any():
            levels = depth + np.cumsum(step, dtype=np.int64)
            too_deep = levels > cap
            if too_deep.any():
                return start + int(positions[int(np.argmax(too_deep))])
            depth = int(levels[-1])
        if len(parity):
            in_string = int(parity[-1])
        start = stop
    return None


class _Hooks:
    """The parse hooks for one document, with its caps read once."""

    def __init__(self, shared: dict[str, str] | None = None, drop_nulls: bool = False) -> None:
        caps = limits()
        self.drop_nulls = drop_nulls
        self.max_number = caps.max_number_chars
        self.max_text = caps.max_text_chars
        self.max_payload = caps.max_string_chars
        self.shared: dict[str, str] = {} if shared is None else shared
        self.duplicates = 0

    def parse_int(self, literal: str) -> int:
        if len(literal) > self.max_number:
            raise _Refused(f"a number literal of {len(literal)} characters", "max_number_chars")
        return int(literal)

    def parse_float(self, literal: str) -> float:
        if len(literal) > self.max_number:
            raise _Refused(f"a number literal of {len(literal)} characters", "max_number_chars")
        value = float(literal)
        if value in (float("inf"), float("-inf")):
            raise _Refused("a number out of the range of a decimal (overflows to infinity)", None)
        return value

    def parse_constant(self, name: str) -> Any:
        raise _Refused(f"{name} is not a JSON value (JSON has no NaN or Infinity)", None, name.encode())

    def _text(self, value: str, key: str) -> str:
        size = len(value)
        if size <= _INTERN_CHARS:
            return self.shared.setdefault(value, value)
        cap = self.max_payload if key in _PAYLOAD_KEYS else self.max_text
        if size > cap:
            name = "max_string_chars" if key in _PAYLOAD_KEYS else "max_text_chars"
            raise _Refused(f"a string of {size} characters{_element(key)}", name)
        return value

    def _items(self, values: list[Any], key: str) -> None:
        for index, item in enumerate(values):
            if item.__class__ is str:
                values[index] = self._text(item, key)
            elif item.__class__ is list:
                self._items(item, key)

    def object_pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            self.duplicates += 1
            seen: set[str] = set()
            repeated = [k for k, _ in pairs if k in seen or seen.add(k)]  # type: ignore[func-returns-value]
            obj = DuplicateKeyObject(obj)
            obj.duplicate_keys = tuple(dict.fromkeys(repeated))
        for key, value in pairs:
            if len(key) > _INTERN_CHARS and len(key) > self.max_text:
                raise _Refused(f"an object key of {len(key)} characters", "max_text_chars")
            if value.__class__ is str:
                obj[key] = self._text(value, key)
            elif value.__class__ is list:
                self._items(value, key)
            elif value is None and self.drop_nulls:
                del obj[key]  # FHIR JSON has no null elements; the models read one as absent
        return obj


def parse_json(
    data: bytes,
    *,
    source: str,
    location: str | None = None,
    shared: dict[str, str] | None = None,
    drop_nulls: bool = False,
) -> ParsedJson:
    """Parse UTF-8 JSON bytes within the caps.

    ``drop_nulls`` removes ``"key": null`` members, as FHIR readers do, so extractors never meet
    a null where FHIR promises an element or none. `json.JSONDecodeError`/`UnicodeDecodeError`
    pass through (the caller words them); a cap is a `LimitExceededError` naming the line.
    """
    cap = limits().max_json_depth
    openers = data.count(b"[") + data.count(b"{")  # C-speed; the scan only runs when it could matter
    line = depth_overflow(data, cap) if openers > cap else None
    if line is not None:
        where = _join(location, f"line {line}")
        raise LimitExceededError("JSON nested too deeply", "max_json_depth", source=source, location=where)
    hooks = _Hooks(shared, drop_nulls)
    try:
        value = json.loads(
            data,
            parse_int=hooks.parse_int,
            parse_float=hooks.parse_float,
            parse_constant=hooks.parse_constant,
            object_pairs_hook=hooks.object_pairs,
        )
    except _Refused as refused:
        if refused.cap is None:
            from medboard.errors import FhirInputError

            raise FhirInputError(refused.what, source=source, location=location) from None
        raise LimitExceededError(refused.what, refused.cap, source=source, location=location) from None
    except RecursionError:  # a depth cap raised beyond what the interpreter's stack allows
        raise LimitExceededError(
            "JSON nested too deeply for this interpreter", "max_json_depth", source=source, location=location
        ) from None
    if _SURROGATE_ESCAPE.search(data):  # only an escape can make one: UTF-8 bytes cannot
        bad = lone_surrogate_path(value)
        if bad is not None:
            from medboard.errors import FhirInputError

            raise FhirInputError(
                f"{bad}: a string holds a lone UTF-16 surrogate escape (not Unicode text)",
                source=source,
                location=location,
            )
    duplicates = list(duplicate_paths(value)) if hooks.duplicates else []
    return ParsedJson(value, duplicates)


def _element(key: str) -> str:
    """`` (element 'family')`` for a key that looks like a FHIR element name, else nothing."""
    return f" (element {key!r})" if _ELEMENT_NAME.match(key) else ""


def _join(*parts: str | None) -> str | None:
    return ", ".join(p for p in parts if p) or None


def duplicate_paths(value: Any) -> Iterator[str]:
    """JSON paths of repeated keys, in document order (iterative; only run when there are some)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node, DuplicateKeyObject):
                for key in node.duplicate_keys:
                    yield f"{path}.{key}" if path else key
            children = [(f"{path}.{k}" if path else k, v) for k, v in node.items()]
            stack.extend(reversed([c for c in children if isinstance(c[1], dict | list)]))
        elif isinstance(node, list):
            stack.extend(
                reversed([(f"{path}[{i}]", v) for i, v in enumerate(node) if isinstance(v, dict | list)])
            )
