"""The board question's own concepts, and its premises checked against the record's timeline.

A board question carries assumptions: "breast-conserving surgery *after neoadjuvant therapy*"
assumes systemic therapy came before surgery; "next step for her *current line*" assumes a line is
current; "is this *HER2-positive* disease a candidate for ..." assumes a HER2 result. When the record
says otherwise, the most useful thing a summary can say is that, plainly, before anything else.

`question_concepts` reads the question for what it names — timing words (neoadjuvant, adjuvant,
after X, before X), a current line or a drug the patient is "on", drugs and therapy classes,
surgery and radiotherapy, biomarkers (with the polarity asked), tumour markers, stage groups or
"metastatic", and cancer sites — by vocabulary, never by case; what it asks ("Is she
HER2-positive?") is told apart from what it assumes ("... her HER2-positive disease").
`check_premises` checks each assumption against the timeline (cancer surgery and radiotherapy from
the record's facts, lines of therapy and medication status from the specialists' findings, stages,
biomarkers and markers from the picture) and returns one `Premise` per assumption: the phrase of
the question, whether it holds (None: the record cannot tell), a sentence saying so with its dates,
and the findings it rests on. A premise that holds is said too, so a reader sees it was checked
(and nothing is flagged that is true).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from medboard.agents.synthesizer.board.base import Board
from medboard.agents.synthesizer.board.casefacts import (
    day,
    line_period,
    of_cancer,
    short,
    stage_label,
    value_text,
)
from medboard.models import Finding, FindingCategory
from medboard.models.claims import LineClaim, MedicationClaim, ResultClaim
from medboard.models.picture import Cancer, Stage
from medboard.tools.longitudinal.timeline import ANTINEOPLASTIC_NAMES, ANTINEOPLASTIC_SUFFIXES, build_timeline
from medboard.tools.reconcile.drugs import BRANDS
from medboard.tools.reconcile.knowledge import (
    DRUG_SITES,
    LONG_ACTING_DRUGS,
    ORAL_DRUGS,
    SERUM_MARKERS,
    SITE_WORDS,
    polarity,
    site_of_text,
)

# ----------------------------------------------------------------------------- vocabulary

#: Therapy classes a question may name, by ingredient (WHO ATC: L02 endocrine therapy; L01FF
#: PD-1/PD-L1 and L01FX CTLA-4 antibodies as immunotherapy; L01E kinase inhibitors and L01FD/L01FE/
#: L01FG HER2/EGFR/VEGF antibodies as targeted therapy). Chemotherapy is every other antineoplastic.
ENDOCRINE = frozenset(
    {
        "anastrozole", "letrozole", "exemestane", "tamoxifen", "fulvestrant", "enzalutamide", "abiraterone",
        "apalutamide", "darolutamide", "bicalutamide", "flutamide", "leuprolide", "goserelin", "degarelix",
        "triptorelin",
    }
)  # fmt: skip
IMMUNOTHERAPY = frozenset(
    {"pembrolizumab", "nivolumab", "atezolizumab", "durvalumab", "cemiplimab", "avelumab", "ipilimumab"}
)
TARGETED = frozenset({"trastuzumab", "pertuzumab", "bevacizumab", "cetuximab", "panitumumab"})
_TARGETED_SUFFIXES = ("tinib", "ciclib", "parib")

#: Regimen acronyms a question may use → their ingredients (NCI Drug Dictionary regimen entries).
REGIMENS: dict[str, tuple[str, ...]] = {
    "folfox": ("fluorouracil", "leucovorin", "oxaliplatin"),
    "folfiri": ("fluorouracil", "irinotecan", "leucovorin"),
    "folfirinox": ("fluorouracil", "irinotecan", "leucovorin", "oxaliplatin"),
    "capox": ("capecitabine", "oxaliplatin"),
    "xelox": ("capecitabine", "oxaliplatin"),
    "chop": ("cyclophosphamide", "doxorubicin", "prednisone", "vincristine"),
    "r-chop": ("cyclophosphamide", "doxorubicin", "prednisone", "rituximab", "vincristine"),
    "abvd": ("bleomycin", "dacarbazine", "doxorubicin", "vinblastine"),
}

_CLASS_WORDS: tuple[tuple[str, str], ...] = (
    (r"chemo(?:therapy)?\b|cytotoxic", "chemotherapy"),
    (r"endocrine|hormon(?:e|al)\s+(?:therapy|treatment)|androgen[- ]deprivation|\badt\b", "endocrine"),
    (r"immuno-?therapy|checkpoint inhibitor", "immunotherapy"),
    (r"targeted (?:therapy|treatment|agent)", "targeted"),
    (r"systemic (?:therapy|treatment)", "systemic"),
    (r"\btherapy\b|\btreatment\b", "any"),
)
_SURGERY = re.compile(
    r"\b(?:surgery|surgical|operation|resection|excision|lumpectomy|\w+ectomy|\w+ostomy|\w+otomy|"
    r"breast[- ]conserving|bcs)\b",
    re.I,
)
_RADIOTHERAPY = re.compile(
    r"\b(?:radio-?therapy|radiation|irradiation|rt|sbrt|sabr|brachytherapy|chemo-?radi\w+)\b", re.I
)
_NEOADJUVANT = re.compile(
    r"(?:\b(?:after|following|post)\s+)?\bneo-?adjuvant(?:\s+(?:\w+\s+)?(?:therapy|treatment|chemo\w*|\w+))?",
    re.I,
)
_ADJUVANT = re.compile(
    r"(?<!neo)(?<!neo-)\badjuvant(?:\s+(?!(?:for|after|before|in|to|with|is|be|and|or|should|would)\b)[\w-]+)?"
    r"(?:\s+(?:therapy|treatment))?",
    re.I,
)
#: "after X" / "before X": X is read as the shortest run of up to `_OBJECT_WORDS` words after the cue
#: that names a treatment (`_names_what`); a cue followed by anything else ("after two weeks", "before
#: the board") assumes nothing the timeline can answer.
_TIMING_CUE = re.compile(r"\b(?P<cue>after|following|post|since|before|prior to|ahead of)\s+", re.I)
_OBJECT_WORDS = 5
_CURRENT_LINE = re.compile(
    r"\b(?:current(?:ly)?|present|ongoing)\s+(?:line|regimen|therapy|treatment|systemic therapy)"
    r"(?:\s+of\s+therapy)?\b",
    re.I,
)
_ON_DRUG = re.compile(
    r"\b(?P<cue>(?:currently|still|remain(?:s)?|while|stay)\s+on|continu\w*(?:\s+on)?|on)\s+(?P<x>[\w-]+)",
    re.I,
)
_DRUG_GOES_ON = re.compile(r"\b(?P<x>[\w-]+)\s+(?:continue|be continued|be stopped|be held)\b", re.I)
_PROGRESSION_ON = re.compile(r"\bprogress\w*\s+(?:on|after|through|despite)\s+(?P<x>[\w-]+)", re.I)
_STAGE = re.compile(r"\bstage\s+(?P<g>0|IV|I{1,3}|[1-4])(?P<s>[A-C]\d?)?\b", re.I)
_METASTATIC = re.compile(r"\bmetasta\w*|\bmets\b|\boligometasta\w*|\bstage\s+(?:IV|4)\b", re.I)
_BIOMARKER = re.compile(
    r"\b(?P<name>er|pr|pgr|her-?2|hr|egfr|alk|ros1|kras|braf|brca[12]?|palb2|pd-?l1|msi(?:-h)?|"
    r"estrogen receptor|progesterone receptor)"
    r"(?:\s*[- ]?\s*(?P<pol>\+|-(?![a-z])|positive|negative|mutant|mutated|mutation|amplified|wild[- ]type|"
    r"rearranged|fusion|deficient|high|low|expressing))?",
    re.I,
)
_ASKED = re.compile(
    r"\b(?:is|are|was|were|has|have|did|does|do)\s+(?:(?:she|he|it|they|this|there|the\s+[\w-]+)\s+)?"
    r"(?:(?:any|still|now|already)\s+)?$",
    re.I,
)
_TRIPLE_NEGATIVE = re.compile(r"\btriple[- ]negative\b|\btnbc\b", re.I)
_SITE_CANCER = re.compile(r"\b(?P<site>[a-z]+)\s+(?:cancer|carcinoma|tumou?r|neoplasm|malignancy)\b", re.I)
_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV", "0": "0"}
_BIOMARKER_ALIASES = {
    "estrogen receptor": "er",
    "progesterone receptor": "pr",
    "pgr": "pr",
    "her-2": "her2",
    "pd-l1": "pdl1",
    "pdl1": "pdl1",
    "msi-h": "msi",
}

Holds = bool | None
STAGE_LABEL, METASTASIS_LABEL, SITE_LABEL = "on the stage", "on distant disease", "on the cancer site"
Timing = Literal["neoadjuvant", "adjuvant", "after", "before"]


@dataclass
class Concepts:
    """What a board question names (see the module docstring)."""

    question: str
    #: (kind, the question's phrase, the object phrase): ("after", "after prostatectomy", "prostatectomy")
    timing: list[tuple[Timing, str, str]] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    #: (phrase, the ingredient(s) it names, whether the question assumes them current)
    on_drug: list[tuple[str, tuple[str, ...], bool]] = field(default_factory=list)
    drugs: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    surgery: bool = False
    radiotherapy: bool = False
    biomarkers: list[tuple[str, str | None, str]] = field(default_factory=list)  # (key, polarity, phrase)
    stages: list[tuple[str, str]] = field(default_factory=list)  # (group, phrase)
    metastatic: str | None = None
    sites: list[tuple[str, str]] = field(default_factory=list)  # (site, phrase)
    markers: list[str] = field(default_factory=list)  # tumour-marker LOINC codes the question names
    #: Phrases the question asks about rather than assumes ("Is she HER2-positive?", "Are there
    #: metastases?"): their facts are chosen, but they are no premise to check.
    asked: set[str] = field(default_factory=set)

    @property
    def therapy(self) -> bool:
        return bool(self.classes or self.drugs or self.current or self.on_drug or self.timing)

    def empty(self) -> bool:
        named = (self.biomarkers, self.stages, self.markers, self.sites)
        return not (self.therapy or self.surgery or self.radiotherapy or self.metastatic or any(named))


def known_drugs(board: Board) -> dict[str, str]:
    """Every name a question may use for a drug → its ingredient: the record's ingredients, the
    knowledge tables' antineoplastics, and brand names."""
    names: dict[str, str] = {}
    for ingredient in [
        *ANTINEOPLASTIC_NAMES,
        *DRUG_SITES,
        *ORAL_DRUGS,
        *LONG_ACTING_DRUGS,
        *(m.ingredient for m in board.picture.medications),
        *(d for c in board.picture.cancers for line in c.lines for d in line.drugs),
    ]:
        names[ingredient.lower()] = ingredient.lower()
    for brand, ingredient in BRANDS.items():
        names.setdefault(brand.lower(), ingredient.lower())
    return names


