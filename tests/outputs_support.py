"""Helpers for the `--out` safety tests: a real case folder with its images, and tree snapshots
that prove no file outside `--out` changed."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

from imaging_case_support import imaging_bundle, write_case
from imaging_support import TEST_DATA


def case_folder_with_images(folder: Path) -> Path:
    """A case folder holding its record, a case.yaml and, under images/, the real MR volume and its
    tumour mask (tests/data/imaging, copied so the test may lose them without harm)."""
    images = folder / "images"
    images.mkdir(parents=True)
    shutil.copy(TEST_DATA / "brain1_image.nrrd", images / "brain1_image.nrrd")
    shutil.copy(TEST_DATA / "brain1_label.nrrd", images / "brain1_label.nrrd")
    entry = {
        "path": "images/brain1_image.nrrd",
        "mask": "images/brain1_label.nrrd",
        "study": "ImagingStudy/mr-1",
        "recipe": "mri",
        "date": "2023-04-02",
    }
    write_case(folder, [entry], bundle=imaging_bundle(extra_study=False))
    return folder


def snapshot(root: Path, *, exclude: Path | None = None) -> dict[str, tuple[str, int, str]]:
    """Every entry under `root` (not following links): kind, size, SHA-256 of files. `exclude` (a
    folder under root, e.g. --out) is left out."""
    skip = os.path.realpath(exclude) if exclude is not None else None
    entries: dict[str, tuple[str, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if skip is not None and os.path.realpath(dirpath) == skip:
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if skip is not None and os.path.realpath(path) == skip:
                continue
            info = os.lstat(path)
            rel = str(path.relative_to(root))
            if stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                entries[rel] = ("file", info.st_size, digest)
            elif stat.S_ISLNK(info.st_mode):
                entries[rel] = ("link", 0, os.readlink(path))
            else:
                entries[rel] = ("dir", 0, "")
    return entries


def staging_left(*folders: Path) -> list[str]:
    """Staging folders (`.medboard-staging-*`) left in any of `folders`."""
    return [
        str(p)
        for folder in folders
        if folder.is_dir()
        for p in folder.iterdir()
        if p.name.startswith(".medboard-staging-")
    ]
