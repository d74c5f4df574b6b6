"""Which findings say what about the patient and each cancer, and the short phrases a board reads.

The headline and the answer restate facts the sections state in full; both need the same lookups
(the diagnosis, stage, biomarker, line, marker and lab findings of one cancer, found through each
finding's structured claim rather than by parsing its text) and the same compact wording. Wording
stays checkable: every name, value and date a phrase writes is the record's own (as the picture or
the claim carries it), so the verifier finds it in the cited evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from medboard.agents.synthesizer.board.base import Board
from medboard.agents.synthesizer.board.cancers import belongs
from medboard.models import FactKind, Finding, FindingCategory, iso_day
from medboard.models.claims import LineClaim, ResultClaim
from medboard.models.fact_kinds import PatientDetails
from medboard.models.picture import Cancer, Stage
from medboard.tools.longitudinal.trends import fmt

#: SNOMED CT semantic tags closing a display ("... (disorder)"): they name the hierarchy, not the
#: patient's condition, and cost words a headline does not have.
_SEMANTIC_TAG = re.compile(
    r"\s*\((?:disorder|finding|morphologic abnormality|procedure|qualifier value|body structure|"
    r"situation|observable entity|regime/therapy)\)\s*$",
    re.I,
)


def short(name: str | None) -> str:
    """A display without its SNOMED CT semantic tag."""
    return _SEMANTIC_TAG.sub("", name or "").strip()


def day(value: str | None) -> str | None:
    """``YYYY-MM-DD`` of a FHIR date/dateTime (None stays None)."""
    return iso_day(value) if value else None


def value_text(value: object, unit: str | None = None) -> str | None:
    """A result as a board reads it: ``Positive``, ``5.25 ng/mL``, ``47``; None without a value.

    A coded answer keeps its first phrase ("Present (PALB2, c.3549C>A)" → "Present"); a unit is
    written when it is a unit (UCUM codes have no spaces; "Recurrence score" is a label).
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        shown = fmt(float(value))
        return f"{shown} {unit}" if unit and " " not in unit and not unit.startswith("{") else shown
    text = str(value).split(" (", 1)[0].strip()
    return text or None


def words(text: str) -> int:
    """Words as a reader counts them (whitespace-separated)."""
    return len(text.split())


# --------------------------------------------------------------------------- the patient


@dataclass(frozen=True)
class Person:
    """Who the case is about, from the Patient resource (through its fact)."""

    reference: str | None
    name: str | None
    gender: str | None
    birth_date: str | None


def person(board: Board) -> Person:
    reference = board.picture.patient.reference
    if board.record is not None:
        for fact in board.record.facts_of(FactKind.patient):
            details = fact.details if isinstance(fact.details, PatientDetails) else PatientDetails()
            return Person(
                reference=fact.reference,
                name=details.name or fact.label or None,
                gender=details.gender,
                birth_date=day(details.birth_date),
            )
    return Person(reference=reference, name=None, gender=None, birth_date=None)


def age_at(birth: str | None, when: str | None) -> int | None:
    """Completed years between two ``YYYY-MM-DD`` days (None when either is missing)."""
    if not birth or not when or len(birth) < 10 or len(when) < 10:
        return None
    by, bm, bd = (int(x) for x in birth[:10].split("-"))
    wy, wm, wd = (int(x) for x in when[:10].split("-"))
    age = wy - by - ((wm, wd) < (bm, bd))
    return age if age >= 0 else None


def patient_findings(board: Board) -> list[Finding]:
    """The demographics finding(s) citing the Patient resource."""
    ref = board.picture.patient.reference
    return [
        f
        for f in board.findings
        if f.category == FindingCategory.demographics
        and f.claim is None
        and (ref is None or any(e.reference == ref for e in f.evidence))
    ]


def vital_status_findings(board: Board) -> list[Finding]:
    return [f for f in board.findings if f.claim is not None and f.claim.concept == "vital_status"]


# --------------------------------------------------------------------------- one cancer


def ordered_cancers(board: Board) -> list[Cancer]:
    """Primary cancers first, then those of unknown kind, then secondaries (record order within)."""
    rank = {"primary": 0, "unknown": 1, "secondary": 2}
    return sorted(board.picture.cancers, key=lambda c: rank.get(c.kind, 1))


