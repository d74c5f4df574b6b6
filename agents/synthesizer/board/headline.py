"""The headline: the case in at most 100 words, every clause cited (issue: board layout, part 1).

A board reads the headline first and may read nothing else, so it says, in this order: who (age,
sex; alive, or deceased on a date and of what); each cancer with its histology, its stages and
where each was read (staging Observations or the Condition's own summary), its metastatic sites;
the key biomarkers; the current line of therapy — or "none" with the last one; the latest response
or marker course; and the performance status and organ function that bear on treatment.

Each clause group is one statement citing exactly the findings it rests on (found through their
structured claims, `casefacts`), worded from the picture's own names, values and dates so the
verifier can check it. The headline restates what the sections state in full, so it takes nothing.

Within `MAX_WORDS`, what cannot be left out (the patient, each cancer with its stage, the current
therapy) is written first; biomarkers, the marker course and fitness follow in that order of
priority and are dropped, least important first, when the budget runs out; cancers beyond the
budget are named in a closing clause rather than silently lost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.agents.synthesizer.board.casefacts import (
    age_at,
    day,
    latest,
    line_period,
    of_cancer,
    ordered_cancers,
    patient_findings,
    person,
    result_phrase,
    short,
    stages_text,
    value_text,
    vital_status_findings,
    words,
)
from medboard.models import Finding, FindingCategory, Section, SectionKind, Statement
from medboard.models.claims import Claim, LineClaim, ResultClaim, VitalStatusClaim
from medboard.models.picture import Cancer
from medboard.tools.reconcile.knowledge import BIOMARKER_SITES

MAX_WORDS = 100

#: How old a lab value may be (before the case date, or the date of death) and still describe the
#: organ function a treatment decision faces. A year: older values describe another patient state.
LAB_RECENCY_DAYS = 365

#: Organ function that bears on systemic therapy (renal and hepatic clearance, marrow reserve), by
#: LOINC code (loinc.org), in the order a board reads them. The short label is the usual
#: abbreviation; the cited record's own display is what the verifier matches it to.
_EGFR = frozenset(
    {"33914-3", "48642-3", "48643-1", "50044-7", "62238-1", "69405-9", "77147-7", "88293-6", "88294-4",
     "98979-8", "98980-6"}
)  # fmt: skip
ORGAN_FUNCTION: tuple[tuple[str, frozenset[str]], ...] = (
    ("eGFR", _EGFR),
    ("creatinine", frozenset({"2160-0", "38483-4", "14682-9", "77140-2"})),
    ("bilirubin", frozenset({"1975-2", "42719-5", "14631-6"})),
    ("hemoglobin", frozenset({"718-7", "20509-6", "30313-1", "30350-3"})),
    ("platelets", frozenset({"777-3", "26515-7", "778-1"})),
    ("neutrophils", frozenset({"751-8", "26499-4", "753-4"})),
)

#: Biomarkers a board weighs first (the predictive ones of `knowledge.BIOMARKER_SITES`, in its order).
_PREDICTIVE = {name: rank for rank, name in enumerate(BIOMARKER_SITES)}
MAX_BIOMARKERS = 6

_DATA_QUALITY = frozenset({"data-quality", "data_quality"})

# Clause priorities: 0 is never dropped; higher numbers are dropped first when over budget.
REQUIRED, BIOMARKERS, COURSE, FITNESS = 0, 1, 2, 3
PERFORMANCE = "performance_status"


@dataclass
class Clause:
    """One headline statement in the making: its text, what it cites, and how much it matters."""

    text: str
    findings: list[Finding]
    priority: int = REQUIRED
    claim: Claim | None = None
    compact: str | None = None  # a shorter wording, used when the required clauses alone overflow
    order: int = 0
    names_the_rest: bool = False  # the closing "Also recorded: ..." clause of cancers over budget


def headline(board: Board) -> list[Section]:
    """The headline section (restates; takes nothing)."""
    return [section(SectionKind.headline, headline_statements(board))]


def headline_statements(board: Board, max_words: int = MAX_WORDS) -> list[Statement]:
    clauses = headline_clauses(board)
    kept = fit_budget(clauses, max_words)
    return [
        state(SectionKind.headline, c.text, _unique(c.findings), claim=c.claim)
        for c in sorted(kept, key=lambda c: c.order)
    ]


def headline_clauses(board: Board) -> list[Clause]:
    """Every clause the headline would say with no word limit, in reading order."""
    clauses: list[Clause] = []
    patient = patient_clause(board)
    if patient is not None:
        clauses.append(patient)
    cancers = ordered_cancers(board)
    prefixed = len(cancers) > 1
    for cancer in cancers:
        clauses.append(cancer_clause(board, cancer))
    for cancer in cancers:
        biomarkers = biomarker_clause(board, cancer, prefixed)
        if biomarkers is not None:
            clauses.append(biomarkers)
    clauses.extend(therapy_clauses(board, cancers))
    for cancer in cancers:
        clauses.extend(course_clauses(board, cancer, prefixed))
    response = response_clause(board)
    if response is not None:
        clauses.append(response)
    fitness = fitness_clause(board)
    if fitness is not None:
        clauses.append(fitness)
    for index, clause in enumerate(clauses):
        clause.order = index
    return clauses


# --------------------------------------------------------------------------- who


def patient_clause(board: Board) -> Clause | None:
    """``Jenny M, 53-year-old female (born 1965-01-01), alive.`` / ``..., deceased 2012-06-16 aged 79``."""
    who = person(board)
    status = board.picture.patient
    cited = patient_findings(board) + vital_status_findings(board)
    if not cited:
        return None
    name = who.name or "The patient"
    sex = who.gender if who.gender in {"female", "male"} else None
    claim: Claim | None = None
    vital = vital_status_findings(board)
    if vital and vital[0].claim is not None:
        claim = vital[0].claim
    if status.deceased:
        died = day(status.deceased_date)
        age = age_at(who.birth_date, died)
        bits = [b for b in (sex, f"born {who.birth_date}" if who.birth_date else None) if b]
        death = f"deceased {died}" if died else "deceased (date not recorded)"
        if age is not None:
            death += f" aged {age}"
        text = f"{name}, {', '.join([*bits, death])}"
        if status.cause_of_death:
            text += f"; cause of death: {short(status.cause_of_death)}"
    else:
        age = age_at(who.birth_date, day(board.picture.case_date))
        described = " ".join(b for b in (f"{age}-year-old" if age is not None else None, sex) if b)
        born = f"born {who.birth_date}" if who.birth_date else None
        inner = f"{described} ({born})" if described and born else described or born
        text = f"{name}, {inner}, alive" if inner else f"{name}, alive"
        ref = status.reference or who.reference
        if claim is None and ref:
            claim = VitalStatusClaim(deceased=False, facts=[ref])
    return Clause(text=text + ".", findings=cited, claim=claim)


# --------------------------------------------------------------------------- each cancer


def cancer_clause(board: Board, cancer: Cancer) -> Clause:
    """The cancer, its histology, status, onset, every stage with its source, metastatic sites."""
    name = short(cancer.name)
    details = []
    histology = short(cancer.histology)
    if histology and histology.lower() not in name.lower():
        details.append(histology)
    if cancer.laterality and cancer.laterality not in name.lower():
        details.append(cancer.laterality)
    if cancer.clinical_status:
        details.append(cancer.clinical_status)
    if cancer.onset:
        details.append(f"onset {day(cancer.onset)}")
    head = f"{name} ({', '.join(details)})" if details else name
    stages = stages_text(cancer) or "stage not recorded"
    findings = of_cancer(board, cancer, "diagnosis") + of_cancer(board, cancer, "stage")
    text = f"{head}: {stages}"
    sites = [s for s in cancer.metastatic_sites if s and s != "site not recorded"]
    if cancer.metastatic_sites:
        text += f"; metastatic to {', '.join(sites)}" if sites else "; metastatic"
        for other in board.picture.cancers:
            if other.kind == "secondary" and other is not cancer:
                findings += of_cancer(board, other, "diagnosis")
    compact_stage = ", ".join(dict.fromkeys(s.group for s in cancer.stages if s.group))
    compact = f"{name}: {'stage ' + compact_stage if compact_stage else 'stage not recorded'}."
    return Clause(text=text + ".", findings=findings, compact=compact)


def _prefix(cancer: Cancer, prefixed: bool) -> str:
    return f"{short(cancer.name)}: " if prefixed else ""


def biomarker_clause(board: Board, cancer: Cancer, prefixed: bool) -> Clause | None:
    """``ER Positive, PR Negative, HER2 Negative, ...``: predictive biomarkers first."""
    found = [f for f in of_cancer(board, cancer, "result", "biomarker") if isinstance(f.claim, ResultClaim)]
    found.sort(key=lambda f: _PREDICTIVE.get(f.claim.name.lower(), len(_PREDICTIVE)) if f.claim else 0)
    phrases: list[str] = []
    cited: list[Finding] = []
    for f in found:
        assert isinstance(f.claim, ResultClaim)
        phrase = result_phrase(f.claim)
        if phrase is None or phrase in phrases:
            continue
        phrases.append(phrase)
        cited.append(f)
        if len(phrases) == MAX_BIOMARKERS:
            break
    if not phrases:
        return None
    if prefixed:
        cited += of_cancer(board, cancer, "diagnosis")
    text = _prefix(cancer, prefixed) + ", ".join(phrases) + "."
    return Clause(text=text, findings=cited, priority=BIOMARKERS)


def therapy_clauses(board: Board, cancers: Sequence[Cancer]) -> list[Clause]:
    """The current line of each treated cancer, or ``none`` with the last one; one clause when no
    cancer has a recorded line."""
    treated = [(c, of_cancer(board, c, "line")) for c in cancers]
    treated = [(c, lines) for c, lines in treated if lines]
    if not treated:
        named = [c for c in cancers if c.kind != "secondary"] or list(cancers)
        cited = [f for c in named for f in of_cancer(board, c, "diagnosis")]
        if not cited:
            return []
        names = "; ".join(dict.fromkeys(short(c.name) for c in named))
        return [Clause(text=f"Lines of therapy for {names}: none recorded.", findings=cited)]
    prefixed = len(treated) > 1
    out = []
    for cancer, lines in treated:
        claims = [(f, f.claim) for f in lines if isinstance(f.claim, LineClaim)]
        current = [(f, c) for f, c in claims if c.status == "current"]
        if current:
            said = "; ".join(
                " + ".join(c.drugs) + (f" (since {day(c.start)})" if c.start else "") for _, c in current
            )
            text = f"Current line: {said}."
            cited = [f for f, _ in current]
        else:
            last_finding, last = max(claims, key=lambda fc: (fc[1].start or "", fc[1].end or ""))
            # Not "no current line": the verifier's status rule reads "current" there as said of the
            # cited (stopped) orders; the dates say when the last line ran.
            text = f"Therapy now: none; last line: {' + '.join(last.drugs)} ({line_period(board, last)})."
            cited = [last_finding]
        if prefixed:
            text = _prefix(cancer, True) + text
            cited += of_cancer(board, cancer, "diagnosis")
        out.append(Clause(text=text, findings=cited))
    return out


# --------------------------------------------------------------------------- course


def course_clauses(board: Board, cancer: Cancer, prefixed: bool) -> list[Clause]:
    """Each tumour marker of the cancer: first, nadir and latest value; its doubling time when the
    kinetics finding states one (only when the fit supports it)."""
    out = []
    for marker in cancer.markers:
        mine = [
            f
            for f in of_cancer(board, cancer, "result", "marker")
            if isinstance(f.claim, ResultClaim) and (marker.code is None or f.claim.code == marker.code)
        ]
        kinetics = [f for f in mine if "kinetics" in f.tags]
        series = [f for f in mine if "kinetics" not in f.tags]
        course = max(series, key=_result_count, default=None)
        if course is None or not isinstance(course.claim, ResultClaim):
            continue
        numeric = [
            r
            for r in course.claim.results
            if isinstance(r.value, (int, float)) and not isinstance(r.value, bool)
        ]
        points = sorted(numeric, key=lambda r: r.date or "")
        if not points:
            continue

        def shown(r: object) -> str:
            return f"{value_text(r.value, r.unit)} ({day(r.date)})"  # type: ignore[attr-defined]

        if len(points) == 1:
            said = shown(points[0])
        else:
            nadir = min(points, key=lambda r: float(r.value))  # type: ignore[arg-type]
            parts = [shown(points[0])]
            if nadir is not points[0] and nadir is not points[-1]:
                parts.append(f"nadir {shown(nadir)}")
            parts.append(f"latest {shown(points[-1])}")
            said = ", ".join(parts)
        cited = [course] + (of_cancer(board, cancer, "diagnosis") if prefixed else [])
        text = f"{_prefix(cancer, prefixed)}{marker.name} {said}."
        out.append(Clause(text=text, findings=cited, priority=COURSE))
        for f in kinetics:
            if f.value is None:
                continue  # no doubling time the fit supports: the course above says enough
            fit = _kinetics_fit(f)
            quality = f" (R² {fit['r_squared']}, n = {fit['n']})" if fit else ""
            out.append(
                Clause(
                    text=f"{marker.name} doubling time {value_text(f.value)} {f.unit or 'months'}{quality}.",
                    findings=[f],
                    priority=COURSE,
                )
            )
    return out


def _result_count(finding: Finding) -> int:
    return len(finding.claim.results) if isinstance(finding.claim, ResultClaim) else 0


def _kinetics_fit(finding: Finding) -> dict[str, str]:
    """n and R² of the doubling-time fit, from the kinetics finding's ``doubling-time fit:`` note
    (``key=value; ...``, written by the longitudinal specialist)."""
    for note in finding.notes:
        if note.startswith("doubling-time fit:"):
            pairs = dict(p.split("=", 1) for p in note.split(":", 1)[1].split(";") if "=" in p)
            fields = {k.strip(): v.strip() for k, v in pairs.items()}
            try:
                return {"n": fields["n"], "r_squared": f"{float(fields['r_squared']):.2f}"}
            except (KeyError, ValueError):
                return {}
    return {}


def response_clause(board: Board) -> Clause | None:
    """The latest response assessment (RECIST), as its finding words it."""
    responses = [
        f
        for f in board.findings
        if f.category == FindingCategory.response and f.value is not None and not _DATA_QUALITY & set(f.tags)
    ]
    last = latest(responses)
    if last is None:
        return None
    text = f"Latest response: RECIST 1.1 on {day(last.date)}: {last.value}."
    return Clause(text=text, findings=[last], priority=COURSE)


# --------------------------------------------------------------------------- fitness


def fitness_clause(board: Board) -> Clause | None:
    """Performance status, then recent organ function (`ORGAN_FUNCTION`, within `LAB_RECENCY_DAYS`)."""
    parts: list[str] = []
    cited: list[Finding] = []
    ps = [f for f in board.findings if isinstance(f.claim, ResultClaim) and f.claim.kind == PERFORMANCE]
    by_scale: dict[str, Finding] = {}
    for f in ps:
        assert isinstance(f.claim, ResultClaim)
        if (previous := by_scale.get(f.claim.name)) is None or (f.date or "") > (previous.date or ""):
            by_scale[f.claim.name] = f
    for f in by_scale.values():
        assert isinstance(f.claim, ResultClaim)
        result = f.claim.results[-1]
        label = re.sub(r"\s*performance status\s*$", "", f.claim.name, flags=re.I) or f.claim.name
        parts.append(f"{label} {value_text(result.value)} ({day(result.date)})")
        cited.append(f)
    labs = _organ_function(board)
    if labs:
        by_date: dict[str | None, list[str]] = {}
        for label, f in labs:
            assert isinstance(f.claim, ResultClaim)
            result = f.claim.results[-1]
            shown = value_text(result.value, result.unit)
            if shown is None:
                continue
            by_date.setdefault(day(result.date), []).append(f"{label} {shown}")
            cited.append(f)
        for when, items in by_date.items():
            parts.append(", ".join(items) + (f" ({when})" if when else ""))
    if not parts:
        return None
    return Clause(text="; ".join(parts) + ".", findings=cited, priority=FITNESS)


def _organ_function(board: Board) -> list[tuple[str, Finding]]:
    """The latest value of each organ-function analyte, when recent enough to bear on treatment."""
    reference = day(board.picture.patient.deceased_date) or day(board.picture.case_date)
    cutoff = date.fromisoformat(reference) - timedelta(days=LAB_RECENCY_DAYS) if reference else None
    labs = [
        f
        for f in board.findings
        if f.category == FindingCategory.lab and isinstance(f.claim, ResultClaim) and f.claim.kind == "lab"
    ]
    out: list[tuple[str, Finding]] = []
    for label, codes in ORGAN_FUNCTION:
        if label == "creatinine" and any(lbl == "eGFR" for lbl, _ in out):
            continue  # eGFR already says what creatinine would
        mine = [f for f in labs if isinstance(f.claim, ResultClaim) and f.claim.code in codes]
        last = latest(mine)
        when = day(last.date) if last is not None else None
        if last is None or when is None or (cutoff is not None and date.fromisoformat(when) < cutoff):
            continue
        out.append((label, last))
    return out


# --------------------------------------------------------------------------- budget


def fit_budget(clauses: list[Clause], max_words: int = MAX_WORDS) -> list[Clause]:
    """The clauses that fit in `max_words`: optional ones dropped, least important (then latest)
    first; then the required ones in their compact wording; then cancers beyond the budget named
    together in one closing clause."""
    kept = list(clauses)

    def total() -> int:
        return sum(words(c.text) for c in kept)

    optional = sorted((c for c in kept if c.priority > REQUIRED), key=lambda c: (-c.priority, -c.order))
    for clause in optional:
        if total() <= max_words:
            break
        kept.remove(clause)
    if total() > max_words:
        for clause in kept:
            if clause.compact:
                clause.text = clause.compact
    cancers = [c for c in kept if c.compact is not None]
    dropped: list[Clause] = []
    while total() > max_words and len(cancers) > 1:
        last = cancers.pop()
        kept.remove(last)
        dropped.append(last)
        more = _more_cancers(dropped)
        kept = [c for c in kept if not c.names_the_rest] + [more]
    return kept


def _more_cancers(dropped: list[Clause]) -> Clause:
    names = [c.text.split(":", 1)[0] for c in reversed(dropped)]
    return Clause(
        text=f"Also recorded: {'; '.join(names)}.",
        findings=[f for c in dropped for f in c.findings],
        order=max(c.order for c in dropped),
        names_the_rest=True,
    )


def _unique(findings: list[Finding]) -> list[Finding]:
    return list({f.id: f for f in findings}.values())


__all__ = [
    "LAB_RECENCY_DAYS",
    "MAX_WORDS",
    "ORGAN_FUNCTION",
    "Clause",
    "fit_budget",
    "headline",
    "headline_clauses",
    "headline_statements",
]
