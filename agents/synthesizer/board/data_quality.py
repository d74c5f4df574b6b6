"""Data quality: what the reconciliation found wrong with the record (not with the patient).

A board must know which numbers not to trust and what was never measured, but one line per
implausible value (20 lines for one patient) buries the case. So the section states each problem
once, grouped, short and cited (every resource it rests on), from the clinical picture:

1. **monitoring gaps** — a current or recent line (`treatment.recent`) that needs monitoring with
   no blood count, or no creatinine/eGFR, during it (computed here from the picture's series);
2. **conflicts** — the picture's discrepancies (discordant results, stopped orders still given,
   conflicting sides or stages, ...), every side cited; not one a specialist's finding already
   states with all its sides (a discordant HER2 is read in its cancer's section);
3. **records dated after the death, or after the case date** — one counted statement each (with a
   few of the records' own names), every such record cited;
4. **stopped-but-active orders** — medications still marked active that are not current;
5. **unit-mixed series** — one analyte (LOINC code) recorded in units that do not convert, which the
   picture keeps as separate series: each series' first and last values with their units;
6. **implausible values**, per analyte: count, dates, example values, every source cited;
7. **cancer therapy no cancer owns**, grouped;
8. any other item of the picture (a kind this block does not know) as the picture words it.

The specialists' data-quality findings (tagged ``data_quality`` / ``data-quality``) say the same
things one item at a time: all of them are taken, cited by the grouped statement that covers them,
and the few no group covers are restated as they are.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.agents.synthesizer.board.figures import facts_citing, label, number, quantity
from medboard.agents.synthesizer.board.treatment import (
    TreatmentSpan,
    case_day,
    recent,
    treatment_spans,
)
from medboard.models import EvidenceRef, Fact, FactKind, Finding, Section, SectionKind, Statement
from medboard.models.claims import ResultClaim
from medboard.models.dates import FhirDate
from medboard.models.picture import ClinicalPicture, DataQuality, LabSeries
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.longitudinal.plausibility import implausibility
from medboard.tools.longitudinal.trends import loinc_code
from medboard.tools.reconcile.key_analytes import MONITORED_GROUPS, key_analyte
from medboard.tools.reconcile.patient import DEATH_DOCUMENTATION

DATA_QUALITY_TAGS = frozenset({"data_quality", "data-quality"})
#: Example values quoted per implausible analyte (the count and the citations give the rest).
MAX_EXAMPLES = 3

_KNOWN = {"implausible_value", "after_death", "after_case_date", "unassigned_therapy"}
_GROUP_NOUNS = {"blood_count": "blood count", "renal": "creatinine or eGFR"}
#: What a count of one resource type is called, in the words the verifier counts by type (any
#: other type, or a mix, is "records").
_NOUNS = {"Observation": "observation", "DiagnosticReport": "report"}


def data_quality(board: Board) -> list[Section]:
    findings = board.where(lambda f: bool(DATA_QUALITY_TAGS & set(f.tags)))
    board.take(findings)
    covered: set[str] = set()
    statements = [
        *_monitoring_gaps(board),
        *_conflicts(board),
        *_dated_after_events(board, findings, covered),
        *_stale_orders(board, findings, covered),
        *_mixed_units(board),
        *_implausible(board, findings, covered),
        *_unassigned(board, findings, covered),
        *_other_items(board, findings, covered),
    ]
    statements += [state(SectionKind.data_quality, f.text, [f]) for f in findings if f.id not in covered]
    return [section(SectionKind.data_quality, statements)]


# --- what the statements rest on -----------------------------------------------------------------


def _covering(findings: Iterable[Finding], refs: Iterable[str], tag: str, covered: set[str]) -> list[Finding]:
    """The data-quality findings (tagged `tag`) that cite only resources among `refs`; marked covered."""
    wanted = set(refs)
    out = [
        f for f in findings if tag in f.tags and f.evidence and {e.reference for e in f.evidence} <= wanted
    ]
    covered.update(f.id for f in out)
    return out


def _refs(references: Iterable[str]) -> list[EvidenceRef]:
    return [EvidenceRef(reference=r) for r in dict.fromkeys(references)]


def _span(days: list[str]) -> str:
    days = sorted(set(days))
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"


def _day_text(text: str | None) -> str:
    parsed = FhirDate.try_parse(text) if text else None
    return parsed.iso_day if parsed is not None else (text or "undated")


def _on_or_before(first: str | None, second: str | None) -> bool:
    a, b = (FhirDate.try_parse(t) if t else None for t in (first, second))
    return a is not None and b is not None and not b.surely_before(a)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- 1. monitoring gaps -----------------------------------------------------------------------


def _monitoring_gaps(board: Board) -> list[Statement]:
    """A current or recent line with no blood count, or no creatinine/eGFR, during it."""
    today = case_day(board.picture)
    if today is None:
        return []
    out = []
    for span in treatment_spans(board.picture, board.record):
        if not (span.needs_monitoring and recent(span, today)):
            continue
        missing = [group for group in MONITORED_GROUPS if not _measured(board.picture, span, group)]
        if not missing:
            continue
        what = " and no ".join(_GROUP_NOUNS[g] for g in missing)
        out.append(
            state(
                SectionKind.data_quality,
                f"No {what} result during the line of {' + '.join(span.line.drugs)} {_when(span)}.",
                evidence=_refs(span.sources),
            )
        )
    return out


def _measured(picture: ClinicalPicture, span: TreatmentSpan, group: str) -> bool:
    for series in picture.labs:
        analyte = key_analyte(series.code)
        if analyte is not None and analyte.group == group and any(span.holds(p.date) for p in series.points):
            return True
    return False


def _when(span: TreatmentSpan) -> str:
    start = span.start.isoformat()
    if span.line.status == "current":
        return f"from {start} (current)"
    if span.end_stated:
        return f"from {start} to {span.end.isoformat()}"
    return f"from {start}"


# --- 2. conflicts ------------------------------------------------------------------------------

_REFERENCE = re.compile(r"\b([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}")


def _conflicts(board: Board) -> list[Statement]:
    """The picture's discrepancies, critical first — but events after death (`_dated_after_events`)
    and a conflict a specialist's finding already states with every side (its claim's results
    name each source: "HER2: conflicting results — Negative …, Positive …", read with its cancer)."""
    order = {"critical": 0, "warning": 1, "info": 2}
    stated = [{r.source for r in f.claim.results} for f in board.findings if isinstance(f.claim, ResultClaim)]
    out = []
    for item in sorted(board.picture.discrepancies, key=lambda d: order.get(d.severity, 3)):
        sides = {e.reference for e in item.sources}
        if item.kind == "after_death" or any(sides <= results for results in stated):
            continue
        # The description names its sides by reference; the citations carry them, the words keep
        # their resource type.
        text = _REFERENCE.sub(r"\1", item.description).rstrip(".") + "."
        out.append(state(SectionKind.data_quality, text[:1].upper() + text[1:], evidence=item.sources))
    return out


# --- 3. dated after the death or the case date ----------------------------------------------------


def _dated_after_events(board: Board, findings: list[Finding], covered: set[str]) -> list[Statement]:
    """Records dated after the death, and after the case date: one statement each, every one cited.

    After the death: the picture's ``after_death`` conflicts, which cite every such resource and
    the death (its date is then in the evidence). The picture's data-quality items quote only the
    first few references of a group, so a group they alone report is read again from the record
    by the same rule (surely after; records of the death itself excepted) and the count stated is
    the count cited. A few of the records' own names say what they are.
    """
    out = []
    picture, record = board.picture, board.record
    death = picture.patient.deceased_date
    died = [e for d in picture.discrepancies if d.kind == "after_death" for e in d.sources]
    items = {k: [i for i in picture.data_quality if i.kind == k] for k in ("after_death", "after_case_date")}
    if died:
        patient = {*picture.patient.sources, *([record.patient_ref] if record and record.patient_ref else [])}
        care = list({e.reference: e for e in died if e.reference not in patient}.values())
        days = [_day_text(e.quote) for e in care if e.quote]
        refs = [e.reference for e in care]
        event = f"the patient died ({_day_text(death)})"
        cited = _covering(findings, refs, "after_death", covered)
        out.append(
            state(SectionKind.data_quality, _records_text(record, refs, days, event), cited, evidence=died)
        )
    elif items["after_death"]:
        event = f"the patient died ({_day_text(death)})"
        out += _regrouped(board, items["after_death"], death, event, findings, covered)
    if items["after_case_date"]:
        out += _regrouped(
            board, items["after_case_date"], picture.case_date, "the case date", findings, covered
        )
    return out


def _regrouped(
    board: Board,
    items: list[DataQuality],
    limit: str | None,
    event: str,
    findings: list[Finding],
    covered: set[str],
) -> list[Statement]:
    types = {s.split("/", 1)[0] for i in items for s in i.sources}
    facts = _dated_after(board.record, limit, types)
    refs = list(dict.fromkeys(f.reference for f in facts)) or [s for i in items for s in i.sources]
    days = [_day_text(f.date) for f in facts]
    kind = items[0].kind
    evidence = _refs(refs + (list(board.picture.patient.sources) if kind == "after_death" else []))
    cited = _covering(findings, refs, kind, covered)
    return [
        state(
            SectionKind.data_quality, _records_text(board.record, refs, days, event), cited, evidence=evidence
        )
    ]


def _records_text(record: PatientRecord | None, refs: list[str], days: list[str], event: str) -> str:
    """ "N records dated after <event>: <dates>, e.g. <names>": the names are the records' own
    (one per resource type first), so the statement says what they are in the record's words."""
    names: list[str] = []
    by_type: dict[str, list[str]] = defaultdict(list)
    for ref in refs:
        for fact in facts_citing(record, ref) if record else []:
            by_type[ref.split("/", 1)[0]].append(label(fact.label))
    for labels in by_type.values():
        names += [n for n in labels[:1] if n not in names]
    names += [n for labels in by_type.values() for n in labels if n not in names]
    noun = _NOUNS.get(next(iter(by_type)) if len(by_type) == 1 else "", "record")
    text = f"{len(refs)} {noun}{'' if len(refs) == 1 else 's'} dated after {event}"
    text += f": {_span(days)}" if days else ""
    return text + (f", e.g. {', '.join(names[:MAX_EXAMPLES])}." if names else ".")


