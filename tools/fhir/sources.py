"""Reading sources into parsed JSON documents: files, folders, NDJSON, bytes, dicts.

Everything that can go wrong before FHIR semantics is caught here with the file named: a missing
path, an empty (0-byte) file, a file over the size limit, bytes that are not UTF-8 JSON (with line
and column), NDJSON lines that do not parse (with their line number). In lenient mode a bad file
of a folder, or a bad line of an NDJSON file, is skipped and reported instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medboard.errors import FhirInputError, MedboardInputError
from medboard.limits import LimitExceededError, Limits, env_var, limits
from medboard.safeio import read_bounded
from medboard.tools.fhir.jsonparse import parse_json
from medboard.tools.fhir.record import SkippedEntry

#: The default of `load_record(max_bytes=)`: the `max_file_bytes` cap (MEDBOARD_MAX_FILE_BYTES).
DEFAULT_MAX_BYTES = Limits.max_file_bytes
JSON_SUFFIXES = (".json",)
NDJSON_SUFFIXES = (".ndjson", ".jsonl")


@dataclass(frozen=True)
class Document:
    """One parsed JSON value and where it came from (``line`` for NDJSON lines)."""

    origin: str
    data: Any
    line: int | None = None
    #: JSON paths of keys repeated in one object (lenient mode only; strict mode refuses them).
    duplicates: tuple[str, ...] = ()

    @property
    def location(self) -> str | None:
        return f"line {self.line}" if self.line is not None else None


class Reader:
    """Turns a source into `Document`s, collecting lenient-mode skips."""

    def __init__(self, *, max_bytes: int | None = None, lenient: bool = False) -> None:
        self.max_bytes = limits().max_file_bytes if max_bytes is None else max_bytes
        self.lenient = lenient
        self.skipped: list[SkippedEntry] = []

    # -- entry point ----------------------------------------------------------------------
    def read(
        self, source: str | os.PathLike[str] | bytes | dict[str, Any], name: str | None
    ) -> list[Document]:
        if isinstance(source, dict):
            return [Document(name or "<dict>", source)]
        if isinstance(source, bytes | bytearray):
            label = name or "<bytes>"
            self._check_size(len(source), label)
            return list(self._parse_bytes(bytes(source), label, ndjson=None))
        if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
            label = name or "<json text>"
            data = source.encode()
            self._check_size(len(data), label)
            return list(self._parse_bytes(data, label, ndjson=None))
        path = Path(source)
        if path.is_dir():
            return self._read_folder(path)
        return self._read_file(path, name or str(path))

    # -- files and folders ------------------------------------------------------------------
    def _read_folder(self, folder: Path) -> list[Document]:
        files = sorted(
            p
            for p in folder.iterdir()
            if p.is_file()
            and not p.name.startswith(".")
            and p.suffix.lower() in JSON_SUFFIXES + NDJSON_SUFFIXES
        )
        if not files:
            raise FhirInputError("folder has no .json or .ndjson files", source=str(folder))
        documents: list[Document] = []
        for file in files:
            try:
                documents.extend(self._read_file(file, str(file)))
            except MedboardInputError as error:
                if not self.lenient:
                    raise
                self.skipped.append(SkippedEntry(location=str(file), problem=error.problem))
        return documents

    def _read_file(self, path: Path, label: str) -> list[Document]:
        try:  # regular files only (no /dev/zero, FIFO), chunked, stopped at max_bytes
            data = read_bounded(path, error=FhirInputError, label=label, maximum=self.max_bytes)
        except LimitExceededError:  # worded as the reader's own limit (split it, or raise it)
            raise self._over_limit(label, path.stat().st_size) from None
        if not data:
            raise FhirInputError("file is empty (0 bytes)", source=label)
        ndjson = True if path.suffix.lower() in NDJSON_SUFFIXES else None
        return list(self._parse_bytes(data, label, ndjson=ndjson))

    def _check_size(self, size: int, label: str) -> None:
        if size > self.max_bytes:
            raise self._over_limit(label, size)

    def _over_limit(self, label: str, size: int) -> FhirInputError:
        return FhirInputError(
            f"file is {size / 1e6:.1f} MB, over the {self.max_bytes / 1e6:.0f} MB limit (split it, e.g. "
            f"as Bulk Data NDJSON, or raise max_file_bytes: {env_var('max_file_bytes')})",
            source=label,
        )

    # -- parsing ------------------------------------------------------------------------------
    def _parse_bytes(self, data: bytes, label: str, *, ndjson: bool | None) -> Iterator[Document]:
        if not data.strip():
            raise FhirInputError("file is empty (no JSON content)", source=label)
        data = data.removeprefix(b"\xef\xbb\xbf")
        if ndjson:
            yield from self._parse_ndjson(data, label)
            return
        try:
            parsed = parse_json(data, source=label, drop_nulls=True)
        except UnicodeDecodeError as error:
            problem = f"not UTF-8 text ({error.reason} at byte {error.start})"
            raise FhirInputError(problem, source=label) from None
        except json.JSONDecodeError as error:
            if ndjson is None and error.msg == "Extra data" and data.lstrip()[:1] == b"{":
                # Several JSON objects, one per line: Bulk Data NDJSON without the suffix.
                yield from self._parse_ndjson(data, label)
                return
            raise FhirInputError(
                f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}", source=label
            ) from None
        if parsed.duplicates and not self.lenient:
            raise duplicate_key_error(label, parsed.duplicates)
        yield Document(label, parsed.value, duplicates=tuple(parsed.duplicates))

    def _parse_ndjson(self, data: bytes, label: str) -> Iterator[Document]:
        count = 0
        max_entries = limits().max_entries
        shared: dict[str, str] = {}
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            if count >= max_entries:
                raise LimitExceededError(
                    f"more than {max_entries} NDJSON lines",
                    "max_entries",
                    source=label,
                    location=f"line {number}",
                )
            where = f"line {number}"
            try:
                parsed = parse_json(line, source=label, location=where, shared=shared, drop_nulls=True)
                if parsed.duplicates:
                    raise duplicate_key_error(label, parsed.duplicates, where)
            except (json.JSONDecodeError, UnicodeDecodeError, MedboardInputError) as error:
                if isinstance(error, MedboardInputError):
                    problem = error.problem
                    where = error.location or where
                elif isinstance(error, json.JSONDecodeError):
                    problem = f"invalid JSON at column {error.colno}: {error.msg}"
                else:
                    problem = f"not UTF-8 text ({error.reason})"
                if not self.lenient:
                    raise FhirInputError(problem, source=label, location=where) from None
                self.skipped.append(SkippedEntry(location=f"{label}: {where}", problem=problem))
                continue
            count += 1
            yield Document(label, parsed.value, line=number)
        if count == 0 and not self.lenient:
            raise FhirInputError("NDJSON file has no resources", source=label)


def duplicate_key_error(
    label: str, paths: list[str] | tuple[str, ...], prefix: str | None = None
) -> FhirInputError:
    """The refusal of a repeated JSON key: its path, never its values (which one would win is
    parser-dependent, so the document is ambiguous)."""
    more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
    location = ": ".join(p for p in (prefix, paths[0]) if p)
    return FhirInputError(
        "duplicate JSON key: an object names this key twice, so its value is ambiguous" + more,
        source=label,
        location=location,
    )
