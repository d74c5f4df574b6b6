"""Terminal output stays inert: record/model text and error lines, through CliRunner and a real process.

Hostile text goes where a record or a case file carries it (patient name, condition display, lab
label and interpretation, medication, a note, a file name, the case id, the board question, an
endpoint URL with credentials). What reaches stdout/stderr must hold no control character, no bidi
or invisible character, no ANSI sequence but rich's own colours, no rich markup or emoji obeyed, and
every error is exactly one line.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from rich.console import Console
from test_render_safety import JENNY, _hostile_case
from typer.testing import CliRunner

from medboard.cli.main import app, main
from medboard.cli.progress import ProgressView
from medboard.cli.record import print_overview, record_to_json
from medboard.cli.terminal import MAX_ERROR_CHARS, error_line, inert_json, line
from medboard.errors import MedboardInputError, ModelEndpointError
from medboard.textsafety import BIDI_CONTROLS, INVISIBLE
from medboard.tools.fhir import load_record

# Every character that acts on a terminal, reorders or hides text (tab and newline are layout):
# controls, bidi, the invisibles textsafety names, and every Unicode format character (Cf).
ACTIVE = {chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]}
ACTIVE |= BIDI_CONTROLS | INVISIBLE | {"\u2028", "\u2029"}
ACTIVE |= {
    chr(c) for c in [*range(0x80, 0x30000), *range(0xE0000, 0xE1000)] if unicodedata.category(chr(c)) == "Cf"
}
RICH_SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours on a forced terminal

TERMINAL_PAYLOADS = [
    "\x1b[2J\x1b[Hcleared",
    "bell\x07nul\x00",
    "\u202edose 1.0 mg\u202c",
    "\x9b2J c1-csi \x1b]0;title\x07",
    "[bold red]FORGED[/] [link=http://evil.example]click[/link]",
    ":skull: :warning:",
    "over\rwrite",
    "two\nlines\u2028sep",
    "tag\U000e0049\U000e0047\U000e004e smuggled \u206e shaping \u2062 invisible-times",
]


def _active(text: str) -> set[str]:
    return ACTIVE & set(text)


def _hostile_record(tmp_path: Path) -> tuple[Path, list[str]]:
    """Jenny M with terminal payloads in the fields `medboard record` prints (a note included)."""
    bundle = json.loads((JENNY / "bundle.json").read_text())
    payloads = iter(TERMINAL_PAYLOADS * 2)
    placed: list[str] = []

    def carry() -> str:
        text = next(payloads)
        placed.append(text)
        return f"X{len(placed)} {text}"

    for entry in bundle["entry"]:
        resource = entry["resource"]
        rid = resource["id"]
        if resource["resourceType"] == "Patient":
            resource["name"][0]["given"] = [carry()]
        elif rid == "primary-cancer-condition-jenny-m":
            resource["code"]["coding"][0]["display"] = carry()
        elif rid == "us-core-observation-lab-neutrophils-jenny-m":
            resource["code"]["coding"][0]["display"] = carry()
            resource["code"].pop("text", None)
        elif rid.endswith("anastrozole-jenny-m"):
            concept = resource["medicationCodeableConcept"]
            concept["text"] = concept["coding"][0]["display"] = carry()
        elif rid == "cancer-related-surgical-procedure-jenny-m":
            resource["code"]["text"] = carry()
    note = " ".join(carry() for _ in range(3))
    bundle["entry"].append(
        {
            "fullUrl": "DocumentReference/hostile-note",
            "resource": {
                "resourceType": "DocumentReference",
                "id": "hostile-note",
                "status": "current",
                "subject": {"reference": "Patient/cancer-patient-jenny-m"},
                "date": "2018-05-01T00:00:00Z",
                "description": carry(),
                "content": [
                    {
                        "attachment": {
                            "contentType": "text/plain",
                            "data": base64.b64encode(note.encode()).decode(),
                        }
                    }
                ],
            },
        }
    )
    path = tmp_path / "hostile-bundle.json"
    path.write_text(json.dumps(bundle))
    return path, placed


def test_record_tables_print_hostile_text_inert(tmp_path: Path) -> None:
    path, _ = _hostile_record(tmp_path)
    result = CliRunner().invoke(app, ["record", str(path)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert not _active(result.output)
    assert "\\x1b[2J" in result.output and "\\u202e" in result.output, "shown as visible escapes"
    assert "[bold red]FORGED[/]" in result.output, "rich markup from the record is printed, not obeyed"
    assert ":skull:" in result.output and "💀" not in result.output


def test_record_tables_on_a_real_terminal_carry_only_richs_own_escapes(tmp_path: Path) -> None:
    path, _ = _hostile_record(tmp_path)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard", width=400)
    print_overview(load_record(path), console=console)
    output = buffer.getvalue()
    assert "\x1b[" in output, "the console does colour (the check below is meaningful)"
    assert not _active(RICH_SGR.sub("", output)), "only rich's SGR colour codes are escapes"
    assert "\x1b]8;" not in output, "no hyperlink from [link=…] markup"
    assert "\x1b[5m" not in output and "FORGED" in RICH_SGR.sub("", output)


def test_record_json_is_faithful_and_inert(tmp_path: Path) -> None:
    path, _ = _hostile_record(tmp_path)
    result = CliRunner().invoke(app, ["record", str(path), "--json"])
    assert result.exit_code == 0
    assert not _active(result.output)
    assert json.loads(result.output) == json.loads(json.dumps(record_to_json(load_record(path))))


def test_inert_json_decodes_to_the_same_value() -> None:
    value = {"k\u202e": ["\x1b[2J", "\x85nel\x9b", "a\\\u202eb", "\u2028", "\U000e0041", "é ✓ 中"]}
    text = inert_json(json.dumps(value, ensure_ascii=False))
    assert json.loads(text) == value and not _active(text)
    assert "é ✓ 中" in text, "ordinary non-ASCII text stays readable"


def test_run_result_line_and_json_are_inert(tmp_path: Path) -> None:
    case, placed = _hostile_case(tmp_path, TERMINAL_PAYLOADS)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(case), "--model", "none", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not _active(result.output)
    summary_line = result.output.strip().splitlines()[-1]
    assert summary_line.startswith(f"CASEID {line(placed['CASEID'])}: ") and "statements" in summary_line
    assert not _active((out / "summary.md").read_text())

    result = CliRunner().invoke(app, ["run", str(case), "--model", "none", "--json"])
    assert result.exit_code == 0
    assert not _active(result.output)
    assert json.loads(result.output)["case_id"] == f"CASEID {placed['CASEID']}", "JSON stays faithful"


def test_progress_lines_are_one_inert_line(capsys: pytest.CaptureFixture[str]) -> None:
    view = ProgressView(enabled=True)
    with view:
        for payload in TERMINAL_PAYLOADS:
            view.update(f"agent{payload}", f"failed: {payload}")
    err = capsys.readouterr().err
    assert len(err.splitlines()) == len(TERMINAL_PAYLOADS)
    assert not _active(err)


def test_progress_table_does_not_obey_markup() -> None:
    view = ProgressView(enabled=True)
    view.update("ehr", "[bold red]FORGED[/] :skull: \x1b[2J")
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, color_system="standard", width=200).print(view._table())
    plain = RICH_SGR.sub("", buffer.getvalue())
    assert "[bold red]FORGED[/]" in plain and ":skull:" in plain and not _active(plain)


# --- error lines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "bad \x1b[31mred\x1b[0m value\x07",
        "first line\nsecond line\r\nthird\u2028fourth\u2029fifth\x85sixth",
        "\u202eevil\u202c \u2066iso\u2069 zero\u200bwidth \U000e0041tag \u206fdigits",
        "endpoint http://alice:s3cret@host:8000/v1?api_key=k3y&x=1 said no",
        "",
        "x" * (10 * MAX_ERROR_CHARS),
    ],
    ids=["ansi", "multi-line", "bidi", "credentials", "empty", "huge"],
)
def test_error_line_is_one_clean_line(message: str) -> None:
    shown = error_line(MedboardInputError(message, source="case\x1b[2J.yaml"))
    assert shown.startswith("medboard: error: ") and len(shown.splitlines()) == 1
    assert not _active(shown)
    assert "s3cret" not in shown and "k3y" not in shown
    assert len(shown) < MAX_ERROR_CHARS + 100


def test_main_prints_one_clean_line_for_a_hostile_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = tmp_path / "no\x1b[2Jsuch\u202efile\nsecond-line.json"
    assert main(["record", str(hostile)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("medboard: error: ")
    assert not _active(err) and "\\x1b[2J" in err and "\\n" in err


def test_main_prints_one_clean_line_for_an_endpoint_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An endpoint's own words (which may echo the request) reach the user neutralized and redacted."""
    import medboard.cli.schema as schema_cli

    def fail(*_args: object, **_kwargs: object) -> None:
        raise ModelEndpointError("502 from http://u:pw@gw/v1?token=t0k:\n<html>\x1b[2J\u202eBad Gateway")

    monkeypatch.setattr(schema_cli.json, "dumps", fail)
    assert main(["schema"]) == 3
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and not _active(err)
    assert "pw@" not in err and "t0k" not in err and "***@gw" in err