#: Words that name an antineoplastic by its INN stem (WHO INN stems: -tinib kinase inhibitors,
#: -ciclib, -parib, -mab antibodies, -platin, -taxel, -rubicin, -lutamide, -zomib) though no table
#: lists it: a question may name a drug the record never mentions.
_DRUG_STEM = re.compile(r"\b[a-z]{3,}(?:" + "|".join((*ANTINEOPLASTIC_SUFFIXES, "mab")) + r")\b")


def drugs_in(text: str, names: dict[str, str]) -> list[str]:
    """The ingredients a text names: by name or brand, by regimen acronym, or by an INN stem."""
    low = text.lower()
    found = [ingredient for name, ingredient in names.items() if re.search(rf"\b{re.escape(name)}\b", low)]
    for regimen, ingredients in REGIMENS.items():
        if re.search(rf"(?<![\w-]){re.escape(regimen)}(?![\w-])", low):
            found += ingredients
    found += _DRUG_STEM.findall(low)
    return list(dict.fromkeys(found))


def markers_in(question: str, board: Board) -> list[str]:
    """LOINC codes of the tumour markers a question names ("PSA", "CEA", "CA-125", or the record's
    own marker names): the codes the record has, else the marker's first code (then "none recorded")."""
    names: dict[str, list[str]] = {}
    for code, (name, _) in SERUM_MARKERS.items():
        names.setdefault(name.lower(), []).append(code)
    held = {m.code for c in board.picture.cancers for m in c.markers if m.code}
    held |= {f.claim.code for f in board.findings if isinstance(f.claim, ResultClaim) and f.claim.code}
    for cancer in board.picture.cancers:
        for marker in cancer.markers:
            if marker.code:
                names.setdefault(marker.name.lower(), []).append(marker.code)
    low = question.lower()
    found: list[str] = []
    for name, codes in names.items():
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", low):
            present = [c for c in codes if c in held]
            found += present or codes[:1]
    return list(dict.fromkeys(found))


