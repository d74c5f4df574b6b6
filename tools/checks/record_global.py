"""Record-global check for text: a statement true of what it cites but false of the patient fails.

Every other text check compares a statement with the resources it cites. A model can write
"Currently on anastrozole" citing an active order — true of the order — while a later
MedicationStatement stopped the drug for arthralgia; or "HER2: negative" citing one result while a
second specimen of the same day says positive. This check starts from the cited references, finds
the concepts they belong to in the clinical picture (`medboard.tools.reconcile.index`), and fails
when the text asserts what the picture denies:

- **currency** — the text calls a medication or a line current ("current", "currently",
  "ongoing", "active", "continues", "still on", "is on", a sentence opening "On <drug>") while the
  picture's status for it is stopped / completed / stale / unknown. The deciding source is named
  (the stopping statement, the stale order's last evidence, the death's record). A sentence about
  a line ("Line 2 ... ongoing") is judged by the line, other sentences by the medication. As in
  `status.py`, a currency word is about something the sentence names: it fails only when no
  named, cited concept is current.
- **discordant biomarker** — the text states a value of a biomarker (a polarity word, or the cited
  result's own value) while the picture holds a discordant result of that biomarker (same code, or
  the same name under another code with the opposite polarity) that the statement neither cites
  nor mentions. Named as "contradicted by Observation/x: Positive on 2019-01-02".
- **implausible value** — the text states a number about a resource the picture lists as an
  `implausible_value` (kept out of every series: "Protein 76.21 g/dL").
- **after death** — the text cites a resource of care dated after the recorded death (the
  reconciliation's `after_death` rule: records of the death itself and the same day are left out)
  and states it as plain fact.
- **vital status** — the text calls the patient alive, citing the Patient, while the picture
  records a death (on the Patient or in a cause- or date-of-death Observation); or says the
  patient died while no record of the patient's death exists.

Quiet on purpose (the negative controls of `benchmarks/bench_record_global.py`): a statement that
itself says the drug was stopped / completed / stale, or reports the conflict, the implausible
value or the posthumous date, is fine; a repeat test that agrees is not a conflict (the same key);
numbers that change over time are a trend, never a discordance; clinical and pathologic stages are
not compared here at all.

The picture is the one the pipeline verifies against (`picture.py`), else
``picture_of(record, case_date=...)``: the same cached picture the specialists read. Its failure
contradicts (`registry.py`); it accounts for no words (it is a gate, not a reading of the text).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from medboard.models import CheckResult, EvidenceRef
from medboard.models.picture import ClinicalPicture
from medboard.tools.checks.evidence import CitedEvidence
from medboard.tools.checks.extract import Claims, extract_claims
from medboard.tools.checks.picture import picture_for
from medboard.tools.checks.status import fact_names, stated_polarity
from medboard.tools.checks.text import SpanList, concept_tokens, fold, negated_spans, overlap
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile.index import (
    Concepts,
    PictureIndex,
    discordant_results,
    index_of,
    result_key,
)

RECORD_AGREES = "record_agrees"

# Words (on folded text) that call something current. "on <drug>" counts at a sentence's start or
# after a subject ("she is on", "patient on"); "started on X" is a start, not a state.
_SAYS_CURRENT = re.compile(
    r"\b(?:current(?:ly)?|ongoing|active|continues|continuing|remains on|still (?:on|taking|receiving)|"
    r"(?:is|are) (?:on|taking|receiving)|(?:patient|she|he|they) (?:is |are )?on)\b|^\s*on\b",
)
# The statement qualifies the currency itself: it says the thing is not (or no longer) current.
_SAYS_NOT_CURRENT = re.compile(
    r"\b(?:stopped|discontinued|ceased|completed|finished|stale|ended|held|withdrawn|no longer|"
    r"previously|formerly|was taken off|not current(?:ly)?|conflict\w*|discordan\w*|discrepan\w*)\b"
)
_SAYS_LINE = re.compile(r"\b(?:line|regimen)s?\b")
_REPORTS_CONFLICT = re.compile(
    r"\b(?:conflict\w*|discordan\w*|discrepan\w*|disagree\w*|inconsisten\w*|contradict\w*)\b"
)
_FLAGS_IMPLAUSIBLE = re.compile(
    r"\b(?:implausible|impossible|not plausible|data quality|erroneous|error|outside the plausible)\b"
)
# Vital status said of the patient (not "her father died", not "living situation").
_SUBJECT = (
    r"(?:\bthe patient|\bpatient|\bshe|\bhe|^|vital status:?)\s*(?:is\s+|was\s+|has\s+|remains\s+|still\s+)*"
)
_SAYS_ALIVE = re.compile(_SUBJECT + r"(?:alive|living)\b")
_SAYS_DIED = re.compile(_SUBJECT + r"(?:died|deceased|dead|passed away)\b|\bdate of death\b")
_FLAGS_POSTHUMOUS = re.compile(
    r"\b(?:after (?:the (?:recorded |patient's |patient s )?)?death|posthumous\w*|"
    r"after (?:the patient|she|he) died|data quality)\b"
)


@dataclass(frozen=True)
class _Judgement:
    outcome: str  # pass | fail
    detail: str
    sources: tuple[str, ...] = ()


def _result(outcome: str, detail: str, sources: Sequence[str] = ()) -> CheckResult:
    evidence = [EvidenceRef(reference=s) for s in dict.fromkeys(sources)]
    return CheckResult(name=RECORD_AGREES, outcome=outcome, detail=detail[:900], evidence=evidence)  # type: ignore[arg-type]


def _asserted(pattern: re.Pattern[str], folded: str) -> bool:
    """`pattern` occurs in `folded` outside every negation ("not currently on", "no longer alive")."""
    found = list(pattern.finditer(folded))
    if not found:
        return False
    negations = _negations(folded)
    return any(not negations.covers(m.start(), m.end(), slack=1) for m in found)


@functools.lru_cache(maxsize=8)
def _negations(folded: str) -> SpanList:
    """The statement's negation scopes, found once per statement whichever rule asks."""
    return negated_spans(folded)


