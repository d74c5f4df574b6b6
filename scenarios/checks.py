"""Each expectation type, checked against one `ScenarioRun`: an `Outcome` that says what was
expected, what was found, and — when it fails — the statements and evidence a reviewer needs to
decide whether the pipeline regressed or the expectation is out of date.

Statements are the *published* ones (struck statements are listed in the summary but never shown
to a clinician); discrepancies are the summary's; statuses are the clinical picture's (what the
pipeline reasons from) and, where a statement claims a status, that claim too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from medboard.scenarios import concepts
from medboard.scenarios.spec import (
    Absent,
    Appears,
    Budget,
    DiscrepancyFound,
    Headline,
    NoDiscrepancies,
    SectionState,
    Snapshot,
    Status,
    Verdicts,
    _Selector,
)

if TYPE_CHECKING:
    from medboard.models import CaseSummary, Discrepancy, Section, Statement
    from medboard.scenarios.runner import ScenarioRun

#: Statements shown in a failure report, at most.
SHOWN = 6


@dataclass
class Outcome:
    """One expectation's result. `details` are the lines a failure report shows under it."""

    passed: bool
    expected: str
    found: str
    details: list[str] = field(default_factory=list)


def check(expectation: Any, run: ScenarioRun, *, update_snapshots: bool = False) -> Outcome:
    """The outcome of one expectation on one run (a run without a summary fails every one)."""
    if run.replay_miss is not None:
        return Outcome(
            False,
            describe(expectation),
            "the run did not finish: strict replay found a model request the cassette has not recorded",
            run.replay_miss.splitlines(),
        )
    if run.summary is None:  # pragma: no cover - a run either has a summary or a replay miss
        return Outcome(False, describe(expectation), "the run produced no summary")
    if isinstance(expectation, Snapshot):
        from medboard.scenarios.snapshot import check_snapshot

        return check_snapshot(expectation, run, update=update_snapshots)
    checker = _CHECKERS[type(expectation)]
    return checker(expectation, run)


def describe(expectation: Any) -> str:
    """One line: what the expectation asks."""
    kind = expectation.type
    if isinstance(expectation, Appears | Absent):
        what = _selector_text(expectation)
        where = f" in section `{expectation.section}`" if expectation.section else ""
        if isinstance(expectation, Appears):
            many = (
                f"at least {expectation.min_count} statements" if expectation.min_count > 1 else "a statement"
            )
            return f"{many} {what}{where}"
        return f"no statement {what}{where}"
    if isinstance(expectation, Headline):
        parts = [*expectation.mentions, *(repr(t) for t in expectation.mentions_text)]
        limit = f", at most {expectation.max_words} words" if expectation.max_words else ""
        return f"the headline mentions {', '.join(parts) or '(nothing listed)'}{limit}"
    if isinstance(expectation, DiscrepancyFound):
        cites = f" citing {', '.join(expectation.cites)}" if expectation.cites else ""
        return f"a `{expectation.kind}` discrepancy{cites}"
    if isinstance(expectation, NoDiscrepancies):
        return (
            f"no discrepancy of kind {', '.join(expectation.kinds)}"
            if expectation.kinds
            else "no discrepancy"
        )
    if isinstance(expectation, Status):
        items = [f"{k}: {_statuses(v)}" for k, v in expectation.medications.items()]
        items += [f"line {k}: {_statuses(v)}" for k, v in expectation.lines.items()]
        return "status " + "; ".join(items)
    if isinstance(expectation, Verdicts):
        limits = [f"contradicted ≤ {expectation.max_contradicted}"]
        for label in ("unsupported", "unverifiable", "struck"):
            value = getattr(expectation, f"max_{label}")
            if value is not None:
                limits.append(f"{label} ≤ {value}")
        return "verdicts: " + ", ".join(limits)
    if isinstance(expectation, Budget):
        limits = []
        if expectation.wall_s is not None:
            limits.append(f"wall time ≤ {expectation.wall_s:g} s")
        if expectation.model_calls is not None:
            limits.append(f"model calls ≤ {expectation.model_calls}")
        if expectation.tokens is not None:
            limits.append(f"tokens ≤ {expectation.tokens}")
        return "budget: " + ", ".join(limits)
    if isinstance(expectation, SectionState):
        state = f" {_statuses(expectation.status)}" if expectation.status else ""
        count = f" with ≥ {expectation.min_statements} statements" if expectation.min_statements else ""
        return f"section `{expectation.kind}`{state}{count}"
    if isinstance(expectation, Snapshot):
        return f"statements equal the snapshot {expectation.path}"
    return kind  # pragma: no cover