def _treatment_after(rest: str, names: dict[str, str]) -> str | None:
    """The shortest leading run of words of `rest` that names a treatment, or None."""
    words = re.findall(r"[\w+/-]+", rest.split("?")[0].split(",")[0])[:_OBJECT_WORDS]
    for n in range(1, len(words) + 1):
        phrase = " ".join(words[:n])
        if _names_what(phrase, names):
            return phrase
    return None


def _drug_names(word: str, names: dict[str, str]) -> tuple[str, ...]:
    """The ingredient(s) one word names: a drug or brand, a regimen acronym, or an INN stem."""
    low = word.lower()
    if low in REGIMENS:
        return REGIMENS[low]
    named = names.get(low) or (low if _DRUG_STEM.fullmatch(low) else None)
    return (named,) if named else ()


def classes_in(text: str) -> list[str]:
    low = text.lower()
    return list(dict.fromkeys(kind for pattern, kind in _CLASS_WORDS if re.search(pattern, low)))


def question_concepts(question: str, board: Board) -> Concepts:
    """What the question names (vocabulary only: the same question reads the same on any record)."""
    names = known_drugs(board)
    concepts = Concepts(question=question)
    concepts.drugs = drugs_in(question, names)
    concepts.classes = classes_in(question)
    concepts.surgery = bool(_SURGERY.search(question))
    concepts.radiotherapy = bool(_RADIOTHERAPY.search(question))
    neo = _NEOADJUVANT.search(question)
    if neo:
        concepts.timing.append(("neoadjuvant", neo.group(0).strip(), "therapy"))
    for m in _ADJUVANT.finditer(question):
        concepts.timing.append(("adjuvant", m.group(0).strip(), "therapy"))
    for m in _TIMING_CUE.finditer(question):
        obj = _treatment_after(question[m.end() :], names)
        if (
            obj is None
            or "adjuvant" in obj.lower()
            or (neo and m.start() <= neo.start() < m.end() + len(obj))
        ):
            continue
        kind: Timing = "before" if m["cue"].lower() in {"before", "prior to", "ahead of"} else "after"
        concepts.timing.append((kind, f"{m['cue']} {obj}", obj))
    concepts.current = [m.group(0) for m in _CURRENT_LINE.finditer(question)]
    progressed = {m["x"].lower() for m in _PROGRESSION_ON.finditer(question)}
    for m in [*_ON_DRUG.finditer(question), *_DRUG_GOES_ON.finditer(question)]:
        drugs = _drug_names(m["x"], names)
        if drugs:
            concepts.on_drug.append((m.group(0).strip(), drugs, m["x"].lower() not in progressed))
    for m in _PROGRESSION_ON.finditer(question):
        drugs = _drug_names(m["x"], names)
        if drugs and not any(set(d) & set(drugs) for _, d, _ in concepts.on_drug):
            concepts.on_drug.append((m.group(0).strip(), drugs, False))
    if _TRIPLE_NEGATIVE.search(question):
        phrase = _TRIPLE_NEGATIVE.search(question).group(0)  # type: ignore[union-attr]
        concepts.biomarkers += [(k, "negative", phrase) for k in ("er", "pr", "her2")]
    for m in _BIOMARKER.finditer(question):
        name = m["name"].lower()
        if name in {"er", "pr", "hr"} and not m["pol"] and m["name"] != m["name"].upper():
            continue  # "er"/"pr" in running text ("after", "prior") only count written as acronyms
        key = _BIOMARKER_ALIASES.get(name, name.replace("-", ""))
        pol = _polarity_word(m["pol"])
        keys = ["er", "pr"] if key == "hr" else [key]
        concepts.biomarkers += [(k, pol, m.group(0).strip()) for k in keys]
    concepts.stages = [
        (_roman(m["g"]) + (m["s"] or "").upper(), m.group(0)) for m in _STAGE.finditer(question)
    ]
    metastatic = _METASTATIC.search(question)
    concepts.metastatic = metastatic.group(0) if metastatic else None
    for m in [*_BIOMARKER.finditer(question), *_STAGE.finditer(question), *_METASTATIC.finditer(question)]:
        if _ASKED.search(question[: m.start()]):
            concepts.asked.add(m.group(0).strip())
    concepts.markers = markers_in(question, board)
    for m in _SITE_CANCER.finditer(question):
        site = _site(m["site"])
        if site is not None:
            concepts.sites.append((site, m.group(0)))
    return concepts


