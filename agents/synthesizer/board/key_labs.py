"""Key labs as one table: blood count, renal and liver tests, tumour markers no cancer section states.

Why a table of a dozen analytes and not every lab: a board deciding on cisplatin or a dose-dense
regimen reads the counts, the kidney and the liver; decades-old urine dipsticks and lipids beside
them drowned those numbers (labs were 57–78 % of all statements). Analytes are chosen by LOINC code
(`tools/reconcile/key_analytes.py`), never by display text; everything else is left to the
appendix, where the specialists' own lab and trend findings stay whole.

One row per series of the clinical picture (one analyte in one comparable unit, implausible values
already out), built from its latest point — the specialist's finding of that analyte citing a result
of that day is taken (cited, and so not repeated in the appendix) — with:

- **Flag**: the record's own interpretation or reference-range flag; ``old`` when the value is more
  than `STALE_DAYS` before the case date; ``before current line`` when a current line that needs
  monitoring started after it (no value since the line began).
- **Age**: days / months / years before the case date, worded so the verifier checks it.
- **Lowest on treatment**: the lowest of the series' points during the most recent line that holds
  any (`treatment.TreatmentSpan.holds`: after the start day, up to the end), citing every such point
  and the sources that date the line's start; a tumour marker only against the lines of the cancer
  that owns it (a PSA says nothing about a lung regimen).

A tumour marker whose latest value a cancer section already states (its finding taken) gets no
row: the marker is read with its cancer. Key analytes with no plausible value at all are listed as
open questions ("Not in the record").
"""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.agents.synthesizer.board.data_quality import implausible_groups
from medboard.agents.synthesizer.board.figures import age_cell, age_words, flag, point_fact, quantity
from medboard.agents.synthesizer.board.treatment import TreatmentSpan, case_day, to_day, treatment_spans
from medboard.models import EvidenceRef, Finding, FindingCategory, Section, SectionKind, Statement
from medboard.models.claims import ClaimedResult, ResultClaim
from medboard.models.picture import LabPoint, LabSeries
from medboard.tools.reconcile.key_analytes import KEY_ANALYTES, KeyAnalyte, key_analyte, rank

#: A value older than this before the case date is flagged ``old``: counts and chemistry are
#: repeated before every cycle (every 1–4 weeks) and protocols ask for them within 2–4 weeks of a
#: decision; three months is a lenient bound past which the value describes another patient.
STALE_DAYS = 90

COLUMNS = ["Test", "Value", "Date", "Flag", "Age", "Lowest on treatment"]


def key_labs(board: Board) -> list[Section]:
    spans = treatment_spans(board.picture, board.record)
    rows: list[tuple[int, str, str, Statement]] = []
    for series in board.picture.labs:
        analyte = key_analyte(series.code)
        if analyte is None or not series.points:
            continue
        latest = series.points[-1]
        if analyte.group == "marker" and _stated_elsewhere(board, series, latest):
            continue
        # the specialist's "latest value" finding may cite another result of the same day
        same_day = {p.source for p in series.points if p.date[:10] == latest.date[:10]}
        restating = board.where(lambda f, s=series, refs=same_day: _restates(f, s, refs))
        board.take(restating)
        statement = _row(board, analyte, series, latest, restating, spans)
        rows.append((rank(analyte), series.name.lower(), series.unit or "", statement))
    rows.sort(key=lambda r: r[:3])
    return [
        section(
            SectionKind.key_labs,
            [r[3] for r in rows],
            columns=COLUMNS,
            open_questions=_missing(board),
        )
    ]