def _mentions(text_tokens: set[str], *names: str) -> bool:
    wanted = set().union(*(concept_tokens(n) for n in names if n))
    return bool(overlap(text_tokens, wanted))


def _currency(
    folded: str,
    text_tokens: set[str],
    concepts: list[Concepts],
    index: PictureIndex,
    names: dict[str, list[str]],
) -> list[_Judgement]:
    """`names`: each cited reference's own names (a brand, "Lasix 40mg", names the ingredient)."""
    if not _asserted(_SAYS_CURRENT, folded) or _SAYS_NOT_CURRENT.search(folded):
        return []
    lines = {id(line): (cancer, line) for c in concepts for cancer, line in c.lines}
    if lines and _SAYS_LINE.search(folded):
        named = [
            (cancer, line)
            for cancer, line in lines.values()
            if _mentions(text_tokens, *line.drugs, *(n for r in line.sources for n in names.get(r, ())))
        ]
        if not named:
            return []
        if any(line.status == "current" for _, line in named):
            return [_Judgement("pass", "the picture has the line current")]
        out = []
        for _, line in named:
            basis = index.line_basis(line)
            span = f"{line.start or '?'} – {line.end or 'ongoing'}"
            out.append(
                _Judgement(
                    "fail",
                    f"statement calls the line {' + '.join(line.drugs)} ({span}) current; the picture says "
                    f"{line.status}: {basis.reason} (decided by {', '.join(basis.sources)})",
                    basis.sources,
                )
            )
        return out
    medications = {m.ingredient: m for c in concepts for m in c.medications}
    named_meds = [
        m
        for m in medications.values()
        if _mentions(text_tokens, m.ingredient, *(n for r in m.sources for n in names.get(r, ())))
    ]
    if not named_meds:
        return []
    if any(m.status == "current" for m in named_meds):
        return [_Judgement("pass", "the picture has the medication current")]
    out = []
    for medication in named_meds:
        basis = index.medication_basis(medication)
        out.append(
            _Judgement(
                "fail",
                f"statement calls {medication.ingredient} current; the picture says {medication.status}: "
                f"{basis.reason} (decided by {', '.join(basis.sources)})",
                basis.sources,
            )
        )
    return out


def _states_value(folded: str, value: object) -> bool:
    if stated_polarity(folded) is not None:
        return True
    text = " ".join(str(value or "").lower().split())
    return len(text) >= 2 and text in folded