def _roman(group: str) -> str:
    return _ROMAN.get(group, group.upper())


def _polarity_word(word: str | None) -> str | None:
    if not word:
        return None
    low = word.lower()
    if low in {"+", "positive", "mutant", "mutated", "mutation", "amplified", "rearranged", "fusion", "high"}:
        return "positive"
    if low in {"-", "negative", "wild-type", "wild type", "low"}:
        return "negative"
    if low in {"deficient"}:
        return "positive"
    return None


def _site(words: str) -> str | None:
    low = words.lower()
    for word, site in SITE_WORDS:
        if word in low:
            return site
    return None


# ----------------------------------------------------------------------------- the timeline


@dataclass(frozen=True)
class Event:
    """One dated treatment event: a cancer surgery, a radiotherapy course, or a line of therapy."""

    kind: Literal["surgery", "radiotherapy", "line"]
    label: str
    start: str
    end: str | None
    findings: tuple[Finding, ...]
    drugs: tuple[str, ...] = ()
    status: str | None = None

    def when(self) -> str:
        if self.kind == "line":
            return f"started {self.start}"
        if self.end and self.end != self.start:
            return f"{self.start} – {self.end}"
        return f"on {self.start}"


def timeline_events(board: Board) -> list[Event]:
    """Cancer surgery and radiotherapy (the record's facts, as the longitudinal timeline reads them)
    and the lines of therapy (the specialists' line findings), in date order; each with the
    findings that state it."""
    events: list[Event] = []
    for f in board.findings:
        if isinstance(f.claim, LineClaim) and f.claim.start:
            claim = f.claim
            events.append(
                Event(
                    kind="line",
                    label=" + ".join(claim.drugs),
                    start=day(claim.start) or "",
                    end=day(claim.end),
                    findings=(f,),
                    drugs=tuple(claim.drugs),
                    status=claim.status,
                )
            )
    if board.record is not None:
        procedures = [f for f in board.findings if f.category == FindingCategory.procedure]
        for event in build_timeline(board.record.facts).procedures:
            refs = {e.reference for e in event.evidence}
            stating = [f for f in procedures if refs & {e.reference for e in f.evidence}]
            if not stating:
                continue
            events.append(
                Event(
                    kind=event.kind,
                    label=short(event.label),
                    start=event.start,
                    end=event.end,
                    findings=tuple(_best_first(stating, event.describe())),
                )
            )
    unique = {(e.kind, e.label, e.start): e for e in events}
    return sorted(unique.values(), key=lambda e: (e.start, e.kind))