def _run_cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "medboard", *args], capture_output=True, timeout=120, check=False
    )


def test_real_process_error_lines(tmp_path: Path) -> None:
    hostile = tmp_path / "x\x1b]0;pwned\x07y\u202e\nz.json"
    done = _run_cli("record", str(hostile))
    assert done.returncode == 2
    err = done.stderr.decode()
    assert len(err.splitlines()) == 1 and err.startswith("medboard: error: ")
    assert not _active(err) and "Traceback" not in err

    case_yaml = tmp_path / "case.yaml"
    case_yaml.write_text(json.dumps({"id": "c", "record": "missing\x1b[2J\u202e.json"}))
    done = _run_cli("run", str(case_yaml), "--model", "none")
    assert done.returncode == 2
    err = done.stderr.decode()
    assert len(err.splitlines()) == 1 and not _active(err) and "Traceback" not in err

    done = _run_cli("run", str(JENNY), "--model", "http://alice:s3cret@127.0.0.1:9/v1?token=abc")
    assert done.returncode == 3
    err = done.stderr.decode()
    lines = [x for x in err.splitlines() if x.startswith("medboard: error:")]
    assert len(lines) == 1 and "s3cret" not in err and "token=abc" not in err and not _active(err)


def test_real_process_run_on_a_hostile_case_prints_nothing_active(tmp_path: Path) -> None:
    case, _ = _hostile_case(tmp_path, TERMINAL_PAYLOADS)
    done = _run_cli("run", str(case), "--model", "none", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert not _active(done.stdout.decode()) and not _active(done.stderr.decode())
    assert len(done.stdout.decode().splitlines()) == 1, "the run's result is one line"


# --- the other commands that print record, header or summary text ---------------------------


def test_trends_text_and_json_are_inert(tmp_path: Path) -> None:
    path, _ = _hostile_record(tmp_path)
    bundle = json.loads(path.read_text())
    lab = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["id"].endswith("lab-neutrophils-jenny-m")
    )
    label = lab["code"]["coding"][0]["display"] = "LAB \x1b[2J\u202e bell\x07 \U000e0041"
    path.write_text(json.dumps(bundle))
    result = CliRunner().invoke(app, ["trends", str(path)])
    assert result.exit_code == 0, result.output
    assert line(label) in result.output, "the hostile lab label is printed, inert"
    assert not _active(result.output)
    result = CliRunner().invoke(app, ["trends", str(path), "--json"])
    assert result.exit_code == 0 and not _active(result.output)
    assert label in [a["label"] for a in json.loads(result.output)["analytes"]], "JSON stays faithful"


