"""Sex and gender words against the record's `Patient.gender` (administrative gender).

A statement that calls a female patient "male", "a 57-year-old man", "gentleman", "Sex: M" or
"Mr.", "he" is contradicted, whatever it cites: the patient a summary is about has one recorded
administrative gender. Read conservatively, so that real summaries raise no false alarm:

- only `male` / `female` in the record are compared (`other`, `unknown` or none: skip);
- words inside a cited record name are the name's ("Malignant neoplasm of female breast"),
  and a sex word that qualifies anatomy or another person ("male breast", "female partner") is
  not about the patient;
- a statement that speaks of relatives ("her mother", "his brother") or that cites family history
  is skipped for pronouns and bare words (they may be about the relative);
- wording about gender identity ("transgender", "non-binary", "gender identity") is skipped:
  identity and administrative gender can differ and both be true.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from medboard.models import CheckResult, EvidenceRef
from medboard.tools.checks.confusables import skeleton
from medboard.tools.checks.evidence import CitedEvidence
from medboard.tools.checks.extract import Claims
from medboard.tools.checks.status import fact_names
from medboard.tools.fhir.record import PatientRecord

SEX_AGREES = "sex_agrees"

_WORDS = {
    "male": "male", "man": "male", "boy": "male", "gentleman": "male", "masculine": "male",
    "female": "female", "woman": "female", "girl": "female", "lady": "female", "feminine": "female",
}  # fmt: skip
_WORD_RE = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.I)
# "Sex: M", "gender F", "65M", "65 yo F", "65-year-old M".
_LETTER_RE = re.compile(
    r"\b(?i:sex|gender)\s*[:=]?\s*(?P<a>[MF])\b|\b\d{1,3}\s*(?:yo|y/o|-?year-old|yr)?\s*(?P<b>[MF])\b(?![\w/])"
)
# Honorifics before a name: "Mr. Jenny M", "Mrs Smith".
_HONORIFIC_RE = re.compile(r"\b(?:(?P<m>Mr)|(?P<f>Mrs|Ms|Miss))\b\.?(?=\s+[A-Z])")
# Pronouns, lower case or capitalised (an all-caps "HER" is the receptor).
_PRONOUN_RE = re.compile(
    r"\b(?:(?P<m>[Hh]e|[Hh]im|[Hh]is|[Hh]imself)|(?P<f>[Ss]he|[Hh]er|[Hh]ers|[Hh]erself))\b(?![-/]?(?:2|neu))"
)
# A sex word that qualifies anatomy or another person rather than naming the patient's sex.
_NOT_THE_PATIENT = re.compile(
    r"\s+(?:(?:left|right|bilateral)\s+)?(?:breasts?|genital\w*|reproductive|pattern|pelvis|urethra\w*|infertility|partners?|"
    r"relatives?|siblings?|donors?|child(?:ren)?|patients|hormones?|condoms?)\b",
    re.I,
)
_RELATIVES = re.compile(
    r"\b(?:mother|father|sister|brother|son|daughter|aunt|uncle|grand\w+|wife|husband|partner|spouse|"
    r"sibling|siblings|family|relative|relatives|cousin|niece|nephew|donor|child|children|parents?)\b",
    re.I,
)
_IDENTITY = re.compile(r"\b(?:trans\w*|non-?binary|gender identity|genderqueer|intersex)\b", re.I)


def _result(outcome: str, detail: str, evidence: list[EvidenceRef] | None = None) -> CheckResult:
    return CheckResult(name=SEX_AGREES, outcome=outcome, detail=detail, evidence=evidence or [])  # type: ignore[arg-type]


def stated_sexes(text: str, names: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(sex, word) for every place the statement gives the patient's sex."""
    if _IDENTITY.search(text):
        return []
    low = text.lower()
    quoted = SpanGuard(low, names)
    # Relatives named outside the record's own names ("Lucy Child" is a name, not a child).
    relatives = any(not quoted.covers(m.start(), m.end()) for m in _RELATIVES.finditer(text))
    found: list[tuple[str, str]] = []
    for m in _LETTER_RE.finditer(text):
        letter = m["a"] or m["b"]
        found.append(("male" if letter == "M" else "female", m[0]))
    for m in _HONORIFIC_RE.finditer(text):
        found.append(("male" if m["m"] else "female", m[0]))
    if relatives:
        return found
    for m in _WORD_RE.finditer(text):
        if quoted.covers(m.start(), m.end()) or _NOT_THE_PATIENT.match(text, m.end()):
            continue
        found.append((_WORDS[m[1].lower()], m[0]))
    for m in _PRONOUN_RE.finditer(text):
        if not quoted.covers(m.start(), m.end()):
            found.append(("male" if m["m"] else "female", m[0]))
    return found


class SpanGuard:
    """Where the cited record names occur in the (lower-cased) statement."""

    def __init__(self, low: str, names: Sequence[str]) -> None:
        from medboard.tools.checks.text import SpanList

        spans: list[tuple[int, int]] = []
        for name in {skeleton(n).lower().strip() for n in names}:
            if len(name) < 4 or not (_WORD_RE.search(name) or _RELATIVES.search(name)):
                continue  # only names that carry a sex or relative word need guarding
            start = low.find(name)
            while start != -1:
                spans.append((start, start + len(name)))
                start = low.find(name, start + 1)
        self._spans = SpanList(spans)

    def covers(self, start: int, end: int) -> bool:
        return self._spans.covers(start, end)


def check_sex(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """The patient's sex as the statement words it agrees with `Patient.gender`."""
    del case_date, claims
    patient = record.patient or {}
    gender = str(patient.get("gender") or "").lower()
    if gender not in {"male", "female"}:
        return _result("skip", "the record gives no male/female administrative gender")
    if any((c.reference or c.ref.reference).startswith("FamilyMemberHistory/") for c in cited):
        return _result("skip", "cites family history: sex words may be about the relative")
    names = fact_names(*(f for c in cited for f in c.all_facts()))
    stated = stated_sexes(statement_text, names)
    if not stated:
        return _result("skip", "no sex or gender wording")
    evidence = [EvidenceRef(reference=record.patient_ref or "Patient", path="gender")]
    wrong = [word for sex, word in stated if sex != gender]
    if wrong:
        shown = ", ".join(dict.fromkeys(repr(w) for w in wrong))
        return _result("fail", f"statement says {shown}; Patient.gender is {gender}", evidence)
    return _result("pass", f"sex wording agrees with Patient.gender ({gender})", evidence)
