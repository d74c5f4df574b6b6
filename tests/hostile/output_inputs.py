"""`--out` hazards: the case folder, the record folder, the bundle itself, an existing file, a
place under a file, unwritable places, user files named like medboard's outputs, concurrent runs
to one folder, signals in the middle of a run."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from .corpus import (
    BAD_INPUT,
    BRAIN_IMAGE,
    BRAIN_LABEL,
    JENNY_BUNDLE,
    OK,
    Invocation,
    case_folder,
    hostile,
    protect_tree,
    run_args,
    summary_json_valid,
    write_text,
)
from .model_inputs import hanging_model_server


def _imaging_case(tmp: Path) -> Path:
    folder = case_folder(
        tmp,
        "id: brain\nrecord: bundle.json\nimages:\n  - path: images/brain1_image.nrrd\n    modality: MR\n"
        "    mask: images/brain1_label.nrrd\n",
    )
    (folder / "images").mkdir()
    shutil.copy(BRAIN_IMAGE, folder / "images" / "brain1_image.nrrd")
    shutil.copy(BRAIN_LABEL, folder / "images" / "brain1_label.nrrd")
    return folder


@hostile("out")
def out_is_the_case_folder(tmp: Path) -> Invocation:
    folder = _imaging_case(tmp)
    return Invocation(run_args(folder, folder), expect=(BAD_INPUT,), out=folder)


@hostile("out")
def out_is_the_case_folder_given_by_its_yaml(tmp: Path) -> Invocation:
    folder = _imaging_case(tmp)
    return Invocation(run_args(folder / "case.yaml", folder), expect=(BAD_INPUT,), out=folder)


@hostile("out")
def out_is_the_record_folder(tmp: Path) -> Invocation:
    folder = tmp / "record"
    folder.mkdir()
    shutil.copy(JENNY_BUNDLE, folder / "bundle.json")
    return Invocation(run_args(folder, folder), expect=(BAD_INPUT,), out=folder)


@hostile("out")
def out_is_the_parent_of_the_case(tmp: Path) -> Invocation:
    folder = _imaging_case(tmp)
    return Invocation(run_args(folder, tmp), expect=(BAD_INPUT,), out=tmp)


@hostile("out")
def out_is_the_bundle_file(tmp: Path) -> Invocation:
    bundle = tmp / "bundle.json"
    shutil.copy(JENNY_BUNDLE, bundle)
    return Invocation(run_args(bundle, bundle), expect=(BAD_INPUT,), out=bundle)


@hostile("out")
def out_is_an_existing_file(tmp: Path) -> Invocation:
    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    target = write_text(tmp / "notes.txt", "my notes\n")
    return Invocation(run_args(tmp / "bundle.json", target), expect=(BAD_INPUT,), out=target)


@hostile("out")
def out_under_a_file(tmp: Path) -> Invocation:
    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    write_text(tmp / "notes.txt", "my notes\n")
    out = tmp / "notes.txt" / "out"
    return Invocation(run_args(tmp / "bundle.json", out), expect=(BAD_INPUT,), out=out)


@hostile("out")
def out_is_dev_null(tmp: Path) -> Invocation:
    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    return Invocation(run_args(tmp / "bundle.json", Path("/dev/null")), expect=(BAD_INPUT,))


@hostile("out")
def out_in_an_unwritable_place(tmp: Path) -> Invocation:
    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    return Invocation(run_args(tmp / "bundle.json", Path("/proc/medboard-hostile/out")), expect=(BAD_INPUT,))


@hostile("out")
def out_read_only_folder(tmp: Path) -> Invocation:
    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    out = tmp / "readonly"
    out.mkdir()
    out.chmod(0o555)
    # root ignores the mode: then the folder *is* writable and the run must simply succeed
    expect = (OK,) if os.access(out, os.W_OK) else (BAD_INPUT,)
    return Invocation(run_args(tmp / "bundle.json", out), expect=expect, out=out)


@hostile("out")
def out_holds_a_user_file_named_summary_md(tmp: Path) -> Invocation:
    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    out = tmp / "out"
    write_text(out / "summary.md", "# my own notes, not medboard's\n")
    return Invocation(
        run_args(tmp / "bundle.json", out),
        expect=(BAD_INPUT,),
        out=out,
        protected=protect_tree(out / "summary.md"),
    )


@hostile("out")
def out_holds_a_user_folder_named_summary_md(tmp: Path) -> Invocation:
    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    out = tmp / "out"
    write_text(out / "summary.md" / "draft.txt", "precious\n")
    write_text(out / "summary.md" / "deep" / "more.txt", "precious too\n")
    return Invocation(
        run_args(tmp / "bundle.json", out),
        expect=(BAD_INPUT,),
        out=out,
        protected=protect_tree(out / "summary.md"),
    )


@hostile("out")
def out_holds_a_user_file_named_summary_json(tmp: Path) -> Invocation:
    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    out = tmp / "out"
    write_text(out / "summary.json", '{"mine": true}\n')
    return Invocation(
        run_args(tmp / "bundle.json", out),
        expect=(BAD_INPUT,),
        out=out,
        protected=protect_tree(out / "summary.json"),
    )


@hostile("out")
def out_holds_a_user_folder_named_images(tmp: Path) -> Invocation:
    folder = _imaging_case(tmp)
    out = tmp / "out"
    write_text(out / "images" / "holiday.txt", "not medboard's\n")
    return Invocation(
        run_args(folder, out),
        expect=(OK, BAD_INPUT),
        out=out,
        protected=protect_tree(out / "images" / "holiday.txt"),
    )


@hostile("out")
def out_written_twice_by_medboard(tmp: Path) -> Invocation:
    """Control: medboard replaces what it wrote itself (the second run must succeed)."""
    import subprocess
    import sys

    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    out = tmp / "out"
    subprocess.run(
        [sys.executable, "-m", "medboard", *run_args(tmp / "bundle.json", out)],
        cwd=tmp,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return Invocation(
        run_args(tmp / "bundle.json", out), expect=(OK,), out=out, checks=[summary_json_valid(out)]
    )


@hostile("out")
def four_concurrent_runs_to_one_out(tmp: Path) -> Invocation:
    shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
    out = tmp / "out"

    def group(codes: list[int]) -> list[str]:
        problems = [] if OK in codes else ["none of the concurrent runs succeeded"]
        leftovers = sorted(p.name for p in tmp.glob(".medboard-*"))
        if leftovers:
            problems.append(f"staging folders left behind: {leftovers}")
        return problems

    return Invocation(
        run_args(tmp / "bundle.json", out),
        expect=(OK, BAD_INPUT),
        out=out,
        parallel=4,
        group_check=group,
        checks=[summary_json_valid(out)],
    )


def _signal_run(tmp: Path, signum: int) -> Invocation:
    server = hanging_model_server()
    folder = case_folder(tmp)
    out = tmp / "out"

    def no_staging(outcome: object) -> str | None:
        leftovers = sorted(p.name for p in tmp.rglob(".medboard-*"))
        return f"staging folders left behind: {leftovers}" if leftovers else None

    return Invocation(
        ["run", str(folder), "--model", server.base_url, "--out", str(out)],
        expect=(OK, 130, 143, -signum, 3),
        out=out,
        env={"MEDBOARD_MODEL": "fake-model", "MEDBOARD_MODEL_TIMEOUT": "600", "MEDBOARD_MODEL_RETRIES": "0"},
        signal=(signum, 4.0, 10.0),
        timeout=60,
        checks=[no_staging, summary_json_valid(out)],
        resource=server,
    )


@hostile("signals")
def sigint_during_a_model_call(tmp: Path) -> Invocation:
    return _signal_run(tmp, signal.SIGINT)


@hostile("signals")
def sigterm_during_a_model_call(tmp: Path) -> Invocation:
    return _signal_run(tmp, signal.SIGTERM)
