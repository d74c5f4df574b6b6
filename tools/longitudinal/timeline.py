"""Treatment timeline: lines of therapy, cancer surgery and radiotherapy courses, with marker trends.

Records rarely state "line 2 started here"; lines are inferred from medication facts with a
documented rule, close to the ones real-world-evidence groups use:

1. **Which medications count.** A medication fact is cancer therapy when its details say so
   (``cancer_related``), when it carries the mCODE cancer-related medication profile, when its
   reason is a cancer condition of the record (or a reason text naming a cancer), or when its
   drug is a known antineoplastic or cancer hormonal agent (`ANTINEOPLASTIC_NAMES`,
   `ANTINEOPLASTIC_SUFFIXES`). Everything else is listed in `Timeline.excluded` with the
   reason, never silently dropped.
2. **Drug episodes.** Records of one drug (named by `drug_name`) merge into one episode while
   consecutive records are at most `EPISODE_GAP_DAYS` apart. An episode is ongoing when its last
   record's status is active / in-progress / on-hold; otherwise it ends at its last record's end
   date (or date). Cancelled, not-done and entered-in-error records were never given: excluded.
3. **Lines.** Episodes starting within `REGIMEN_WINDOW_DAYS` of a line's start form that line's
   regimen (combination therapy). A drug not in the regimen starting later, or any episode starting
   more than `EPISODE_GAP_DAYS` after the line ended, starts a new line. A line still "ongoing" when
   the next one starts is taken to end there (noted on the line).
4. **Procedures.** Radiotherapy procedures within `EPISODE_GAP_DAYS` of each other form one course.
   Surgery counts when linked to a cancer condition (reason, mCODE profile, ``cancer_related``).

Treatment changes (line starts and ends, cancer surgery, radiotherapy course starts and ends) give
the default window of tumour-marker kinetics (`last_treatment_change`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.models import EvidenceRef, Fact, FactKind, iso_day
from medboard.models.fact_kinds import ConditionDetails, ProcedureDetails, TherapyDetails
from medboard.tools.fhir import medication_status
from medboard.tools.longitudinal.dates import DateError, parse_day
from medboard.tools.longitudinal.trends import (
    TUMOR_MARKER_LOINCS,
    AnalyteTrend,
    Direction,
    TrendPoint,
    TrendReport,
    direction,
    fmt,
    percent_change,
    signed,
)

EPISODE_GAP_DAYS = 90
REGIMEN_WINDOW_DAYS = 28

ONGOING_STATUSES = medication_status.ONGOING
NOT_GIVEN_STATUSES = medication_status.NOT_GIVEN

CANCER_WORDS = (
    "cancer",
    "carcinoma",
    "neoplasm",
    "malignan",
    "tumor",
    "tumour",
    "lymphoma",
    "leukemia",
    "leukaemia",
    "melanoma",
    "sarcoma",
    "myeloma",
    "metasta",
    "blastoma",
)

# Antineoplastic and cancer hormonal agents by ingredient name (lower case). Leucovorin is not an
# antineoplastic itself but is part of fluoropyrimidine regimens (FOLFOX, FOLFIRI).
ANTINEOPLASTIC_NAMES = frozenset(
    {
        "abiraterone",
        "anastrozole",
        "apalutamide",
        "asparaginase",
        "atezolizumab",
        "azacitidine",
        "bendamustine",
        "bevacizumab",
        "bicalutamide",
        "bleomycin",
        "bortezomib",
        "busulfan",
        "cabazitaxel",
        "capecitabine",
        "carboplatin",
        "carfilzomib",
        "cetuximab",
        "chlorambucil",
        "cisplatin",
        "cladribine",
        "cyclophosphamide",
        "cytarabine",
        "dacarbazine",
        "darolutamide",
        "daunorubicin",
        "decitabine",
        "degarelix",
        "docetaxel",
        "doxorubicin",
        "durvalumab",
        "enzalutamide",
        "epirubicin",
        "eribulin",
        "etoposide",
        "everolimus",
        "exemestane",
        "fludarabine",
        "fluorouracil",
        "flutamide",
        "fulvestrant",
        "gemcitabine",
        "goserelin",
        "hydroxyurea",
        "idarubicin",
        "ifosfamide",
        "ipilimumab",
        "irinotecan",
        "lenalidomide",
        "letrozole",
        "leucovorin",
        "leuprolide",
        "melphalan",
        "mercaptopurine",
        "methotrexate",
        "mitomycin",
        "mitoxantrone",
        "nivolumab",
        "oxaliplatin",
        "paclitaxel",
        "panitumumab",
        "pembrolizumab",
        "pemetrexed",
        "pertuzumab",
        "pomalidomide",
        "relugolix",
        "rituximab",
        "tamoxifen",
        "temozolomide",
        "temsirolimus",
        "thalidomide",
        "thioguanine",
        "topotecan",
        "trastuzumab",
        "triptorelin",
        "vinblastine",
        "vincristine",
        "vinorelbine",
    }
)
ANTINEOPLASTIC_SUFFIXES = ("platin", "taxel", "rubicin", "tinib", "ciclib", "parib", "lutamide", "zomib")

_NON_NAME_WORDS = frozenset(
    {
        "ml",
        "mg",
        "mcg",
        "ug",
        "g",
        "kg",
        "l",
        "hr",
        "h",
        "day",
        "injection",
        "injectable",
        "oral",
        "tablet",
        "tablets",
        "capsule",
        "solution",
        "suspension",
        "extended",
        "release",
        "delayed",
        "prefilled",
        "syringe",
        "pen",
        "cartridge",
        "vial",
        "topical",
        "transdermal",
        "patch",
        "cream",
        "hydrochloride",
        "hcl",
        "acetate",
        "sodium",
        "sulfate",
        "citrate",
        "mesylate",
        "phosphate",
        "succinate",
        "tartrate",
        "maleate",
        "liposomal",
        "for",
        "and",
        "in",
        "with",
        "per",
        "unt",
        "unit",
        "units",
    }
)
_WORD = re.compile(r"[a-z][a-z\-]+")


class ExcludedInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str
    reason: str


class DrugEpisode(BaseModel):
    """Consecutive records of one drug (gaps ≤ `EPISODE_GAP_DAYS`)."""

    model_config = ConfigDict(extra="forbid")

    drug: str
    start: str
    end: str | None = Field(description="Last record's end (or date); None while ongoing.")
    ongoing: bool
    last_status: str | None
    records: int
    why_cancer_therapy: str
    evidence: list[EvidenceRef]


class LineMarkerTrend(BaseModel):
    """A tumour marker within one line: the value before the line against the last value on it."""

    model_config = ConfigDict(extra="forbid")

    loinc: str
    label: str
    unit: str | None
    before_line: TrendPoint | None = Field(description="Latest value on or before the line's start.")
    on_line: list[TrendPoint]
    change: float | None = None
    percent_change: float | None = None
    direction: Direction | None = None

    @property
    def evidence(self) -> list[EvidenceRef]:
        points = ([self.before_line] if self.before_line else []) + self.on_line
        return [p.evidence for p in points]

    def describe(self) -> str:
        if not self.on_line:
            return f"{self.label}: no value during the line."
        last = self.on_line[-1]
        start = self.before_line or self.on_line[0]
        if start is last:
            return f"{self.label}: one value during the line, {last.shown()}."
        label = "before the line" if self.before_line else "first on the line"
        text = (
            f"{self.label} {label} {start.shown()}, last on the line {last.shown()}: "
            f"{fmt(last.value)} − {fmt(start.value)} = {signed(self.change or 0.0)}"
        )
        if self.unit:
            text += f" {self.unit}"
        if self.percent_change is not None:
            text += f" ({signed(self.percent_change)} %)"
        return text + f", {self.direction}."


class TherapyLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: int
    drugs: list[str]
    start: str
    end: str | None = Field(description="`YYYY-MM-DD`; None while ongoing.")
    ongoing: bool
    episodes: list[DrugEpisode]
    notes: list[str] = Field(default_factory=list)
    end_evidence: list[EvidenceRef] = Field(
        default_factory=list, description="What dates the end when it is inferred (the next line's start)."
    )
    marker_trends: list[LineMarkerTrend] = Field(default_factory=list)
    responses: list[tuple[str, str]] = Field(
        default_factory=list, description="(date, RECIST response) of assessments during the line."
    )

    @property
    def evidence(self) -> list[EvidenceRef]:
        return [ref for episode in self.episodes for ref in episode.evidence]

    def contains(self, day: date) -> bool:
        return parse_day(self.start) <= day and (self.end is None or day <= parse_day(self.end))

    def describe(self) -> str:
        span = f"{self.start} – {self.end}" if self.end else f"{self.start} – ongoing"
        records = sum(e.records for e in self.episodes)
        text = f"Line {self.number} ({span}): {' + '.join(self.drugs)}; {records} medication record(s)."
        for trend in self.marker_trends:
            text += " " + trend.describe()
        if self.responses:
            text += " RECIST: " + ", ".join(f"{r} on {d}" for d, r in self.responses) + "."
        return text


class ProcedureEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["surgery", "radiotherapy"]
    label: str
    start: str
    end: str | None
    records: int = 1
    why_cancer_therapy: str
    evidence: list[EvidenceRef]

    def describe(self) -> str:
        if self.kind == "radiotherapy":
            span = f"{self.start} – {self.end}" if self.end and self.end != self.start else self.start
            return f"Radiotherapy course {span}: {self.label} ({self.records} procedure record(s))."
        return f"Surgery on {self.start}: {self.label}."


class TreatmentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: str
    description: str
    evidence: list[EvidenceRef]


class Timeline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[TherapyLine] = Field(default_factory=list)
    procedures: list[ProcedureEvent] = Field(default_factory=list)
    excluded: list[ExcludedInput] = Field(default_factory=list)

    def changes(self) -> list[TreatmentChange]:
        """Every recorded treatment change, in date order."""
        changes: list[TreatmentChange] = []
        for line in self.lines:
            drugs = " + ".join(line.drugs)
            changes.append(
                TreatmentChange(
                    date=line.start,
                    description=f"start of line {line.number} ({drugs})",
                    evidence=line.evidence,
                )
            )
            if line.end is not None:
                changes.append(
                    TreatmentChange(
                        date=line.end,
                        description=f"end of line {line.number} ({drugs})",
                        evidence=line.evidence,
                    )
                )
        for event in self.procedures:
            if event.kind == "surgery":
                changes.append(
                    TreatmentChange(
                        date=event.start, description=f"surgery: {event.label}", evidence=event.evidence
                    )
                )
            else:
                changes.append(
                    TreatmentChange(
                        date=event.start, description="start of radiotherapy course", evidence=event.evidence
                    )
                )
                if event.end and event.end != event.start:
                    changes.append(
                        TreatmentChange(
                            date=event.end, description="end of radiotherapy course", evidence=event.evidence
                        )
                    )
        return sorted(changes, key=lambda c: c.date)


def drug_name(fact: Fact) -> str:
    """The ingredient a medication fact is about (``10 ML doxorubicin ... Injection`` → doxorubicin)."""
    texts = [fact.label, *(c.display for c in fact.codes if c.display)]
    for text in texts:
        for word in _WORD.findall((text or "").lower()):
            if word in ANTINEOPLASTIC_NAMES or word.endswith(ANTINEOPLASTIC_SUFFIXES):
                return word
    for text in texts:
        words = [w for w in _WORD.findall((text or "").lower()) if w not in _NON_NAME_WORDS]
        if words:
            return words[0]
    return (fact.label or "unknown medication").lower()


def _mentions_cancer(texts: Iterable[object]) -> bool:
    return any(word in str(t or "").lower() for t in texts for word in CANCER_WORDS)


def is_cancer_condition(fact: Fact) -> bool:
    """A condition fact about a cancer (the loader's ``details.cancer``, else the diagnosis text)."""
    if isinstance(fact.details, ConditionDetails) and fact.details.cancer:
        return True
    return _mentions_cancer([fact.label, fact.text, *(c.display for c in fact.codes)])


def _procedure(fact: Fact) -> ProcedureDetails:
    return fact.details if isinstance(fact.details, ProcedureDetails) else ProcedureDetails()


def _profiles(fact: Fact) -> str:
    return " ".join(fact.details.profiles) if isinstance(fact.details, TherapyDetails) else ""


def cancer_therapy_reason(fact: Fact, cancer_conditions: set[str]) -> str | None:
    """Why a medication or procedure fact counts as cancer therapy, or None if it does not."""
    therapy = fact.details if isinstance(fact.details, TherapyDetails) else None
    if therapy is not None and therapy.cancer_related is True:
        return "marked cancer-related in the record"
    profiles = _profiles(fact)
    if "cancer-related" in profiles or "radiotherapy" in profiles:
        return "mCODE cancer-related profile"
    linked = [ref for ref in fact.related if ref in cancer_conditions]
    if linked:
        return f"reason is a cancer condition ({linked[0]})"
    reason_texts = [r for r in (therapy.reason if therapy else []) if "/" not in r]
    if _mentions_cancer(reason_texts):
        return f"reason: {next(str(r) for r in reason_texts if _mentions_cancer([r]))}"
    if fact.kind == FactKind.medication:
        name = drug_name(fact)
        if name in ANTINEOPLASTIC_NAMES or name.endswith(ANTINEOPLASTIC_SUFFIXES):
            return f"{name} is an antineoplastic or cancer hormonal agent"
    if fact.kind == FactKind.procedure and _procedure(fact).radiotherapy:
        return "radiotherapy"
    return None


def _record_span(fact: Fact) -> tuple[date, date]:
    start = parse_day(fact.date)
    end = parse_day(fact.end_date) if fact.end_date else start
    return start, max(start, end)


def _episodes(records: list[tuple[Fact, str]]) -> list[DrugEpisode]:
    """Merge one drug's (fact, reason) records into episodes split at gaps > `EPISODE_GAP_DAYS`."""
    records = sorted(records, key=lambda r: _record_span(r[0])[0])
    groups: list[list[tuple[Fact, str]]] = []
    group_end: date | None = None
    for record in records:
        start, end = _record_span(record[0])
        if group_end is None or start - group_end > timedelta(days=EPISODE_GAP_DAYS):
            groups.append([])
            group_end = end
        groups[-1].append(record)
        group_end = max(group_end, end)
    episodes = []
    for group in groups:
        facts = [f for f, _ in group]
        last = max(facts, key=lambda f: _record_span(f)[1])
        ongoing = (last.status or "").lower() in ONGOING_STATUSES and not last.end_date
        episodes.append(
            DrugEpisode(
                drug=drug_name(facts[0]),
                start=min(_record_span(f)[0] for f in facts).isoformat(),
                end=None if ongoing else max(_record_span(f)[1] for f in facts).isoformat(),
                ongoing=ongoing,
                last_status=last.status,
                records=len(facts),
                why_cancer_therapy=group[0][1],
                evidence=[f.evidence for f in facts],
            )
        )
    return episodes


def _lines(episodes: list[DrugEpisode]) -> list[TherapyLine]:
    lines: list[TherapyLine] = []
    for episode in sorted(episodes, key=lambda e: (e.start, e.drug)):
        start = parse_day(episode.start)
        current = lines[-1] if lines else None
        if current is not None:
            line_start = parse_day(current.start)
            line_end = None if current.ongoing else parse_day(current.end or current.start)
            in_window = start - line_start <= timedelta(days=REGIMEN_WINDOW_DAYS)
            after_gap = line_end is not None and start - line_end > timedelta(days=EPISODE_GAP_DAYS)
            same_regimen = episode.drug in current.drugs
            if in_window or (same_regimen and not after_gap):
                current.episodes.append(episode)
                if episode.drug not in current.drugs:
                    current.drugs.append(episode.drug)
                current.ongoing = current.ongoing or episode.ongoing
                current.end = None if current.ongoing else max(current.end or "", episode.end or "")
                continue
            if current.ongoing:
                current.ongoing = False
                current.end = episode.start
                current.end_evidence = list(episode.evidence)
                current.notes.append(
                    f"no stop recorded; taken to end when line {len(lines) + 1} started on {episode.start}"
                )
        lines.append(
            TherapyLine(
                number=len(lines) + 1,
                drugs=[episode.drug],
                start=episode.start,
                end=episode.end,
                ongoing=episode.ongoing,
                episodes=[episode],
            )
        )
    return lines


def _procedures(facts: list[tuple[Fact, str]]) -> list[ProcedureEvent]:
    events: list[ProcedureEvent] = []
    radiotherapy = sorted(
        ((f, why) for f, why in facts if _procedure(f).radiotherapy), key=lambda r: _record_span(r[0])[0]
    )
    for fact, why in facts:
        if _procedure(fact).surgery and not _procedure(fact).radiotherapy:
            events.append(
                ProcedureEvent(
                    kind="surgery",
                    label=fact.label,
                    start=iso_day(str(fact.date)),
                    end=iso_day(fact.end_date) if fact.end_date else None,
                    why_cancer_therapy=why,
                    evidence=[fact.evidence],
                )
            )
    course: list[tuple[Fact, str]] = []
    for record in [*radiotherapy, None]:
        if course and (
            record is None
            or _record_span(record[0])[0] - max(_record_span(f)[1] for f, _ in course)
            > timedelta(days=EPISODE_GAP_DAYS)
        ):
            events.append(
                ProcedureEvent(
                    kind="radiotherapy",
                    label=course[0][0].label,
                    start=min(_record_span(f)[0] for f, _ in course).isoformat(),
                    end=max(_record_span(f)[1] for f, _ in course).isoformat(),
                    records=len(course),
                    why_cancer_therapy=course[0][1],
                    evidence=[f.evidence for f, _ in course],
                )
            )
            course = []
        if record is not None:
            course.append(record)
    return sorted(events, key=lambda e: e.start)


def build_timeline(facts: Iterable[Fact]) -> Timeline:
    """Lines of therapy and cancer procedures from a record's facts (see the module docstring)."""
    facts = list(facts)
    cancer_conditions = {
        f.reference
        for f in facts
        if f.kind in (FactKind.condition, FactKind.staging) and is_cancer_condition(f)
    }
    excluded: list[ExcludedInput] = []
    by_drug: dict[str, list[tuple[Fact, str]]] = defaultdict(list)
    procedures: list[tuple[Fact, str]] = []
    for fact in facts:
        if fact.kind not in (FactKind.medication, FactKind.procedure):
            continue
        if fact.kind == FactKind.procedure and not (
            _procedure(fact).surgery or _procedure(fact).radiotherapy
        ):
            continue
        status = (fact.status or "").lower()
        if status in NOT_GIVEN_STATUSES:
            excluded.append(ExcludedInput(reference=fact.reference, reason=f"status {status}: not given"))
            continue
        try:
            _record_span(fact)
        except DateError as error:
            excluded.append(
                ExcludedInput(reference=fact.reference, reason=f"{error}: cannot be placed in time")
            )
            continue
        why = cancer_therapy_reason(fact, cancer_conditions)
        if why is None:
            kind = "medication" if fact.kind == FactKind.medication else "surgery"
            excluded.append(
                ExcludedInput(reference=fact.reference, reason=f"{kind} not recognised as cancer therapy")
            )
            continue
        if fact.kind == FactKind.medication:
            by_drug[drug_name(fact)].append((fact, why))
        else:
            procedures.append((fact, why))
    episodes = [episode for records in by_drug.values() for episode in _episodes(records)]
    return Timeline(lines=_lines(episodes), procedures=_procedures(procedures), excluded=excluded)


def last_treatment_change(
    timeline: Timeline, on_or_before: str | date | None = None
) -> TreatmentChange | None:
    """The most recent treatment change (optionally on or before a day), or None."""
    limit = parse_day(on_or_before) if on_or_before is not None else None
    changes = [c for c in timeline.changes() if limit is None or parse_day(c.date) <= limit]
    return changes[-1] if changes else None


def _is_marker(trend: AnalyteTrend) -> bool:
    return trend.loinc in TUMOR_MARKER_LOINCS or trend.kind == FactKind.tumor_marker.value


def marker_course(trend: AnalyteTrend, start: str, end: str | None) -> LineMarkerTrend | None:
    """One marker's course over a line from `start` to `end` (None: no end), or None when no value
    falls on the line.

    A value drawn on the day the line starts is its baseline, not a result of it: the course runs
    from the latest value on or before the start to the last value after it, up to the end.
    """
    first = parse_day(start)
    last_day = parse_day(end) if end is not None else None
    before = [p for p in trend.points if parse_day(p.date) <= first]
    on_line = [
        p
        for p in trend.points
        if first < parse_day(p.date) and (last_day is None or parse_day(p.date) <= last_day)
    ]
    if not on_line:
        return None
    reference = before[-1] if before else on_line[0]
    last = on_line[-1]
    marker = LineMarkerTrend(
        loinc=trend.loinc,
        label=trend.label,
        unit=trend.unit,
        before_line=before[-1] if before else None,
        on_line=on_line,
    )
    if reference is not last:
        marker.change = last.value - reference.value
        marker.percent_change = percent_change(reference.value, last.value)
        marker.direction = direction(reference.value, last.value, trend.stable_tolerance)
    return marker


def annotate_lines(
    timeline: Timeline, trends: TrendReport, responses: Iterable[tuple[str, str]] = ()
) -> Timeline:
    """Attach each tumour marker's course and the RECIST responses (date, response) to every line.

    Every marker goes to every line: right for a record of one cancer only. The longitudinal agent
    reads the clinical picture instead, where a line and its markers belong to one cancer
    (`medboard.agents.longitudinal.core`).
    """
    responses = list(responses)
    for line in timeline.lines:
        line.marker_trends = []
        for trend in trends.analytes:
            if not _is_marker(trend):
                continue
            marker = marker_course(trend, line.start, line.end)
            if marker is not None:
                line.marker_trends.append(marker)
        line.responses = [(d, r) for d, r in responses if line.contains(parse_day(d))]
    return timeline