# ------------------------------------------------------------------------------ statement views


def published(summary: CaseSummary, section: str | None = None) -> Iterator[tuple[Section, Statement]]:
    for sec in summary.sections:
        if section is None or sec.kind == section:
            for statement in sec.statements:
                yield sec, statement


def statement_line(section: Section, statement: Statement, *, evidence: int = 4) -> str:
    """`[cancer] (supported) "text" ← Observation/a "quote", Observation/b`."""
    verdict = statement.verdict.verdict.value if statement.verdict else "unchecked"
    text = statement.text if len(statement.text) <= 220 else statement.text[:217] + "..."
    refs = []
    for ref in statement.evidence[:evidence]:
        quote = f' "{ref.quote[:60]}"' if ref.quote else ""
        refs.append(f"{ref.reference}{quote}")
    more = f" (+{len(statement.evidence) - evidence} more)" if len(statement.evidence) > evidence else ""
    cited = f" ← {', '.join(refs)}{more}" if refs else " ← (no evidence)"
    reason = ""
    if statement.verdict and statement.verdict.verdict.value != "supported":
        reason = f"  [verifier: {statement.verdict.reason}]"
    return f'[{section.kind}] ({verdict}) "{text}"{cited}{reason}'


def _shown(rows: list[tuple[Section, Statement]], limit: int = SHOWN) -> list[str]:
    lines = [statement_line(s, st) for s, st in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"... and {len(rows) - limit} more")
    return lines


# ------------------------------------------------------------------------------------ selectors


def _selector_text(sel: _Selector) -> str:
    if sel.code is not None:
        return f"citing a resource coded {sel.code}"
    if sel.concept is not None:
        return f"citing {sel.concept}"
    if sel.text is not None:
        return f"containing {sel.text!r}"
    if sel.cites is not None:
        return f"citing all of {', '.join(sel.cites)}"
    return f"matching /{sel.pattern}/"


def _matcher(sel: _Selector, run: ScenarioRun) -> tuple[Callable[[Statement], bool], list[str]]:
    """A predicate over statements, and context lines (what a concept or code resolved to)."""
    if sel.text is not None:
        needle = sel.text.casefold()
        return (lambda st: needle in st.text.casefold()), []
    if sel.pattern is not None:
        rx = re.compile(sel.pattern, re.IGNORECASE)
        return (lambda st: rx.search(st.text) is not None), []
    if sel.cites is not None:
        wanted = set(sel.cites)
        missing = [ref for ref in sel.cites if run.record is not None and ref not in run.record]
        return (lambda st: wanted <= concepts.cited(st)), (
            [f"not in the record at all: {', '.join(missing)}"] if missing else []
        )
    if sel.concept is not None:
        assert run.picture is not None
        found = concepts.resolve(sel.concept, run.picture)
        sources = found.sources
        return (lambda st: bool(concepts.cited(st) & sources)), [
            f"concept: {found.describe()}",
            *([f"its sources: {', '.join(sorted(sources)[:8])}"] if sources else []),
        ]
    coded = _refs_with_code(run, sel.code or "")
    return (lambda st: bool(concepts.cited(st) & coded)), [
        f"resources coded {sel.code} in the record: {', '.join(sorted(coded)[:8]) or 'none'}"
    ]


