"""FamilyMemberHistory -> ``family_history`` facts: one per relative's condition.

A relative with two cancers is two facts (``FamilyMemberHistory/x#condition[0]``, ``#condition[1]``),
as an Observation panel is one fact per component: each cites the element it reads, so a statement
about the aunt's ovarian cancer cites ``condition[0]``. A relative recorded without a condition (a
deceased father, a ``health-unknown`` mother) is one fact citing the resource's ``relationship``.

What a board reads from a family history — who, which disease, how young, whether it killed them —
is kept whole on every fact (the relative's relationship, sex and deceased repeat on each of their
conditions), so one line of the model's case context reads alone. The onset is kept as written and,
for an ``onsetAge``, as a number and unit the verifier compares "onset at 69 years" with. It is not
the fact's `value`: that is a measurement of the patient, and 69 years is the aunt's. Nothing is
inferred: no sex from the relationship, no age from a birth date. A resource ``entered-in-error``
still yields its facts, with that status, for the readers to leave out (as a refuted Condition).
"""

from __future__ import annotations

from typing import Any

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import FamilyHistoryDetails
from medboard.tools.fhir.codes import SNOMED
from medboard.tools.fhir.facts.common import (
    JSON,
    ExtractContext,
    Value,
    codings,
    display,
    first_code,
    read_value,
)

#: FHIR choice suffixes of ``condition.onset[x]`` and ``deceased[x]`` -> the ``value[x]`` key that
#: `read_value` reads the same datatype under (an Age is a Quantity).
_CHOICES = {
    "Age": "valueQuantity",
    "Range": "valueRange",
    "Period": "valuePeriod",
    "String": "valueString",
    "Date": "valueDateTime",
    "Boolean": "valueBoolean",
}


def _choice(element: JSON, prefix: str) -> tuple[str, Value] | None:
    """``(suffix, value)`` of a ``<prefix>[x]`` choice element, None when it has none."""
    for suffix, value_key in _CHOICES.items():
        if prefix + suffix in element:
            return suffix, read_value({value_key: element[prefix + suffix]})
    return None


def _deceased(resource: JSON) -> bool | str | None:
    """``deceasedBoolean`` as a bool; an Age, Range, date or string as written."""
    found = _choice(resource, "deceased")
    if found is None:
        return None
    suffix, value = found
    return bool(value.value) if suffix == "Boolean" else value.quote or None


def _notes(*elements: JSON) -> str | None:
    texts = [n["text"] for element in elements for n in element.get("note", ()) if n.get("text")]
    return "\n".join(texts) or None


def extract_family_history(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    relationship = display(resource.get("relationship"))
    relative = relationship or "relative"
    member: dict[str, Any] = {
        "relationship": relationship,
        "relationship_code": first_code(resource.get("relationship")),
        "sex": display(resource.get("sex")),
        "deceased": _deceased(resource),
    }
    shared: dict[str, Any] = {"status": resource.get("status"), "date": resource.get("date")}
    conditions = [(i, c) for i, c in enumerate(resource.get("condition", ())) if isinstance(c, dict)]
    if not conditions:
        return [
            ctx.fact(
                FactKind.family_history,
                key,
                relative,
                path="relationship",
                quote=relationship,
                codes=codings(resource.get("relationship")),
                text=_notes(resource),
                details=FamilyHistoryDetails(**member),
                **shared,
            )
        ]
    facts = []
    for index, condition in conditions:
        path = f"condition[{index}]"
        name = display(condition.get("code"))
        onset = _choice(condition, "onset")
        age = onset[1] if onset and onset[0] == "Age" and isinstance(onset[1].value, float) else None
        facts.append(
            ctx.fact(
                FactKind.family_history,
                key,
                f"{relative}: {name or 'condition not named'}",
                path=path,
                quote=name,
                fact_id=f"{key}#{path}",
                codes=codings(condition.get("code"), prefer=SNOMED),
                text=_notes(condition, resource),
                details=FamilyHistoryDetails(
                    **member,
                    condition=name,
                    onset=onset[1].quote if onset else None,
                    onset_age=age.value if age else None,
                    onset_unit=(age.unit_code or age.unit) if age else None,
                    contributed_to_death=condition.get("contributedToDeath"),
                    outcome=display(condition.get("outcome")),
                ),
                **shared,
            )
        )
    return facts
