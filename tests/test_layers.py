"""The layer contract holds on the source tree, and a planted violation of each kind fails it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from layer_contract import check, layer_of, modules

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "medboard", "agents", "tools", "orchestrator", "scenarios")


def test_the_source_tree_keeps_its_layers() -> None:
    violations = check(ROOT)
    assert not violations, "layer contract broken:\n" + "\n".join(map(str, violations))


def test_every_module_is_in_a_layer() -> None:
    found = modules(ROOT)
    assert "medboard.agents.node" in found and "medboard.tools.checks.pipeline" in found
    unplaced = [m for m in found if m != "medboard" and layer_of(m) is None]
    assert not unplaced, f"modules outside every layer: {unplaced}"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the sources to plant violations in."""
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tmp_path / name)
    assert not check(tmp_path), "the copy starts clean"
    return tmp_path


PLANTED = {
    "upward, hidden under TYPE_CHECKING": (
        "tools/fhir/planted.py",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from medboard.agents.case import CaseContext\n",
        "upward import: tools → agents",
    ),
    "upward, inside a function": (
        "agents/planted.py",
        "def f():\n    from medboard.orchestrator.flow import run_case_flow\n    return run_case_flow\n",
        "upward import: agents → orchestrator",
    ),
    "the agent framework in tools": (
        "tools/imaging/planted.py",
        "from autogen_core import Image\n",
        "tools must not use autogen_core",
    ),
    "openai in the vocabulary": ("medboard/models/planted.py", "import openai\n", "must not use openai"),
    "sibling layers": ("tools/planted.py", "from medboard.llm import calls\n", "sibling layers: tools → llm"),
    "one specialist importing another": (
        "agents/longitudinal/planted.py",
        "from ..imaging.core import AGENT\n",  # relative imports are resolved too
        "are independent",
    ),
}


@pytest.mark.parametrize("kind", list(PLANTED))
def test_a_planted_violation_fails_the_contract(tree: Path, kind: str) -> None:
    path, source, rule = PLANTED[kind]
    (tree / path).write_text(source)
    violations = check(tree)
    assert len(violations) == 1, violations
    assert violations[0].file == path and rule in violations[0].rule


def test_every_package_folder_is_installed() -> None:
    """pyproject.toml lists packages by hand (the folders install under `medboard.`): a new folder
    missing from the list would vanish from a regular install while an editable one still ran."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {name for name, file in modules(ROOT).items() if file.name == "__init__.py"}
    assert folders == listed, f"unlisted: {sorted(folders - listed)}; no folder: {sorted(listed - folders)}"