def _refs_with_code(run: ScenarioRun, code: str) -> set[str]:
    system, _, value = code.rpartition("|")
    refs = set()
    for fact in run.record.facts if run.record else []:
        if any(c.code == value and (not system or c.system == system) for c in fact.codes):
            refs.add(fact.evidence.reference)
    return refs


def _appears(exp: Appears, run: ScenarioRun) -> Outcome:
    assert run.summary is not None
    matches, context = _matcher(exp, run)
    hits = [(s, st) for s, st in published(run.summary, exp.section) if matches(st)]
    if len(hits) >= exp.min_count:
        return Outcome(True, describe(exp), f"{len(hits)} matching statement(s)", _shown(hits, 2))
    details = list(context)
    if exp.section:
        elsewhere = [(s, st) for s, st in published(run.summary) if s.kind != exp.section and matches(st)]
        if elsewhere:
            details.append(f"matching statements in other sections ({len(elsewhere)}):")
            details += _shown(elsewhere, 3)
        scope = list(published(run.summary, exp.section))
        kinds = [s.kind for s in run.summary.sections]
        if exp.section not in kinds:
            details.append(
                f"the summary has no `{exp.section}` section (it has: {', '.join(dict.fromkeys(kinds))})"
            )
        else:
            details.append(f"statements in `{exp.section}` ({len(scope)}):")
            details += _shown(scope)
    elif hits:
        details += _shown(hits)
    found = f"{len(hits)} matching statement(s)" + (f" in `{exp.section}`" if exp.section else "")
    return Outcome(False, describe(exp), found, details)


def _absent(exp: Absent, run: ScenarioRun) -> Outcome:
    assert run.summary is not None
    matches, context = _matcher(exp, run)
    hits = [(s, st) for s, st in published(run.summary, exp.section) if matches(st)]
    if not hits:
        return Outcome(True, describe(exp), "none")
    return Outcome(False, describe(exp), f"{len(hits)} matching statement(s):", [*_shown(hits), *context])


# ------------------------------------------------------------------------------------- headline


def _headline(exp: Headline, run: ScenarioRun) -> Outcome:
    assert run.summary is not None and run.picture is not None
    rows = list(published(run.summary, "headline"))
    missing: list[str] = []
    details: list[str] = []
    for ref in exp.mentions:
        found = concepts.resolve(ref, run.picture)
        if not any(concepts.cited(st) & found.sources for _, st in rows):
            missing.append(ref)
            details.append(f"not cited by the headline: {found.describe()}")
    text = " ".join(st.text for _, st in rows)
    for wanted in exp.mentions_text:
        if wanted.casefold() not in text.casefold():
            missing.append(repr(wanted))
            details.append(f"not in the headline's text: {wanted!r}")
    words = len(text.split())
    too_long = exp.max_words is not None and words > exp.max_words
    if too_long:
        details.append(f"the headline has {words} words (at most {exp.max_words})")
    if not missing and not too_long:
        return Outcome(True, describe(exp), f"all mentioned ({words} words)")
    found = f"missing: {', '.join(missing)}" if missing else f"{words} words"
    details.append(f"the headline ({len(rows)} statements):")
    details += _shown(rows, 8)
    return Outcome(False, describe(exp), found, details)


# --------------------------------------------------------------------------------- discrepancies


def _discrepancy_line(d: Discrepancy) -> str:
    sources = ", ".join(s.reference for s in d.sources)
    text = d.description if len(d.description) <= 200 else d.description[:197] + "..."
    return f"{d.kind} ({d.severity}): {text} ← {sources}"


def _discrepancy(exp: DiscrepancyFound, run: ScenarioRun) -> Outcome:
    assert run.summary is not None and run.picture is not None
    wanted = set(exp.cites)
    same_kind = [d for d in run.summary.discrepancies if d.kind == exp.kind]
    for d in same_kind:
        if wanted <= {s.reference for s in d.sources} and exp.severity in (None, d.severity):
            return Outcome(True, describe(exp), _discrepancy_line(d))
    details = [f"`{exp.kind}` discrepancies in the summary ({len(same_kind)}):"]
    details += [_discrepancy_line(d) for d in same_kind[:SHOWN]] or ["(none)"]
    others = [d for d in run.summary.discrepancies if d.kind != exp.kind]
    if others:
        details.append(f"other discrepancies ({len(others)}):")
        details += [_discrepancy_line(d) for d in others[:SHOWN]]
    missing = [ref for ref in exp.cites if run.record is not None and ref not in run.record]
    if missing:
        details.append(f"not in the record at all: {', '.join(missing)}")
    found = "none of that kind" if not same_kind else "none citing all of them"
    return Outcome(False, describe(exp), found, details)


