"""`medboard run --out` never destroys anything: checked before any work, a manifest of what
medboard wrote, a folder lock for concurrent runs.

Real data: the embedded example case (jenny-m), a case folder holding the real MR volume and its
tumour mask (tests/data/imaging), the mCODE bundle. Every refusal asserts exit 2, one line, no
traceback, and that no file outside `--out` changed (tree snapshot before/after).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from outputs_support import case_folder_with_images, snapshot, staging_left

from medboard.cli.main import main
from medboard.models import CaseSummary
from medboard.report import publish
from medboard.report.publish import MANIFEST, OutputFolderError

JENNY = Path(__file__).parent / "data" / "fhir" / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
REPO = Path(__file__).resolve().parents[1]


def refused(capsys: pytest.CaptureFixture[str], args: list[str], *needles: str) -> str:
    """`medboard run ARGS` exits 2 with one clean line containing every needle."""
    code = main(["run", *args, "--model", "none"])
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.startswith("medboard:")]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------- refused before any work


def test_out_equal_to_the_case_folder_keeps_its_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = case_folder_with_images(tmp_path / "case")
    before = snapshot(tmp_path)
    line = refused(capsys, [str(case), "--out", str(case)], "--out", "holds the case input")
    assert snapshot(tmp_path) == before, "nothing in the case folder changed"
    assert "images/brain1_image.nrrd" in json.dumps(before), "the input volume is still there"
    assert "case.yaml" in line or "bundle.json" in line or "brain1" in line


def test_out_equal_to_the_case_images_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = case_folder_with_images(tmp_path / "case")
    before = snapshot(tmp_path)
    refused(capsys, [str(case), "--out", str(case / "images")], "holds the case input", "brain1_")
    assert snapshot(tmp_path) == before


def test_a_case_folder_then_runs_into_a_subfolder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """CASE/out is fine (nothing reads it); the inputs stay as they were, the mask is measured."""
    case = case_folder_with_images(tmp_path / "case")
    before = snapshot(case)
    assert main(["run", str(case), "--model", "none", "--out", str(case / "out")]) == 0
    assert snapshot(case, exclude=case / "out") == before
    summary = CaseSummary.model_validate_json((case / "out" / "summary.json").read_text())
    assert any(f.text.startswith("Lesion mask brain1_label.nrrd") for f in summary.findings), "mask measured"
    assert not staging_left(case, case / "out")


def test_out_equal_to_the_record_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The next run of that folder would read summary.json as a FHIR resource."""
    record = tmp_path / "record"
    record.mkdir()
    shutil.copy(JENNY, record / "bundle.json")
    before = snapshot(tmp_path)
    refused(capsys, [str(record), "--out", str(record)], "is the case input")
    refused(
        capsys, [str(record / "bundle.json"), "--out", str(record)], "holds the case input", "bundle.json"
    )
    refused(capsys, [str(record), "--out", str(record / "sub")], "lies inside the case input folder")
    assert snapshot(tmp_path) == before


def test_out_that_is_a_file_or_under_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "bundle.json"
    shutil.copy(JENNY, bundle)
    notes = tmp_path / "notes.txt"
    notes.write_text("the user's own notes\n")
    before = snapshot(tmp_path)
    refused(capsys, [str(bundle), "--out", str(bundle)], "exists and is not a folder")
    refused(capsys, [str(bundle), "--out", str(notes)], "exists and is not a folder")
    refused(capsys, [str(bundle), "--out", str(notes / "sub" / "deeper")], "lies under", "notes.txt")
    assert snapshot(tmp_path) == before


def test_out_where_nothing_can_be_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Probed by creating a folder there (permission bits lie under root): /proc refuses everyone."""
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc")
    refused(capsys, [str(JENNY), "--out", "/proc/medboard-out"], "cannot write in /proc")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        refused(capsys, [str(JENNY), "--out", str(locked / "out")], "cannot write in")
        refused(capsys, [str(JENNY), "--out", str(locked)], "cannot write in")
    finally:
        locked.chmod(0o755)


def test_out_is_checked_before_the_case_is_loaded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A broken record and a bad --out: the --out error comes first (no load, no run)."""
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    refused(capsys, [str(broken), "--out", str(broken)], "--out", "exists and is not a folder")


def test_refused_runs_leave_no_staging_and_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle.json"
    shutil.copy(JENNY, bundle)
    out = tmp_path / "deep" / "er" / "out"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["run", str(broken), "--model", "none", "--out", str(out)]) == 2
    capsys.readouterr()
    assert not (tmp_path / "deep").exists(), "a bad case creates no folders"
    assert not staging_left(tmp_path)


# ------------------------------------------------------------- the manifest guards the folder


