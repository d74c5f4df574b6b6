"""Numbers, ages and the record fact behind a series point, as the key-labs, fitness and
data-quality blocks write them.

Numbers are shown to 4 significant digits, as the EHR specialist shows them (the verifier compares
at the precision written, so "15.18 g/dL" meets 15.1783 g/dL). An age is written the way the
verifier reads a relative date ("4 years before the case date": the case date minus four years,
give or take half a year), so it is checked, not merely printed.
"""

from __future__ import annotations

import re
import weakref
from collections import defaultdict

from medboard.models import Fact
from medboard.models.picture import LabSeries
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.longitudinal.trends import loinc_code

_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")


def label(text: str) -> str:
    """A record's display without invisible characters (Synthea writes "Mass/\u200bvolume"): they
    carry nothing for a reader and survive Markdown escaping as visible noise."""
    return _INVISIBLE.sub("", text)


def number(value: float | int) -> str:
    """4 significant digits (integers as written)."""
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    text = f"{value:.4g}"
    return f"{value:.1f}" if "e" in text else text


def quantity(value: float | int, unit: str | None) -> str:
    return f"{number(value)} {unit}" if unit else number(value)


def age_words(days: int) -> str:
    """ "12 days" / "5 months" / "4 years": an interval the verifier's relative dates accept."""
    if days < 60:
        return f"{days} day{'s' if days != 1 else ''}"
    months = round(days / 30.4375)
    if months < 24:
        return f"{months} months"
    return f"{round(days / 365.25)} years"


def age_cell(days: int) -> str:
    """The same interval, short, for a table cell."""
    if days < 60:
        return f"{days} d"
    months = round(days / 30.4375)
    return f"{months} mo" if months < 24 else f"{round(days / 365.25)} y"


#: id(record) -> its facts by resource reference; an entry goes with its record (as
#: `tools.reconcile.picture_of` keeps pictures: records compare by value and are not hashable).
_BY_REFERENCE: dict[int, dict[str, list[Fact]]] = {}


def facts_citing(record: PatientRecord, reference: str) -> list[Fact]:
    """`PatientRecord.facts_citing`, indexed once per record: the blocks look up hundreds of
    resources (a line of 96 orders, every record after a death) and a scan each is quadratic."""
    key = id(record)
    if key not in _BY_REFERENCE:
        index: dict[str, list[Fact]] = defaultdict(list)
        for fact in record.facts:
            index[fact.evidence.reference].append(fact)
        _BY_REFERENCE[key] = index
        weakref.finalize(record, _BY_REFERENCE.pop, key, None)
    return list(_BY_REFERENCE[key].get(record.canonical(reference) or reference, []))


def point_fact(record: PatientRecord | None, source: str, series: LabSeries) -> Fact | None:
    """The fact of `source` that is this series' point (a panel resource yields one per component)."""
    if record is None:
        return None
    facts = facts_citing(record, source)
    for fact in facts:
        if series.code is not None and loinc_code(fact) == series.code:
            return fact
    return next((f for f in facts if f.label == series.name), facts[0] if len(facts) == 1 else None)


def flag(fact: Fact | None) -> str | None:
    """The record's own abnormal flag (interpretation code, else "abnormal" from its reference range)."""
    if fact is None or not fact.abnormal:
        return None
    return fact.interpretation or "abnormal"