def _best_first(findings: list[Finding], text: str) -> list[Finding]:
    """The finding that says exactly the event first (the timeline's own), then the others."""
    return sorted(findings, key=lambda f: 0 if f.text == text else 1)


def therapy_class(drug: str) -> str:
    if drug in ENDOCRINE:
        return "endocrine"
    if drug in IMMUNOTHERAPY:
        return "immunotherapy"
    if drug in TARGETED or drug.endswith(_TARGETED_SUFFIXES):
        return "targeted"
    return "chemotherapy"


def matching(events: Iterable[Event], obj: str, names: dict[str, str]) -> list[Event]:
    """The events an object phrase ("surgery", "docetaxel", "chemotherapy", "prostatectomy") names."""
    obj_low = obj.lower()
    drugs = drugs_in(obj, names)
    classes = classes_in(obj)
    surgery, radiotherapy = bool(_SURGERY.search(obj)), bool(_RADIOTHERAPY.search(obj))
    out = []
    for event in events:
        if event.kind == "line":
            if (drugs and set(drugs) & set(event.drugs)) or (
                not drugs and classes and _line_in_classes(event, classes)
            ):
                out.append(event)
        elif event.kind == "surgery" and surgery:
            specific = re.findall(r"\w+ectomy|\w+ostomy|\w+otomy|lumpectomy|excision|resection", obj_low)
            if not specific or any(w[:6] in event.label.lower() for w in specific):
                out.append(event)
        elif event.kind == "radiotherapy" and (
            radiotherapy or (not drugs and "any" in classes and not surgery)
        ):
            out.append(event)
    return out


def _line_in_classes(event: Event, classes: Sequence[str]) -> bool:
    if {"any", "systemic"} & set(classes):
        return True
    return any(therapy_class(d) in classes for d in event.drugs)


def _names_what(obj: str, names: dict[str, str]) -> bool:
    """Whether an "after/before X" object is a treatment the timeline can answer for."""
    return bool(drugs_in(obj, names) or classes_in(obj) or _SURGERY.search(obj) or _RADIOTHERAPY.search(obj))


# ----------------------------------------------------------------------------- premises


@dataclass(frozen=True)
class Premise:
    """One assumption of the question, checked: its phrase, whether it holds, why, and the citations.

    `label` is how the statement names the premise: the question's own phrase in quotes when it
    asserts no value ("after neoadjuvant therapy"), else the concept ("on HER2", "on the stage") —
    a false premise's value ("HER2-positive", "stage IV") is never written as if it were the record's.
    """

    phrase: str
    holds: Holds
    reason: str
    findings: tuple[Finding, ...]
    label: str = ""
    #: The day the premise's event happened, when it holds ("after prostatectomy": its date).
    when: str | None = None

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "cannot be checked"}[self.holds]

    @property
    def text(self) -> str:
        label = self.label or f'"{self.phrase}"'
        return f"Premise {label} {self.verdict}: {self.reason}."


def check_premises(board: Board, concepts: Concepts | None = None) -> list[Premise]:
    """Every premise of the board question, checked against the timeline and the picture."""
    if not board.question:
        return []
    concepts = concepts or question_concepts(board.question, board)
    events = timeline_events(board)
    names = known_drugs(board)
    out: list[Premise] = []
    for kind, phrase, obj in concepts.timing:
        premise: Premise | None = None
        if kind == "neoadjuvant":
            premise = _neoadjuvant(board, phrase, events)
        elif kind == "adjuvant":
            premise = _adjuvant(board, phrase, events)
        elif not _names_what(obj, names):
            premise = None  # "after two cycles", "before the next scan": not a treatment to look up
        else:
            premise = _after_before(board, kind, phrase, obj, events, names)
        if premise is not None:
            out.append(premise)
            if kind == "after" and premise.holds and premise.when:
                out += [_marker_after(board, code, phrase, premise.when) for code in concepts.markers]
    for phrase in concepts.current:
        out.append(_current_line(board, phrase, events))
    for phrase, drug, must_be_current in concepts.on_drug:
        out.append(_on_drug(board, phrase, drug, must_be_current, events))
    if concepts.metastatic and concepts.metastatic not in concepts.asked:
        out.append(_metastatic(board, concepts.metastatic))
    for group, phrase in concepts.stages:
        if (concepts.metastatic and group.startswith("IV")) or phrase in concepts.asked:
            continue
        out.append(_stage(board, group, phrase))
    for key, pol, phrase in concepts.biomarkers:
        if pol is not None and phrase not in concepts.asked:
            out.append(_biomarker(board, key, pol, phrase))
    for site, phrase in concepts.sites:
        premise = _site_premise(board, site, phrase)
        if premise.holds is not True:  # naming the patient's own cancer assumes nothing worth a line
            out.append(premise)
    return _unique(out)


