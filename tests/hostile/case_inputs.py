"""Hostile case YAML: impossible dates, bad bytes, NUL in paths, deep nesting, alias bombs, paths
escaping the case folder (relative, absolute, symlinked), wrong types. Each runs `medboard run`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .corpus import (
    BAD_INPUT,
    BRAIN_IMAGE,
    CHEST_PNG,
    FLAGS,
    JENNY_BUNDLE,
    OK,
    Invocation,
    case_folder,
    hostile,
    run_args,
    write_bytes,
)

CASE_DATE_FLAG = FLAGS["case-date"]
BASE = "id: jenny-m\nrecord: bundle.json\nquestion: Is she a candidate for breast-conserving surgery?\n"


def _run(
    tmp: Path,
    yaml_text: str,
    *,
    expect: tuple[int, ...] = (BAD_INPUT,),
    flag: str | None = None,
    **kwargs: object,
) -> Invocation:
    folder = case_folder(tmp, yaml_text)
    out = tmp / "out"
    return Invocation(run_args(folder, out), expect=expect, out=out, flag=flag, **kwargs)  # type: ignore[arg-type]


# --- dates --------------------------------------------------------------------------------------


@hostile("case-yaml-date")
def case_date_2024_02_30(tmp: Path) -> Invocation:
    return _run(tmp, BASE + "case_date: 2024-02-30\n", expect=(OK, BAD_INPUT), flag=CASE_DATE_FLAG)


@hostile("case-yaml-date")
def case_date_banana(tmp: Path) -> Invocation:
    return _run(tmp, BASE + "case_date: banana\n", expect=(OK, BAD_INPUT), flag=CASE_DATE_FLAG)


@hostile("case-yaml-date")
def case_date_month_13(tmp: Path) -> Invocation:
    return _run(tmp, BASE + "case_date: 2024-13-01\n", expect=(OK, BAD_INPUT), flag=CASE_DATE_FLAG)


@hostile("case-yaml-date")
def case_date_year_0(tmp: Path) -> Invocation:
    return _run(tmp, BASE + "case_date: '0000-01-01'\n", expect=(OK, BAD_INPUT), flag=CASE_DATE_FLAG)


@hostile("case-yaml-date")
def case_date_five_digit_year(tmp: Path) -> Invocation:
    return _run(tmp, BASE + "case_date: 99999-12-31\n", expect=(OK, BAD_INPUT), flag=CASE_DATE_FLAG)


@hostile("case-yaml-date")
def case_date_a_list(tmp: Path) -> Invocation:
    return _run(tmp, BASE + "case_date: [2024, 1, 1]\n")


@hostile("case-yaml-date")
def case_date_timestamp_with_bad_zone(tmp: Path) -> Invocation:
    return _run(
        tmp, BASE + "case_date: 2024-01-01T25:61:00+99:00\n", expect=(OK, BAD_INPUT), flag=CASE_DATE_FLAG
    )


@hostile("case-yaml-date")
def image_date_not_a_date(tmp: Path) -> Invocation:
    folder = case_folder(tmp, BASE + "images:\n  - path: cxr.png\n    date: not-a-date\n")
    shutil.copy(CHEST_PNG, folder / "cxr.png")
    out = tmp / "out"
    return Invocation(run_args(folder, out), expect=(OK, BAD_INPUT), out=out, flag=FLAGS["image-date"])


# --- bytes -----------------------------------------------------------------------------------------


@hostile("case-yaml-bytes")
def case_yaml_with_a_0xff_byte(tmp: Path) -> Invocation:
    folder = case_folder(tmp)
    write_bytes(folder / "case.yaml", BASE.encode() + b"id: caf\xff\n")
    return Invocation(run_args(folder, tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out")


@hostile("case-yaml-bytes")
def case_yaml_in_utf16(tmp: Path) -> Invocation:
    folder = case_folder(tmp)
    write_bytes(folder / "case.yaml", BASE.encode("utf-16"))
    return Invocation(run_args(folder, tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out")


@hostile("case-yaml-bytes")
def raw_nul_byte_in_case_yaml(tmp: Path) -> Invocation:
    folder = case_folder(tmp)
    write_bytes(folder / "case.yaml", BASE.encode() + b"\x00\n")
    return Invocation(run_args(folder, tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out")


@hostile("case-yaml-bytes")
def lone_surrogate_in_question(tmp: Path) -> Invocation:
    return _run(
        tmp,
        BASE.replace("question: Is she", 'question: "\\ud800 Is she').replace("surgery?", 'surgery?"'),
        expect=(OK, BAD_INPUT),
    )


@hostile("case-yaml-bytes")
def case_yaml_over_the_size_cap(tmp: Path) -> Invocation:
    return _run(tmp, BASE + "# " + "x" * (3 * 1024 * 1024) + "\n")


@hostile("case-yaml-bytes")
def case_yaml_is_dev_zero(tmp: Path) -> Invocation:
    folder = case_folder(tmp)
    (folder / "case.yaml").unlink()
    os.symlink("/dev/zero", folder / "case.yaml")
    return Invocation(run_args(folder / "case.yaml", tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out")


@hostile("case-yaml-bytes")
def case_yaml_is_a_fifo(tmp: Path) -> Invocation:
    folder = case_folder(tmp)
    (folder / "case.yaml").unlink()
    os.mkfifo(folder / "case.yaml")
    return Invocation(
        run_args(folder / "case.yaml", tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out", timeout=30
    )


# --- NUL in paths -------------------------------------------------------------------------------------


@hostile("case-yaml-path")
def nul_in_record_path(tmp: Path) -> Invocation:
    return _run(tmp, 'record: "bundle.json\\0.txt"\n')


@hostile("case-yaml-path")
def nul_in_image_path(tmp: Path) -> Invocation:
    return _run(tmp, BASE + 'images:\n  - path: "cxr\\0.png"\n')


@hostile("case-yaml-path")
def nul_in_mask_path(tmp: Path) -> Invocation:
    folder = case_folder(tmp, BASE + 'images:\n  - path: brain.nrrd\n    mask: "label\\0.nrrd"\n')
    shutil.copy(BRAIN_IMAGE, folder / "brain.nrrd")
    return Invocation(run_args(folder, tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out")


# --- nesting -----------------------------------------------------------------------------------------


@hostile("case-yaml-nesting")
def case_yaml_10000_nested_brackets(tmp: Path) -> Invocation:
    return _run(tmp, BASE + "images: " + "[" * 10_000 + "]" * 10_000 + "\n")


@hostile("case-yaml-nesting")
def case_yaml_10000_nested_braces(tmp: Path) -> Invocation:
    return _run(tmp, BASE + "extra: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n")


@hostile("case-yaml-nesting")
def case_yaml_deep_block_nesting(tmp: Path) -> Invocation:
    lines = [BASE.rstrip("\n"), "images:"]
    lines += [" " * (level + 1) + "- " for level in range(3_000)]
    return _run(tmp, "\n".join(lines) + "x\n")


@hostile("case-yaml-nesting")
def case_yaml_alias_bomb(tmp: Path) -> Invocation:
    """Billion laughs: nine levels of nine aliases, 387 million list items by reference."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return _run(tmp, BASE + "\n".join(lines) + "\nimages: *a9\n")


