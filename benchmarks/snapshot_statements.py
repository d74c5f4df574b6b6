"""Snapshot what `medboard run --model none` states about every shared bundle, for before/after diffs.

A restructure must not change what the summary says. This prints (or writes with ``--out``) one JSON
document: per case, every section's statements with their text, verdict and cited evidence, the
open questions, discrepancies and warnings — everything but timings and timestamps. Run it on two
checkouts and diff the files::

    python benchmarks/snapshot_statements.py --out before.json   # on the old commit
    python benchmarks/snapshot_statements.py --out after.json    # on the new one
    diff before.json after.json && echo identical
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir"


def cases() -> list[Path | None]:
    bundles = sorted(SHARED.glob("mcode/Bundle-*.json")) + sorted(SHARED.glob("synthea/*.json"))
    return [None, *bundles]  # None: the embedded default case


def snapshot(case: Path | None) -> dict:
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "medboard", "run", "--model", "none", "--out", out]
        if case is not None:
            command.insert(4, str(case))
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            return {"exit": done.returncode, "stderr": done.stderr.strip()[-500:]}
        summary = json.loads((Path(out) / "summary.json").read_text())
    sections = []
    for section in summary["sections"]:
        sections.append(
            {
                "kind": section["kind"],
                "title": section["title"],
                "status": section["status"],
                "error": section.get("error"),
                "open_questions": section.get("open_questions", []),
                "statements": [
                    {
                        "text": s["text"],
                        "verdict": (s.get("verdict") or {}).get("verdict"),
                        "reason": (s.get("verdict") or {}).get("reason"),
                        "checks": [
                            [c["name"], c["outcome"], c.get("detail", "")]
                            for c in (s.get("verdict") or {}).get("checks", [])
                        ],
                        "evidence": sorted(e["reference"] for e in s.get("evidence", [])),
                    }
                    for s in section["statements"]
                ],
            }
        )
    return {
        "exit": 0,
        "sections": sections,
        "struck": summary.get("struck", []),
        "discrepancies": summary.get("discrepancies", []),
        "warnings": summary.get("run", {}).get("warnings", []),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = {}
    for case in cases():
        name = "default" if case is None else case.name
        result[name] = snapshot(case)
        statements = sum(len(s["statements"]) for s in result[name].get("sections", []))
        print(f"{name}: exit {result[name]['exit']}, {statements} statements", file=sys.stderr)
    text = json.dumps(result, indent=1, sort_keys=True)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