def _unique(premises: list[Premise]) -> list[Premise]:
    seen: dict[str, Premise] = {}
    for p in premises:
        seen.setdefault(p.text, p)
    return list(seen.values())


def _diagnoses(board: Board) -> list[Finding]:
    return [f for c in board.picture.cancers for f in of_cancer(board, c, "diagnosis")]


def _therapies(events: Sequence[Event]) -> list[Event]:
    return [e for e in events if e.kind in {"line", "radiotherapy"}]


def _therapy_name(event: Event) -> str:
    return event.label if event.kind == "line" else f"radiotherapy ({event.label})"


def _neoadjuvant(board: Board, phrase: str, events: Sequence[Event]) -> Premise:
    """Neoadjuvant therapy is given before the cancer's surgery: the first therapy must precede the
    first cancer surgery (or no surgery has happened yet)."""
    surgeries = [e for e in events if e.kind == "surgery"]
    therapies = _therapies(events)
    first_surgery = surgeries[0] if surgeries else None
    first_therapy = therapies[0] if therapies else None
    if first_therapy is None:
        before = (*(first_surgery.findings if first_surgery else ()), *_diagnoses(board))
        surgery = f"; surgery: {first_surgery.label} on {first_surgery.start}" if first_surgery else ""
        return Premise(phrase, False, f"therapy before surgery: none recorded{surgery}", before)
    if first_surgery is None:
        return Premise(
            phrase,
            True,
            f"{_therapy_name(first_therapy)} {first_therapy.when()}; cancer surgery: none recorded",
            first_therapy.findings,
        )
    cited = (*first_surgery.findings, *first_therapy.findings)
    if first_surgery.start < first_therapy.start:
        return Premise(
            phrase,
            False,
            f"surgery first: {first_surgery.label} on {first_surgery.start}, before the first therapy "
            f"({_therapy_name(first_therapy)}) {first_therapy.when()}",
            cited,
        )
    return Premise(
        phrase,
        True,
        f"{_therapy_name(first_therapy)} {first_therapy.when()}, before surgery ({first_surgery.label}) "
        f"on {first_surgery.start}",
        cited,
    )


def _adjuvant(board: Board, phrase: str, events: Sequence[Event]) -> Premise:
    """Adjuvant therapy follows the cancer's surgery: a surgery must be recorded."""
    surgeries = [e for e in events if e.kind == "surgery"]
    if not surgeries:
        therapies = _therapies(events)
        so_far = f"; therapy so far: {_therapy_name(therapies[0])} {therapies[0].when()}" if therapies else ""
        given = (*(therapies[0].findings if therapies else ()), *_diagnoses(board))
        return Premise(phrase, False, f"cancer surgery: none recorded{so_far}", given)
    last = surgeries[-1]
    classes = [c for c in classes_in(phrase) if c != "any"]
    after = [
        e
        for e in _therapies(events)
        if e.start >= last.start and (not classes or (e.kind == "line" and _line_in_classes(e, classes)))
    ]
    then = f"; after it: {_therapy_name(after[0])} {after[0].when()}" if after else ""
    cited = (*last.findings, *(after[0].findings if after else ()))
    return Premise(phrase, True, f"surgery ({last.label}) on {last.start}{then}", cited)


def _after_before(
    board: Board,
    kind: Timing,
    phrase: str,
    obj: str,
    events: Sequence[Event],
    names: dict[str, str],
) -> Premise:
    """ "after X": X happened; "before X": X has not happened yet."""
    now = day(board.picture.case_date)
    done = [e for e in matching(events, obj, names) if now is None or e.start <= now]
    if done:
        first = done[0]
        said = f"{_therapy_name(first) if first.kind != 'surgery' else first.label} {first.when()}"
        cited = tuple(f for e in done for f in e.findings)
        if kind == "after":
            return Premise(phrase, True, said, cited, when=first.start)
        return Premise(phrase, False, said, cited)
    mentioned = procedure_mentions(board, obj)
    if mentioned:  # a procedure the timeline does not count as cancer therapy (a polypectomy, a port)
        earliest = min(mentioned, key=lambda f: f.date or "")
        said = earliest.text.rstrip(".")
        when = day(earliest.date) if kind == "after" else None
        return Premise(phrase, kind == "after", said, tuple(mentioned), when=when)
    reason, cited = _none_recorded(board, obj)
    return Premise(phrase, kind == "before", reason, cited)


