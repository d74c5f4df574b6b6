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

from medboard.errors import FhirInputError
from medboard.tools.fhir.record import SkippedEntry

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
JSON_SUFFIXES = (".json",)
NDJSON_SUFFIXES = (".ndjson", ".jsonl")


@dataclass(frozen=True)
class Document:
    """One parsed JSON value and where it came from (``line`` for NDJSON lines)."""

    origin: str
    data: Any
    line: int | None = None

    @property
    def location(self) -> str | None:
        return f"line {self.line}" if self.line is not None else None


class Reader:
    """Turns a source into `Document`s, collecting lenient-mode skips."""

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, lenient: bool = False) -> None:
        self.max_bytes = max_bytes
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
            except FhirInputError as error:
                if not self.lenient:
                    raise
                self.skipped.append(SkippedEntry(location=str(file), problem=error.problem))
        return documents

    def _read_file(self, path: Path, label: str) -> list[Document]:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise FhirInputError("file does not exist", source=label) from None
        except OSError as error:
            raise FhirInputError(f"cannot read file ({error.strerror})", source=label) from None
        if size == 0:
            raise FhirInputError("file is empty (0 bytes)", source=label)
        self._check_size(size, label)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise FhirInputError(f"cannot read file ({error.strerror})", source=label) from None
        ndjson = True if path.suffix.lower() in NDJSON_SUFFIXES else None
        return list(self._parse_bytes(data, label, ndjson=ndjson))

    def _check_size(self, size: int, label: str) -> None:
        if size > self.max_bytes:
            raise FhirInputError(
                f"file is {size / 1e6:.1f} MB, over the {self.max_bytes / 1e6:.0f} MB limit "
                "(split it, e.g. as Bulk Data NDJSON, or raise max_bytes)",
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
            yield Document(label, json.loads(data))
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

    def _parse_ndjson(self, data: bytes, label: str) -> Iterator[Document]:
        count = 0
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                problem = (
                    f"invalid JSON at column {error.colno}: {error.msg}"
                    if isinstance(error, json.JSONDecodeError)
                    else f"not UTF-8 text ({error.reason})"
                )
                if not self.lenient:
                    raise FhirInputError(problem, source=label, location=f"line {number}") from None
                self.skipped.append(SkippedEntry(location=f"{label}: line {number}", problem=problem))
                continue
            count += 1
            yield Document(label, value, line=number)
        if count == 0 and not self.lenient:
            raise FhirInputError("NDJSON file has no resources", source=label)
