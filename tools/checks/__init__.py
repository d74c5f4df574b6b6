"""The verifier's deterministic side: every statement checked against what it cites.

Layout (each check is `check_x(statement_text, cited, record, *, case_date, claims) -> CheckResult`,
declared once in `registry.py` with what its failure means and the parts of a statement it
accounts for — `base.py` says how; adding a check is its module plus one line there):

- `evidence.py`   resolve citations (`CitedEvidence`), evidence exists and is this patient's
- `numbers.py`    numbers agree with the cited values, unit-aware (`units.py` on `medboard.tools.units`)
- `dates.py`      dates and "N months ago" agree with the cited dates; ages with the birth date
- `arithmetic.py` worked calculations, latest/nadir/peak values and counts
- `laterality.py` the side named vs the side recorded
- `status.py`     negation and status (conditions, medications, qualitative results, metastasis)
- `staging.py`    T/N/M, stage groups, ER/PR/HER2, variants
- `subject.py`    the cited evidence mentions what the statement is about
- `record_global.py` what the whole record says of the patient: "current" on a stopped / stale
                  drug or line, a biomarker value beside a discordant result, an implausible
                  value, care after death, "alive" after a recorded death (the clinical picture)
- `claims.py`     a statement's structured claim (`medboard.models.claims`) against the picture
- `discrepancies.py` cross-source disagreements in the record (and between specialists)
- `registry.py`   `DEFAULT_CHECKS`, in the order they run; `base.py` the `Check` and `Part` types
- `pipeline.py`   `verify_statement`, `verify_summary` (async), `apply_verdicts`, `VerifyReport`
- `entailment.py` the contract for what the rules leave open: `EntailmentRequest` in,
                  `EntailmentJudgement` out, through an `EntailmentCallback`

`text.py` (folding, synonyms, negation scope) and `extract.py` (claims read from a statement)
serve them all. The model side (the MedGemma callback, `model_entailment`) is in
`medboard.agents.verifier`: tools never import agents. Names below load on first use, so
importing the package is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "verify_statement": "medboard.tools.checks.pipeline",
    "DEFAULT_CHECKS": "medboard.tools.checks.registry",
    "Check": "medboard.tools.checks.base",
    "Part": "medboard.tools.checks.base",
    "verify_summary": "medboard.tools.checks.pipeline",
    "verify_summary_sync": "medboard.tools.checks.pipeline",
    "apply_verdicts": "medboard.tools.checks.pipeline",
    "revision_feedback": "medboard.tools.checks.pipeline",
    "VerifyReport": "medboard.tools.checks.pipeline",
    "EntailmentRequest": "medboard.tools.checks.entailment",
    "EntailmentCallback": "medboard.tools.checks.entailment",
    "EntailmentJudgement": "medboard.tools.checks.entailment",
    "EvidenceQuote": "medboard.tools.checks.entailment",
    "find_discrepancies": "medboard.tools.checks.discrepancies",
    "check_claim": "medboard.tools.checks.claims",
    "CitedEvidence": "medboard.tools.checks.evidence",
    "resolve_citations": "medboard.tools.checks.evidence",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