def _dated_after(record: PatientRecord | None, limit: str | None, types: set[str]) -> list[Fact]:
    """Facts of these resource types dated surely after `limit`, earliest first."""
    bound = FhirDate.try_parse(limit) if limit else None
    if record is None or bound is None:
        return []
    out = []
    for fact in record.facts:
        if fact.kind == FactKind.patient or fact.reference.split("/", 1)[0] not in types:
            continue
        if any(c.code in DEATH_DOCUMENTATION for c in fact.codes):  # records *of* the death
            continue
        when = FhirDate.try_parse(fact.date)
        if when is not None and when.surely_after(bound):
            out.append(fact)
    return sorted(out, key=lambda f: (str(f.date), f.reference))


# --- 4. stopped-but-active orders ----------------------------------------------------------------


def _stale_orders(board: Board, findings: list[Finding], covered: set[str]) -> list[Statement]:
    """Medications still marked active that are not current (the picture's ``stale``)."""
    stale = [m for m in board.picture.medications if m.status == "stale" and m.sources]
    if not stale:
        return []
    listed = ", ".join(f"{m.ingredient} (last evidence {m.last_evidence_date or 'undated'})" for m in stale)
    refs = [s for m in stale for s in m.sources]
    patient = board.picture.patient
    # Worded with what the cited records say ("active", "died"/"deceased" and the dates) so the
    # verifier checks every word, and saying outright that they are "not current": "active" alone
    # would call the drugs current, which the record-global check rightly contradicts ("stale",
    # a judgement no cited record states, would leave the statement unverifiable).
    died_by_case = _on_or_before(patient.deceased_date, board.picture.case_date)
    if patient.deceased and patient.deceased_date and died_by_case:
        died = _day_text(patient.deceased_date)
        text = f"Medication records active after the patient died ({died}), not current: {listed}."
        refs += patient.sources
    elif patient.deceased and not patient.deceased_date:
        text = f"Medication records active for a deceased patient, not current: {listed}."
        refs += patient.sources
    else:
        text = f"Medication records active without recent evidence, not current: {listed}."
    return [
        state(
            SectionKind.data_quality, text, _covering(findings, refs, "stale", covered), evidence=_refs(refs)
        )
    ]


