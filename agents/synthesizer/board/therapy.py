"""The therapy table of one cancer: one row per line of therapy and per course of a treatment procedure.

Why a table: a board reads treatment as a sequence — what, from when to when, how much of it, and
why it stopped — and a bullet per administration (19 identical "Combined chemotherapy and
radiation therapy" lines) hides that sequence. Each row is a `Statement` whose `cells` fill
`COLUMNS` and whose text says the same in words the verifier can check against what the row
cites; a line's row carries its `LineClaim`.

- **Lines** are the picture's (`Cancer.lines`), in order. The stop is the line's own last record;
  an end the reconciliation inferred from the next line's start is not a recorded stop and is
  said so ("last record …, then line 2"). The reason stopped is the record's ``statusReason``.
  The row counts the line's records by kind (orders, administrations, statements, dispenses).
- **Procedures** the cancer owns that treat it (surgery, radiotherapy, chemotherapy procedures)
  are grouped by name into courses (a gap of more than `COURSE_GAP_DAYS` starts a new course),
  one row each with its count of procedure records.

Rows are in order of start.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from functools import partial
from typing import Any

from medboard.agents.synthesizer.board.draft import CancerDraft, short, when
from medboard.agents.synthesizer.board.scope import Items, day, role_of
from medboard.models import Fact, Finding, iso_day
from medboard.models.claims import ClaimedStop, LineClaim
from medboard.models.fact_kinds import ProcedureDetails
from medboard.models.picture import Line
from medboard.tools.fhir.medication_status import TAKING
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.longitudinal.timeline import EPISODE_GAP_DAYS, drug_name

COLUMNS = ["Line", "Regimen", "Start", "Stop", "Administrations", "Status / reason stopped"]

#: Repeated treatment procedures further apart than this are two courses (the timeline's gap).
COURSE_GAP_DAYS = EPISODE_GAP_DAYS

# What each medication resource is, in the Administrations cell.
_KIND_NOUNS = {
    "MedicationAdministration": ("administration", "administrations"),
    "MedicationRequest": ("order", "orders"),
    "MedicationStatement": ("statement", "statements"),
    "MedicationDispense": ("dispense", "dispenses"),
}
_STOPPED_STATUSES = frozenset({"stopped", "cancelled", "not-done", "on-hold", "entered-in-error"})


def _plural(count: int, noun: str, nouns: str) -> str:
    return f"{count} {noun if count == 1 else nouns}"


def status_reason(resource: dict[str, Any] | None) -> str | None:
    """The record's own reason a therapy stopped (``statusReason``, a CodeableConcept or a list)."""
    value = (resource or {}).get("statusReason")
    concepts = value if isinstance(value, list) else [value] if value else []
    for concept in concepts:
        if not isinstance(concept, dict):
            continue
        text = concept.get("text") or next(
            (c.get("display") for c in concept.get("coding", []) if isinstance(c, dict) and c.get("display")),
            None,
        )
        if isinstance(text, str) and text.strip():
            return short(text.strip())
    return None


def therapy(draft: CancerDraft, items: Items) -> None:
    """The table's rows, in order of start (see the module docstring)."""
    rows: list[tuple[str, int, Callable[[], None]]] = []
    lines = draft.scope.cancer.lines
    for number, line in enumerate(lines, start=1):
        rows.append((line.start or "", 1, partial(_line_row, draft, number, line, len(lines))))
    for course in _courses([f for f in items.procedures if role_of(f) == "treatment"]):
        order = 0 if _kind(course[0]) == "surgery" else 2
        rows.append((iso_day(course[0].date or ""), order, partial(_procedure_row, draft, course)))
    for _, _, write in sorted(rows, key=lambda r: (r[0], r[1])):
        write()


# --- lines ------------------------------------------------------------------------------------


def _line_finding(draft: CancerDraft, line: Line) -> Finding | None:
    def fits(finding: Finding) -> bool:
        claim = finding.claim
        return (
            isinstance(claim, LineClaim)
            and draft.mine(finding)
            and claim.drugs == line.drugs
            and claim.start == line.start
        )

    return next(iter(draft.board.where(fits)), None)


def _line_row(draft: CancerDraft, number: int, line: Line, count: int) -> None:
    record = draft.owner.record
    sources = [f for ref in line.sources for f in draft.owner.facts(ref)]
    finding = _line_finding(draft, line)
    claim = finding.claim if finding is not None and isinstance(finding.claim, LineClaim) else None
    if claim is None:
        claim = LineClaim(
            cancer=draft.scope.cancer.condition,
            drugs=line.drugs,
            start=line.start,
            end=line.end,
            status=line.status,
            facts=line.sources or [draft.scope.cancer.condition],
        )
    regimen = " + ".join(line.drugs)
    own_days = {d for f in sources for d in (day(f.date), day(f.end_date)) if d}
    last = max(own_days, default=None)
    inferred = line.end is not None and day(line.end) not in own_days and number < count
    start = line.start or "an unrecorded date"
    if line.end and not inferred:
        span, stop = f"{start} – {line.end}", line.end
    else:
        span, stop = f"started {start}", "not recorded" if line.end else "—"
    status, stops = _line_status(line, last, inferred, number, sources, record)
    if stops:  # the stops the text names are claimed too: the verifier compares their dates
        claim = claim.model_copy(update={"stops": stops})
    refs = {e.reference for e in (finding.evidence if finding else [])} | set(line.sources)
    # the count the text states is the count of what the row cites; a line finding that also cites
    # the next line's start (what dated an inferred end) leaves the count to the cells
    records = (
        f"; {_plural(len(refs), 'medication record', 'medication records')}"
        if refs == set(line.sources)
        else ""
    )
    kinds = Counter(ref.split("/", 1)[0] for ref in line.sources)
    administrations = ", ".join(
        _plural(n, *_KIND_NOUNS.get(kind, ("record", "records"))) for kind, n in sorted(kinds.items())
    )
    text = f"Line {number}: {regimen}, {span}; {status}{records}."
    cells = [str(number), regimen, start, stop, administrations, status]
    facts = [] if finding is not None else [f for f in sources if f.reference in set(line.sources)]
    draft.add(text, [finding] if finding else [], facts=_first_each(facts), claim=claim, cells=cells)


