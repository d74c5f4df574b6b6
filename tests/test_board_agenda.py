"""The agenda of `medboard board`: every bad input is exit 2 and one line naming file, key and line.

Paths resolve against the agenda's folder (not the working directory) and may not leave it unless
``--allow-external-paths`` is given. Nothing runs before the agenda is whole: these tests run no
case (each CLI call ends at the agenda check, in milliseconds).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from medboard.cli.main import main
from medboard.errors import CaseInputError
from medboard.examples import EXAMPLES
from medboard.orchestrator.board import load_agenda

SHARED_FHIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
DARIN = SHARED_FHIR / "synthea" / "darin_skiles.json"
JENNY = SHARED_FHIR / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
EXAMPLE_AGENDA = EXAMPLES / "board" / "agenda.yaml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An agenda folder holding two real records."""
    board = tmp_path / "board"
    board.mkdir()
    shutil.copy(DARIN, board / "darin.json")
    shutil.copy(JENNY, board / "jenny.json")
    (board / "scans").mkdir()
    (board / "scans" / "cxr.png").write_bytes(b"not read by the agenda check")
    return board


def write(folder: Path, text: str) -> Path:
    path = folder / "agenda.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line containing `fragment`."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return hits[occurrence - 1]


def refused_by_cli(agenda: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """Run `medboard board` on a bad agenda: exit 2, nothing on stdout, one line on stderr."""
    out = agenda.parent.parent / "packet"
    code = main(["board", str(agenda), "--out", str(out), "--model", "none", *extra])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert not out.exists(), "nothing may be written for a refused agenda"
    return lines[0]


HEAD = "board: Lung board\ndate: 2024-05-02\ncases:\n"
GOOD_CASE = "  - id: darin\n    bundle: darin.json\n    question: Surveillance?\n"
DARIN_WITH_IMAGE = "  - id: darin\n    bundle: darin.json\n    images:\n      - path: scans/cxr.png\n"


# ---------------------------------------------------------------------------- every rule, via the CLI

BAD_AGENDAS = {
    "unknown top-level key": (
        HEAD.replace("date:", "chair: Dr X\ndate:") + GOOD_CASE,
        "chair",
        "chair:",
        "unknown key",
    ),
    "unknown case key": (
        HEAD + GOOD_CASE + "  - id: jenny\n    bundel: jenny.json\n",
        "cases[1].bundel",
        "bundel:",
        "unknown key",
    ),
    "unknown image key": (
        HEAD + DARIN_WITH_IMAGE + "        colour: red\n",
        "cases[0].images[0].colour",
        "colour:",
        "unknown key",
    ),
    "missing bundle file": (
        HEAD + GOOD_CASE + "  - id: ghost\n    bundle: ghost.json\n",
        "cases[1].bundle",
        "ghost.json",
        "bundle 'ghost.json' does not exist",
    ),
    "missing image file": (
        HEAD + "  - id: darin\n    bundle: darin.json\n    images:\n      - path: scans/none.png\n",
        "cases[0].images[0].path",
        "none.png",
        "does not exist",
    ),
    "duplicate case id": (
        HEAD + GOOD_CASE + "  - id: jenny\n    bundle: jenny.json\n  - id: darin\n    bundle: jenny.json\n",
        "cases[2].id",
        "id: darin",
        "duplicate case id 'darin'",
    ),
    "duplicate case id in another case": (
        HEAD + GOOD_CASE + "  - id: Darin\n    bundle: jenny.json\n",
        "cases[1].id",
        "id: Darin",
        "duplicate case id 'Darin'",
    ),
    "empty case list": (HEAD + "  []\n", "cases", "cases:", "no cases"),
    "cases key without cases": (HEAD, "cases", "cases:", "no cases"),
    "no cases key": ("board: Lung board\ndate: 2024-05-02\n", "cases", "board:", "missing"),
    "both bundle and fhir_server": (
        HEAD
        + "  - id: darin\n    bundle: darin.json\n"
        + "    fhir_server: http://127.0.0.1:9/fhir\n    patient: p1\n",
        "cases[0]",
        "id: darin",
        "exactly one of `bundle` or `fhir_server` (this one both)",
    ),
    "neither bundle nor fhir_server": (
        HEAD + GOOD_CASE + "  - id: jenny\n    question: What now?\n",
        "cases[1]",
        "id: jenny",
        "(this one neither)",
    ),
    "fhir_server without patient": (
        HEAD + "  - id: remote\n    fhir_server: https://fhir.example.org/R4\n",
        "cases[0].fhir_server",
        "fhir_server:",
        "needs `patient`",
    ),
    "id with a slash": (
        HEAD + "  - id: a/b\n    bundle: darin.json\n",
        "cases[0].id",
        "id: a/b",
        "not usable as a folder name",
    ),
    "id that climbs": (
        HEAD + "  - id: ..\n    bundle: darin.json\n",
        "cases[0].id",
        "id: ..",
        "not usable as a folder name",
    ),
    "hidden id": (HEAD + "  - id: .x\n    bundle: darin.json\n", "cases[0].id", "id: .x", "folder name"),
    "reserved device name": (
        HEAD + "  - id: CON\n    bundle: darin.json\n",
        "cases[0].id",
        "id: CON",
        "folder name",
    ),
    "bad meeting date": (
        HEAD.replace("2024-05-02", "2024-02-30") + GOOD_CASE,
        "date",
        "date:",
        "not a valid ISO date",
    ),
    "bad case date": (
        HEAD + GOOD_CASE.replace("question", "case_date: soon\n    question"),
        "cases[0].case_date",
        "case_date:",
        "not a valid ISO date",
    ),
    "key written twice": (
        HEAD + "  - id: darin\n    bundle: darin.json\n    bundle: jenny.json\n",
        "cases[0].bundle",
        "bundle: jenny.json",
        "key written twice",
    ),
    "model that is no URL": (
        HEAD + GOOD_CASE + "    model: gpt\n",
        "cases[0].model",
        "model: gpt",
        "http(s) URL",
    ),
}


@pytest.mark.parametrize("name", list(BAD_AGENDAS))
def test_every_bad_agenda_is_exit_2_with_file_key_and_line(
    name: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, key, line_fragment, problem = BAD_AGENDAS[name]
    agenda = write(folder, text)
    message = refused_by_cli(agenda, capsys)
    assert str(agenda) in message
    assert f"{key} (line {line_of(text, line_fragment, 2 if name == 'duplicate case id' else 1)})" in message
    assert problem in message


def test_a_missing_agenda_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    agenda = tmp_path / "nowhere" / "agenda.yaml"
    (tmp_path / "nowhere").mkdir()
    message = refused_by_cli(agenda, capsys)
    assert str(agenda) in message and "no such agenda file" in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "an agenda must be a mapping"),
        ("- just\n- a list\n", "an agenda must be a mapping"),
        ("board: [unclosed\n", "invalid YAML"),
        ("board: &a x\ndate: *a\ncases: []\n", "aliases"),
    ],
)
def test_malformed_agenda_files(
    folder: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    message = refused_by_cli(write(folder, text), capsys)
    assert problem in message


def test_the_duplicate_names_the_first_case_too(folder: Path) -> None:
    text = HEAD + GOOD_CASE + "  - id: darin\n    bundle: jenny.json\n"
    with pytest.raises(CaseInputError) as caught:
        load_agenda(write(folder, text))
    assert f"also the id of cases[0], line {line_of(text, 'id: darin')}" in str(caught.value)


# ------------------------------------------------------------------------------------- paths


def test_paths_resolve_against_the_agenda_not_the_working_directory(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        HEAD
        + DARIN_WITH_IMAGE
        + "        recipe: cxr\n"
        + "        date: 2020-01-02\n  - id: jenny\n    bundle: ./jenny.json\n    case_date: 2019-04-03\n"
    )
    agenda = write(folder, text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_agenda(os.path.relpath(agenda, elsewhere))
    assert loaded.board == "Lung board" and loaded.date == "2024-05-02"
    darin, jenny = loaded.cases
    assert darin.bundle == (folder / "darin.json").resolve()
    assert darin.images[0].path == str((folder / "scans" / "cxr.png").resolve())
    assert darin.images[0].recipe == "cxr" and darin.images[0].date == "2020-01-02"
    assert jenny.bundle == (folder / "jenny.json").resolve() and jenny.case_date == "2019-04-03"
    assert darin.question is None and jenny.question is None
    assert loaded.source == agenda.resolve()
    assert set(loaded.inputs()) >= {agenda.resolve(), darin.bundle, Path(darin.images[0].path)}


@pytest.mark.parametrize("reference", ["../outside.json", "ABSOLUTE", "link.json"])
def test_paths_outside_the_agenda_folder_are_refused(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], reference: str
) -> None:
    outside = tmp_path / "outside.json"
    shutil.copy(DARIN, outside)
    (folder / "link.json").symlink_to(outside)  # a symlink is followed before the check
    value = str(outside) if reference == "ABSOLUTE" else reference
    text = HEAD + f"  - id: darin\n    bundle: {value}\n"
    message = refused_by_cli(write(folder, text), capsys)
    assert f"cases[0].bundle (line {line_of(text, 'bundle:')})" in message
    assert "outside the agenda's folder" in message and "--allow-external-paths" in message


def test_allow_external_paths_lets_them_through(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    shutil.copy(DARIN, outside)
    agenda = write(folder, HEAD + "  - id: darin\n    bundle: ../outside.json\n")
    with pytest.raises(CaseInputError):
        load_agenda(agenda)
    loaded = load_agenda(agenda, allow_external_paths=True)
    assert loaded.cases[0].bundle == outside.resolve()
    assert loaded.cases[0].allow_external_paths  # passed on to a case YAML the bundle may be


def test_an_image_mask_outside_is_refused_with_its_key(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "mask.nrrd").write_bytes(b"x")
    text = HEAD + DARIN_WITH_IMAGE + "        mask: ../mask.nrrd\n"
    with pytest.raises(CaseInputError) as caught:
        load_agenda(write(folder, text))
    assert f"cases[0].images[0].mask (line {line_of(text, 'mask:')})" in str(caught.value)


def test_a_fhir_server_case_is_a_job_without_a_bundle(folder: Path) -> None:
    text = HEAD + "  - id: remote\n    fhir_server: https://fhir.example.org/R4\n    patient: '123'\n"
    job = load_agenda(write(folder, text)).cases[0]
    assert job.bundle is None and job.fhir_server == "https://fhir.example.org/R4" and job.patient == "123"


def test_the_shipped_example_agenda_loads() -> None:
    loaded = load_agenda(EXAMPLE_AGENDA)
    assert [job.id for job in loaded.cases] == ["jenny-m", "darin-skiles", "andy-schaden"]
    assert all(job.bundle is not None and job.bundle.is_file() and job.question for job in loaded.cases)
    assert all(job.bundle.parent == EXAMPLE_AGENDA.parent.resolve() for job in loaded.cases if job.bundle)
