"""Publishing a run's files into `--out` without ever destroying what medboard did not write.

`--out` is a folder the user names; it may already hold anything: an earlier run's summary, the
user's own notes, the case itself. Three rules keep it safe:

1. **Checked before any work** (`check_out_folder`): an existing file, a path under a file, a
   folder that holds, equals or lies inside the case's inputs, a place where nothing can be created
   (probed by creating and removing a folder there), or a medboard output name already taken by
   something medboard did not write: one clean error (exit 2) in milliseconds, not after the run.
2. **A manifest** (`.medboard-manifest.json` in `--out`) lists every file medboard wrote there, with
   its size and SHA-256. Publishing replaces a file only if the manifest lists it *and* it is
   unchanged since; a file or folder medboard did not write, or one the user edited, is never
   replaced or deleted: the publish stops with an error naming it, before anything moved. Files an
   earlier run wrote but this run no longer produces (an old `images/*.png`) are removed only when
   the manifest lists them unchanged; folders are only ever `rmdir`-ed when empty, never `rmtree`-d.
3. **Staged, then renamed in under a lock**: the run writes into a staging folder next to (or inside)
   `--out` on the same filesystem; publishing takes an exclusive `flock` on the `--out` folder itself
   (no lock file is left behind, and the kernel drops it if the process dies), re-checks rule 2,
   and renames file by file. Concurrent runs to one `--out` therefore all succeed, one after the
   other (the last publish wins, each a complete set), instead of one crashing; a run that cannot
   get the lock within `LOCK_TIMEOUT_S` says "another medboard run is writing to DIR".

Crash safety: before the first rename the manifest is rewritten listing, per file, both the old and
the new version; a file matching any listed version is medboard's. A publish cut short (power loss,
SIGKILL) thus never turns medboard's own files into "not medboard's". (POSIX has no multi-file
atomic rename; each file is replaced atomically and every check runs before the first one.)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medboard.errors import MedboardInputError
from medboard.textsafety import neutralize_line

MANIFEST = ".medboard-manifest.json"
STAGING_PREFIX = ".medboard-staging-"
#: What a run writes at the top of `--out`: three files and a folder of overlay PNGs.
OUTPUT_FILES = ("summary.json", "summary.md", "report.html")
OUTPUT_FOLDERS = ("images",)
LOCK_TIMEOUT_S = 30.0
#: A manifest is small (a few entries); anything larger is not one.
MANIFEST_MAX_BYTES = 4 * 1024 * 1024
_MANIFEST_FORMAT = "medboard-manifest/1"

log = logging.getLogger(__name__)


class OutputFolderError(MedboardInputError):
    """`--out` cannot be used (exit 2): it is a file, holds the inputs, is not writable, or holds
    something medboard did not write where medboard would write."""


def _show(path: Path) -> str:
    return neutralize_line(str(path))


def _error(out: Path, problem: str) -> OutputFolderError:
    return OutputFolderError(problem, source=f"--out {_show(out)}")


# ------------------------------------------------------------------------------ before the run


def check_out_folder(
    out: Path,
    inputs: Iterable[Path],
    *,
    other_files: Iterable[Path] = (),
    outputs: Iterable[str] = OUTPUT_FILES,
) -> Path:
    """Refuse an `--out` that cannot be published to safely; return it resolved (symlinks followed).

    `inputs` are the case's input files and folders (record, case YAML and its folder, images,
    masks); `--out` may not equal, hold or lie inside any of them. `other_files` (a cassette the run
    records) may sit inside `--out` but not be it. `outputs`: the files this run writes at the top
    of `--out` (default `OUTPUT_FILES`; a ``--fhir-server`` run adds ``record.ndjson``). Nothing
    is created (the writability probe is removed at once).
    """
    outputs = tuple(outputs)
    if "\x00" in str(out):
        raise _error(Path(str(out).replace("\x00", "\\0")), "path contains a NUL character")
    target = Path(os.path.realpath(out))
    if target.exists() and not target.is_dir():
        raise _error(out, "exists and is not a folder (a file or device); name a folder for the outputs")
    existing = _nearest_existing(target)
    if not existing.is_dir():
        raise _error(out, f"lies under {_show(existing)}, which is a file, not a folder")
    for item in inputs:
        if "\x00" in str(item):
            continue  # not a path the system can hold; the case loader reports it
        source = Path(os.path.realpath(item))
        if target == source:
            raise _error(out, f"is the case input {_show(item)}; name a folder outside the case's inputs")
        if source.is_relative_to(target):
            raise _error(out, f"holds the case input {_show(item)}; name a folder outside the case's inputs")
        if source.is_dir() and target.is_relative_to(source):
            raise _error(out, f"lies inside the case input folder {_show(item)}; name a folder outside it")
    for item in other_files:
        if "\x00" in str(item):
            continue
        other = Path(os.path.realpath(item))
        if target == other:
            raise _error(out, f"is also the file {_show(item)} this run writes; name another folder")
        if other.is_relative_to(target) and other.relative_to(target).parts[0] in (
            *outputs,
            *OUTPUT_FOLDERS,
            MANIFEST,
        ):
            raise _error(
                out, f"{_show(item)}, which this run also writes, is where medboard writes its outputs"
            )
    _probe_writable(out, existing)
    if target.is_dir():
        with contextlib.suppress(PermissionError):  # an unreadable folder fails the probe above
            _check_not_foreign(target, _read_manifest(target), files=outputs, folders=OUTPUT_FOLDERS)
    return target


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor or "/")


def _probe_writable(out: Path, location: Path) -> None:
    """Create and remove a folder where the staging folder will go (the only reliable test:
    permission bits lie under root, ACLs, read-only mounts and full disks)."""
    try:
        probe = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=location)
        os.rmdir(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise _error(out, f"cannot write in {_show(location)} ({reason})") from None


# ------------------------------------------------------------------------------------ staging


@contextlib.contextmanager
def staging_folder(
    out: Path, *, cleanup_guard: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
) -> Iterator[Path]:
    """A private folder for the run's files, on the filesystem of `--out` (inside it when it
    exists, else in its nearest existing parent), removed on every way out: success, error,
    Ctrl-C, SIGTERM. `cleanup_guard` wraps the removal (the CLI defers signals there, so a second
    Ctrl-C cannot cut it short)."""
    location = out if out.is_dir() else _nearest_existing(out)
    try:
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=location))
    except OSError as exc:
        raise _error(
            out, f"cannot write in {_show(location)} ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        yield staging
    finally:
        with cleanup_guard():
            shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------------- manifest


@dataclass
class Manifest:
    """What medboard wrote in one `--out`: each file with the versions (size, SHA-256) medboard
    wrote there (one after a publish; old and new while a publish is under way), and the folders
    it created."""

    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)

    def owns(self, folder: Path, rel: str) -> bool:
        """`rel` is a regular file (not a link) whose content is a version medboard wrote."""
        records = self.files.get(rel) or []
        try:
            info = os.lstat(folder / rel)
        except OSError:
            return False
        if not stat.S_ISREG(info.st_mode):
            return False
        sized = [r for r in records if r.get("size") == info.st_size]
        if not sized:
            return False
        digest = _sha256(folder / rel)
        return any(r.get("sha256") == digest for r in sized)

    def to_json(self) -> str:
        body: dict[str, Any] = {
            "format": _MANIFEST_FORMAT,
            "note": "Files medboard wrote here; medboard replaces or removes only these, if unchanged.",
            "files": dict(sorted(self.files.items())),
            "dirs": sorted(self.dirs),
        }
        return json.dumps(body, indent=2) + "\n"


def _read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return Manifest()
    not_ours = _error(folder, f"{MANIFEST} is not a medboard manifest; move it away or choose another --out")
    if not stat.S_ISREG(info.st_mode) or info.st_size > MANIFEST_MAX_BYTES:
        raise not_ours
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raise not_ours from None
    if not isinstance(data, dict) or data.get("format") != _MANIFEST_FORMAT:
        raise not_ours
    files, dirs = data.get("files"), data.get("dirs")
    if not isinstance(files, dict) or not isinstance(dirs, list):
        raise not_ours
    for versions in files.values():
        if not isinstance(versions, list) or not all(isinstance(v, dict) for v in versions):
            raise not_ours
    # Entries are paths medboard may remove: only plain relative paths inside `--out`, so a forged
    # or garbled manifest can never reach outside it ("../x", "/etc/x", "a/../../x").
    if not all(_inside(rel) for rel in [*files, *dirs]):
        raise not_ours
    return Manifest(files=files, dirs={str(d) for d in dirs})


def _inside(rel: object) -> bool:
    if not isinstance(rel, str) or not rel or "\x00" in rel or "\\" in rel:
        return False
    parts = rel.split("/")
    return not rel.startswith("/") and all(part not in ("", ".", "..") for part in parts)


def _write_manifest(folder: Path, manifest: Manifest) -> None:
    """Written to a temporary file and renamed over: never torn."""
    fd, tmp = tempfile.mkstemp(prefix=MANIFEST + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(manifest.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, folder / MANIFEST)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _record(path: Path) -> dict[str, Any]:
    return {"size": path.stat().st_size, "sha256": _sha256(path)}


# ---------------------------------------------------------------------------------- publish


def _check_not_foreign(
    out: Path, manifest: Manifest, *, files: Iterable[str], folders: Iterable[str] = ()
) -> None:
    """Every path medboard is about to write (relative to `out`) is absent or medboard's own.

    Folders on the way (and the `folders` named) must be real folders medboard created; `files`
    must be unchanged files it wrote. The first offender is named; nothing has been touched yet.
    """
    wanted = [(rel, False) for rel in files] + [(rel, True) for rel in folders]
    for rel, is_folder in wanted:
        parts = Path(rel).parts
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            path = out / sub
            if not os.path.lexists(path):
                break
            mode = os.lstat(path).st_mode
            wants_folder = is_folder or depth < len(parts)
            if wants_folder and stat.S_ISDIR(mode) and sub in manifest.dirs:
                continue
            if not wants_folder and manifest.owns(out, sub):
                continue
            if sub in manifest.files:
                why = "was changed since medboard wrote it"
            elif stat.S_ISDIR(mode):
                why = "is a folder medboard did not create"
            else:
                why = "exists and was not written by medboard"
            raise _error(
                out,
                f"{_show(path)} {why}; medboard will not replace it: move it away or choose another --out",
            )


@contextlib.contextmanager
def _locked(out: Path, timeout_s: float) -> Iterator[None]:
    """An exclusive flock on the `--out` folder itself (nothing to clean up; released on death)."""
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    log.warning("--out %s: the filesystem offers no locks; publishing unlocked", _show(out))
                    break
                if not isinstance(exc, BlockingIOError):
                    raise
                if time.monotonic() >= deadline:
                    raise _error(
                        out, f"another medboard run is writing to {_show(out)}; try again when it is done"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def publish(staging: Path, out: Path, *, lock_timeout_s: float = LOCK_TIMEOUT_S) -> list[str]:
    """Move the staged files into `out` (created if needed) by the rules above; returns the
    published paths relative to `out`. Raises `OutputFolderError` before touching anything if a
    path to write is not medboard's."""
    try:
        return _publish(staging, out, lock_timeout_s)
    except OSError as exc:  # the folder changed under the run (removed, made read-only, disk full)
        raise _error(out, f"cannot publish ({exc.strerror or type(exc).__name__})") from None


