"""Is the summary one page a tumor board can read? Words, statements, repetition and a board checklist.

For every shared record (the embedded default case, the mCODE patient bundles, the Synthea
patients) this runs `medboard run --model none` — the CLI, so the same script measures any commit —
and prints per record:

- words in `summary.md` outside the appendix (the collapsed ``<details>`` block) and outside the
  run footer, and the words of the whole file;
- statements in `summary.json`, statements repeated (the same text twice, case and spacing
  folded), and the share of statements in the appendix;
- nothing lost: every finding of `summary.json` is cited by a statement or kept in the appendix
  (findings no statement cites are counted);
- the board checklist, read from the headline (section kind ``headline``) against the record's
  own picture (`medboard reconcile --json`): vital status (alive / died), each cancer named, its
  stage (a group the picture holds, or "stage not recorded"), and current therapy (the drugs of a
  current line, or "none"; not asked of a record with no cancer).

Run on two commits and compare (targets: the largest Synthea record ≤ 900 words outside the
appendix, 0 repeated statements, the checklist complete on every record)::

    git checkout <before> && python benchmarks/bench_board.py --json before.json
    git checkout <after>  && python benchmarks/bench_board.py --json after.json --before before.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir"
_WORD = re.compile(r"[A-Za-z0-9][\w\-.'/]*")
_DETAILS = re.compile(r"<details>.*?</details>", re.DOTALL)


def cases() -> list[Path | None]:
    bundles = sorted(SHARED.glob("mcode/Bundle-*.json")) + sorted(SHARED.glob("synthea/*.json"))
    return [None, *bundles]  # None: the embedded default case


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medboard", *args], capture_output=True, text=True, timeout=900
    )


def words(text: str) -> int:
    return len(_WORD.findall(text))


def page_words(markdown: str) -> int:
    """Words a board reads: the file without the collapsed appendix and the run footer."""
    body = _DETAILS.sub("", markdown)
    return words(body.split("\n## Run\n")[0])


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


def _content(name: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]{3,}", name.lower()) if w not in {"the", "and", "disorder", "of"}]


def checklist(headline: str, picture: dict[str, Any]) -> dict[str, bool]:
    """What a board needs from the headline, checked against the record's picture."""
    text = _fold(headline)
    out: dict[str, bool] = {"headline": bool(text)}
    patient = picture.get("patient") or {}
    out["vital status"] = (
        any(w in text for w in ("died", "deceased", "death")) if patient.get("deceased") else "alive" in text
    )
    every = picture.get("cancers", [])
    cancers = [c for c in every if c.get("kind") != "secondary"] or every
    for cancer in cancers:
        name = cancer.get("name") or ""
        content = _content(name)
        named = bool(content) and sum(w in text for w in content) / len(content) >= 0.6
        out[f"cancer: {name[:40]}"] = named
        groups = [_fold(s.get("group") or "") for s in cancer.get("stages", []) if s.get("group")]
        if groups:
            out[f"stage: {name[:40]}"] = any(g and g in text for g in groups)
        else:
            out[f"stage: {name[:40]}"] = "stage not recorded" in text or "no stage" in text
    current = [line for c in every for line in c.get("lines", []) if line["status"] == "current"]
    if current:
        out["current therapy"] = all(any(_fold(d) in text for d in line["drugs"]) for line in current)
    elif every:  # a record with no cancer has no line to be current or last: nothing to check
        out["current therapy"] = "none" in text or "no current" in text
    return out


def measure(case: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        args = ["run", *([str(case)] if case else []), "--model", "none", "--out", out]
        done = _run(args)
        if done.returncode != 0:
            return {"exit": done.returncode, "stderr": done.stderr.strip()[-300:]}
        summary = json.loads((Path(out) / "summary.json").read_text())
        markdown = (Path(out) / "summary.md").read_text()
    source = case
    if source is None:  # the embedded case's bundle is the Jenny M mCODE bundle
        source = SHARED / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
    reconciled = _run(["reconcile", str(source), "--json"])
    picture = json.loads(reconciled.stdout) if reconciled.returncode == 0 else {}
    statements = [(s["kind"], st) for s in summary["sections"] for st in s["statements"]]
    seen: set[str] = set()
    repeated = 0
    for _, st in statements:
        key = _fold(st["text"])
        repeated += key in seen
        seen.add(key)
    appendix = sum(1 for kind, _ in statements if kind == "appendix")
    cited = {i for _, st in statements for i in st.get("finding_ids", [])}
    struck = {i for x in summary.get("struck", []) for i in x["statement"].get("finding_ids", [])}
    unstated = [f for f in summary["findings"] if f["id"] not in cited | struck]
    headline = " ".join(st["text"] for kind, st in statements if kind == "headline")
    return {
        "exit": 0,
        "page_words": page_words(markdown),
        "all_words": words(markdown),
        "statements": len(statements),
        "repeated": repeated,
        "appendix_share": round(appendix / len(statements), 3) if statements else 0.0,
        "findings_not_stated": len(unstated),
        "headline_words": words(headline),
        "checklist": checklist(headline, picture),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="Write the figures here.")
    parser.add_argument("--before", type=Path, help="Figures of an earlier run, shown beside these.")
    args = parser.parse_args()
    before = json.loads(args.before.read_text()) if args.before else {}
    result: dict[str, Any] = {}
    print(f"{'record':44} {'page words':>12} {'statements':>12} {'repeated':>9} {'appendix':>9} checklist")
    for case in cases():
        name = "default" if case is None else case.name
        figures = result[name] = measure(case)
        if figures["exit"]:
            print(f"{name:44} exit {figures['exit']}: {figures['stderr']}")
            continue
        old = before.get(name, {})

        def pair(key: str, figures: dict[str, Any] = figures, old: dict[str, Any] = old) -> str:
            return f"{old[key]}→{figures[key]}" if key in old else str(figures[key])

        done = figures["checklist"]
        missing = [k for k, ok in done.items() if not ok]
        print(
            f"{name:44} {pair('page_words'):>12} {pair('statements'):>12} {pair('repeated'):>9} "
            f"{pair('appendix_share'):>9} {sum(done.values())}/{len(done):<8}"
            + (f" missing: {', '.join(missing)}" if missing else "")
        )
        if figures["findings_not_stated"]:
            print(f"{'':44} findings neither stated nor in the appendix: {figures['findings_not_stated']}")
    synthea = [
        v for k, v in result.items() if k.endswith(".json") and not k.startswith("Bundle") and not v["exit"]
    ]
    if synthea:
        largest = max(synthea, key=lambda v: v["all_words"])
        print(f"largest Synthea record: {largest['page_words']} words outside the appendix (target ≤ 900)")
    complete = all(all(v["checklist"].values()) for v in result.values() if not v["exit"])
    print(f"checklist complete on every record: {complete}")
    print(f"repeated statements in all: {sum(v.get('repeated', 0) for v in result.values())}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