def _no_discrepancies(exp: NoDiscrepancies, run: ScenarioRun) -> Outcome:
    assert run.summary is not None
    bad = [d for d in run.summary.discrepancies if exp.kinds is None or d.kind in exp.kinds]
    if not bad:
        return Outcome(True, describe(exp), "none")
    return Outcome(
        False, describe(exp), f"{len(bad)} discrepancies:", [_discrepancy_line(d) for d in bad[:SHOWN]]
    )


# -------------------------------------------------------------------------------------- status


def _statuses(value: Any) -> str:
    return " or ".join(value) if isinstance(value, list) else str(value)


def _allowed(value: Any) -> set[str]:
    return set(value) if isinstance(value, list) else {value}


def _status(exp: Status, run: ScenarioRun) -> Outcome:
    from medboard.models.claims import LineClaim, MedicationClaim

    assert run.summary is not None and run.picture is not None
    problems: list[str] = []
    details: list[str] = []
    found_parts: list[str] = []
    meds = {m.ingredient.casefold(): m for m in run.picture.medications}
    for ingredient, value in exp.medications.items():
        allowed = _allowed(value)
        med = meds.get(ingredient.casefold())
        if med is None:
            problems.append(f"{ingredient}: not in the picture")
            details.append(f"medications in the picture: {', '.join(sorted(meds)) or '(none)'}")
            continue
        found_parts.append(f"{med.ingredient}: {med.status}")
        if med.status not in allowed:
            problems.append(f"{med.ingredient} is {med.status}")
            details.append(f"{med.ingredient}: {med.reason} ← {', '.join(med.sources[:6])}")
        for sec, st in published(run.summary):
            claim = st.claim
            if (
                isinstance(claim, MedicationClaim)
                and claim.ingredient.casefold() == ingredient.casefold()
                and claim.status not in allowed
            ):
                problems.append(f"a statement says {claim.ingredient} is {claim.status}")
                details.append(statement_line(sec, st))
    for key, value in exp.lines.items():
        allowed = _allowed(value)
        drugs = {d.strip().casefold() for d in key.split("+") if d.strip()}
        lines = [
            ln for c in run.picture.cancers for ln in c.lines if {d.casefold() for d in ln.drugs} == drugs
        ]
        if not lines:
            every = [" + ".join(ln.drugs) for c in run.picture.cancers for ln in c.lines]
            problems.append(f"line {key}: not in the picture")
            details.append(f"lines in the picture: {'; '.join(every) or '(none)'}")
            continue
        for line in lines:
            found_parts.append(f"line {' + '.join(line.drugs)}: {line.status}")
            if line.status not in allowed:
                problems.append(f"line {' + '.join(line.drugs)} is {line.status}")
                details.append(
                    f"line notes: {'; '.join(line.notes) or '(none)'} ← {', '.join(line.sources[:6])}"
                )
        for sec, st in published(run.summary):
            claim = st.claim
            if (
                isinstance(claim, LineClaim)
                and {d.casefold() for d in claim.drugs} == drugs
                and claim.status not in allowed
            ):
                problems.append(f"a statement says line {key} is {claim.status}")
                details.append(statement_line(sec, st))
    if not problems:
        return Outcome(True, describe(exp), "; ".join(found_parts))
    return Outcome(False, describe(exp), "; ".join(problems), details)


# ------------------------------------------------------------------------------------ verdicts


