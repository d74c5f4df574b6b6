"""A relative's death, as a statement about family history words it, against the relative's record.

"Deceased", "died" and "death" are generic words: the text checks account for them wherever they
stand, and whether the *patient* died is the record-global check's to judge (against the Patient
and every record of a death). In a statement that cites only FamilyMemberHistory resources they
are about the relative, and nothing checked them: "Family history: maternal aunt — ovarian cancer;
deceased" passed on an aunt the record does not say died. This check reads them against the cited
relatives (`FamilyHistoryDetails`):

- a death ("deceased", "died", "dead") needs a cited relative recorded deceased (``deceased[x]``
  other than ``false``);
- "contributed to death" / "cause of death" needs a cited condition with ``contributedToDeath``;
- "alive" / "living" / "not deceased" fails on a cited relative recorded deceased, and is accounted
  for only by one recorded ``deceasedBoolean: false`` (otherwise it stays unverifiable).

A statement citing anything besides family history is skipped: its death words may be the
patient's. Its failure contradicts; when it passes it accounts for "alive" and "living" (the death
words need no accounting: they are generic).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from medboard.models import CheckResult, EvidenceRef
from medboard.models.fact_kinds import FamilyHistoryDetails
from medboard.tools.checks.base import Part
from medboard.tools.checks.evidence import CitedEvidence
from medboard.tools.checks.extract import Claims
from medboard.tools.fhir.record import PatientRecord

FAMILY_AGREES = "family_history_agrees"

_CONTRIBUTED = re.compile(r"\bcontributed to (?:(?:his|her|their|the) )?death\b|\bcause of death\b", re.I)
_ALIVE = re.compile(r"\b(?:alive|living|not (?:deceased|dead)|did not die)\b", re.I)
_DIED = re.compile(r"\b(?:deceased|died|dead|death)\b", re.I)


def _relatives(cited: Sequence[CitedEvidence]) -> list[tuple[EvidenceRef, FamilyHistoryDetails]] | None:
    """The cited relatives' details; None when the statement cites anything but family history."""
    found = []
    for item in cited:
        if item.is_image or (item.reference or "").split("/")[0] != "FamilyMemberHistory":
            return None
        found += [(f.evidence, f.details) for f in item.facts if isinstance(f.details, FamilyHistoryDetails)]
    return found or None


def _stated(text: str) -> tuple[bool, bool, bool]:
    """(says a relative died, says a condition contributed to a death, says a relative is alive)."""
    contributed = bool(_CONTRIBUTED.search(text))
    rest = _ALIVE.sub(" ", _CONTRIBUTED.sub(" ", text))
    return bool(_DIED.search(rest)), contributed, bool(_ALIVE.search(text))


def check_family_history(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """What the statement says of a relative's death agrees with the cited family history."""
    del record, case_date, claims
    relatives = _relatives(cited)
    if relatives is None:
        return CheckResult(name=FAMILY_AGREES, outcome="skip", detail="cites no family history alone")
    died, contributed, alive = _stated(statement_text)
    if not (died or contributed or alive):
        return CheckResult(name=FAMILY_AGREES, outcome="skip", detail="says nothing of a relative's death")
    deceased = [ref for ref, d in relatives if d.deceased not in (None, False)]
    living = [ref for ref, d in relatives if d.deceased is False]
    causes = [ref for ref, d in relatives if d.contributed_to_death]
    problems = []
    if died and not deceased:
        problems.append("statement says a relative died; no cited family history records a death")
    if contributed and not causes:
        problems.append("statement says a condition contributed to a death; no cited condition did")
    if alive and deceased:
        problems.append("statement says a relative is alive; the cited family history records a death")
    evidence = list(dict.fromkeys([*deceased, *living, *causes])) or [ref for ref, _ in relatives]
    if problems:
        return CheckResult(name=FAMILY_AGREES, outcome="fail", detail="; ".join(problems), evidence=evidence)
    return CheckResult(
        name=FAMILY_AGREES,
        outcome="pass",
        detail="the relative's death as the cited family history records it",
        evidence=evidence,
    )


def family_parts(statement_text: str, claims: Claims, cited: Sequence[CitedEvidence]) -> list[Part]:
    """ "alive" / "living": the words this check answers for when a cited relative is recorded
    alive (the death words are generic). Where no cited record says so, nothing can."""
    del claims
    relatives = _relatives(cited)
    if relatives is None:
        return []
    recorded = any(d.deceased is False for _, d in relatives)
    return [
        Part(m[0], m.span(), by=None if recorded else frozenset()) for m in _ALIVE.finditer(statement_text)
    ]