def _row(
    board: Board,
    analyte: KeyAnalyte,
    series: LabSeries,
    latest: LabPoint,
    restating: list[Finding],
    spans: list[TreatmentSpan],
) -> Statement:
    today, day = case_day(board.picture), to_day(latest.date)
    fact = point_fact(board.record, latest.source, series)
    record_flag = flag(fact)
    value = quantity(latest.value, series.unit) + (f" [{record_flag}]" if record_flag else "")
    shown_day = day.isoformat() if day else latest.date
    text = f"{analyte.name}: {value} on {shown_day}"
    flags = [record_flag] if record_flag else []
    age = ""
    evidence = [EvidenceRef(reference=latest.source)]
    if today is not None and day is not None:
        days = (today - day).days
        age = age_cell(days)
        old = days > STALE_DAYS
        if days > 0:
            text += f" ({age_words(days)} before the case date{'; old' if old else ''})"
        if old:
            flags.append(f"old (> {STALE_DAYS} d)")
        current = next((s for s in spans if s.line.status == "current" and s.needs_monitoring), None)
        if current is not None and day <= current.start:
            text += (
                f"; taken before the current line of {_drugs(current)} started on {current.start.isoformat()}"
            )
            flags.append("before current line")
            evidence += [EvidenceRef(reference=r) for r in current.sources]
    lowest_cell = "—"
    results = [_claimed(latest, series)]
    if analyte.group == "marker":  # a marker is read against its own cancer's lines only
        spans = [s for s in spans if series.code in {m.code for m in s.cancer.markers}]
    on_treatment = _on_treatment(series, spans)
    if on_treatment is not None:
        span, points = on_treatment
        low = min(points, key=lambda p: p.value)
        low_day = to_day(low.date)
        low_shown = low_day.isoformat() if low_day else low.date
        # "lowest" right before its number: the verifier settles it as the minimum of the cited
        # points (the on-treatment ones and the latest).
        word = "lowest " if len(points) > 1 else ""
        text += (
            f"; on {_drugs(span)} from {span.start.isoformat()}, "
            f"{word}{quantity(low.value, series.unit)} on {low_shown}"
        )
        lowest_cell = f"{quantity(low.value, series.unit)} on {low_shown} (line {span.number})"
        evidence += [EvidenceRef(reference=p.source) for p in points]
        evidence += [EvidenceRef(reference=r) for r in span.sources]
        if low.source != latest.source:
            results.append(_claimed(low, series))
    claim = ResultClaim(
        kind="marker" if analyte.group == "marker" else "lab",
        name=series.name,
        code=series.code,
        results=results,
        facts=list(dict.fromkeys(r.source for r in results)),
    )
    cells = [analyte.short, value, shown_day, "; ".join(flags), age, lowest_cell]
    return state(SectionKind.key_labs, text + ".", restating, evidence=evidence, claim=claim, cells=cells)


def _on_treatment(
    series: LabSeries, spans: list[TreatmentSpan]
) -> tuple[TreatmentSpan, list[LabPoint]] | None:
    """The most recent line that holds any of the series' points, and those points."""
    for span in spans:
        points = [p for p in series.points if span.holds(p.date)]
        if points:
            return span, points
    return None


def _drugs(span: TreatmentSpan) -> str:
    return " + ".join(span.line.drugs)


def _claimed(point: LabPoint, series: LabSeries) -> ClaimedResult:
    return ClaimedResult(value=point.value, unit=series.unit, date=point.date, source=point.source)


def _restates(finding: Finding, series: LabSeries, sources: set[str]) -> bool:
    """A lab/vital/marker finding of this analyte that cites one of these results."""
    claim = finding.claim
    if not isinstance(claim, ResultClaim) or finding.category == FindingCategory.trend:
        return False
    same_code = claim.code == series.code if series.code else claim.name == series.name
    return same_code and any(ref.reference in sources for ref in finding.evidence)


def _stated_elsewhere(board: Board, series: LabSeries, point: LabPoint) -> bool:
    """A block before this one (a cancer section) already stated the marker's latest value."""
    return any(
        f.id in board.used
        for f in board.where(lambda f: _restates(f, series, {point.source}), unused_only=False)
    )


def _missing(board: Board) -> list[str]:
    """Key blood-count, renal and liver analytes with no plausible value in the record."""
    present = {a.key for s in board.picture.labs if s.points and (a := key_analyte(s.code)) is not None}
    flagged = {
        a.key
        for code in implausible_groups(board.picture, board.record)
        if (a := key_analyte(code)) is not None
    }
    questions = []
    for group, noun in (("blood_count", "blood count"), ("renal", "renal"), ("liver", "liver")):
        analytes = [a for a in KEY_ANALYTES if a.group == group]
        if group == "renal" and any(a.key in present for a in analytes):
            continue  # creatinine, eGFR or a clearance: any one tells the kidney function
        missing = [a for a in analytes if a.key not in present]
        if not missing:
            continue
        names = ", ".join(a.short for a in missing)
        implausible = [a.short for a in missing if a.key in flagged]
        note = (
            f" ({', '.join(implausible)}: implausible values only, see Data quality)" if implausible else ""
        )
        questions.append(f"No {noun} result for {names}{note}.")
    return questions