def test_rerun_into_the_same_out_replaces_only_its_own_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", str(JENNY), "--model", "none", "--out", str(out)]) == 0
    (out / "notes.md").write_text("reviewer notes\n")
    first = json.loads((out / MANIFEST).read_text())
    assert sorted(first["files"]) == ["report.html", "summary.json", "summary.md"]
    assert main(["run", str(JENNY), "--model", "none", "--question", "Any trial?", "--out", str(out)]) == 0
    summary = CaseSummary.model_validate_json((out / "summary.json").read_text())
    assert summary.question == "Any trial?", "the second run's summary was published"
    assert (out / "notes.md").read_text() == "reviewer notes\n", "the user's file is untouched"
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["files"]) == ["report.html", "summary.json", "summary.md"]
    for rel, versions in manifest["files"].items():
        assert len(versions) == 1 and versions[0]["size"] == (out / rel).stat().st_size
    assert not staging_left(tmp_path, out)
    capsys.readouterr()


def test_a_user_folder_named_like_an_output_is_never_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    (out / "summary.md").mkdir(parents=True)
    (out / "summary.md" / "draft.txt").write_text("my draft\n")
    before = snapshot(tmp_path)
    refused(capsys, [str(JENNY), "--out", str(out)], "summary.md", "is a folder medboard did not create")
    assert snapshot(tmp_path) == before


def test_a_user_file_named_like_an_output_is_never_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"mine": true}\n')
    before = snapshot(tmp_path)
    refused(capsys, [str(JENNY), "--out", str(out)], "summary.json", "was not written by medboard")
    assert snapshot(tmp_path) == before


def test_an_output_edited_since_medboard_wrote_it_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", str(JENNY), "--model", "none", "--out", str(out)]) == 0
    with (out / "summary.md").open("a") as handle:
        handle.write("\nReviewed by Dr. X: agree.\n")
    before = snapshot(tmp_path)
    capsys.readouterr()
    refused(capsys, [str(JENNY), "--out", str(out)], "summary.md", "was changed since medboard wrote it")
    assert snapshot(tmp_path) == before


def test_a_symlink_in_out_is_not_followed_or_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    precious = tmp_path / "precious.json"
    precious.write_text("keep me\n")
    (out / "summary.json").symlink_to(precious)
    before = snapshot(tmp_path)
    refused(capsys, [str(JENNY), "--out", str(out)], "summary.json", "was not written by medboard")
    assert snapshot(tmp_path) == before


def test_a_garbled_manifest_is_not_trusted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text('{"files": {"summary.json": "anything"}}')
    (out / "summary.json").write_text("user data\n")
    before = snapshot(tmp_path)
    refused(capsys, [str(JENNY), "--out", str(out)], MANIFEST, "is not a medboard manifest")
    assert snapshot(tmp_path) == before


