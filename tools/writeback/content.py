"""What a written summary *says*, and the hash that names it.

Idempotency rests on this: the Composition's `identifier` (system `urn:medboard:summary`) and the
Provenance's `meta.tag` carry `summary_hash`, and the transaction creates each only if none with
that hash exists. So the hash must change exactly when what would be written changes, and never
otherwise:

- in: the case id, the subject written (`patient_ref`) and the summary's own patient, the board
  question, the disclaimer; every section's kind, title, subject, columns, status, error and open
  questions; every written statement's text, table cells, verdict label and citations (reference,
  element path, image box); the discrepancies; how many statements were struck (the narrative says
  so); the medboard version and the model name (the Device and Provenance name them: the same text
  from another model or another medboard is another document with another author).
- out: run timings, start/finish times, agent token counts, statement/finding/discrepancy ids
  (derived, and not what a reader reads), the verifier's check details and reasons (not written),
  the model endpoint (deployment detail, possibly a credential), the quoted source values (the
  cited resources are the source), and the struck statements' text (never written).

The hash is SHA-256 over canonical JSON (sorted keys, no whitespace, UTF-8), with a format number
so that a change in what write-back emits can deliberately start new documents.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from medboard.models import CaseSummary, EvidenceRef, Statement

#: Bump when the written documents change shape, so that old and new never share an identifier.
CONTENT_FORMAT = 1


def _citation(ref: EvidenceRef) -> dict[str, Any]:
    return {"reference": ref.reference, "path": ref.path, "box": list(ref.box) if ref.box else None}


def _statement(statement: Statement) -> dict[str, Any]:
    return {
        "text": statement.text,
        "cells": statement.cells,
        "verdict": statement.verdict.verdict.value if statement.verdict else None,
        "citations": [_citation(ref) for ref in statement.evidence],
    }


def clinical_content(summary: CaseSummary, *, patient_ref: str) -> dict[str, Any]:
    """The part of `summary` that write-back writes (see the module docstring), as plain data."""
    model = summary.run.model
    return {
        "format": CONTENT_FORMAT,
        "subject": patient_ref,
        "case_id": summary.case_id,
        "patient": summary.patient,
        "question": summary.question,
        "disclaimer": summary.disclaimer,
        "medboard_version": summary.run.medboard_version,
        "model": model.name if model else None,
        "sections": [
            {
                "kind": section.kind,
                "title": section.title,
                "subject": section.subject,
                "columns": section.columns,
                "status": section.status,
                "error": section.error,
                "open_questions": section.open_questions,
                "statements": [_statement(st) for st in section.statements],
            }
            for section in summary.sections
        ],
        "discrepancies": [
            {
                "kind": d.kind,
                "description": d.description,
                "severity": d.severity,
                "sources": [_citation(ref) for ref in d.sources],
            }
            for d in summary.discrepancies
        ],
        "struck": len(summary.struck),
    }


def summary_hash(summary: CaseSummary, *, patient_ref: str) -> str:
    """SHA-256 (hex) of `clinical_content`: equal for the same written content, and only then."""
    canonical = json.dumps(
        clinical_content(summary, patient_ref=patient_ref),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    # surrogatepass: a lone surrogate in record text still hashes (the narrative shows it escaped).
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
