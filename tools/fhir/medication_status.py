"""What a FHIR medication status says about whether the patient is on the drug: one table.

MedicationRequest, MedicationStatement, MedicationAdministration and MedicationDispense each have
their own status value set (R4). Every tool that asks "is this drug current?" reads the sets
below, so the EHR core, the verifier's status check, the discrepancy rules and the treatment
timeline cannot drift apart. The sets are nested on purpose — each says more than the one before:

- `TAKING` — the record says the drug is being given now (Request/Statement ``active``,
  Administration/Dispense ``in-progress``);
- `ON_THE_LIST` — on the medication list, though perhaps not taken today (``on-hold``, only
  ``intended``): the EHR core lists these, saying which;
- `ONGOING` — a line of therapy has not ended (orders still being prepared or drafted count);
- `NOT_CURRENT` — the record says the drug is not being taken (stopped, completed, refused, ...);
- `NOT_GIVEN` — the order or dose never happened: it starts no line and ends none;
- `INTERRUPTED` — a dose or order that did not go as ordered (stopped, not done, on hold), which
  the discrepancy rules set against an active order.
"""

from __future__ import annotations

TAKING = frozenset({"active", "in-progress"})
ON_THE_LIST = TAKING | {"on-hold", "intended"}
ONGOING = ON_THE_LIST | {"draft", "preparation"}
NOT_CURRENT = frozenset({"stopped", "completed", "cancelled", "entered-in-error", "not-taken", "declined"})
NOT_GIVEN = frozenset({"cancelled", "entered-in-error", "not-done", "not-taken"})
INTERRUPTED = frozenset({"stopped", "not-done", "on-hold"})
