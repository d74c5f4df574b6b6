"""The verify gate under hand edits, `verify`/`recist`/`--replay` on devices and folders, and
inputs that make the verifier slow (one enormous string).

The false statements are edited into a real summary of Jenny M (made once per process by the CLI
itself), each citing the very resource it contradicts.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .corpus import (
    BAD_INPUT,
    JENNY_BUNDLE,
    OK,
    VERIFY_FAILED,
    Invocation,
    case_folder,
    hostile,
    jenny,
    resource,
    run_args,
    write_json,
    write_text,
)


@functools.lru_cache(maxsize=1)
def real_summary() -> str:
    """summary.json of `medboard run <Jenny M> --model none`, made by the CLI under test."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDBOARD_", "OPENAI_"))}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "medboard",
                "run",
                str(JENNY_BUNDLE),
                "--model",
                "none",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=folder,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"cannot make the base summary: medboard run exited {done.returncode}: {done.stderr}"
            )
        return (out / "summary.json").read_text(encoding="utf-8")


def _edited(
    statement: str, reference: str, path: str | None = None, quote: str | None = None
) -> dict[str, Any]:
    """The real summary with one hand-written statement (no finding ids) citing `reference`."""
    summary = json.loads(real_summary())
    section = summary["sections"][0]
    section["statements"].append(
        {
            "id": "st-hand-edit",
            "text": statement,
            "finding_ids": [],
            "evidence": [{"reference": reference, "path": path, "box": None, "quote": quote}],
            "verdict": None,
        }
    )
    return summary


def _verify(tmp: Path, summary: dict[str, Any] | str, *extra: str, record: Path | None = None) -> list[str]:
    path = tmp / "summary.json"
    if isinstance(summary, str):
        write_text(path, summary)
    else:
        write_json(path, summary)
    if record is None:
        record = tmp / "bundle.json"
        shutil.copy(JENNY_BUNDLE, record)
    return ["verify", str(path), "--record", str(record), *extra]


PATIENT = "Patient/cancer-patient-jenny-m"
CANCER = "Condition/primary-cancer-condition-jenny-m"
ER = "Observation/tumor-marker-test-er-jenny-m"
HER2 = "Observation/tumor-marker-test-her2-jenny-m"
STAGE = "Observation/tnm-clinical-stage-group-jenny-m"
ONCOTYPE = "Observation/tumor-marker-test-oncotype-dx-jenny-m"


def _gate(tmp: Path, text: str, reference: str, *extra: str) -> Invocation:
    return Invocation(_verify(tmp, _edited(text, reference), *extra), expect=(VERIFY_FAILED,))


@hostile("verify-gate")
def real_summary_passes_the_gate(tmp: Path) -> Invocation:
    """Control: the unedited summary verifies."""
    return Invocation(_verify(tmp, real_summary()), expect=(OK,))


@hostile("verify-gate")
def the_patient_has_no_cancer(tmp: Path) -> Invocation:
    return _gate(tmp, "The patient has no cancer.", CANCER)


@hostile("verify-gate")
def does_not_have_breast_cancer(tmp: Path) -> Invocation:
    return _gate(tmp, "Jenny M does not have breast cancer.", CANCER)


@hostile("verify-gate")
def no_evidence_of_malignancy(tmp: Path) -> Invocation:
    return _gate(tmp, "There is no evidence of malignancy.", CANCER)


@hostile("verify-gate")
def estrogen_receptor_is_not_positive(tmp: Path) -> Invocation:
    return _gate(tmp, "Estrogen receptor is not positive.", ER)


@hostile("verify-gate")
def er_negative(tmp: Path) -> Invocation:
    return _gate(tmp, "The tumour is ER-negative.", ER)


@hostile("verify-gate")
def patient_male(tmp: Path) -> Invocation:
    return _gate(tmp, "Patient Jenny M: male, born 1965-01-01.", PATIENT)


@hostile("verify-gate")
def stage_written_with_a_cyrillic_letter(tmp: Path) -> Invocation:
    # record: stage IIB. "IIIВ" uses CYRILLIC CAPITAL LETTER VE for the B.
    return _gate(tmp, "Clinical TNM stage group: American Joint Committee on Cancer stage III\u0412.", STAGE)