def test_verify_on_a_hand_edited_summary_prints_inert(tmp_path: Path) -> None:
    """`medboard verify` reads a summary anyone may have edited: its texts and ids are data."""
    out = tmp_path / "out"
    assert main(["run", str(JENNY), "--model", "none", "--out", str(out)]) == 0
    data = json.loads((out / "summary.json").read_text())
    payloads = iter(TERMINAL_PAYLOADS * 20)
    data["case_id"] = "[bold red]FORGED[/] :skull: \x1b[2J"
    for section in data["sections"]:
        for statement in section["statements"]:
            statement["text"] += " " + next(payloads)
    for discrepancy in data["discrepancies"]:
        discrepancy["description"] += " " + next(payloads)
        discrepancy["kind"] = next(payloads)
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    bundle = JENNY / "bundle.json"
    for extra in ([], ["--json"]):
        result = CliRunner().invoke(app, ["verify", str(edited), "--record", str(bundle), *extra])
        assert result.exit_code in (0, 1), result.output
        assert not _active(result.output)
    result = CliRunner().invoke(app, ["verify", str(edited), "--record", str(bundle)], env={"COLUMNS": "300"})
    assert "[bold red]FORGED[/] :skull: \\x1b[2J: verdicts" in result.output, "the title is shown, not obeyed"


def test_image_info_prints_dicom_header_text_and_file_names_inert(tmp_path: Path) -> None:
    """A real DICOM (pydicom's CT_small) whose descriptions and file name carry terminal payloads."""
    import pydicom
    from imaging_support import dicom_testfile

    dataset = pydicom.dcmread(dicom_testfile("CT_small.dcm"))
    dataset.SpecificCharacterSet = "ISO_IR 192"  # UTF-8, so the bidi override is stored as is
    dataset.SeriesDescription = "SERIES \x1b[2J\x1b]0;title\x07 \u202eevil"
    dataset.StudyDescription = "STUDY [bold red]FORGED[/] \x9b2J"
    folder = tmp_path / "series"
    folder.mkdir()
    dataset.save_as(folder / "slice\x1b[31m\u202e.dcm")
    result = CliRunner().invoke(app, ["image", "info", str(folder)])
    assert result.exit_code == 0, result.output
    assert "SERIES" in result.output and "\\x1b[2J" in result.output, "header text shown as escapes"
    assert not _active(result.output)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--bogus\x1b[2J\u202e"],  # unknown option carrying an escape and an RTL override
        ["record"],  # missing argument
        ["no-such-command\x07"],
        ["run", "--time-budget", "0"],  # out of range
        ["image", "frames"],  # a sub-command group's command without its arguments
    ],
)
def test_usage_errors_are_one_inert_line(argv: list[str]) -> None:
    """A bad command line is bad input like any other: exit 2, one line, nothing active in it."""
    proc = subprocess.run(
        [sys.executable, "-m", "medboard", *argv], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medboard: error: ") and "--help" in lines[0]
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]", proc.stderr)
    assert "Traceback" not in proc.stderr and "╭" not in proc.stderr
