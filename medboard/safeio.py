"""Bounded reads: no input file is read to exhaustion.

`Path.read_bytes()` on `/dev/zero`, a FIFO, or a 40 GB file given by mistake reads until memory
runs out. `read_bounded` reads only regular files (or, explicitly, standard input), in chunks, and
stops at the cap with a `LimitExceededError` naming the file and the cap. Every command that takes
a file (record, verify, recist, --replay, case YAML, config) reads through here.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from medboard.errors import MedboardInputError
from medboard.limits import LimitExceededError, limits

CHUNK = 1 * 1024 * 1024


def reject_nul(path: str | os.PathLike[str], *, error: type[MedboardInputError] = MedboardInputError) -> str:
    """The path as a string; a NUL in it (which no file system accepts) is one clean error."""
    name = os.fspath(path)
    if "\x00" in name:
        raise error("path contains a NUL character", source=repr(name.replace("\x00", "\\0")))
    return name


def stat_input(
    path: str | os.PathLike[str],
    *,
    error: type[MedboardInputError] = MedboardInputError,
    label: str | None = None,
    allow_folder: bool = False,
) -> os.stat_result:
    """`os.stat` of an input, refusing a NUL in the path, a missing path, and anything that is not
    a regular file (or a folder, with `allow_folder`): a device, FIFO or socket would never end."""
    checked = reject_nul(path, error=error)
    name = label.replace("\x00", "\\0") if label else checked
    try:
        info = os.stat(path)
    except FileNotFoundError:
        missing = "no such file or folder" if allow_folder else "file does not exist"
        raise error(missing, source=name) from None
    except OSError as exc:
        raise error(f"cannot read file ({exc.strerror or type(exc).__name__})", source=name) from None
    kind = None if allow_folder and stat.S_ISDIR(info.st_mode) else describe_kind(info.st_mode)
    if kind is not None:
        raise error(f"is {kind}, not a regular file", source=name)
    return info


def read_bounded(
    path: str | os.PathLike[str],
    *,
    cap: str = "max_file_bytes",
    error: type[MedboardInputError] = MedboardInputError,
    label: str | None = None,
    maximum: int | None = None,
) -> bytes:
    """The bytes of a regular file, refusing anything over the `cap` limit (named in the error).

    Folders, devices, FIFOs and sockets are refused by kind before any read; the size is checked
    before reading and again while reading (a file may grow, and /proc files report 0).
    `maximum` overrides the cap's value for one caller (the error still names the cap).
    """
    name = label or os.fspath(path)
    info = stat_input(path, error=error, label=label)
    maximum = getattr(limits(), cap) if maximum is None else maximum
    if info.st_size > maximum:
        raise LimitExceededError(f"file is {info.st_size} bytes", cap, maximum, source=name)
    try:
        with Path(path).open("rb") as handle:
            return _read_capped(handle, maximum, cap, name)
    except OSError as exc:
        raise error(f"cannot read file ({exc.strerror or type(exc).__name__})", source=name) from None


def read_text_bounded(
    path: str | os.PathLike[str],
    *,
    cap: str = "max_file_bytes",
    error: type[MedboardInputError] = MedboardInputError,
    label: str | None = None,
) -> str:
    """`read_bounded`, decoded as UTF-8 (BOM tolerated); bad bytes are a clean error with the offset."""
    name = label or os.fspath(path)
    data = read_bounded(path, cap=cap, error=error, label=label)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=name) from None


def _read_capped(handle: object, maximum: int, cap: str, name: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    read = handle.read  # type: ignore[attr-defined]
    while True:
        chunk = read(min(CHUNK, maximum + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > maximum:
            raise LimitExceededError(f"file is larger than {maximum} bytes", cap, maximum, source=name)
        chunks.append(chunk)


def describe_kind(mode: int) -> str | None:
    """None for a regular file, else what it is ('a folder', 'a device', …)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