#: A word that names one procedure by its morphology (-ectomy, -ostomy, -otomy, -scopy, -plasty,
#: -graphy, biopsy): specific enough to look for in the record's procedure findings by name.
_PROCEDURE_WORD = re.compile(r"\b[a-z]*(?:ectomy|ostomy|otomy|scopy|plasty|graphy|biopsy)\b")


def procedure_mentions(board: Board, obj: str) -> list[Finding]:
    """Procedure findings naming the text's specific procedure words ("polypectomy", "colonoscopy")."""
    specific = _PROCEDURE_WORD.findall(obj.lower())
    if not specific:
        return []
    return [
        f
        for f in board.findings
        if f.category == FindingCategory.procedure and any(w in f.text.lower() for w in specific)
    ]


def _current_line(board: Board, phrase: str, events: Sequence[Event]) -> Premise:
    lines = [e for e in events if e.kind == "line"]
    current = [e for e in lines if e.status == "current"]
    if current:
        said = "; ".join(f"{e.label} (since {e.start})" for e in current)
        return Premise(phrase, True, f"current line: {said}", tuple(f for e in current for f in e.findings))
    if not lines:
        return Premise(phrase, False, *_none_recorded(board, "lines of therapy"))
    last = lines[-1]
    claim = next(f.claim for f in last.findings if isinstance(f.claim, LineClaim))
    status = board.picture.patient
    death = f"; deceased {day(status.deceased_date)}" if status.deceased and status.deceased_date else ""
    reason = f"therapy now: none; last line: {last.label} ({line_period(board, claim)}){death}"
    return Premise(phrase, False, reason, last.findings)


def _on_drug(
    board: Board, phrase: str, drugs: tuple[str, ...], must_be_current: bool, events: Sequence[Event]
) -> Premise:
    """ "on X" / "continue X": X is current; "progression on X": X was given (any status)."""
    meds = [f for f in board.findings if isinstance(f.claim, MedicationClaim) and f.claim.ingredient in drugs]
    lines = [e for e in events if e.kind == "line" and set(drugs) & set(e.drugs)]
    reconciled = {m.ingredient: m for m in board.picture.medications if m.ingredient in drugs}
    given = [d for d in drugs if d in reconciled or any(d in e.drugs for e in lines)]
    if not given:
        reason, cited = _none_recorded(board, " + ".join(drugs))
        return Premise(phrase, False, reason, cited)
    said = []
    for drug in given:
        med = reconciled.get(drug)
        last = f" (last evidence {day(med.last_evidence_date)})" if med and med.last_evidence_date else ""
        said.append(f"{drug} {med.status if med else 'given'}{last}")
    cited = tuple([*meds, *(f for e in lines for f in e.findings)])
    if not must_be_current:
        since = f"; line {lines[0].label} {lines[0].when()}" if lines else ""
        return Premise(phrase, True, "; ".join(said) + since, cited)
    current = any(reconciled[d].status == "current" for d in given if d in reconciled)
    return Premise(phrase, current, "; ".join(said), cited)


def _marker_after(board: Board, code: str, phrase: str, when: str) -> Premise:
    """ "PSA ... after prostatectomy": a value of the marker must be dated after the event."""
    results = [
        (marker.name, r)
        for cancer in board.picture.cancers
        for marker in cancer.markers
        if marker.code == code
        for r in marker.results
        if r.date
    ]
    series = [
        f
        for f in board.findings
        if isinstance(f.claim, ResultClaim) and f.claim.kind == "marker" and f.claim.code == code
    ]
    name = results[0][0] if results else SERUM_MARKERS.get(code, (code, frozenset()))[0]
    label = f'"{name} {phrase}"'
    if not results:
        return Premise(phrase, False, *_none_recorded(board, name), label=label)
    later = [r for _, r in results if (day(r.date) or "") > when]
    last = max((r for _, r in results), key=lambda r: r.date or "")
    shown = f"{value_text(last.value, last.unit)} on {day(last.date)}"
    if later:
        return Premise(
            phrase, True, f"{len(later)} value(s) after {when}; latest {shown}", tuple(series), label=label
        )
    return Premise(phrase, False, f"latest {name} {shown}, none after {when}", tuple(series), label=label)


def _none_recorded(board: Board, what: str) -> tuple[str, tuple[Finding, ...]]:
    """ "X: none recorded", cited to the cancers it was looked for (their names give the sentence a
    subject the verifier can find in what it cites; no negation word reaches across them)."""
    cancers = [c for c in board.picture.cancers if c.kind != "secondary"] or board.picture.cancers
    if cancers:
        names = "; ".join(dict.fromkeys(short(c.name) for c in cancers))
        return f"{what}: none recorded (for {names})", tuple(_diagnoses(board))
    return f"{what}: none recorded", ()


