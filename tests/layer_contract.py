"""The layer contract: which part of medboard may import which, checked by walking every import.

medboard's design (docs/architecture.md) stacks its packages; nothing imports upward:

    vocabulary (medboard.models, errors, limits, safeio, textsafety)
      → tools (medboard.tools)  |  model layer (medboard.llm)      — siblings: neither imports the other
      → agents (medboard.agents)
      → orchestrator (medboard.orchestrator)
      → interfaces (medboard.api, cli, report, scenarios, service)

and the agent framework stays where it belongs: tools and the vocabulary import neither autogen
nor openai; the model layer uses the model client (autogen-core/-ext) but not AgentChat. Inside
the agent layer, one specialist's folder never imports another's (shared code lives beside them).

Why a walker and not import-linter: import-linter (grimp) cannot see packages laid out by
setuptools ``package-dir`` on an editable install, and a regular install into a scratch folder for
every test run costs more than this whole check. The walker reads every ``import`` statement in
the source — module level, inside functions and under ``TYPE_CHECKING`` alike (a hidden cycle is
still a cycle) — and maps files to module names with the same ``package-dir`` table pyproject.toml
gives setuptools.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

#: Layers, lowest first. A module may import its own layer and any layer of a lower rank; layers
#: of the same rank are siblings and may not import each other.
LAYERS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    (
        "vocabulary",
        0,
        ("medboard.models", "medboard.errors", "medboard.limits", "medboard.safeio", "medboard.textsafety"),
    ),
    ("tools", 1, ("medboard.tools",)),
    ("llm", 1, ("medboard.llm",)),
    ("agents", 2, ("medboard.agents",)),
    ("orchestrator", 3, ("medboard.orchestrator",)),
    (
        "interfaces",
        4,
        (
            "medboard.api",
            "medboard.cli",
            "medboard.report",
            "medboard.scenarios",
            "medboard.service",
            "medboard.examples",
            "medboard.__main__",
            # The tumor board runs whole cases through the public API (medboard.api.run_case) and
            # renders their reports (medboard.report), as the service does: it composes interfaces,
            # so it ranks with them (longest prefix wins). It sits under orchestrator/ because it
            # orchestrates many cases; nothing in the orchestrator imports it.
            "medboard.orchestrator.board",
        ),
    ),
)

#: Third-party packages a layer must not import.
FORBIDDEN_EXTERNAL: dict[str, tuple[str, ...]] = {
    "vocabulary": ("autogen_core", "autogen_agentchat", "autogen_ext", "openai"),
    "tools": ("autogen_core", "autogen_agentchat", "autogen_ext", "openai"),
    "llm": ("autogen_agentchat",),
}

#: Packages inside one layer that must stay independent of each other (one home per specialist).
INDEPENDENT: tuple[str, ...] = (
    "medboard.agents.ehr",
    "medboard.agents.imaging",
    "medboard.agents.longitudinal",
    "medboard.agents.synthesizer",
    "medboard.agents.verifier",
)


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    importer: str
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.importer} imports {self.imported} ({self.rule})"


def package_dirs(root: Path) -> dict[str, Path]:
    """Package name → folder, from pyproject.toml's setuptools ``package-dir``."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    table = config["tool"]["setuptools"]["package-dir"]
    return {package: root / folder for package, folder in table.items()}


def modules(root: Path) -> dict[str, Path]:
    """Every module of the project (dotted name → file), as installed."""
    found: dict[str, Path] = {}
    dirs = package_dirs(root)
    for package, folder in sorted(dirs.items(), key=lambda item: len(item[0])):
        for file in folder.rglob("*.py"):
            relative = file.relative_to(folder).with_suffix("").parts
            if any(part.startswith(".") for part in relative):
                continue
            parts = [*package.split("."), *relative]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join(parts)
            # A nested package-dir entry (medboard.agents → agents/) wins over its parent's folder.
            owner = max((p for p in dirs if name == p or name.startswith(p + ".")), key=len)
            if owner == package:
                found[name] = file
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> tuple[str, int] | None:
    """The module's layer (name, rank): the longest prefix that claims it."""
    best: tuple[str, int, int] | None = None
    for name, rank, prefixes in LAYERS:
        for prefix in prefixes:
            if within(module, prefix) and (best is None or len(prefix) > best[2]):
                best = (name, rank, len(prefix))
    return (best[0], best[1]) if best else None


def imports_of(file: Path, module: str) -> list[tuple[int, str]]:
    """Every imported module name in the file (absolute; relative imports resolved), with its line."""
    tree = ast.parse(file.read_text(), filename=str(file))
    is_package = file.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            found.append((node.lineno, base))
            # `from medboard import agents` imports a module too
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names if base == "medboard")
    return found


def check(root: Path) -> list[Violation]:
    """All violations of the contract in the source tree at `root`."""
    violations: list[Violation] = []
    for module, file in sorted(modules(root).items()):
        mine = layer_of(module)
        if mine is None:
            continue  # the package root `medboard` (its __init__ imports nothing of ours)
        shown = str(file.relative_to(root))
        for line, imported in imports_of(file, module):
            top = imported.split(".")[0]
            if top in FORBIDDEN_EXTERNAL.get(mine[0], ()):
                violations.append(Violation(shown, line, module, imported, f"{mine[0]} must not use {top}"))
                continue
            if top != "medboard" or imported == "medboard":
                continue
            theirs = layer_of(imported)
            if theirs is None:
                continue
            if theirs[0] != mine[0] and theirs[1] >= mine[1]:
                rule = "sibling layers" if theirs[1] == mine[1] else "upward import"
                violations.append(
                    Violation(shown, line, module, imported, f"{rule}: {mine[0]} → {theirs[0]}")
                )
                continue
            for package in INDEPENDENT:
                inside = within(module, package)
                other = next((p for p in INDEPENDENT if p != package and within(imported, p)), None)
                if inside and other:
                    violations.append(
                        Violation(shown, line, module, imported, f"{package} and {other} are independent")
                    )
    return violations