# --- 5. unit-mixed series ------------------------------------------------------------------------


def _mixed_units(board: Board) -> list[Statement]:
    """One analyte (LOINC code) in more than one series: its units do not convert into each other."""
    by_code: dict[str, list[LabSeries]] = defaultdict(list)
    for series in board.picture.labs:
        if series.code and series.points:
            by_code[series.code].append(series)
    out = []
    for group in by_code.values():
        if len(group) < 2:
            continue
        # The values themselves, each with its unit: the verifier checks every one of them.
        parts = [_series_span(s) for s in group]
        out.append(
            state(
                SectionKind.data_quality,
                f"{label(group[0].name)}: {'; then '.join(parts)}.",
                evidence=_refs(p.source for s in group for p in s.points),
            )
        )
    return out


def _series_span(series: LabSeries) -> str:
    first, last = series.points[0], series.points[-1]
    text = f"{quantity(first.value, series.unit)} on {_day_text(first.date)}"
    if last is not first:
        text += f" to {quantity(last.value, series.unit)} on {_day_text(last.date)}"
    return text


# --- 6. implausible values -------------------------------------------------------------------


def implausible_groups(
    picture: ClinicalPicture, record: PatientRecord | None
) -> dict[str, list[tuple[DataQuality, Fact | None]]]:
    """The picture's implausible values per analyte (LOINC code, else label), each with its fact."""
    groups: dict[str, list[tuple[DataQuality, Fact | None]]] = defaultdict(list)
    for item in picture.data_quality:
        if item.kind != "implausible_value" or not item.sources:
            continue
        fact = _implausible_fact(record, item.sources[0])
        key = (loinc_code(fact) or f"label:{fact.label}") if fact is not None else f"item:{item.sources[0]}"
        groups[key].append((item, fact))
    return groups


