"""Read the checkable claims out of a statement: quantities, dates, intervals, stages, biomarkers.

Every extractor returns spans, so later extractors skip text an earlier one already claimed
(a date's digits are not a lab value; the `2` of `HER2` or `pT2` is not a number) and the verifier
can tell which parts of a statement some check has covered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from medboard.tools.checks.numwords import word_numbers
from medboard.tools.units import is_known_unit, is_time_unit

Span = tuple[int, int]

_MONTHS = {
    name: index
    for index, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH_RE = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)


@dataclass(frozen=True)
class DateMention:
    """A date in the statement: an interval [earliest, latest] that the writer means."""

    text: str
    span: Span
    candidates: tuple[tuple[date, date], ...]  # one or more readings (day/month order ambiguity)
    precision: str  # day | month | year | relative


@dataclass(frozen=True)
class Quantity:
    text: str
    span: Span
    value: float
    number_text: str
    unit: str | None
    comparator: str | None = None
    count_of: str | None = None  # "3 medication record(s)": a count of things, not a measured value


# Nouns that make a bare number a count ("3 medication records", "6 values", "2 lines of therapy").
_COUNT_RE = re.compile(
    r"\s+(?:[A-Za-z-]+\s+){0,2}?(?P<noun>records?|values?|measurements?|results?|observations?|procedures?|"
    r"lines?|cycles?|doses?|courses?|administrations?|resources?|reports?|studies|study|series|images?|instances?|"
    r"lesions?|sites?|times|visits?|encounters?|entries|entry)(?:\(s\))?\b",
    re.I,
)


@dataclass(frozen=True)
class StageMention:
    text: str
    span: Span
    category: str  # T | N | M | stage_group
    core: str  # T2a, N1, M0, IIB ...
    prefix: str = ""  # c | p | yp ...


@dataclass(frozen=True)
class MarkerMention:
    marker: str  # ER | PR | HER2
    polarity: str  # positive | negative | equivocal
    span: Span


@dataclass(frozen=True)
class Expression:
    """Arithmetic written out in a statement: `a − b = c`, `a / b = c %`, `ln 2 / b = c`."""

    text: str
    span: Span
    op: str  # "-" | "+" | "*" | "/" | "/%" | "ln2/"
    operands: tuple[tuple[float, str], ...]  # (value, as written)
    result: tuple[float, str]


@dataclass
class Claims:
    """Everything extracted from one statement."""

    text: str
    dates: list[DateMention] = field(default_factory=list)
    quantities: list[Quantity] = field(default_factory=list)
    stages: list[StageMention] = field(default_factory=list)
    markers: list[MarkerMention] = field(default_factory=list)
    ages: list[tuple[int, Span]] = field(default_factory=list)
    expressions: list[Expression] = field(default_factory=list)
    masked: list[Span] = field(default_factory=list)


class Taken(list[Span]):
    """Spans already claimed by an extractor, with an O(span length) overlap test.

    A plain list made every extractor scan every earlier claim for every match: quadratic in the
    number of numbers/dates in a long statement. A byte per character marks what is taken.
    """

    def __init__(self, spans: list[Span] | None = None) -> None:
        super().__init__()
        self._marks = bytearray()
        for span in spans or []:
            self.append(span)

    def append(self, span: Span) -> None:
        super().append(span)
        start, end = span
        if end > len(self._marks):
            self._marks.extend(bytes(end - len(self._marks)))
        self._marks[start:end] = b"\x01" * (end - start)

    def extend(self, spans: object) -> None:
        for span in spans:  # type: ignore[attr-defined]
            self.append(span)

    def hits(self, span: Span) -> bool:
        start, end = span
        if start >= len(self._marks):
            return False
        return self._marks.find(1, start, min(end, len(self._marks))) != -1


def _overlaps(span: Span, spans: list[Span]) -> bool:
    if isinstance(spans, Taken):
        return spans.hits(span)
    return any(span[0] < e and s < span[1] for s, e in spans)


def _month_end(year: int, month: int) -> date:
    return date(year + (month == 12), month % 12 + 1, 1).fromordinal(
        date(year + (month == 12), month % 12 + 1, 1).toordinal() - 1
    )


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


_ISO_RE = re.compile(
    r"\b(?P<y>(?:19|20)\d{2})-(?P<m>\d{2})(?:-(?P<d>\d{1,2}))?(?:T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?\b"
)
_SLASH_RE = re.compile(r"\b(?P<a>\d{1,2})[/.](?P<b>\d{1,2})[/.](?P<y>(?:19|20)\d{2})\b")
_DMY_RE = re.compile(
    rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_RE},?\s+(?P<y>(?:19|20)\d{{2}})\b", re.I
)
_MDY_RE = re.compile(rf"\b{_MONTH_RE}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d{{2}})\b", re.I)
_MY_RE = re.compile(rf"\b{_MONTH_RE},?\s+(?:of\s+)?(?P<y>(?:19|20)\d{{2}})\b", re.I)
_YEAR_RE = re.compile(r"(?<![\d./-])\b(?P<y>(?:19|20)\d{2})\b(?![\d./-]\d)")
_WORD_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "several": None, "few": None,
}  # fmt: skip
_AGO_RE = re.compile(
    r"\b(?P<n>\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+"
    r"(?P<unit>day|week|month|year)s?\s+(?:ago|earlier|before\s+(?:the\s+)?(?:case|review|presentation))\b",
    re.I,
)
_AGE_RE = re.compile(
    r"\b(?P<n>\d{1,3})[- ](?:year|yr)s?[- ]old\b|\baged?\s+(?P<n2>\d{1,3})\b"
    r"|\b(?P<n3>\d{1,3})\s*(?:yo|y/o)\b",
    re.I,
)
_TIME_RE = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b")


def _add_days(day: date, days: float) -> date:
    return date.fromordinal(max(1, round(day.toordinal() + days)))


def extract_dates(text: str, case_date: date | None, taken: list[Span]) -> list[DateMention]:
    """Absolute dates (ISO, d/m/y or m/d/y, month names, month-year, bare years) and "N units ago"."""
    found: list[DateMention] = []

    def add(span: Span, candidates: list[tuple[date, date]], precision: str) -> None:
        if candidates and not _overlaps(span, taken):
            taken.append(span)
            found.append(DateMention(text[span[0] : span[1]], span, tuple(candidates), precision))

    for m in _ISO_RE.finditer(text):
        year, month = int(m["y"]), int(m["m"])
        if not 1 <= month <= 12:
            continue
        if m["d"]:
            day = _safe_date(year, month, int(m["d"]))
            add(m.span(), [(day, day)] if day else [], "day")
        else:
            add(m.span(), [(date(year, month, 1), _month_end(year, month))], "month")
    for m in _SLASH_RE.finditer(text):
        year, a, b = int(m["y"]), int(m["a"]), int(m["b"])
        readings = {d for d in (_safe_date(year, a, b), _safe_date(year, b, a)) if d}
        add(m.span(), [(d, d) for d in sorted(readings)], "day")
    for regex in (_DMY_RE, _MDY_RE):
        for m in regex.finditer(text):
            day = _safe_date(int(m["y"]), _MONTHS[m["month"].lower().rstrip(".")], int(m["d"]))
            add(m.span(), [(day, day)] if day else [], "day")
    for m in _MY_RE.finditer(text):
        year, month = int(m["y"]), _MONTHS[m["month"].lower().rstrip(".")]
        add(m.span(), [(date(year, month, 1), _month_end(year, month))], "month")
    if case_date is not None:
        for m in _AGO_RE.finditer(text):
            raw = m["n"].lower()
            n = _WORD_NUMBERS.get(raw) if raw in _WORD_NUMBERS else float(raw)
            if not n:
                continue
            unit_days = {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}[m["unit"].lower()]
            centre = n * unit_days
            # Writers round intervals: ±1 day for days, ±½ unit (at least) for longer units, ±15 %.
            slack = max(
                {"day": 1.0, "week": 3.5, "month": 16.0, "year": 183.0}[m["unit"].lower()], 0.15 * centre
            )
            add(
                m.span(),
                [(_add_days(case_date, -centre - slack), _add_days(case_date, -centre + slack))],
                "relative",
            )
    for m in _YEAR_RE.finditer(text):
        # A bare 4-digit year, unless a unit follows (then it is a quantity such as "2000 mg").
        after = re.match(r"\s*([A-Za-z%µμ/][\w/\[\]{}*^.%]*)", text[m.end() :])
        if after and is_known_unit(after[1]) and not is_time_unit(after[1]):
            continue
        year = int(m["y"])
        add(m.span(), [(date(year, 1, 1), date(year, 12, 31))], "year")
    return sorted(found, key=lambda d: d.span)


_NUMBER_RE = re.compile(
    r"(?P<cmp>[<>]=?|≤|≥)?\s*(?<![\w.\-/+^*])(?P<sign>[-+−](?=\d))?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][+-]?\d{1,3}(?![\d.]))?)"
    r"(?![\w.]*[A-Za-z]*\d)(?!(?:st|nd|rd|th)\b)"
)
_PAIR_RE = re.compile(r"(?<![\w.])(?P<a>\d{2,3})\s*/\s*(?P<b>\d{2,3})\s*(?P<unit>mm\s?\[?hg\]?)", re.I)
_UNIT_RE = re.compile(
    r"\s?(?P<unit>(?i:mm\s?\[?hg\]?|cm\s?\[?h2o\]?)|%|(?:x\s?)?10\s?(?:\^|\*\*?|e)\s?\d+\s?/\s?[A-Za-zµμ]+|1\s?/\s?\d[\w{}\[\]*^.]*|"
    r"°\s?[CF]\b|[A-Za-zµμ/\[{][\w\[\]{}µμ^*/.]*?(?:\s?/\s?(?:1\.73\s?m2|[\w\[\]{}µμ^*.]+))*)(?=$|[\s,;:)(]|\.(?:\s|$))"
)


# A unit written as a bare word must be one of these (pint knows "are", "grade", "cycle", "in"...).
def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_WORD_UNITS = _word_set(
    """
    g mg ug mcg µg μg kg ng pg l ml dl ul µl μl mol mmol umol µmol nmol pmol meq eq u iu mu ku
    mm cm m km ft inch inches lb lbs pound pounds oz h hr hrs min mins s sec d wk wks mo mos
    bpm mmhg gy cgy percent beats fl kpa pa cel
    """
)
_TIME_WORDS = _word_set("day days week weeks month months year years hour hours minute minutes wk wks yr yrs")


def _statement_unit(candidate: str) -> str | None:
    """The unit a number carries, if the following word really is a unit."""
    unit = candidate.strip().rstrip(".")
    if not unit or not re.search(r"[A-Za-z%°µμ]", unit):
        return None
    if unit.lower() in _TIME_WORDS:
        return unit
    if re.fullmatch(r"[A-Za-zµμ]+", unit) and unit.lower() not in _WORD_UNITS:
        return None  # a plain word such as "nodes", "cycles" or "are", not a unit symbol
    return unit if is_known_unit(unit) else None


def extract_quantities(text: str, taken: list[Span]) -> list[Quantity]:
    """Numbers with their units; `120/80 mmHg` yields two quantities."""
    found: list[Quantity] = []
    for m in _PAIR_RE.finditer(text):
        if _overlaps(m.span(), taken):
            continue
        taken.append(m.span())
        for key in ("a", "b"):
            found.append(Quantity(m[0], m.span(key), float(m[key]), m[key], "mmHg"))
    for m in _NUMBER_RE.finditer(text):
        span = m.span("num")
        if _overlaps(span, taken):
            continue
        unit_match = _UNIT_RE.match(text, m.end())
        unit = _statement_unit(unit_match["unit"]) if unit_match else None
        end = unit_match.end("unit") if unit and unit_match else m.end()
        number_text = m["num"].replace(",", "")
        value = float(number_text) * (-1 if m["sign"] in {"-", "−"} else 1)
        comparator = {"≤": "<=", "≥": ">="}.get(m["cmp"] or "", m["cmp"])
        taken.append((m.start(), end))
        count = _COUNT_RE.match(text, end) if unit is None else None
        found.append(
            Quantity(
                text[m.start() : end],
                (m.start(), end),
                value,
                number_text,
                unit,
                comparator,
                count_of=count["noun"].lower() if count else None,
            )
        )
    found.extend(_word_quantities(text, taken))
    return sorted(found, key=lambda q: q.span)


# Words before which a number in words is a name or an ordinal position, not a value.
_WORD_NUMBER_NAME_BEFORE = re.compile(
    r"(?:\b(?:line|arm|cohort|phase|stage|grade|type|cycle|day|week|class|level|tier|no|number)\s+)$",
    re.I,
)


def _word_quantities(text: str, taken: list[Span]) -> list[Quantity]:
    """Numbers in words ("seven", "forty-seven", "twelve point five") read like digits.

    A lone "one" counts only as a stated value (after ":" / "=" / "of" or before a unit): it is
    far more often an article-like word ("one of", "no one", "one-sided").
    """
    found: list[Quantity] = []
    for span, value, digits in word_numbers(text):
        if _overlaps(span, taken):
            continue
        if _WORD_NUMBER_NAME_BEFORE.search(text[max(0, span[0] - 12) : span[0]]):
            continue
        unit_match = _UNIT_RE.match(text, span[1])
        unit = _statement_unit(unit_match["unit"]) if unit_match else None
        lone_one = text[span[0] : span[1]].lower() == "one"
        if lone_one and unit is None and not re.search(r"[:=]\s*$", text[max(0, span[0] - 3) : span[0]]):
            continue
        end = unit_match.end("unit") if unit and unit_match else span[1]
        taken.append((span[0], end))
        count = _COUNT_RE.match(text, end) if unit is None else None
        found.append(
            Quantity(
                text[span[0] : end],
                (span[0], end),
                value,
                digits,
                unit,
                None,
                count_of=count["noun"].lower() if count else None,
            )
        )
    return found


_ROMAN = r"(?:0|IV|I{1,3}|[0-4])"
_STAGE_GROUP_RE = re.compile(
    rf"\bstage\s+(?P<prefix>[cpy]{{0,2}})(?P<core>{_ROMAN}(?:[A-Ca-c]\d?)?|IS)\b", re.I
)
_TNM_PART = r"(?:yp|yc|rp|[cpyra])?[TNM](?:is|[0-4](?:mi|[a-d]\d?)?|[Xx])"
_TNM_RUN_RE = re.compile(rf"(?<![A-Za-z0-9])(?:{_TNM_PART}\s?){{1,3}}(?![A-Za-z0-9])")
_TNM_ONE_RE = re.compile(
    r"(?P<prefix>yp|yc|rp|[cpyra])?(?P<cat>[TNM])(?P<core>is|[0-4](?:mi|[a-d]\d?)?|[Xx])"
)


def _normal_stage(core: str) -> str:
    """`2A` → `IIA`; roman groups upper-cased; sub-letter kept."""
    core = core.upper()
    m = re.fullmatch(r"([0-4])([A-C]\d?)?", core)
    if m:
        return ["0", "I", "II", "III", "IV"][int(m[1])] + (m[2] or "")
    return core


def parse_stages(text: str, taken: list[Span] | None = None) -> list[StageMention]:
    """Stage groups ("Stage IIB", "stage 3") and TNM categories ("cT3", "pN1a", "T2N0M0")."""
    taken = taken if taken is not None else Taken()
    found: list[StageMention] = []
    for m in _STAGE_GROUP_RE.finditer(text):
        if _overlaps(m.span(), taken):
            continue
        taken.append(m.span())
        found.append(
            StageMention(m[0], m.span(), "stage_group", _normal_stage(m["core"]), m["prefix"].lower())
        )
    for m in re.finditer(
        r"American Joint Committee on Cancer (?:stage |)(?P<v>[cpy]{0,2}[TNM]?\w+)", text
    ):  # AJCC SNOMED displays: "American Joint Committee on Cancer stage IIB", "... cT3"
        value = m["v"]
        if re.fullmatch(rf"{_ROMAN}[A-C]?\d?", value, re.I) and not _overlaps(m.span(), taken):
            taken.append(m.span())
            found.append(StageMention(m[0], m.span(), "stage_group", _normal_stage(value)))
    for run in _TNM_RUN_RE.finditer(text):
        if _overlaps(run.span(), taken):
            continue
        taken.append(run.span())
        for m in _TNM_ONE_RE.finditer(run[0]):
            prefix = (m["prefix"] or "").lower()
            core = m["cat"].upper() + m["core"].lower().replace("x", "X")
            span = (run.start() + m.start(), run.start() + m.end())
            found.append(StageMention(m[0], span, m["cat"].upper(), core, prefix))
    return found


_MARKER_NAMES = {
    "ER": r"ER|estrogen[- ]receptors?|oestrogen[- ]receptors?",
    "PR": r"PR|PgR|progesterone[- ]receptors?",
    "HER2": r"HER-?2(?:/neu)?|ERBB2|HER2/neu",
}
_POL_RE = r"(?P<pol>(?:\(?IHC\)?\s*)?[0-3]\+|\+|-(?![A-Za-z])|−|pos(?:itive)?\b|neg(?:ative)?\b|equivocal\b)"


def extract_markers(text: str) -> list[MarkerMention]:
    """ER/PR/HER2 with polarity: "ER+", "ER-positive", "HER2 negative", "ER/PR positive",
    "positive for ER", "triple negative", "hormone receptor positive" (ER and PR)."""
    found: list[MarkerMention] = []
    names = "|".join(f"(?P<{k}>{v})" for k, v in _MARKER_NAMES.items())
    # A run of markers sharing one polarity: "ER/PR positive", "ER and PR negative".
    group_re = re.compile(
        rf"(?<![A-Za-z])(?P<run>(?:(?:{'|'.join(_MARKER_NAMES.values())})\s*(?:/|,|and|&)\s*)+)"
        rf"(?P<last>{'|'.join(_MARKER_NAMES.values())})\s*(?:receptor\s*)?[- ]?\s*"
        rf"(?:status\s*(?:is\s*|was\s*)?)?{_POL_RE}",
        re.I,
    )
    taken: list[Span] = Taken()
    for m in group_re.finditer(text):
        polarity = _norm_pol(m["pol"])
        for part in re.split(r"\s*(?:/|,|and|&)\s*", m["run"] + m["last"]):
            marker = _marker_of(part)
            if marker:
                found.append(MarkerMention(marker, polarity, m.span()))
        taken.append(m.span())
    single_re = re.compile(
        rf"(?<![A-Za-z])(?:{names})(?![A-Za-z0-9])\s*(?:receptor\s*)?"
        rf"(?:status\s*(?:is\s*|was\s*|:\s*)?|:\s*)?[- ]?\s*{_POL_RE}",
        re.I,
    )
    for m in single_re.finditer(text):
        if _overlaps(m.span(), taken):
            continue
        marker = next(k for k in _MARKER_NAMES if m[k])
        found.append(MarkerMention(marker, _norm_pol(m["pol"]), m.span()))
        taken.append(m.span())
    for m in re.finditer(
        rf"\b(?P<pol>positive|negative)\s+for\s+(?P<name>{'|'.join(_MARKER_NAMES.values())})", text, re.I
    ):
        if not _overlaps(m.span(), taken):
            marker = _marker_of(m["name"])
            if marker:
                found.append(MarkerMention(marker, m["pol"].lower(), m.span()))
                taken.append(m.span())
    for m in _CLAUSE_MARKER_RE.finditer(text):
        if _overlaps(m.span(), taken):
            continue
        clause_polarity = _clause_polarity(m["pol"], negated=bool(_CLAUSE_NEGATION_RE.search(m["mid"])))
        marker = _marker_of(m["name"])
        if clause_polarity and marker:
            found.append(MarkerMention(marker, clause_polarity, m.span()))
            taken.append(m.span())
    for m in re.finditer(r"\btriple[- ]negative\b", text, re.I):
        found.extend(MarkerMention(k, "negative", m.span()) for k in ("ER", "PR", "HER2"))
    return found


# A receptor named, then its result later in the same clause: "ER is not positive", "HER2 is
# amplified (3+)", "HER2 FISH non-amplified", "PR: IHC 2+", "ER not expressed". Abbreviations are
# read in capitals only ("PR interval" is ECG wording in any case, "er" is a word); the window is
# short and stops at clause punctuation so a result cannot be borrowed from the next clause.
_CLAUSE_MARKER_RE = re.compile(
    r"(?<![A-Za-z0-9])(?P<name>ER|PR|PgR|(?i:HER-?2(?:/neu)?|ERBB2|(?:estrogen|oestrogen|progesterone)"
    r"[- ]receptors?))(?![A-Za-z0-9])\s*:?(?P<mid>[^.;,\n()]{0,40}?)\(?"
    r"(?P<pol>(?i:non-?amplified|unamplified|amplified|amplification|over-?expressed|overexpression|"
    r"expressed|expression|positive|negative|equivocal|borderline|indeterminate)(?![A-Za-z])|[0-3]\+)",
)
_CLAUSE_NEGATION_RE = re.compile(r"\b(?:not|no|non|without|lacks?|lacking|absent)\b", re.I)
_CLAUSE_POSITIVE = {"amplified", "amplification", "overexpressed", "over-expressed", "overexpression",
                    "expressed", "expression", "positive", "3+"}  # fmt: skip
_CLAUSE_NEGATIVE = {"non-amplified", "nonamplified", "unamplified", "negative", "0+", "1+"}


def _clause_polarity(raw: str, *, negated: bool) -> str | None:
    """A result word read in its clause; "not" flips positive and negative (never equivocal)."""
    word = raw.lower()
    if word in _CLAUSE_POSITIVE:
        polarity = "positive"
    elif word in _CLAUSE_NEGATIVE:
        polarity = "negative"
    else:
        polarity = "equivocal"
    if not negated:
        return polarity
    return {"positive": "negative", "negative": "positive"}.get(polarity)


def _norm_pol(raw: str) -> str:
    low = raw.lower().replace("ihc", "").strip("() ")
    if re.fullmatch(r"[0-3]\+", low):  # HER2 immunohistochemistry score
        return {"3": "positive", "2": "equivocal"}.get(low[0], "negative")
    if low.startswith("pos") or low == "+":
        return "positive"
    if low.startswith("neg") or low in {"-", "−"}:
        return "negative"
    return "equivocal"


def _marker_of(name: str) -> str | None:
    for key, pattern in _MARKER_NAMES.items():
        if re.fullmatch(pattern, name.strip(), re.I):
            return key
    return None


_NUM = r"[-+−]?\d+(?:\.\d+)?"
_EXPRESSIONS = (
    ("ln2/", re.compile(rf"\bln\s*\(?2\)?\s*/\s*(?P<b>{_NUM})\s*=\s*(?P<c>{_NUM})")),
    ("/", re.compile(rf"(?<![\w.])(?P<a>{_NUM})\s*/\s*(?P<b>{_NUM})\s*=\s*(?P<c>{_NUM})(?P<pct>\s*%)?")),
    ("-", re.compile(rf"(?<![\w.])(?P<a>{_NUM})\s*[−-]\s*(?P<b>{_NUM})\s*=\s*(?P<c>{_NUM})")),
    ("+", re.compile(rf"(?<![\w.])(?P<a>{_NUM})\s*\+\s*(?P<b>{_NUM})\s*=\s*(?P<c>{_NUM})")),
    ("*", re.compile(rf"(?<![\w.])(?P<a>{_NUM})\s*[×*]\s*(?P<b>{_NUM})\s*=\s*(?P<c>{_NUM})")),
)


def _number(text: str) -> float:
    return float(text.replace("−", "-").replace("+", ""))


def extract_expressions(text: str, taken: list[Span]) -> list[Expression]:
    """Worked arithmetic (differences, ratios, percent changes, ln 2 / slope)."""
    found: list[Expression] = []
    for op, regex in _EXPRESSIONS:
        for m in regex.finditer(text):
            if _overlaps(m.span(), taken):
                continue
            names = ["b"] if op == "ln2/" else ["a", "b"]
            operands = tuple((_number(m[n]), m[n]) for n in names)
            kind = "/%" if op == "/" and m["pct"] else op
            found.append(Expression(m[0], m.span(), kind, operands, (_number(m["c"]), m["c"])))
            taken.append(m.span())
    return sorted(found, key=lambda e: e.span)


def extract_claims(text: str, case_date: date | None = None, mask: list[str] | None = None) -> Claims:
    """All checkable claims in `text`. `mask` lists record phrases (code displays) whose digits
    are names, not values (e.g. "MDRD)/1.73 sq M", "PHQ-2")."""
    names: list[Span] = []  # spans whose digits are names, not values
    for m in _TIME_RE.finditer(text):
        names.append(m.span())
    # Names with digits: PHQ-2, Ki-67, CA 19-9, exon 19, c.2573T>G, p.L858R, LOINC codes (1920-8),
    # and thresholds that define words rather than report values ("stable means within ±5 %").
    for m in re.finditer(
        r"\b(?:line|arm|cohort|phase)\s+\d+\b|\bLOINC[:\s]+\d{1,6}-\d\b|(?<![\d.-])\d{3,6}-\d\b(?!\s*(?:%|[a-zA-Z]))|±\s*\d+(?:\.\d+)?\s*%?|"
        r"\b[A-Za-z]{1,6}-\d+(?:-\d+)?\b|\bCA\s?\d{2,3}-\d\b|\b[cpg]\.[\w>_*+-]+|\bexons?\s+\d+|\bchromosome\s+\d+|"
        r"\b\d+(?:q|p)\d+|\b(?:grade|gleason|ecog|cycle|line|day)\s+\d\b(?=\s*(?:of|/))",
        text,
        re.I,
    ):
        names.append(m.span())
    claims = Claims(text=text, masked=list(names))
    taken = Taken(names)
    claims.stages = parse_stages(text, taken)
    claims.markers = extract_markers(text)
    taken.extend(mk.span for mk in claims.markers)
    # Record phrases quoted in the statement (a lab's name "... /1.73 sq M") hide their digits from
    # the number and date readers only: a stage or marker inside a quoted display is still a claim.
    low = text.lower()
    for phrase in mask or []:
        phrase_low = phrase.lower().strip()
        numeric = any(ch.isdigit() for ch in phrase_low) or next(word_numbers(phrase_low), None)
        if len(phrase_low) >= 4 and numeric:  # "Deauville five point scale": its "five" is a name
            start = low.find(phrase_low)
            while start >= 0:
                taken.append((start, start + len(phrase_low)))
                claims.masked.append((start, start + len(phrase_low)))
                start = low.find(phrase_low, start + 1)
    for m in _AGE_RE.finditer(text):
        number = m["n"] or m["n2"] or m["n3"]
        claims.ages.append((int(number), m.span()))
        taken.append(m.span())
    claims.dates = extract_dates(text, case_date, taken)
    claims.expressions = extract_expressions(text, taken)
    claims.quantities = extract_quantities(text, taken)
    return claims
