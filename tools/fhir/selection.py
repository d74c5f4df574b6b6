"""Picking facts: the selections several agents make the same way."""

from __future__ import annotations

from collections.abc import Iterable

from medboard.models import Fact


def code_key(fact: Fact) -> str:
    """What makes two facts 'the same test': the first coding (system|code), else the label."""
    if fact.codes and fact.codes[0].code:
        return f"{fact.codes[0].system}|{fact.codes[0].code}"
    return fact.label


def latest_per_code(facts: Iterable[Fact]) -> list[Fact]:
    """The most recent fact for each code, in first-seen order of the codes."""
    latest: dict[str, Fact] = {}
    for fact in facts:
        key = code_key(fact)
        if key not in latest or (fact.date or "") > (latest[key].date or ""):
            latest[key] = fact
    return list(latest.values())
