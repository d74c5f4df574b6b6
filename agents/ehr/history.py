"""Risk factors and history: the patient's smoking, and each relative's recorded disease.

A board weighs a germline variant against the family it runs in (a PALB2 variant and a sister's
breast cancer), and a lung nodule against 20 pack-years; neither is a lab, a diagnosis or a
medication, so both were left unsaid. Here they become findings filed under the ``history`` topic,
which the board's "Risk factors and history" block states.

- **Smoking** — the latest tobacco-status Observation (`codes.TOBACCO_STATUS_CODES`) with its
  date, and the latest pack-years (`codes.PACK_YEARS_CODES`) when one is recorded: one finding
  citing both. Recognised by code, not by kind: US Core files smoking under ``social-history``,
  Synthea under ``survey``, and a sender may call it a lab; whichever kind the registry gave it,
  it is read here and only here. "Latest" is the latest the screen admits (nothing after the case
  date or the death), so a board at an earlier case date reads the status it had then.
- **Family history** — one finding per relative (one FamilyMemberHistory), naming the relationship
  and each condition with its onset; a relative who died is said to have died, and a condition
  that contributed to the death says so. Relatives with a cancer come first. A history entered in
  error is not stated.

Every sentence uses the record's own words (SNOMED CT semantic tags such as "(finding)" dropped),
numbers the verifier compares with the cited values (pack-years, onset in years), and dates of the
cited resources.
"""

from __future__ import annotations

from medboard.agents.ehr.screen import Screen
from medboard.agents.ehr.wording import AGENT, display_number, scalar
from medboard.models import Fact, FactKind, Finding, FindingCategory, SectionKind, iso_day
from medboard.models.dates import FhirDate
from medboard.models.fact_kinds import FamilyHistoryDetails
from medboard.tools.fhir.codes import PACK_YEARS_CODES, TOBACCO_STATUS_CODES
from medboard.tools.fhir.facts.common import without_semantic_tag
from medboard.tools.fhir.facts.condition import cancer_kind
from medboard.tools.fhir.record import PatientRecord

#: FamilyMemberHistory statuses whose facts are not the family's history.
_VOID = frozenset({"entered-in-error"})

#: UCUM codes of an age's unit -> the word a sentence uses (the verifier's unit service reads both).
_AGE_UNITS = {"a": "years", "mo": "months", "wk": "weeks", "d": "days"}


def _coded(fact: Fact, table: dict[str, str]) -> bool:
    return any(c.code in table for c in fact.codes)


def _latest(facts: list[Fact]) -> Fact | None:
    """The most recent fact (ties: the later id, so the choice is stable)."""
    return max(facts, key=lambda f: (f.date or "", f.id), default=None)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _on(fact: Fact) -> str:
    return f" on {iso_day(fact.date)}" if fact.date else ""


def smoking(record: PatientRecord, screen: Screen) -> list[Finding]:
    """ "Tobacco smoking status: Former smoker on 2021-02-25; 20 pack-years on 2018-03-16." """
    admitted = screen.keep(list(record.facts))
    status = _latest([f for f in admitted if _coded(f, TOBACCO_STATUS_CODES) and f.value is not None])
    packs = _latest([f for f in admitted if _coded(f, PACK_YEARS_CODES) and _is_number(f.value)])
    if status is None and packs is None:
        return []
    parts = []
    if status is not None:
        label, value = without_semantic_tag(status.label), without_semantic_tag(str(status.value))
        parts.append(f"{label}: {value}{_on(status)}")
    if packs is not None and isinstance(packs.value, int | float):
        # The code says pack-years; the units sources send ("{PackYears}", "1") say less.
        parts.append(f"{display_number(packs.value)} pack-years{_on(packs)}")
    text = "; ".join(parts) + "."
    cited = [f for f in (status, packs) if f is not None]
    return [
        Finding.create(
            agent=AGENT,
            category=FindingCategory.social_history,
            text=text if status is not None else f"Smoking: {text}",
            evidence=[f.evidence for f in cited],
            date=cited[0].date,
            value=scalar(packs) if packs is not None else None,
            unit=packs.unit if packs is not None else None,
            section=SectionKind.history,
            tags=["smoking"],
        )
    ]


def _condition_words(details: FamilyHistoryDetails) -> str:
    words = without_semantic_tag(details.condition or "")
    notes = []
    if details.onset_age is not None:
        unit = _AGE_UNITS.get(details.onset_unit or "", details.onset_unit or "")
        notes.append(f"onset at {display_number(details.onset_age)} {unit}".rstrip())
    elif details.onset:
        notes.append(f"onset {details.onset}")
    if details.contributed_to_death:
        notes.append("contributed to death")
    return f"{words} ({', '.join(notes)})" if notes else words


def _has_cancer(facts: list[Fact]) -> bool:
    return any(
        isinstance(f.details, FamilyHistoryDetails)
        and f.details.condition
        and cancer_kind({}, f.details.condition) is not None
        for f in facts
    )


def family_history(record: PatientRecord, screen: Screen) -> list[Finding]:
    """One finding per relative: "Family history: maternal aunt — Malignant tumor of ovary (onset at
    69 years)."; "…; deceased." when the record says the relative died."""
    by_relative: dict[str, list[Fact]] = {}
    for fact in screen.keep(record.facts_of(FactKind.family_history)):
        if (fact.status or "").lower() not in _VOID:
            by_relative.setdefault(fact.reference, []).append(fact)
    findings = []
    for facts in by_relative.values():
        details = [f.details for f in facts if isinstance(f.details, FamilyHistoryDetails)]
        if not details:
            continue
        first = details[0]
        who = first.relationship or "relative"
        if first.sex:
            who += f" ({first.sex})"
        conditions = [_condition_words(d) for d in details if d.condition is not None]
        text = f"Family history: {who}"
        if conditions:
            text += " — " + "; ".join(conditions)
        if first.deceased is True:
            text += "; deceased"
        elif isinstance(first.deceased, str) and first.deceased:
            # A deceasedDate is a date the verifier checks; an age or words are left to the details.
            died = FhirDate.try_parse(first.deceased)
            text += f"; deceased on {died.iso_day}" if died else "; deceased"
        cancer = _has_cancer(facts)
        findings.append(
            Finding.create(
                agent=AGENT,
                category=FindingCategory.family_history,
                text=text + ".",
                evidence=[f.evidence for f in facts],
                date=facts[0].date,
                section=SectionKind.history,
                tags=["family_history", *(["cancer_in_family"] if cancer else [])],
            )
        )
    findings.sort(key=lambda f: ("cancer_in_family" not in f.tags, f.text))
    return findings


def history_findings(record: PatientRecord, screen: Screen) -> list[Finding]:
    """Smoking first (the patient's own risk), then the family."""
    return [*smoking(record, screen), *family_history(record, screen)]
