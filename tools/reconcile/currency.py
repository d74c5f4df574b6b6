"""What "current" means: the one rule every medication and line of therapy is judged by.

A drug (or a line) is **current** at the case date only when all of these hold:

1. no source stops or completes it (a stopped statement, a completed order, an end date on or
   before the case date);
2. the patient was alive at the case date;
3. there is evidence of it within its kind's window before the case date (`WINDOW_DAYS`).

A stop is a stop only when nothing restarts the drug after it: the caller passes the stop that
follows the last evidence (`medications.py`: a new order after a stopped one restarts it).

Otherwise it is **stopped** or **completed** (a source says so), **stale** (still marked active,
but its last evidence is older than the window, or the patient died), or **unknown** (the record
cannot tell: no status and no dates). Events after the case date do not make anything current.

Windows, and why (they bound how long an order stays believable without fresh evidence):
- ``cyclic`` (intravenous chemotherapy, immunotherapy): 42 days — the longest common cycle
  (21 days) twice over: one missed record does not end a line, two do;
- ``oral`` (daily oral drugs, hormonal therapy): 120 days — a 90-day supply plus a month's grace;
- ``long_acting`` (depot injections such as leuprolide, goserelin, fulvestrant, denosumab):
  200 days — the 6-monthly depot plus grace;
- ``default``: 120 days, as for oral drugs (most chronic medications in these records).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from medboard.models.picture import CurrencyStatus

TherapyKind = Literal["cyclic", "oral", "long_acting", "default"]

WINDOW_DAYS: dict[TherapyKind, int] = {"cyclic": 42, "oral": 120, "long_acting": 200, "default": 120}


@dataclass(frozen=True)
class Currency:
    status: CurrencyStatus
    reason: str


def judge_currency(
    *,
    case_date: date,
    last_evidence: date | None,
    stopped_on: date | None = None,
    completed_on: date | None = None,
    marked_active: bool = False,
    deceased_on: date | None = None,
    deceased: bool = False,
    kind: TherapyKind = "default",
) -> Currency:
    """The status at `case_date` from what the sources say (see the module docstring)."""
    window = WINDOW_DAYS[kind]
    if stopped_on is not None and stopped_on <= case_date:
        return Currency("stopped", f"stopped on {stopped_on.isoformat()}")
    if completed_on is not None and completed_on <= case_date:
        return Currency("completed", f"completed on {completed_on.isoformat()}")
    if deceased_on is not None and deceased_on <= case_date:
        return Currency("stale", f"the patient died on {deceased_on.isoformat()}")
    if deceased and deceased_on is None:
        return Currency("stale", "the patient is recorded as deceased")
    if last_evidence is None:
        return Currency("unknown", "no dated evidence")
    age = (case_date - last_evidence).days
    if age < 0:
        return Currency("unknown", f"only evidence after the case date ({last_evidence.isoformat()})")
    span = f"window {window} days, {kind}"
    if age <= window:
        return Currency("current", f"evidence {age} days before the case date ({span})")
    if marked_active:
        return Currency("stale", f"still marked active, but the last evidence is {age} days old ({span})")
    return Currency("completed", f"no evidence for {age} days ({span}) and no active order")