def _metastatic(board: Board, phrase: str) -> Premise:
    secondary = [c for c in board.picture.cancers if c.kind == "secondary"]
    with_sites = [c for c in board.picture.cancers if c.metastatic_sites]
    stage_iv = [
        (c, s)
        for c in board.picture.cancers
        for s in c.stages
        if s.group and (re.match(r"^(?:stage\s+)?IV", s.group, re.I) or re.search(r"\bc?p?M1", s.group))
    ]
    cited: list[Finding] = []
    said = []
    for c in secondary or with_sites:
        cited += of_cancer(board, c, "diagnosis")
        said.append(short(c.name))
    for c, s in stage_iv:
        cited += of_cancer(board, c, "stage")
        said.append(f"{short(c.name)} stage {s.group}")
    if said:
        return Premise(phrase, True, "; ".join(dict.fromkeys(said)), tuple(cited), label=METASTASIS_LABEL)
    staged = [(c, s) for c in board.picture.cancers for s in c.stages if s.group]
    cited = [f for c in board.picture.cancers for f in of_cancer(board, c, "stage")] or _diagnoses(board)
    recorded = f"stages: {_by_cancer(staged)}" if staged else _none_recorded(board, "stage")[0]
    reason = f"no metastasis is recorded; {recorded}"
    return Premise(phrase, False, reason, tuple(cited), label=METASTASIS_LABEL)


def _stage(board: Board, group: str, phrase: str) -> Premise:
    recorded = [(c, s) for c in board.picture.cancers for s in c.stages if s.group]
    groups = [(c, s) for c, s in recorded if re.match(r"^(0|IV|I{1,3})", s.group or "")]
    if not groups:
        return Premise(phrase, None, *_none_recorded(board, "stage group"), label=STAGE_LABEL)
    wanted = _stage_base(group)
    bases = {_stage_base(st.group or "") for _, st in groups}
    # the record's groups all differ from the question's: false; some agree and some do not (a
    # Condition's summary against the staging Observations): the record cannot settle it
    holds: Holds = wanted in bases if len(bases) == 1 or wanted not in bases else None
    cited = tuple(f for c in {id(c): c for c, _ in groups}.values() for f in of_cancer(board, c, "stage"))
    return Premise(phrase, holds, _by_cancer(groups), cited, label=STAGE_LABEL)


def _stage_base(group: str) -> str:
    """The stage group without its sub-letter: IIIC → III, IVA → IV."""
    match = re.match(r"^(0|IV|I{1,3})", group.upper())
    return match.group(1) if match else group.upper()


def _by_cancer(stages: Sequence[tuple[Cancer, Stage]]) -> str:
    """``Cancer A: clinical stage IIB, cT3 cN0 cM0; Cancer B: stage I`` (each cancer named once)."""
    grouped: dict[str, list[str]] = {}
    for cancer, stage in stages:
        grouped.setdefault(short(cancer.name), []).append(stage_label(stage))
    return "; ".join(f"{name}: {', '.join(dict.fromkeys(labels))}" for name, labels in grouped.items())


def _biomarker(board: Board, key: str, wanted: str, phrase: str) -> Premise:
    results: list[tuple[Cancer, Finding, ResultClaim]] = []
    for cancer in board.picture.cancers:
        for f in of_cancer(board, cancer, "result", "biomarker"):
            claim = f.claim
            if isinstance(claim, ResultClaim) and claim.name.lower().replace("-", "") == key:
                results.append((cancer, f, claim))
    label = f"on {key.upper()}"
    if not results:
        return Premise(phrase, None, *_none_recorded(board, key.upper()), label=label)
    said, polarities = [], set()
    for _, _, claim in results:
        for r in claim.results:
            shown = value_text(r.value, r.unit)
            pol = polarity([], str(r.value)) if isinstance(r.value, str) else None
            polarities.add(pol)
            said.append(f"{claim.name} {shown} ({day(r.date)})" if shown else claim.name)
    read = polarities - {None}
    # one reading: it holds or it does not; none (a score) or several (conflicting): cannot tell
    holds: Holds = (wanted in read) if len(read) == 1 else None
    return Premise(
        phrase, holds, "; ".join(dict.fromkeys(said)), tuple(f for _, f, _ in results), label=label
    )


def _site_premise(board: Board, site: str, phrase: str) -> Premise:
    mine = [c for c in board.picture.cancers if site_of_text(c.name, c.body_site) == site]
    if mine:
        names = "; ".join(short(c.name) for c in mine)
        cited = tuple(f for c in mine for f in of_cancer(board, c, "diagnosis"))
        return Premise(phrase, True, names, cited, label=SITE_LABEL)
    recorded = "; ".join(short(c.name) for c in board.picture.cancers) or "none"
    return Premise(phrase, False, f"cancers recorded: {recorded}", tuple(_diagnoses(board)), label=SITE_LABEL)


__all__ = [
    "Concepts",
    "Event",
    "Premise",
    "check_premises",
    "known_drugs",
    "matching",
    "procedure_mentions",
    "question_concepts",
    "timeline_events",
]
