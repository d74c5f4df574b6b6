"""Hostile case YAML: bounded, confined to the case folder, dates checked, one clean error each."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from medboard.errors import CaseInputError, MedboardInputError
from medboard.limits import LimitExceededError
from medboard.orchestrator.case import load_case

BUNDLE = Path(__file__).parent / "data" / "fhir" / "notes_bundle.json"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(BUNDLE, tmp_path / "bundle.json")
    (tmp_path / "img.png").write_bytes(b"not read here")
    return tmp_path


def write(folder: Path, text: str | bytes) -> Path:
    path = folder / "case.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def refused(path: Path, kind: type[Exception] = CaseInputError, **kwargs: object) -> str:
    with pytest.raises(kind) as caught:
        load_case(path, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message


def test_valid_dates_pass_through_as_written(folder: Path) -> None:
    case = load_case(write(folder, "record: bundle.json\ncase_date: 2024-05-01\n"))
    assert case.case_date == "2024-05-01"


@pytest.mark.parametrize("value", ["2024-02-30", "banana", "2024-13", "20240501x"])
def test_invalid_case_dates_name_the_key(folder: Path, value: str) -> None:
    message = refused(write(folder, f"record: bundle.json\ncase_date: {value}\n"))
    assert "case_date: not a valid ISO date" in message


def test_invalid_image_date_and_label(folder: Path) -> None:
    head = "record: bundle.json\nimages:\n  - path: img.png\n"
    assert "images[0].date" in refused(write(folder, head + "    date: not-a-date\n"))
    assert "images[0].label" in refused(write(folder, head + "    label: one\n"))
    assert "images[0].label" in refused(write(folder, head + "    label: 1.5\n"))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (b"record: \xff\n", "not UTF-8"),
        ('record: "bundle\\0.json"\n', "NUL character"),
        ("record: " + "[" * 10_000 + "]" * 10_000 + "\n", "max_json_depth"),
        ("record: bundle.json\nid: " + "9" * 5000 + "\n", "invalid YAML value"),
        ("a: &x [1, 2]\nrecord: bundle.json\nb: *x\n", "aliases"),
        ("record: [unclosed\n", "invalid YAML"),
    ],
)
def test_malformed_yaml_is_one_clean_line(folder: Path, text: str | bytes, fragment: str) -> None:
    with pytest.raises(MedboardInputError) as caught:
        load_case(write(folder, text))
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_oversized_case_file_is_refused(folder: Path) -> None:
    path = write(folder, "record: bundle.json\n" + "#" * (2 * 1024 * 1024) + "\n")
    assert "max_case_file_bytes" in refused(path, LimitExceededError)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("record: ../../etc/passwd\n", "record"),
        ("record: /etc/passwd\n", "record"),
        ("record: bundle.json\nimages:\n  - path: /etc\n", "images[0].path"),
        ("record: bundle.json\nimages:\n  - path: img.png\n    mask: ../m.nrrd\n", "images[0].mask"),
    ],
)
def test_paths_outside_the_case_folder_are_refused(folder: Path, text: str, where: str) -> None:
    message = refused(write(folder, text))
    assert f"{where}:" in message and "outside the case folder" in message
    assert "allow_external_paths" in message


def test_symlinks_pointing_outside_count_as_outside(folder: Path, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "bundle.json"
    shutil.copy(BUNDLE, outside)
    os.symlink(outside, folder / "link.json")
    path = write(folder, "record: link.json\n")
    assert "outside the case folder" in refused(path)
    assert load_case(path, allow_external_paths=True).record.resources


def test_nul_in_the_case_path(tmp_path: Path) -> None:
    with pytest.raises(CaseInputError, match="NUL"):
        load_case(str(tmp_path / "a\x00b"))


def test_cli_refuses_an_external_record_unless_allowed(folder: Path, tmp_path_factory, capsys) -> None:
    """`medboard run`: exit 2 with one line naming the flag; with --allow-external-paths it runs."""
    from medboard.cli.main import main

    outside = tmp_path_factory.mktemp("elsewhere") / "bundle.json"
    shutil.copy(BUNDLE, outside)
    path = write(folder, f"record: {outside}\n")
    assert main(["run", str(path), "--model", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "outside the case folder" in err and "--allow-external-paths" in err
    assert main(["run", str(path), "--model", "none", "--allow-external-paths"]) == 0