def test_old_key_images_go_only_if_medboard_wrote_them(tmp_path: Path) -> None:
    """A run with boxed key frames writes images/*.png; a later run without them removes those
    (listed, unchanged) but keeps a file the user put in images/, and so the folder."""
    from fake_openai import FakeOpenAIServer
    from imaging_case_support import vision_responder, write_case
    from imaging_support import dicom_testfile

    reading = [{"text": "Opacity in the right lower zone.", "slice": 1, "box": [600, 100, 800, 400]}]
    case = write_case(tmp_path / "case", [{"path": dicom_testfile("RG1_UNCR.dcm")}])
    out = tmp_path / "out"
    with FakeOpenAIServer(vision_responder(reading=reading), models=["fake-vision"]) as server:
        args = [
            "run",
            str(case),
            "--model",
            server.base_url,
            "--model-name",
            "fake-vision",
            "--out",
            str(out),
        ]
        assert main(args) == 0
    (png,) = (out / "images").glob("*.png")
    manifest = json.loads((out / MANIFEST).read_text())
    assert f"images/{png.name}" in manifest["files"] and manifest["dirs"] == ["images"]

    assert main(["run", str(case), "--model", "none", "--out", str(out)]) == 0
    assert not (out / "images").exists(), "the old key image and the folder medboard made are gone"

    with FakeOpenAIServer(vision_responder(reading=reading), models=["fake-vision"]) as server:
        args = [
            "run",
            str(case),
            "--model",
            server.base_url,
            "--model-name",
            "fake-vision",
            "--out",
            str(out),
        ]
        assert main(args) == 0
    (out / "images" / "my-annotation.png").write_bytes(b"user bytes")
    assert main(["run", str(case), "--model", "none", "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "images").iterdir()) == ["my-annotation.png"]
    assert (out / "images" / "my-annotation.png").read_bytes() == b"user bytes"
    assert "images/my-annotation.png" not in json.loads((out / MANIFEST).read_text())["files"]


# --------------------------------------------------------------- publish, under the hood


def _staged(tmp_path: Path, files: dict[str, bytes]) -> Path:
    staging = tmp_path / f"staging-{len(list(tmp_path.iterdir()))}"
    for rel, data in files.items():
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_bytes(data)
    return staging


def test_a_publish_cut_short_leaves_files_medboard_still_owns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    publish.publish(_staged(tmp_path, {"summary.json": b"one", "summary.md": b"one"}), out)
    real_move = publish._move_into
    moved: list[Path] = []

    def dies_after_first(source: Path, target: Path) -> None:
        if moved:
            raise KeyboardInterrupt  # the process is killed mid-publish
        moved.append(target)
        real_move(source, target)

    monkeypatch.setattr(publish, "_move_into", dies_after_first)
    with pytest.raises(KeyboardInterrupt):
        publish.publish(_staged(tmp_path, {"summary.json": b"two!", "summary.md": b"two!"}), out)
    monkeypatch.setattr(publish, "_move_into", real_move)
    assert (out / "summary.json").read_bytes() == b"two!" and (out / "summary.md").read_bytes() == b"one"
    publish.publish(_staged(tmp_path, {"summary.json": b"three", "summary.md": b"three"}), out)
    assert (out / "summary.md").read_bytes() == b"three"
    manifest = json.loads((out / MANIFEST).read_text())
    assert all(len(v) == 1 for v in manifest["files"].values())


def test_publish_refuses_while_another_run_holds_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(OutputFolderError, match="another medboard run is writing to"):
            publish.publish(_staged(tmp_path, {"summary.json": b"x"}), out, lock_timeout_s=0.2)
    finally:
        os.close(fd)
    assert sorted(p.name for p in out.iterdir()) == [], "nothing was published"
    publish.publish(_staged(tmp_path, {"summary.json": b"x"}), out, lock_timeout_s=0.2)
    assert (out / "summary.json").read_bytes() == b"x"


def test_nothing_moves_when_one_target_is_foreign(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish.publish(_staged(tmp_path, {"summary.json": b"a", "images/k.png": b"png"}), out)
    (out / "summary.md").write_text("user's")
    before = snapshot(out)
    with pytest.raises(OutputFolderError, match=r"summary\.md"):
        publish.publish(_staged(tmp_path, {"summary.json": b"b", "summary.md": b"b"}), out)
    assert snapshot(out) == before, "the check runs before the first rename"


# ------------------------------------------------------------------ concurrent runs


def test_four_concurrent_runs_to_one_out_all_succeed(tmp_path: Path) -> None:
    """Serialised by the folder lock: every run publishes a complete set, the last one wins."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "medboard",
                "run",
                str(JENNY),
                "--model",
                "none",
                "--out",
                str(out),
                "--question",
                f"Question {i}?",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        for i in range(4)
    ]
    results = [(run.wait(timeout=300), run.stderr.read() if run.stderr else "") for run in runs]
    for run in runs:
        for stream in (run.stdout, run.stderr):
            if stream:
                stream.close()
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    assert all("Traceback" not in err for _, err in results)
    summary = CaseSummary.model_validate_json((out / "summary.json").read_text())
    assert summary.question in {f"Question {i}?" for i in range(4)}
    markdown = (out / "summary.md").read_text()
    assert summary.question in markdown, "summary.json and summary.md come from the same run"
    assert summary.question in (out / "report.html").read_text(), "and report.html too"
    manifest = json.loads((out / MANIFEST).read_text())
    for rel, (record,) in manifest["files"].items():
        assert record["size"] == (out / rel).stat().st_size
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "report.html", "summary.json", "summary.md"]
    assert not staging_left(tmp_path, out)


# --------------------------------------------------------- more hostile shapes of the same kind


def test_a_forged_manifest_cannot_reach_outside_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manifest naming "../victim.txt" with its true digest would make it "stale": refused whole."""
    import hashlib

    victim = tmp_path / "victim.txt"
    victim.write_text("not medboard's\n")
    record = {"size": victim.stat().st_size, "sha256": hashlib.sha256(victim.read_bytes()).hexdigest()}
    out = tmp_path / "out"
    out.mkdir()
    for forged in ("../victim.txt", str(victim), "images/../../victim.txt"):
        body = {"format": "medboard-manifest/1", "files": {forged: [record]}, "dirs": []}
        (out / MANIFEST).write_text(json.dumps(body))
        before = snapshot(tmp_path)
        refused(capsys, [str(JENNY), "--out", str(out)], "is not a medboard manifest")
        assert snapshot(tmp_path) == before and victim.exists()
    body = {"format": "medboard-manifest/1", "files": {}, "dirs": [".."]}
    (out / MANIFEST).write_text(json.dumps(body))
    refused(capsys, [str(JENNY), "--out", str(out)], "is not a medboard manifest")


def test_out_through_a_symlink_or_dots_to_the_case_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = case_folder_with_images(tmp_path / "case")
    (tmp_path / "link").symlink_to(case)
    before = snapshot(tmp_path)
    refused(capsys, [str(case), "--out", str(tmp_path / "link")], "holds the case input")
    refused(capsys, [str(case), "--out", str(case / "images" / ".." / ".")], "holds the case input")
    refused(capsys, [str(tmp_path / "link"), "--out", str(case)], "holds the case input")
    refused(capsys, [str(case), "--out", "/"], "holds the case input")
    assert snapshot(tmp_path) == before


def test_out_that_is_a_device_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    refused(capsys, [str(JENNY), "--out", "/dev/null"], "exists and is not a folder")


def test_a_cassette_recorded_where_medboard_writes_is_refused_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = [str(JENNY), "--record-cassette", str(out / "summary.json"), "--out", str(out)]
    refused(capsys, args, "summary.json", "is where medboard writes its outputs")
    refused(capsys, [str(JENNY), "--record-cassette", str(out), "--out", str(out)], "is also the file")
    assert not out.exists()