@hostile("verify-gate")
def stage_written_with_fullwidth_letters(tmp: Path) -> Invocation:
    return _gate(tmp, "Clinical stage group: stage \uff29\uff36.", STAGE)


@hostile("verify-gate")
def her2_is_amplified(tmp: Path) -> Invocation:
    return _gate(tmp, "HER2 is amplified (3+).", HER2)


@hostile("verify-gate")
def her2_unverifiable_fails_strict(tmp: Path) -> Invocation:
    return _gate(tmp, "HER2 is amplified (3+).", HER2, "--strict")


@hostile("verify-gate")
def assay_score_in_words(tmp: Path) -> Invocation:
    return _gate(tmp, "Oncotype DX recurrence score: seven.", ONCOTYPE)


# --- bad summaries and devices ------------------------------------------------------------------


@hostile("verify-input")
def summary_json_nested_100k_deep(tmp: Path) -> Invocation:
    return Invocation(_verify(tmp, "[" * 100_000 + "]" * 100_000), expect=(BAD_INPUT,))


@hostile("verify-input")
def summary_with_a_5000_digit_number(tmp: Path) -> Invocation:
    text = real_summary().replace('"schema_version": ', '"schema_version": ' + "9" * 5000 + ', "x": ', 1)
    return Invocation(_verify(tmp, text), expect=(BAD_INPUT,))


@hostile("verify-input")
def summary_is_a_folder(tmp: Path) -> Invocation:
    (tmp / "summary.d").mkdir()
    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    return Invocation(
        ["verify", str(tmp / "summary.d"), "--record", str(tmp / "bundle.json")], expect=(BAD_INPUT,)
    )


@hostile("devices")
def verify_summary_dev_zero(tmp: Path) -> Invocation:
    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    return Invocation(["verify", "/dev/zero", "--record", str(tmp / "bundle.json")], expect=(BAD_INPUT,))


@hostile("devices")
def verify_record_dev_zero(tmp: Path) -> Invocation:
    return Invocation(_verify(tmp, real_summary(), record=Path("/dev/zero")), expect=(BAD_INPUT,))


@hostile("devices")
def verify_replay_dev_zero(tmp: Path) -> Invocation:
    return Invocation(_verify(tmp, real_summary(), "--replay", "/dev/zero"), expect=(BAD_INPUT,))


@hostile("devices")
def recist_dev_zero(tmp: Path) -> Invocation:
    return Invocation(["recist", "/dev/zero"], expect=(BAD_INPUT,))


@hostile("devices")
def recist_on_a_folder(tmp: Path) -> Invocation:
    (tmp / "lesions").mkdir()
    return Invocation(["recist", str(tmp / "lesions")], expect=(BAD_INPUT,))


@hostile("devices")
def recist_on_a_fifo(tmp: Path) -> Invocation:
    os.mkfifo(tmp / "lesions.json")
    return Invocation(["recist", str(tmp / "lesions.json")], expect=(BAD_INPUT,), timeout=30)


@hostile("devices")
def replay_dev_zero(tmp: Path) -> Invocation:
    folder = case_folder(tmp)
    return Invocation(
        run_args(folder, tmp / "out", "--replay", "/dev/zero"), expect=(BAD_INPUT,), out=tmp / "out"
    )


@hostile("devices")
def replay_on_a_folder(tmp: Path) -> Invocation:
    folder = case_folder(tmp)
    (tmp / "cassette").mkdir()
    return Invocation(
        run_args(folder, tmp / "out", "--replay", str(tmp / "cassette")), expect=(BAD_INPUT,), out=tmp / "out"
    )


@hostile("devices")
def replay_cassette_of_garbage(tmp: Path) -> Invocation:
    folder = case_folder(tmp)
    write_text(tmp / "cassette.jsonl", '{"request": [[[[\n\x00\x01garbage\n')
    return Invocation(
        run_args(folder, tmp / "out", "--replay", str(tmp / "cassette.jsonl")),
        expect=(BAD_INPUT,),
        out=tmp / "out",
    )