def _implausible_fact(record: PatientRecord | None, source: str) -> Fact | None:
    """The fact of `source` whose value the plausibility table rejects (one per resource component)."""
    if record is None:
        return None
    facts = facts_citing(record, source)
    for fact in facts:
        value = _number(fact.value)
        if value is not None and implausibility(value, fact.unit_code or fact.unit, loinc_code(fact)):
            return fact
    return facts[0] if len(facts) == 1 else None


def _number(raw: object) -> float | None:
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _implausible(board: Board, findings: list[Finding], covered: set[str]) -> list[Statement]:
    out = []
    for group in implausible_groups(board.picture, board.record).values():
        facts = [f for _, f in group if f is not None]
        refs = [s for item, _ in group for s in item.sources]
        cited = _covering(findings, refs, "implausible_value", covered)
        if len(facts) != len(group):  # a value the record no longer explains: the picture's words
            out += [
                state(
                    SectionKind.data_quality,
                    f"Implausible value: {i.description}",
                    cited,
                    evidence=_refs(i.sources),
                )
                for i, _ in group
            ]
            continue
        facts.sort(key=lambda f: _number(f.value) or 0.0)
        examples = facts if len(facts) <= MAX_EXAMPLES else [facts[0], facts[len(facts) // 2], facts[-1]]
        shown = ", ".join(f"{number(_number(f.value) or 0.0)} {f.unit or ''}".strip() for f in examples)
        n = len(dict.fromkeys(refs))
        noun = "implausible value" if n == 1 else "implausible values"
        when = _span([_day_text(f.date) for f in facts])
        eg = "" if n <= len(examples) else "e.g. "
        text = f"{label(facts[0].label)}: {n} {noun}, {when} ({eg}{shown})."
        out.append(state(SectionKind.data_quality, text, cited, evidence=_refs(refs)))
    return out


# --- 7. cancer therapy no cancer owns --------------------------------------------------------------


def _unassigned(board: Board, findings: list[Finding], covered: set[str]) -> list[Statement]:
    items = [i for i in board.picture.data_quality if i.kind == "unassigned_therapy" and i.sources]
    if not items:
        return []
    refs = [s for i in items for s in i.sources]
    drugs = [m.ingredient for m in board.picture.medications if set(m.sources) & set(refs)] or [
        "cancer therapy"
    ]
    days = [
        _day_text(f.date)
        for r in refs
        for f in (facts_citing(board.record, r) if board.record else [])
        if f.date
    ]
    when = f" ({_span(days)})" if days else ""
    verb = "belongs" if len(drugs) == 1 else "belong"
    text = f"{_and(drugs).capitalize()}{when} {verb} to no line of a recorded cancer."
    return [
        state(
            SectionKind.data_quality,
            text,
            _covering(findings, refs, "unassigned_therapy", covered),
            evidence=_refs(refs),
        )
    ]


# --- 8. anything else the picture lists ----------------------------------------------------------


def _other_items(board: Board, findings: list[Finding], covered: set[str]) -> list[Statement]:
    out = []
    for item in board.picture.data_quality:
        if item.kind in _KNOWN or not item.sources:
            continue
        text = _REFERENCE.sub(r"\1", item.description).rstrip(".") + "."
        out.append(
            state(
                SectionKind.data_quality,
                text,
                _covering(findings, item.sources, item.kind, covered),
                evidence=_refs(item.sources),
            )
        )
    return out
