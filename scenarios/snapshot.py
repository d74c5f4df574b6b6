"""Snapshot expectation: the published statements equal a stored JSON snapshot.

What is compared is what a clinician reads and what it rests on — each statement's section (and
subject, for a per-cancer section), text, verdict and evidence references, in order. Statement and
finding ids, timings, token counts and run metadata are left out, so a snapshot changes only when
the summary does. A mismatch reports a unified diff with one line per statement.

Why not syrupy: syrupy is a pytest *fixture* (`snapshot`) bound to test functions, its storage and
`--snapshot-update` keyed by function node ids; scenario expectations are items collected from
YAML, without fixtures, and the same check also runs from `medboard scenarios run` outside pytest.
The comparison itself is a few lines of canonical JSON and difflib.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medboard.safeio import read_text_bounded
from medboard.scenarios.checks import Outcome, describe

if TYPE_CHECKING:
    from medboard.models import CaseSummary
    from medboard.scenarios.runner import ScenarioRun
    from medboard.scenarios.spec import Snapshot

DIFF_LINES = 80


def snapshot_of(summary: CaseSummary) -> dict[str, Any]:
    """The comparable content of a summary (no ids, timings or run metadata)."""
    statements = []
    for section in summary.sections:
        for statement in section.statements:
            entry: dict[str, Any] = {"section": section.kind}
            if section.subject:
                entry["subject"] = section.subject
            entry["text"] = statement.text
            entry["verdict"] = statement.verdict.verdict.value if statement.verdict else None
            entry["evidence"] = [e.reference for e in statement.evidence]
            statements.append(entry)
    return {"case": summary.case_id, "statements": statements}


def render(snapshot: dict[str, Any]) -> list[str]:
    """One line per statement: what the diff shows."""
    lines = []
    for st in snapshot.get("statements", []):
        subject = f" {st['subject']}" if st.get("subject") else ""
        lines.append(
            f"[{st.get('section')}{subject}] ({st.get('verdict')}) {st.get('text')} "
            f"<- {', '.join(st.get('evidence') or [])}"
        )
    return lines


def write_snapshot(path: Path, snapshot: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps(snapshot, indent=1, ensure_ascii=False) + "\n"
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(body, encoding="utf-8")
    temporary.replace(path)


def check_snapshot(exp: Snapshot, run: ScenarioRun, *, update: bool = False) -> Outcome:
    assert run.summary is not None
    path = run.scenario.resolve(exp.path)
    current = snapshot_of(run.summary)
    if update:
        write_snapshot(path, current)
        return Outcome(True, describe(exp), f"snapshot written ({len(current['statements'])} statements)")
    if not path.is_file():
        return Outcome(
            False,
            describe(exp),
            "no snapshot stored yet",
            [f"write it with --scenario-update-snapshots (pytest) or --update-snapshots: {path}"],
        )
    try:
        stored = json.loads(read_text_bounded(path, cap="max_file_bytes"))
    except json.JSONDecodeError as error:
        return Outcome(
            False, describe(exp), f"the stored snapshot is not JSON ({error.msg}, line {error.lineno})"
        )
    if stored == current:
        return Outcome(True, describe(exp), f"{len(current['statements'])} statements, unchanged")
    diff = list(
        difflib.unified_diff(render(stored), render(current), "snapshot", "this run", n=1, lineterm="")
    )
    if len(diff) > DIFF_LINES:
        diff = [*diff[:DIFF_LINES], f"... ({len(diff) - DIFF_LINES} more diff lines)"]
    if len(diff) == 0:  # same statements, other top-level content (the case name)
        diff = [f"case: stored {stored.get('case')!r}, this run {current.get('case')!r}"]
    changed = sum(1 for line in diff if line.startswith(("-[", "+[")))
    return Outcome(
        False,
        describe(exp),
        f"{changed} statement line(s) differ (stored {len(stored.get('statements', []))}, "
        f"now {len(current['statements'])})",
        [*diff, "update it with --scenario-update-snapshots if the change is intended"],
    )