@hostile("devices")
def run_on_dev_zero(tmp: Path) -> Invocation:
    return Invocation(run_args("/dev/zero", tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out")


@hostile("devices")
def record_on_dev_zero(tmp: Path) -> Invocation:
    return Invocation(["record", "/dev/zero"], expect=(BAD_INPUT,))


@hostile("devices")
def record_on_a_fifo(tmp: Path) -> Invocation:
    os.mkfifo(tmp / "bundle.json")
    return Invocation(["record", str(tmp / "bundle.json")], expect=(BAD_INPUT,), timeout=30)


@hostile("devices")
def record_bundle_symlink_to_dev_zero(tmp: Path) -> Invocation:
    os.symlink("/dev/zero", tmp / "bundle.json")
    return Invocation(["record", str(tmp / "bundle.json")], expect=(BAD_INPUT,))


@hostile("devices")
def record_folder_holding_a_fifo(tmp: Path) -> Invocation:
    folder = tmp / "resources"
    folder.mkdir()
    shutil.copy(JENNY_BUNDLE, folder / "a.json")
    os.mkfifo(folder / "b.json")
    # skipping the FIFO (with a warning) or refusing it are both fine; hanging on it is not
    return Invocation(["record", str(folder)], expect=(OK, BAD_INPUT), timeout=30)


@hostile("recist")
def recist_nested_100k_deep(tmp: Path) -> Invocation:
    path = write_text(tmp / "lesions.json", '{"timepoints": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return Invocation(["recist", str(path)], expect=(BAD_INPUT,))


@hostile("recist")
def recist_5000_digit_diameter(tmp: Path) -> Invocation:
    text = (
        '{"timepoints": [{"date": "2024-01-01", "new_lesions": false, "lesions": [{"id": "L1", '
        '"organ": "lung", "kind": "target", "lymph_node": false, "diameter_mm": '
        + "9" * 5000
        + ', "status": "present"}]}]}'
    )
    return Invocation(["recist", str(write_text(tmp / "lesions.json", text))], expect=(BAD_INPUT,))


@hostile("recist")
def recist_nan_diameter(tmp: Path) -> Invocation:
    text = (
        '{"timepoints": [{"date": "2024-01-01", "new_lesions": false, "lesions": [{"id": "L1", '
        '"organ": "lung", "kind": "target", "lymph_node": false, "diameter_mm": NaN, "status": "present"}]}]}'
    )
    return Invocation(["recist", str(write_text(tmp / "lesions.json", text))], expect=(BAD_INPUT,))


# --- slow verifier -------------------------------------------------------------------------------------


def name_through_verify(tmp: Path, megabytes: int, timeout: float = 60) -> Invocation:
    """One `megabytes` MB patient name in the record, the real summary verified against it."""
    bundle = jenny()
    resource(bundle, "Patient")["name"] = [
        {"given": ["Jenny"], "family": "M" + "m" * (megabytes * 1024 * 1024)}
    ]
    record = write_json(tmp / "bundle.json", bundle)
    return Invocation(
        _verify(tmp, real_summary(), record=record),
        expect=(OK, VERIFY_FAILED, BAD_INPUT),
        timeout=timeout,
        slow=True,
    )


@hostile("size", slow=True)
def a_16_mb_name_through_verify(tmp: Path) -> Invocation:
    """One 16 MB string in the record (main: ~13 s per MB): verify must stay linear."""
    return name_through_verify(tmp, 16)


@hostile("size", slow=True)
def a_16_mb_statement_through_verify(tmp: Path) -> Invocation:
    summary = _edited("Patient Jenny " + "M" * (16 * 1024 * 1024) + ": female.", PATIENT)
    return Invocation(_verify(tmp, summary), expect=(OK, VERIFY_FAILED, BAD_INPUT), timeout=60, slow=True)


@hostile("control-characters")
def question_with_control_characters(tmp: Path) -> Invocation:
    folder = case_folder(tmp)
    out = tmp / "out"
    question = "Is she \x1b[31ma candidate\x07 for \u202esurgery?"
    return Invocation(run_args(folder, out, "--question", question), expect=(OK,), out=out)
