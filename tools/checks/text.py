"""Clinical text normalisation shared by the checks: tokens, synonyms, negation cues, laterality.

The checks compare a statement's words with the words of the cited record (code displays,
labels, conclusions). Both sides go through `concept_tokens`, which folds spelling variants,
expands common abbreviations and maps synonyms onto one token, so that "Hb" meets
"Hemoglobin [Mass/volume] in Blood" and "mets" meets "Secondary malignant neoplasm". The tables
are deliberately small and conservative: a missing synonym makes a statement *unverifiable*
(handed to the entailment model), never silently supported.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Sequence

from medboard.tools.checks.confusables import skeleton

# British → American spellings, applied to lowercase text before tokenising.
_SPELLING = (
    ("haemo", "hemo"),
    ("anaem", "anem"),
    ("leukaem", "leukem"),
    ("oestro", "estro"),
    ("oesophag", "esophag"),
    ("tumour", "tumor"),
    ("oedema", "edema"),
    ("paediatric", "pediatric"),
    ("haemat", "hemat"),
    ("foetal", "fetal"),
    ("behaviour", "behavior"),
)

# Multi-word phrases and abbreviations → one concept token. Applied to both sides.
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"white blood cells?|leukocytes?|leucocytes?|\bwbcs?\b", " leukocyte "),
    (r"red blood cells?|erythrocytes?|\brbcs?\b", " erythrocyte "),
    (r"platelets?|thrombocytes?|\bplts?\b", " platelet "),
    (r"\bhba1c\b|\ba1c\b|hemoglobin a1c", " hba1c "),
    (r"\bhgb\b|\bhb\b", " hemoglobin "),
    (r"\bhct\b", " hematocrit "),
    (r"blood pressure|\bbp\b", " bloodpressure "),
    (r"heart rate|pulse rate|\bhr\b(?!\s*[+-]|\s+(?:positive|negative|status))", " heartrate "),
    (r"respiratory rate|\brr\b", " respiratoryrate "),
    (r"body mass index|\bbmi\b", " bmi "),
    (r"body weight|\bweight\b|\bwt\b", " bodyweight "),
    (r"body height|\bheight\b|\bht\b", " bodyheight "),
    (r"oxygen saturation|\bspo2\b|\bsao2\b", " oxygensaturation "),
    (r"body temperature|\btemperature\b|\btemp\b", " bodytemperature "),
    (
        r"glomerular filtration rate|"
        r"\begfr\b(?![\s:]*(?:[+-]|mutation|mutant|variant|exon|gene|positive|negative|status|amplif|"
        r"express|conflict|discordan))",
        " gfr ",
    ),
    # The gene / receptor (a biomarker), after the kidney's eGFR above took its own spellings.
    (r"epidermal growth factor receptors?", " egfr "),
    (r"low density lipoprotein|\bldl\b", " ldl "),
    (r"high density lipoprotein|\bhdl\b", " hdl "),
    (r"urea nitrogen|\bbun\b", " urea "),
    (r"c[- ]reactive protein|\bcrp\b", " crp "),
    (r"alanine aminotransferase|\balt\b|\bsgpt\b", " alt "),
    (r"aspartate aminotransferase|\bast\b|\bsgot\b", " ast "),
    (r"alkaline phosphatase|\balk phos\b|\balp\b", " alp "),
    (r"lactate dehydrogenase|\bldh\b", " ldh "),
    (r"\bsodium\b|\bna\+?(?=\s*[:=]?\s*\d)", " sodium "),
    (r"\bpotassium\b|\bk\+?(?=\s*[:=]?\s*\d)", " potassium "),
    (r"\bchloride\b|\bcl-?(?=\s*[:=]?\s*\d)", " chloride "),
    (r"\bcreatinine\b|\bcreat\b|\bcr\b(?=\s*[:=]?\s*\d)", " creatinine "),
    (r"\bbicarbonate\b|\bhco3-?\b|\bbicarb\b|carbon dioxide|\bco2\b", " bicarbonate "),
    (r"\balbumin\b|\balb\b(?=\s*[:=]?\s*\d)", " albumin "),
    (r"\btotal bilirubin\b|\bbilirubin\b|\bt\.? ?bili\b", " bilirubin "),
    (r"systolic blood pressure|\bsbp\b", " systolic bloodpressure "),
    (r"diastolic blood pressure|\bdbp\b", " diastolic bloodpressure "),
    (r"thyrotropin|thyroid stimulating hormone|\btsh\b", " tsh "),
    (r"alpha[- ]fetoprotein|alpha-1-fetoprotein|\bafp\b", " afp "),
    (r"prostate[- ]specific (?:antigen|ag)\b|\bpsa\b", " psa "),
    (r"carcinoembryonic antigen|\bcea\b", " cea "),
    (r"hormone[- ]receptors?|\bhr\b(?=[+-]| positive| negative)", " estrogenreceptor progesteronereceptor "),
    (r"estrogen receptors?|\ber\b", " estrogenreceptor "),
    (r"progesterone receptors?|\bpgr\b|\bpr\b", " progesteronereceptor "),
    (r"\bher-?2(?:/neu)?\b|\berbb2\b", " her2 "),
    (r"non[- ]small[- ]cell lung (?:cancer|carcinoma)|\bnsclc\b", " nsclc lung cancer "),
    (r"small[- ]cell lung (?:cancer|carcinoma)|\bsclc\b", " sclc lung cancer "),
    (r"chronic lymphocytic leuk\w+|\bcll\b", " cll leukemia "),
    (r"acute lymphoblastic leuk\w+|\ball\b(?=\s+(?:risk|leukemia))", " all leukemia "),
    (r"colorectal|\bcrc\b", " colorectal colon "),
    (r"myocardial infarction|heart attack|\bmi\b", " myocardialinfarction "),
    (r"heart failure|\bchf\b", " heartfailure "),
    (r"\bhtn\b|high blood pressure", " hypertension "),
    (r"\bt2dm\b|\bdm\b|diabetes mellitus", " diabetes "),
    (r"chronic kidney disease|\bckd\b", " ckd kidney "),
    (r"atrial fibrillation|\bafib\b|\baf\b", " atrialfibrillation "),
    (r"\bcopd\b|chronic obstructive pulmonary disease", " copd "),
    (r"computed tomography|\bct\b(?=\s*(?:scan|chest|abdomen|head|of|imaging))", " ctscan "),
    (r"magnetic resonance|\bmri\b", " mri "),
    (r"complete blood count|\bcbc\b", " cbc "),
    (r"\becog\b|eastern cooperative oncology group", " ecog "),
    (r"performance status", " performancestatus "),
    (
        r"\bmets\b|metastas[ie]s|metastatic|metastasi[sz]ed|secondary malignant|secondary cancer",
        " metastasis ",
    ),
    (
        r"malignant neoplasms?|malignancy|malignancies|carcinomas?|cancers?|neoplasms?|tumou?rs?|"
        r"\bca\b(?=\s+(?:of|breast|lung|colon|prostate))",
        " cancer ",
    ),
    (r"\bnodes?\b|lymph nodes?", " lymphnode "),
)
_PHRASE_RES = tuple((re.compile(p), r) for p, r in _PHRASES)


def _branches(pattern: str) -> list[str]:
    """The top-level alternatives of a regex (split on `|` outside groups and classes)."""
    out, depth, in_class, start, i = [], 0, False, 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out


def _leading_literal(branch: str) -> tuple[str, bool]:
    """(letters/digits every match of `branch` starts with, whether it starts at a word start).
    The literal is "" when unknown."""
    at_word = branch.startswith("\\b")
    branch = branch.removeprefix("\\b")
    run = re.match(r"[a-z0-9]*", branch)[0]  # type: ignore[index]
    rest = branch[len(run) :]
    if run and rest[:1] in {"?", "*", "{"}:
        run = run[:-1]  # the last letter is optional
    return run, at_word


# For each phrase pattern, what any match must start with (None: always run it): a word prefix
# for branches anchored at a word boundary, a substring otherwise ("carcinomas?" inside
# "adenocarcinoma"). `fold` runs only the patterns so triggered: the same result as running all
# the substitutions, at a fraction of the cost on long texts.
_PREFIX_CHARS = 8
_Trigger = tuple[frozenset[str], tuple[str, ...]]


def _trigger(pattern: str) -> _Trigger | None:
    lits = [_leading_literal(b) for b in _branches(pattern)]
    if any(not lit for lit, _ in lits):
        return None
    words = frozenset(lit[:_PREFIX_CHARS] for lit, at_word in lits if at_word)
    return words, tuple(lit for lit, at_word in lits if not at_word)


_TRIGGERS: tuple[_Trigger | None, ...] = tuple(_trigger(p) for p, _ in _PHRASES)
# Earlier patterns whose replacement a pattern can match (" lung cancer " feeds the cancer
# pattern): when one of those ran, the pattern runs too.
_FED_BY: tuple[frozenset[int], ...] = tuple(
    frozenset(j for j in range(i) if regex.search(_PHRASES[j][1])) for i, (regex, _) in enumerate(_PHRASE_RES)
)


def _triggered(trigger: _Trigger | None, present: set[str], text: str) -> bool:
    if trigger is None:
        return True
    words, substrings = trigger
    return not words.isdisjoint(present) or any(lit in text for lit in substrings)


def _word_prefixes(text: str) -> set[str]:
    prefixes: set[str] = set()
    for word in set(re.findall(r"[a-z0-9]+", text)):
        for n in range(1, min(len(word), _PREFIX_CHARS) + 1):
            prefixes.add(word[:n])
    return prefixes


# Words that carry no clinical subject: grammar, reporting verbs, template words, record jargon.
def _words(text: str) -> list[str]:
    return text.split()


GENERIC_WORDS = frozenset(
    _words(
        """
        a an the and or but nor of in on at to for from by with without within into onto over under as
        is are was were be been being has have had having do does did done will would shall should can
        could may might must this that these those it its it's their there here which who whom whose
        what when where while also both either neither each every any all some most more less than then
        there per via about after before during since until ago later earlier prior previous previously
        recent recently latest last first second third new old current currently now patient patients pt
        pts she he her his him they them woman man female male lady gentleman year years yr yrs month
        months week weeks day days hour hours today yesterday date dated time known history hx noted
        notes note shows showed shown show reveals revealed revealing demonstrates demonstrated
        documented recorded record records reported reports report measured measurement measurements
        value values level levels result results test tests tested finding findings observed observation
        observations seen found evidence evident consistent compatible diagnosed diagnosis dx status
        state remains remained remain persistent ongoing active inactive resolved resolution remission
        relapse recurrence recurrent stable unchanged presence present presents presented absent absence
        positive negative detected undetected prescribed prescription started start starting began begun
        initiated continued continues continuing stopped discontinued ceased completed complete held
        receiving received receives given administered takes taking taken treated treatment therapy
        regimen course cycle cycles underwent undergone performed procedure status post s/p type kind
        value quantity amount total count number numbers score scores scale grade stage staging clinical
        pathologic pathological category mass volume serum plasma blood specimen tissue automated by
        method panel entitic ratio moles area rate presence qualitative quantitative interpretation
        immune stain microscopy light left right bilateral both sided side unilateral no not none nor
        denies denied free negative without neither never january february march april may june july
        august september october november december jan feb mar apr jun jul aug sep sept oct nov dec
        approximately approx about around roughly nearly near high low elevated raised decreased normal
        abnormal within range reference ref increased reduced mildly markedly slightly significant
        significantly likely possible probable suspected disease diseases disorder condition conditions
        qualifier morphologic abnormality structure entity observable situation regime substance product
        onset born birth deceased age gender sex problem problems medication medications drug drugs
        related concluded conclusion summary line lines timeline change changes kinetics code codes
        coded carry carries trended trend trends computed compute calculated usable available missing
        could cannot
        versus vs loinc mean means
        """
    )
)

NEGATION_CUES = (
    r"no evidence of",
    r"no history of",
    r"no signs? of",
    r"negative for",
    r"free of",
    r"absence of",
    r"ruled out",
    r"rules out",
    r"without",
    r"denies",
    r"denied",
    r"not",
    r"no",
    r"never",
)
_NEG_CUE_RE = re.compile(r"\b(?:" + "|".join(NEGATION_CUES) + r")\b", re.IGNORECASE)
_NEG_POST_RE = re.compile(
    r"\b(?:ruled out|excluded|absent|not (?:seen|present|detected|identified|found))\b", re.I
)
# Scope breakers: a negation does not cross these.
_SCOPE_BREAK_RE = re.compile(r"[.;:]|\b(?:but|however|although|except|aside from|apart from)\b", re.I)

# Letters of any script count (a word in a look-alike script that `skeleton` does not map must
# stay visible as an unknown word, never vanish from the comparison).
_TOKEN_RE = re.compile(r"[^\W\d_][^\W_]*(?:[-'][^\W_]+)*|\d+[^\W\d_]+[^\W_]*")


@functools.lru_cache(maxsize=64)
def fold(text: str) -> str:
    """Unicode skeleton, lowercase, British spellings folded, phrases/abbreviations as concept tokens."""
    text = skeleton(text).lower()
    for old, new in _SPELLING:
        text = text.replace(old, new)
    present = _word_prefixes(text)
    ran: set[int] = set()
    for index, (pattern, replacement) in enumerate(_PHRASE_RES):
        if _triggered(_TRIGGERS[index], present, text) or not _FED_BY[index].isdisjoint(ran):
            text = pattern.sub(replacement, text)
            ran.add(index)
    return text


@functools.lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """A light stemmer: enough to meet plural and adjective forms, not a linguistic one."""
    for suffix in ("ically", "ations", "ation", "ities", "ity", "ical", "ies", "es", "ic", "al", "s"):
        if len(token) - len(suffix) >= 4 and token.endswith(suffix):
            return token[: -len(suffix)]
    return token


def tokens(text: str) -> list[str]:
    """Folded word tokens (letters, or letters with digits such as `her2`, `t3`)."""
    return _TOKEN_RE.findall(fold(text))


def concept_tokens(text: str) -> set[str]:
    """Content tokens of `text`: folded, stemmed, generic words and pure numbers removed."""
    return set(_concept_tokens(text))


@functools.lru_cache(maxsize=8192)
def _concept_tokens(text: str) -> frozenset[str]:
    # Cached: the same evidence text is folded once per statement that cites it, and folding
    # runs the whole phrase table (the verifier's hottest path on large records).
    out: set[str] = set()
    for token in tokens(text):
        for part in token.split("-"):
            if len(part) < 2 or part in GENERIC_WORDS or part.isdigit():
                continue
            out.add(stem(part))
    return frozenset(out)


def tokens_match(a: str, b: str) -> bool:
    """Equal, or sharing a prefix of at least 5 characters (metastasis/metastatic, neoplasm/-plastic)."""
    if a == b:
        return True
    n = min(len(a), len(b))
    return n >= 5 and a[:5] == b[:5] and (a.startswith(b) or b.startswith(a) or a[:6] == b[:6])


def overlap(statement_tokens: Iterable[str], evidence_tokens: Iterable[str]) -> set[str]:
    """Statement tokens that meet some evidence token (`tokens_match`).

    Indexed rather than pairwise (statement × evidence was quadratic on long texts): a match is
    equality, a shared 6-letter prefix, or one token (5+ letters) being a prefix of the other —
    each answered by a set lookup.
    """
    evidence = set(evidence_tokens)
    prefix5 = {e[:5] for e in evidence if len(e) >= 5}  # t (5 letters) is a prefix of e
    prefix6 = {e[:6] for e in evidence if len(e) >= 6}  # shared 6-prefix; t (6+) a prefix of e
    lengths = sorted({len(e) for e in evidence if len(e) >= 5})  # e a prefix of t

    def meets(t: str) -> bool:
        if t in evidence:
            return True
        if len(t) < 5:
            return False
        if len(t) == 5:
            return t in prefix5
        if t[:6] in prefix6:
            return True
        return any(t[:n] in evidence for n in lengths if n < len(t))

    return {t for t in statement_tokens if meets(t)}


# Words that make a negation about the record's data rather than the patient.
_META_WORD = re.compile(
    r"(?:usable|numeric|value|values|loinc|code|coded|data|date|dated|unit|units|result|results|"
    r"measurements?|record|records|recorded|documented|available|information|change|trend|kinetics)\b",
    re.I,
)


class SpanList(list[tuple[int, int]]):
    """Character spans with linear-time membership queries (merged, sorted, bisected).

    A plain list of spans answered "is this word under a negation?" by scanning every span for
    every word: quadratic in the statement's length. This keeps the list interface (callers may
    still iterate) and answers `covers` / `contains` in O(log n).
    """

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        super().__init__(spans)
        merged: list[list[int]] = []
        for s, e in sorted(self):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self._starts = [m[0] for m in merged]
        self._ends = [m[1] for m in merged]

    def covers(self, start: int, end: int, slack: int = 0) -> bool:
        """Some span holds [start, end] (its end stretched by `slack`)."""
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and end <= self._ends[i] + slack

    def contains(self, point: int) -> bool:
        return self.covers(point, point)


def negated_spans(text: str, window: int = 6, *, protected: Sequence[tuple[int, int]] = ()) -> SpanList:
    """Character spans of `text` under a negation cue (NegEx-style, forward window of words).

    A cue negates up to `window` following words, stopping at a scope breaker (punctuation that
    ends a clause, "but", "however"). Post-positioned cues ("ruled out", "absent") negate the
    preceding words of their clause. Cues inside a `protected` span are part of a quoted name
    ("Hypertensive heart disease without heart failure") and negate nothing.

    Linear in the text: scope breakers and word boundaries are found once and looked up by
    bisection, never rescanned per cue.
    """
    guard = protected if isinstance(protected, SpanList) else SpanList(protected)
    breaks = [(m.start(), m.end()) for m in _SCOPE_BREAK_RE.finditer(text)]
    break_starts = [b[0] for b in breaks]
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    word_starts = [w[0] for w in words]
    spans: list[tuple[int, int]] = []
    for cue in _NEG_CUE_RE.finditer(text):
        if guard.covers(cue.start(), cue.end()):
            continue
        start = cue.end()
        b = bisect.bisect_left(break_starts, start)
        limit = break_starts[b] if b < len(breaks) else len(text)
        first = bisect.bisect_right(word_starts, start) - 1
        if first < 0 or words[first][1] <= start:
            first += 1
        inside = [(max(ws, start), min(we, limit)) for ws, we in words[first : first + window] if ws < limit]
        # a word cut by the clause end counts up to the break ("cancer." → "cancer")
        inside = [(ws, we) for ws, we in inside if we > ws]
        if inside and _META_WORD.match(text, inside[0][0]):
            continue  # "no usable value", "no LOINC code": about the record's data, not the patient
        if inside:
            spans.append((start, inside[-1][1]))
    for cue in _NEG_POST_RE.finditer(text):
        if guard.covers(cue.start(), cue.end()):
            continue
        b = bisect.bisect_left(break_starts, cue.start()) - 1
        if b >= 0 and text[breaks[b][0]] == ":" and not text[breaks[b][1] : cue.start()].strip():
            b -= 1  # "Breast carcinoma: absent": the cue answers the label before the colon
        clause_start = breaks[b][1] if b >= 0 else 0
        if clause_start > cue.start():
            clause_start = 0
        spans.append((clause_start, cue.start()))
    return SpanList(spans)


LATERALITY_RE = re.compile(
    r"\b(?P<side>left|right|bilateral|bilaterally|both)(?:[- ]sided)?\b"
    r"(?=\s*(?:-?\s*sided\b|\)|,|\.|$|[a-z]))",
    re.IGNORECASE,
)
# "left" / "right" used as verbs or idioms, not sides.
_NOT_SIDE_AFTER = re.compile(
    r"\s+(?:untreated|unchanged|alone|over|behind|the|a|an|to|in|for|after|with|it|him|her|them|"
    r"hospital|home|now|away|of|and|or)\b",
    re.IGNORECASE,
)
_BOTH_SIDES_RE = re.compile(
    r"\bboth\s+(?:breasts|lungs|kidneys|sides|eyes|ears|ovaries|lobes|hips|knees|legs|arms|feet|hands)\b",
    re.IGNORECASE,
)


def laterality_mentions(text: str) -> list[tuple[str, int, int]]:
    """Sides named in `text`: (`left`|`right`|`bilateral`, start, end)."""
    found: list[tuple[str, int, int]] = []
    for match in LATERALITY_RE.finditer(text):
        side = match["side"].lower()
        if side == "both":
            if not _BOTH_SIDES_RE.match(text, match.start()):
                continue
            side = "bilateral"
        elif side == "bilaterally":
            side = "bilateral"
        elif _NOT_SIDE_AFTER.match(text, match.end("side")) and not text[
            match.end("side") : match.end("side") + 7
        ].lower().startswith(("-sided", " sided")):
            continue
        found.append((side, match.start(), match.end()))
    return found


def sides_in(text: str | None) -> set[str]:
    """The set of sides a record text names (`left`, `right`, `bilateral`)."""
    return {side for side, _, _ in laterality_mentions(text or "")}


def folded_tokens(text: str) -> tuple[str, list[tuple[str, int, int]]]:
    """The folded text and its content tokens (stemmed) with their spans in the folded text."""
    folded = fold(text)
    out: list[tuple[str, int, int]] = []
    for match in _TOKEN_RE.finditer(folded):
        for part in re.finditer(r"[^\W_]+", match[0]):
            word = part[0]
            if len(word) < 2 or word in GENERIC_WORDS or word.isdigit():
                continue
            out.append((stem(word), match.start() + part.start(), match.start() + part.end()))
    return folded, out


def name_spans(folded: str, names: Iterable[str]) -> list[tuple[int, int]]:
    """Where the (folded) `names` occur verbatim in the folded text: record labels quoted whole,
    whose own negation words ("without", "no") belong to the name, not to the sentence."""
    found: list[tuple[int, int]] = []
    for name in names:
        needle = fold(name).strip()
        if len(needle) < 4 or not _NEG_CUE_RE.search(needle):
            continue  # only names that carry a cue need protecting
        start = folded.find(needle)
        while start != -1:
            found.append((start, start + len(needle)))
            start = folded.find(needle, start + 1)
    return found


def negated_concepts(text: str, concept: set[str], names: Iterable[str] = ()) -> tuple[bool, bool]:
    """(mentioned, negated): does `text` mention any of `concept`'s tokens, and under a negation?

    `names` are the concept's own record labels: a negation cue inside a quoted label is part of
    the name and does not negate the concept.
    """
    folded, spans = folded_tokens(text)
    hits = [(s, e) for token, s, e in spans if overlap([token], concept)]
    if not hits:
        return False, False
    negations = negated_spans(folded, protected=name_spans(folded, names))
    negated = any(negations.covers(s, e, slack=1) for s, e in hits)
    return True, negated