def _verdicts(exp: Verdicts, run: ScenarioRun) -> Outcome:
    assert run.summary is not None
    by_label: dict[str, list[tuple[Section, Statement]]] = {}
    for sec, st in published(run.summary):
        label = st.verdict.verdict.value if st.verdict else "unverifiable"
        by_label.setdefault(label, []).append((sec, st))
    counts = {label: len(rows) for label, rows in by_label.items()}
    counts["struck"] = len(run.summary.struck)
    found = ", ".join(
        f"{label} {counts.get(label, 0)}"
        for label in ("supported", "contradicted", "unsupported", "unverifiable", "struck")
    )
    over: list[str] = []
    details: list[str] = []
    for label in ("contradicted", "unsupported", "unverifiable", "struck"):
        limit = getattr(exp, f"max_{label}")
        if limit is None or counts.get(label, 0) <= limit:
            continue
        over.append(f"{label} {counts.get(label, 0)} > {limit}")
        details.append(f"{label} statements:")
        if label == "struck":
            details += [
                f'[{s.section}] (struck) "{s.statement.text[:200]}" — {s.reason}'
                for s in run.summary.struck[:SHOWN]
            ]
        else:
            details += _shown(by_label.get(label, []))
    if not over:
        return Outcome(True, describe(exp), found)
    return Outcome(False, describe(exp), f"{'; '.join(over)} ({found})", details)


# -------------------------------------------------------------------------------------- budget


def _budget(exp: Budget, run: ScenarioRun) -> Outcome:
    assert run.summary is not None
    found = (
        f"wall {run.wall_s:.2f} s (flow {run.flow_s:.2f} s), "
        f"{run.model_calls} model calls, {run.tokens} tokens"
    )
    over = []
    if exp.wall_s is not None and run.wall_s > exp.wall_s:
        over.append(f"wall time {run.wall_s:.2f} s > {exp.wall_s:g} s")
    if exp.model_calls is not None and run.model_calls > exp.model_calls:
        over.append(f"model calls {run.model_calls} > {exp.model_calls}")
    if exp.tokens is not None and run.tokens > exp.tokens:
        over.append(f"tokens {run.tokens} > {exp.tokens}")
    if not over:
        return Outcome(True, describe(exp), found)
    details = [
        f"{a.agent}: {a.status}, {a.seconds:.2f} s, {a.model_calls} calls, "
        f"{a.prompt_tokens}+{a.completion_tokens} tokens"
        for a in run.summary.run.agents
    ]
    return Outcome(False, describe(exp), f"{'; '.join(over)} ({found})", details)


# ------------------------------------------------------------------------------------- section


def _section(exp: SectionState, run: ScenarioRun) -> Outcome:
    assert run.summary is not None
    sections = [s for s in run.summary.sections if s.kind == exp.kind]
    if not sections:
        kinds = ", ".join(dict.fromkeys(s.kind for s in run.summary.sections))
        return Outcome(False, describe(exp), "no such section", [f"sections: {kinds}"])
    problems = []
    allowed = _allowed(exp.status) if exp.status else None
    for sec in sections:
        if allowed is not None and sec.status not in allowed:
            problems.append(f"`{sec.title}` is {sec.status}" + (f" ({sec.error})" if sec.error else ""))
    total = sum(len(s.statements) for s in sections)
    if total < exp.min_statements:
        problems.append(f"{total} statements")
    found = ", ".join(f"{s.title}: {s.status}, {len(s.statements)} statements" for s in sections)
    if not problems:
        return Outcome(True, describe(exp), found)
    rows = [(s, st) for s in sections for st in s.statements]
    return Outcome(False, describe(exp), "; ".join(problems), _shown(rows))


_CHECKERS: dict[type, Callable[[Any, ScenarioRun], Outcome]] = {
    Appears: _appears,
    Absent: _absent,
    Headline: _headline,
    DiscrepancyFound: _discrepancy,
    NoDiscrepancies: _no_discrepancies,
    Status: _status,
    Verdicts: _verdicts,
    Budget: _budget,
    SectionState: _section,
}