def _first_each(facts: Sequence[Fact]) -> list[Fact]:
    seen: set[str] = set()
    out = []
    for fact in facts:
        if fact.reference not in seen:
            seen.add(fact.reference)
            out.append(fact)
    return out


def _stops(sources: Sequence[Fact], record: PatientRecord | None) -> list[tuple[Fact, str]]:
    """The line's records that say why they stopped (``statusReason``), latest first."""
    if record is None:
        return []
    found = [(f, status_reason(record.get(f.reference))) for f in sources]
    return [(f, r) for f, r in sorted(found, key=lambda p: p[0].date or "", reverse=True) if r]


def _line_status(
    line: Line,
    last: date | None,
    inferred: bool,
    number: int,
    sources: Sequence[Fact],
    record: PatientRecord | None,
) -> tuple[str, list[ClaimedStop]]:
    """The row's status: the picture's, with the record's reason for a stop; a drug stopped for a
    reason within a line that goes on is named with its reason and the stop date its source
    records (its end date: the start of a stopped statement's period is when the drug was taken,
    not when it stopped), each such stop also claimed."""
    stops = _stops(sources, record)
    if inferred:
        return f"last record {last.isoformat() if last else 'not dated'}, then line {number + 1}", []
    if line.status in ("stopped", "completed") and any((f.status or "").lower() in TAKING for f in sources):
        # the reconciliation ended the line (its administrations are over) while some of its
        # orders still read active: the row says what the records show, its claim the status
        return (f"last record {last.isoformat()}" if last else "status not recorded"), []
    if line.status == "stopped":
        return (f"stopped: {stops[0][1]}" if stops else "stopped"), []
    if line.status == "stale":
        status = f"not current (no record after {last.isoformat()})" if last else "not current"
    elif line.status == "unknown":
        status = "status not recorded"
    else:
        status = line.status
    claimed: list[ClaimedStop] = []
    for fact, reason in stops:
        stopped_on = iso_day(fact.end_date) if fact.end_date else None
        said = f"on {stopped_on}" if stopped_on else "(no stop date recorded)"
        status += f"; {drug_name(fact)} stopped {said}: {reason}"
        claimed.append(ClaimedStop(drug=drug_name(fact), date=stopped_on, source=fact.reference))
    return status, claimed


# --- procedures -------------------------------------------------------------------------------


def _kind(fact: Fact) -> str:
    details = fact.details if isinstance(fact.details, ProcedureDetails) else None
    if details is not None and details.surgery:
        return "surgery"
    if details is not None and details.radiotherapy:
        return "radiotherapy"
    return "procedure"


def _courses(procedures: Sequence[Fact]) -> list[list[Fact]]:
    """Treatment procedures grouped by name, split where they pause for longer than a course gap."""
    by_name: dict[str, list[Fact]] = defaultdict(list)
    for fact in sorted(procedures, key=lambda f: f.date or ""):
        by_name[short(fact.label)].append(fact)
    courses: list[list[Fact]] = []
    for group in by_name.values():
        current: list[Fact] = []
        for fact in group:
            start = day(fact.date)
            previous = max((d for f in current for d in (day(f.date), day(f.end_date)) if d), default=None)
            if current and start and previous and (start - previous).days > COURSE_GAP_DAYS:
                courses.append(current)
                current = []
            current.append(fact)
        if current:
            courses.append(current)
    return courses


def _procedure_row(draft: CancerDraft, course: list[Fact]) -> None:
    record = draft.owner.record
    first = course[0]
    label = short(first.label)
    site = short(first.body_site) if first.body_site else ""
    if site and site.lower() not in label.lower():
        label = f"{label} ({site})"
    start = when(first)
    ends = [d for f in course for d in (f.end_date, f.date) if d]
    stop = iso_day(max(ends, key=lambda d: day(d) or date.min)) if ends else start
    statuses = {(f.status or "").lower() for f in course} - {""}
    status = ", ".join(sorted(statuses)) or "status not recorded"
    if statuses & _STOPPED_STATUSES and record is not None:
        reason = next((r for f in reversed(course) if (r := status_reason(record.get(f.reference)))), None)
        status = f"{status}: {reason}" if reason else status
    if len(course) == 1:
        span = f"on {start}" if stop == start else f"{start} – {stop}"
        span = span if span.startswith("on ") else f", {span}"
        text = f"{label}{' ' if span.startswith('on ') else ''}{span} ({status})."
    else:
        text = f"{label}: {len(course)} procedure records, {start} – {stop} ({status})."
    count = _plural(len(course), "procedure", "procedures")
    draft.add(text, facts=course, cells=[_kind(first), label, start, stop, count, status])
