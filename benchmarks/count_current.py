"""Per shared Synthea record: medications stated current, and lines stated ongoing or current.

The reconciliation issue's before/after figure. It calls the specialists' deterministic cores the
same way on any commit since the restructure, so run it on two checkouts and compare::

    git checkout 7c92138 && python benchmarks/count_current.py   # before reconciliation
    git checkout main    && python benchmarks/count_current.py
"""

from __future__ import annotations

from pathlib import Path

from medboard.agents.ehr.core import ehr_findings
from medboard.agents.longitudinal.core import longitudinal_findings
from medboard.tools.fhir import load_record

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir" / "synthea"


def main() -> None:
    print(f"{'record':24} {'current medications':>20} {'lines ongoing/current':>22}")
    for path in sorted(SHARED.glob("*.json")):
        record = load_record(path)
        meds = sum(f.text.startswith("Current medication") for f in ehr_findings(record))
        lines = [f.text for f in longitudinal_findings(record) if f.text.startswith("Line")]
        ongoing = sum("ongoing" in t or ", current)" in t for t in lines)
        print(f"{path.stem:24} {meds:>20} {ongoing:>22}")


if __name__ == "__main__":
    main()
