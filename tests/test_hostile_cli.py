"""The hostile-input corpus (tests/hostile) through the real CLI, one test per input.

Each input runs as a child process under an address-space cap (2 GiB) and a wall timeout, with
no model configured; the test asserts the exit code, one error line, no traceback, no raw
control/bidi characters, no credentials or identifiers in any output, bounded time and memory,
and that no file outside ``--out`` changed. A failure prints the input, the expected and actual
exit code, the stderr, the time and the peak memory.

The children run a few at a time (``MEDBOARD_HOSTILE_JOBS``, default 4): they mostly wait on
process start-up, a timeout or a fake endpoint, so the corpus takes minutes, not its sum.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from hostile import CORPUS
from hostile.runner import Verdict, run_item

JOBS = int(os.environ.get("MEDBOARD_HOSTILE_JOBS", "4"))
_ITEMS = sorted(CORPUS.values(), key=lambda item: (item.family, item.id))


def _execute(item_id: str, root: Path) -> Verdict:
    item = CORPUS[item_id]
    work = root / "work"
    home = root / "home"
    work.mkdir(parents=True)
    home.mkdir()
    invocation = item.build(work)
    try:
        return run_item(item_id, invocation, work, home)
    finally:
        if invocation.resource is not None:
            invocation.resource.close()
        _make_removable(work)


def _make_removable(root: Path) -> None:
    for folder, dirs, _ in os.walk(root):
        for name in dirs:
            path = Path(folder) / name
            if not path.is_symlink():
                path.chmod(0o755)


class _Pool:
    """Runs every selected corpus item once, `JOBS` at a time, in the order pytest will ask."""

    def __init__(self, selected: list[str], base: Path) -> None:
        self.base = base
        self.executor = ThreadPoolExecutor(max_workers=JOBS, thread_name_prefix="hostile")
        self.futures: dict[str, Future[Verdict]] = {
            # neutral folder names: a path printed in the output must never satisfy a flag pattern
            item_id: self.executor.submit(_execute, item_id, base / f"item{n:03d}")
            for n, item_id in enumerate(selected)
        }

    def result(self, item_id: str) -> Verdict:
        return self.futures[item_id].result()


@pytest.fixture(scope="module")
def hostile_pool(request: pytest.FixtureRequest) -> Iterator[_Pool]:
    selected = [
        item.callspec.params["item_id"]
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and hasattr(item, "callspec")
        and "item_id" in item.callspec.params
    ]
    base = Path(tempfile.mkdtemp(prefix="medboard-hostile-"))
    pool = _Pool(selected, base)
    yield pool
    pool.executor.shutdown(wait=True, cancel_futures=True)
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(
    "item_id",
    [
        pytest.param(item.id, marks=[pytest.mark.slow] if item.slow else [], id=f"{item.family}/{item.id}")
        for item in _ITEMS
    ],
)
def test_hostile_input(item_id: str, hostile_pool: _Pool) -> None:
    verdict = hostile_pool.result(item_id)
    if verdict.problems:
        pytest.fail(verdict.report(), pytrace=False)


def test_corpus_covers_every_family_of_the_issue() -> None:
    families = {item.family for item in CORPUS.values()}
    assert {
        "json-depth",
        "json-number",
        "json-duplicate-keys",
        "attachment",
        "case-yaml-date",
        "case-yaml-bytes",
        "case-yaml-path",
        "case-yaml-nesting",
        "case-yaml-confinement",
        "nrrd",
        "nifti",
        "png",
        "dicom",
        "out",
        "signals",
        "model-fault",
        "leak",
        "identifier-leak",
        "control-characters",
        "verify-gate",
        "devices",
        "size",
    } <= families
    assert len(CORPUS) >= 150


def test_flag_patterns_do_not_match_clean_output(tmp_path: Path) -> None:
    """A flag proves something only if clean inputs never print it: check each against real runs."""
    from hostile.corpus import BRAIN_IMAGE, BRAIN_LABEL, CHEST_PNG, FLAGS, JENNY_BUNDLE, case_folder
    from hostile.runner import child_env, output_texts, run_cli

    home = tmp_path / "home"
    home.mkdir()
    folder = case_folder(
        tmp_path,
        "id: clean\nrecord: bundle.json\ncase_date: 2019-01-01\nimages:\n"
        "  - path: cxr.png\n    date: 2018-05-01\n",
    )
    shutil.copy(CHEST_PNG, folder / "cxr.png")
    commands = {
        "run": ["run", str(folder), "--model", "none", "--out", str(tmp_path / "out")],
        "record": ["record", str(JENNY_BUNDLE), "--json"],
        "record-table": ["record", str(JENNY_BUNDLE)],
        "image-info": ["image", "info", str(BRAIN_IMAGE)],
        "image-measure": ["image", "measure", str(BRAIN_IMAGE), "--mask", str(BRAIN_LABEL)],
    }
    texts: dict[str, str] = {}
    for name, args in commands.items():
        outcome = run_cli(args, cwd=tmp_path, env=child_env(home))
        assert outcome.returncode == 0, f"clean command {name} failed: {outcome.stderr[-2000:]}"
        texts[name] = outcome.stdout + outcome.stderr
    texts.update(output_texts(tmp_path / "out"))
    for flag, pattern in FLAGS.items():
        for where, text in texts.items():
            hit = re.search(pattern, text, re.IGNORECASE)
            assert hit is None, f"flag {flag} /{pattern}/ matches clean output of {where}: {hit.group()!r}"