def _publish(staging: Path, out: Path, lock_timeout_s: float) -> list[str]:
    staged = _staged_files(staging)
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out, lock_timeout_s):
        manifest = _read_manifest(out)
        _check_not_foreign(out, manifest, files=staged)
        records = {rel: _record(staging / rel) for rel in staged}
        stale = [rel for rel in manifest.files if rel not in records and manifest.owns(out, rel)]
        # 1. Announce the new versions first: a publish cut short (SIGKILL, power loss) leaves
        #    files that medboard still recognises as its own, old or new.
        during = {rel: list(versions) for rel, versions in manifest.files.items()}
        for rel, record in records.items():
            during.setdefault(rel, []).append(record)
        dirs = set(manifest.dirs)
        for rel in staged:
            dirs.update(p.as_posix() for p in Path(rel).parents[:-1])
        _write_manifest(out, Manifest(files=during, dirs=dirs))
        for rel in staged:
            for parent in reversed(Path(rel).parents[:-1]):
                if not (out / parent).is_dir():
                    (out / parent).mkdir()
            _move_into(staging / rel, out / rel)
        # 2. What an earlier run wrote and this one did not: removed only if still unchanged.
        for rel in stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(out / rel)
        used = {p.as_posix() for rel in records for p in Path(rel).parents[:-1]}
        for sub in sorted(dirs - used, key=len, reverse=True):
            with contextlib.suppress(OSError):  # only an empty folder goes; never rmtree
                os.rmdir(out / sub)
        dirs = {d for d in dirs if (out / d).is_dir() and not (out / d).is_symlink()}
        # 3. The new truth: exactly this run's files.
        _write_manifest(out, Manifest(files={rel: [r] for rel, r in records.items()}, dirs=dirs))
        _fsync_dir(out)
    return staged


def _staged_files(staging: Path) -> list[str]:
    files = []
    for path in sorted(staging.rglob("*")):
        info = os.lstat(path)
        if stat.S_ISREG(info.st_mode):
            files.append(path.relative_to(staging).as_posix())
        elif not stat.S_ISDIR(info.st_mode):
            raise _error(staging, f"staged {_show(path)} is not a regular file")
    return files


def _move_into(source: Path, target: Path) -> None:
    """Rename (atomic on one filesystem); across filesystems, copy next to the target, then rename."""
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        fd, tmp = tempfile.mkstemp(prefix=STAGING_PREFIX, dir=target.parent)
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
