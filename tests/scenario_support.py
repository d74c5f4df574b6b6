"""Helpers for the scenario tests: scenario files written into a temporary folder, pointing at the
real bundled data (scenarios/bundled/data) by absolute path."""

from __future__ import annotations

import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "scenarios" / "bundled"
DATA = BUNDLED / "data"
JENNY = DATA / "fhir" / "jenny-m.json"
CLL = DATA / "fhir" / "cll-adam-everyman.json"
JENNY_CASSETTE = BUNDLED / "cassettes" / "breast-jenny-m.jsonl"
JENNY_QUESTION = "Is she a candidate for breast-conserving surgery after neoadjuvant therapy?"


def write_scenario(folder: Path, body: str, name: str = "scenario_test.yaml") -> Path:
    """A scenario file from `body` (dedented); `{JENNY}`, `{CLL}`, `{DATA}` are filled in."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    text = textwrap.dedent(body).lstrip("\n")
    text = text.replace("{JENNY}", str(JENNY)).replace("{CLL}", str(CLL)).replace("{DATA}", str(DATA))
    path.write_text(text, encoding="utf-8")
    return path


def jenny_scenario(
    folder: Path, expect: str, *, model: str = "none", name: str = "scenario_jenny.yaml"
) -> Path:
    """The Jenny M case (no model by default) with the given `expect:` block (YAML list items)."""
    body = (
        "name: jenny\n"
        "tags: [breast]\n"
        "inputs:\n"
        "  record: {JENNY}\n"
        f"  question: {JENNY_QUESTION}\n"
        "  case_date: 2018-11-01\n"
        f"model: {model}\n"
        "expect:\n" + textwrap.indent(textwrap.dedent(expect).strip("\n"), "  ") + "\n"
    )
    return write_scenario(folder, body, name)