def of_cancer(board: Board, cancer: Cancer, concept: str, kind: str | None = None) -> list[Finding]:
    """Findings whose claim is `concept` (and result `kind`) about this cancer."""
    out = []
    for f in board.findings:
        claim = f.claim
        if claim is None or claim.concept != concept or not belongs(f, cancer):
            continue
        if kind is not None and getattr(claim, "kind", None) != kind:
            continue
        out.append(f)
    return out


def stage_label(stage: Stage) -> str:
    """``clinical stage IIB`` / ``cT3 cN0 cM0`` / ``stage IIIC``: the group, with its type when the
    record gives one (T/N/M categories carry their own c/p prefix)."""
    group = stage.group or "?"
    if re.match(r"^[cpyra]*T", group):
        return group
    kind = "" if stage.type == "unspecified" else stage.type.replace("_", "-") + " "
    return f"{kind}stage {group}"


def stage_source(stage: Stage) -> str:
    """Where a stage was read: staging Observations, or the Condition (its stage summary or name)."""
    kinds = {s.split("/", 1)[0] for s in stage.sources}
    if kinds == {"Condition"}:
        return "Condition"
    if kinds == {"Observation"}:
        return "staging Observation"
    return "/".join(sorted(kinds)) or "source not recorded"


def stages_text(cancer: Cancer) -> str | None:
    """Every stage of the cancer grouped by where it was read, with its date."""
    if not cancer.stages:
        return None
    groups: dict[tuple[str, str | None], list[str]] = {}
    for stage in cancer.stages:
        groups.setdefault((stage_source(stage), day(stage.date)), []).append(stage_label(stage))
    parts = []
    for (source, when), labels in groups.items():
        dated = f", {when}" if when else ""
        parts.append(f"{', '.join(dict.fromkeys(labels))} ({source}{dated})")
    return "; ".join(parts)


def result_phrase(claim: ResultClaim, name: str | None = None) -> str | None:
    """``ER Positive``; a conflict shows every side with its date."""
    label = name or claim.name
    shown: list[tuple[str, str | None]] = []
    for r in claim.results:
        value = value_text(r.value, r.unit)
        if value is not None:
            shown.append((value, day(r.date)))
    if not shown:
        return None
    values = list(dict.fromkeys(v for v, _ in shown))
    if len(values) == 1:
        return f"{label} {values[0]}"
    sides = "; ".join(f"{v} {d}" if d else v for v, d in shown)
    return f"{label} conflicting ({sides})"


def last_evidence(board: Board, drugs: Iterable[str]) -> str | None:
    """The latest evidence date of any of these ingredients (the picture's medication reconciliation)."""
    wanted = set(drugs)
    dates = [day(m.last_evidence_date) for m in board.picture.medications if m.ingredient in wanted]
    known = [d for d in dates if d]
    return max(known) if known else None


def line_period(board: Board, line: LineClaim) -> str:
    """When a line ran, in the record's dates: ``2018-04-12 – 2018-09-30``, ``since 2018-09-30``,
    or, for a line still ordered without recent evidence, ``since 2004-05-28, last evidence ...``.

    No status word for an ended line: the picture may have inferred the end (the next line started)
    while the orders still read "active", and the dates say what is known.
    """
    start, end = day(line.start), day(line.end)
    if end:
        return f"{start} – {end}" if start else f"until {end}"
    since = f"since {start}" if start else "start not recorded"
    if line.status == "current":
        return since
    last = last_evidence(board, line.drugs)
    return f"{since}, last evidence {last}" if last else f"{since}, status unknown"


def latest(findings: Iterable[Finding]) -> Finding | None:
    """The finding with the latest date (None when there is none)."""
    dated = [f for f in findings if f.date]
    return max(dated, key=lambda f: f.date or "") if dated else None


__all__ = [
    "Person",
    "age_at",
    "day",
    "last_evidence",
    "latest",
    "line_period",
    "of_cancer",
    "ordered_cancers",
    "patient_findings",
    "person",
    "result_phrase",
    "short",
    "stage_label",
    "stage_source",
    "stages_text",
    "value_text",
    "vital_status_findings",
    "words",
]