@hostile("case-yaml-nesting")
def case_yaml_not_a_mapping(tmp: Path) -> Invocation:
    return _run(tmp, "- record: bundle.json\n")


@hostile("case-yaml-nesting")
def case_yaml_wrong_types(tmp: Path) -> Invocation:
    return _run(tmp, "record: 42\nimages: just-a-string\nquestion: {a: 1}\n")


# --- paths escaping the case folder --------------------------------------------------------------------


def _outside_bundle(tmp: Path) -> Path:
    outside = tmp / "outside"
    outside.mkdir(exist_ok=True)
    shutil.copy(JENNY_BUNDLE, outside / "bundle.json")
    shutil.copy(CHEST_PNG, outside / "cxr.png")
    return outside


@hostile("case-yaml-confinement")
def record_path_escaping_the_case_folder(tmp: Path) -> Invocation:
    _outside_bundle(tmp)
    return _run(tmp, "record: ../outside/bundle.json\n")


@hostile("case-yaml-confinement")
def record_path_etc_passwd(tmp: Path) -> Invocation:
    return _run(tmp, "record: ../../../../../../../../etc/passwd\n")


@hostile("case-yaml-confinement")
def record_absolute_path(tmp: Path) -> Invocation:
    outside = _outside_bundle(tmp)
    return _run(tmp, f"record: {outside / 'bundle.json'}\n")


@hostile("case-yaml-confinement")
def image_path_escaping_the_case_folder(tmp: Path) -> Invocation:
    _outside_bundle(tmp)
    return _run(tmp, BASE + "images:\n  - path: ../outside/cxr.png\n")


@hostile("case-yaml-confinement")
def image_absolute_path(tmp: Path) -> Invocation:
    outside = _outside_bundle(tmp)
    return _run(tmp, BASE + f"images:\n  - path: {outside / 'cxr.png'}\n")


@hostile("case-yaml-confinement")
def mask_path_escaping_the_case_folder(tmp: Path) -> Invocation:
    outside = _outside_bundle(tmp)
    shutil.copy(BRAIN_IMAGE, outside / "label.nrrd")
    folder = case_folder(tmp, BASE + "images:\n  - path: brain.nrrd\n    mask: ../outside/label.nrrd\n")
    shutil.copy(BRAIN_IMAGE, folder / "brain.nrrd")
    return Invocation(run_args(folder, tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out")


@hostile("case-yaml-confinement")
def record_symlink_pointing_outside(tmp: Path) -> Invocation:
    outside = _outside_bundle(tmp)
    folder = case_folder(tmp, BASE)
    (folder / "bundle.json").unlink()
    os.symlink(outside / "bundle.json", folder / "bundle.json")
    return Invocation(run_args(folder, tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out")


@hostile("case-yaml-confinement")
def image_folder_symlink_pointing_outside(tmp: Path) -> Invocation:
    outside = _outside_bundle(tmp)
    folder = case_folder(tmp, BASE + "images:\n  - path: imgs/cxr.png\n")
    os.symlink(outside, folder / "imgs")
    return Invocation(run_args(folder, tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out")


@hostile("case-yaml-confinement")
def record_path_in_home_via_tilde(tmp: Path) -> Invocation:
    return _run(tmp, "record: ~/bundle.json\n")
