"""The verifier's deterministic side: every statement checked against what it cites.

Layout (each check is `check_x(statement_text, cited, record, *, case_date, claims) -> CheckResult`):

- `evidence.py`   resolve citations (`CitedEvidence`), evidence exists and is this patient's
- `numbers.py`    numbers agree with the cited values, unit-aware (`units.py` on `medboard.tools.units`)
- `dates.py`      dates and "N months ago" agree with the cited dates; ages with the birth date
- `arithmetic.py` worked calculations, latest/nadir/peak values and counts
- `laterality.py` the side named vs the side recorded
- `status.py`     negation and status (conditions, medications, qualitative results, metastasis)
- `staging.py`    T/N/M, stage groups, ER/PR/HER2, variants
- `subject.py`    the cited evidence mentions what the statement is about
- `discrepancies.py` cross-source disagreements in the record (and between specialists)
- `pipeline.py`   `verify_statement`, `verify_summary` (async), `apply_verdicts`, `VerifyReport`

`text.py` (folding, synonyms, negation scope) and `extract.py` (claims read from a statement)
serve them all. The model side (entailment for what the rules leave open) is in
`medboard.agents.verifier`. Names below load on first use, so importing the package is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "verify_statement": "medboard.tools.checks.pipeline",
    "verify_summary": "medboard.tools.checks.pipeline",
    "verify_summary_sync": "medboard.tools.checks.pipeline",
    "apply_verdicts": "medboard.tools.checks.pipeline",
    "revision_feedback": "medboard.tools.checks.pipeline",
    "VerifyReport": "medboard.tools.checks.pipeline",
    "EntailmentRequest": "medboard.tools.checks.pipeline",
    "EntailmentCallback": "medboard.tools.checks.pipeline",
    "EvidenceQuote": "medboard.tools.checks.pipeline",
    "find_discrepancies": "medboard.tools.checks.discrepancies",
    "CitedEvidence": "medboard.tools.checks.evidence",
    "resolve_citations": "medboard.tools.checks.evidence",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
