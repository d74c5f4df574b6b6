"""How the longitudinal comparer's deterministic findings are made: its name, and evidence cited once.

Shared by `core.py` (trends, kinetics, RECIST, the timeline) and `lines.py` (lines per cancer), so a
finding's id — derived from agent, category, text and evidence — is computed the same way for both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from medboard.models import EvidenceRef, Finding, FindingCategory

AGENT = "longitudinal"


def unique(refs: Iterable[EvidenceRef]) -> list[EvidenceRef]:
    """Each (reference, element path) once, first occurrence first."""
    seen: set[tuple[str, str | None]] = set()
    out = []
    for ref in refs:
        key = (ref.reference, ref.path)
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return out


def finding(category: FindingCategory, text: str, evidence: Iterable[EvidenceRef], **fields: Any) -> Finding:
    """A deterministic finding of this agent, citing each piece of evidence once."""
    return Finding.create(agent=AGENT, category=category, text=text, evidence=unique(evidence), **fields)