def _biomarkers(folded: str, cited_refs: set[str], concepts: list[Concepts]) -> list[_Judgement]:
    out: list[_Judgement] = []
    for concept in concepts:
        for cancer, biomarker in concept.biomarkers:
            own = [r for r in biomarker.results if r.source == concept.reference]
            if not any(_states_value(folded, r.value) for r in own):
                continue  # the statement states no value of this biomarker
            if _REPORTS_CONFLICT.search(folded) or (
                stated_polarity(folded) is None and "positive" in folded and "negative" in folded
            ):
                out.append(_Judgement("pass", f"{biomarker.name}: the statement reports both sides"))
                continue
            said = {result_key(r) for b in cancer.biomarkers for r in b.results if r.source in cited_refs}
            clashing = [
                (b, r) for b, r in discordant_results(cancer, biomarker, said) if r.source not in cited_refs
            ]
            if not clashing:
                out.append(_Judgement("pass", f"{biomarker.name}: no discordant result in the record"))
                continue
            shown = "; ".join(f"{r.source}: {r.value} on {r.date or 'an unknown date'}" for _, r in clashing)
            out.append(
                _Judgement(
                    "fail",
                    f"{biomarker.name} stated from {concept.reference} alone; contradicted by {shown}",
                    tuple(r.source for _, r in clashing),
                )
            )
    return out


def _implausible(folded: str, claims: Claims, concepts: list[Concepts]) -> list[_Judgement]:
    numbers = [q for q in claims.quantities if q.count_of is None]
    if not numbers or _FLAGS_IMPLAUSIBLE.search(folded):
        return []
    return [
        _Judgement(
            "fail",
            f"states a value of {concept.reference}, which the picture lists as implausible: "
            f"{item.description}",
            (concept.reference,),
        )
        for concept in concepts
        for item in concept.quality_of("implausible_value")
    ]


def _after_death(folded: str, concepts: list[Concepts], index: PictureIndex) -> list[_Judgement]:
    if _FLAGS_POSTHUMOUS.search(folded):
        return []
    out: list[_Judgement] = []
    for concept in concepts:
        found = index.after_death(concept.reference)
        if found is None:
            continue
        death = found.sources[0]
        when = next((s.quote for s in found.sources if s.reference == concept.reference and s.quote), None)
        died = death.quote or index.picture.patient.deceased_date
        out.append(
            _Judgement(
                "fail",
                f"{concept.reference} is dated {when or 'after the death'}, after the patient's recorded "
                f"death ({death.reference}: {died}); stated as plain fact",
                (death.reference, concept.reference),
            )
        )
    return out


def _vital_status(
    folded: str, refs: list[str], record: PatientRecord, picture: ClinicalPicture
) -> list[_Judgement]:
    patient = picture.patient
    if not (record.patient_ref in refs or set(refs) & set(patient.sources)):
        return []
    alive, died = _asserted(_SAYS_ALIVE, folded), _asserted(_SAYS_DIED, folded)
    if alive == died:
        return []  # neither, or both ("alive at the last visit, died on ...")
    sources = tuple(patient.sources or [record.patient_ref or ""])
    if alive and patient.deceased:
        when = f" on {patient.deceased_date}" if patient.deceased_date else ""
        detail = f"statement calls the patient alive; the record says died{when} ({', '.join(sources)})"
        return [_Judgement("fail", detail, sources)]
    if died and not patient.deceased:
        return [
            _Judgement("fail", "statement says the patient died; no record of the patient's death", sources)
        ]
    return [_Judgement("pass", "vital status as recorded")]


def check_record(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """Fails when the statement asserts, about what it cites, what the picture denies (see above)."""
    refs = list(dict.fromkeys(c.reference for c in cited if c.exists and c.reference))
    if not refs:
        return _result("skip", "no cited record resource")
    picture = picture_for(record, case_date)
    index = index_of(picture)
    concepts = [index.of(ref) for ref in refs]
    folded = fold(statement_text)
    claims = claims or extract_claims(statement_text, case_date)
    text_tokens = concept_tokens(statement_text)
    names: dict[str, list[str]] = {}
    for item in cited:
        if item.reference:
            names.setdefault(item.reference, []).extend(fact_names(*item.facts))
    judgements = [
        *_currency(folded, text_tokens, concepts, index, names),
        *_biomarkers(folded, set(refs), concepts),
        *_implausible(folded, claims, concepts),
        *_after_death(folded, concepts, index),
        *_vital_status(folded, refs, record, picture),
    ]
    failed = [j for j in judgements if j.outcome == "fail"]
    if failed:
        return _result("fail", "; ".join(j.detail for j in failed), [s for j in failed for s in j.sources])
    if judgements:
        return _result("pass", "; ".join(j.detail for j in judgements))
    return _result("skip", "nothing the picture holds a different view of")


__all__ = ["RECORD_AGREES", "check_record"]
