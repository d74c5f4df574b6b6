"""When each line of therapy ran: the windows "on treatment" and "during therapy" are read in.

Key labs ask for the lowest value *on treatment* and flag a count taken before the current line;
the data-quality section asks whether a line was monitored at all. Both need the days a line
covered, which the picture gives only partly: a start, an end when a source states or implies one,
and a status. A line with no end ran until:

- the case date, when it is **current**;
- otherwise its last evidence plus its therapy kind's currency window (`currency.WINDOW_DAYS`:
  the time an order stays believable without fresh evidence; a stale docetaxel + leuprolide order
  from 2004 did not run until the patient died in 2012), never past the case date.

Labs on a line's first day are the pre-treatment baseline (drawn before the first dose), so "on
treatment" is strictly after the start day, up to and including the end day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from medboard.agents.synthesizer.board.figures import facts_citing
from medboard.models.dates import FhirDate
from medboard.models.picture import Cancer, ClinicalPicture, Line
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile import knowledge
from medboard.tools.reconcile.currency import WINDOW_DAYS
from medboard.tools.reconcile.key_analytes import ENDOCRINE_AGENTS

#: A line "recent" enough for the board to ask how it was monitored: it is current, or it ended
#: within this many days before the case date (about one follow-up interval after a line ends).
RECENT_LINE_DAYS = 180
#: Shorter spans are not expected to hold a blood count (one standard 21-day cycle).
MIN_MONITORED_DAYS = 21


@dataclass(frozen=True)
class TreatmentSpan:
    """The days one line covered (`start` exclusive of its baseline labs, `end` inclusive)."""

    cancer: Cancer
    line: Line
    number: int  # the line's number among its cancer's lines, as the longitudinal specialist counts
    start: date
    end: date
    #: The end is a date a source (this line's or the next line's start) states.
    end_stated: bool
    #: The line's (and the next line's) sources whose dates state its start (and its end, when
    #: `end_stated`): what a statement about the span cites.
    sources: tuple[str, ...]

    def holds(self, when: str | None) -> bool:
        """True when a value dated `when` was taken on treatment (after the start day, by the end)."""
        day = to_day(when)
        return day is not None and self.start < day <= self.end

    @property
    def drugs(self) -> str:
        return ", ".join(self.line.drugs)

    @property
    def needs_monitoring(self) -> bool:
        """Blood counts and renal tests are expected: a line with more than endocrine therapy
        (ATC L02 agents need no routine blood count), long enough to hold one."""
        cytotoxic = any(drug not in ENDOCRINE_AGENTS for drug in self.line.drugs)
        return cytotoxic and (self.end - self.start).days >= MIN_MONITORED_DAYS


def to_day(text: str | None) -> date | None:
    """The calendar day of a FHIR date as written (None when partial or unreadable)."""
    parsed = FhirDate.try_parse(text) if text else None
    return parsed.day if parsed is not None else None


def case_day(picture: ClinicalPicture) -> date | None:
    return to_day(picture.case_date)


def treatment_spans(picture: ClinicalPicture, record: PatientRecord | None) -> list[TreatmentSpan]:
    """Every line with a readable start, most recent start first."""
    today = case_day(picture)
    if today is None:
        return []
    spans: list[TreatmentSpan] = []
    for cancer in picture.cancers:
        for number, line in enumerate(cancer.lines, start=1):
            start = to_day(line.start)
            if start is None or start > today:
                continue
            end, stated, sources = _end(line, cancer, start, today, picture, record)
            dated = {start, end} if stated else {start}
            spans.append(
                TreatmentSpan(
                    cancer, line, number, start, max(end, start), stated, _dating(sources, dated, record)
                )
            )
    spans.sort(key=lambda s: s.start, reverse=True)
    return spans


def recent(span: TreatmentSpan, today: date) -> bool:
    """Current, or ended within `RECENT_LINE_DAYS` before the case date."""
    return span.line.status == "current" or (today - span.end).days <= RECENT_LINE_DAYS


def _end(
    line: Line,
    cancer: Cancer,
    start: date,
    today: date,
    picture: ClinicalPicture,
    record: PatientRecord | None,
) -> tuple[date, bool, list[str]]:
    sources = list(line.sources)
    end = to_day(line.end)
    if end is not None:
        end = min(end, today)
        # An end no source of the line states is the next line's start ("taken to end when line 2
        # started"): cite that line, so the end date is in the evidence.
        if end not in _source_days(sources, record):
            for other in cancer.lines:
                if other is not line and to_day(other.start) == end:
                    sources += [s for s in other.sources if s not in sources]
        return end, end in _source_days(sources, record), sources
    if line.status == "current":
        return today, False, sources
    last = max((d for d in _source_days(sources, record) if d <= today), default=None)
    if last is None:
        last = max(
            (
                d
                for m in picture.medications
                if m.ingredient in line.drugs
                and (d := to_day(m.last_evidence_date)) is not None
                and d <= today
            ),
            default=start,
        )
    window = max((WINDOW_DAYS[knowledge.drug_kind(d)] for d in line.drugs), default=WINDOW_DAYS["default"])
    return min(today, max(last, start) + timedelta(days=window)), False, sources


def _dating(sources: list[str], days: set[date], record: PatientRecord | None) -> tuple[str, ...]:
    """The sources whose dates state `days` (a line of 96 orders is cited by the ones that date it);
    all of them when the record cannot tell."""
    picked = [s for s in sources if _source_days([s], record) & days]
    return tuple(picked or sources)


def _source_days(sources: list[str], record: PatientRecord | None) -> set[date]:
    """The calendar days the facts of these resources carry (their dates and end dates)."""
    if record is None:
        return set()
    days: set[date] = set()
    for reference in sources:
        for fact in facts_citing(record, reference):
            for text in (fact.date, fact.end_date):
                day = to_day(text)
                if day is not None:
                    days.add(day)
    return days
