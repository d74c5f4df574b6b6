"""Drug names and kinds of therapy: which ingredient a medication is, and which currency window fits.

Records name one drug many ways — ``cyclophosphamide`` (an RxNorm ingredient), ``10 ML doxorubicin
hydrochloride 2 MG/ML Injection`` (a clinical drug), ``Amoxicillin 250 MG / Clavulanate 125 MG Oral
Tablet`` (a combination), ``Lasix 40mg`` (a brand). Reconciliation groups by *ingredient*, so every
form is read down to its ingredient names the way RxNorm's clinical-drug names are built (RxNorm
Technical Documentation, "SCD: Ingredient Strength Dose Form"; combinations joined by `` / ``):

1. a structured ingredient list (``Medication.ingredient``) wins;
2. otherwise the RxNorm coding's display, else the label: tall-man lettering is folded
   (``PACLitaxel``); a leading quantity (``0.25 ML``, ``24 HR``), a bracketed brand (``[Toprol]``)
   and a parenthesised synonym dropped; each `` / `` part read up to its strength or dose-form
   word, and a salt word after the base (``hydrochloride``, ``acetate``) dropped — unless the
   name starts with a mineral (``ferrous sulfate``, ``potassium chloride`` are ingredients);
3. a brand name alone maps through `BRANDS`.

Combination parts are sorted, so ``clavulanate / amoxicillin`` and ``amoxicillin / clavulanate``
are one ingredient name.

The kind of therapy picks the currency window (`medboard.tools.reconcile.currency.WINDOW_DAYS`):
a depot drug (`LONG_ACTING`) given by injection is ``long_acting``; an antineoplastic or
immunotherapy (`medboard.tools.longitudinal.timeline` names, plus ``-mab``) given by injection or
infusion is ``cyclic``; a drug taken by mouth is ``oral``; everything else ``default``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from medboard.tools.longitudinal.timeline import ANTINEOPLASTIC_NAMES, ANTINEOPLASTIC_SUFFIXES
from medboard.tools.reconcile.currency import TherapyKind

# Brand → ingredient for brands common in oncology and the chronic drugs around it. Source: RxNorm
# brand-name (BN) → ingredient (IN) "tradename_of" relationships (RxNav, NLM), lower case.
BRANDS: dict[str, str] = {
    "abraxane": "paclitaxel",
    "adriamycin": "doxorubicin",
    "alimta": "pemetrexed",
    "arimidex": "anastrozole",
    "aromasin": "exemestane",
    "avastin": "bevacizumab",
    "coumadin": "warfarin",
    "decadron": "dexamethasone",
    "eliquis": "apixaban",
    "erbitux": "cetuximab",
    "faslodex": "fulvestrant",
    "femara": "letrozole",
    "gleevec": "imatinib",
    "glucophage": "metformin",
    "herceptin": "trastuzumab",
    "ibrance": "palbociclib",
    "imfinzi": "durvalumab",
    "iressa": "gefitinib",
    "keytruda": "pembrolizumab",
    "lasix": "furosemide",
    "lipitor": "atorvastatin",
    "lupron": "leuprolide",
    "eligard": "leuprolide",
    "neulasta": "pegfilgrastim",
    "neupogen": "filgrastim",
    "nolvadex": "tamoxifen",
    "opdivo": "nivolumab",
    "perjeta": "pertuzumab",
    "prolia": "denosumab",
    "xgeva": "denosumab",
    "synthroid": "levothyroxine",
    "tagrisso": "osimertinib",
    "taxol": "paclitaxel",
    "taxotere": "docetaxel",
    "tecentriq": "atezolizumab",
    "toprol": "metoprolol",
    "tylenol": "acetaminophen",
    "xeloda": "capecitabine",
    "xtandi": "enzalutamide",
    "yervoy": "ipilimumab",
    "zocor": "simvastatin",
    "zofran": "ondansetron",
    "zoladex": "goserelin",
    "zometa": "zoledronic acid",
    "zytiga": "abiraterone",
}

# Salt and ester words RxNorm writes after a base (precise ingredient → ingredient), lower case.
# Source: RxNorm "PIN" names (e.g. "doxorubicin hydrochloride" PIN of "doxorubicin").
SALTS = frozenset(
    {
        "acetate", "besylate", "bitartrate", "bromide", "calcium", "citrate", "dihydrate",
        "disodium", "dipropionate", "fumarate", "hcl", "hydrobromide", "hydrochloride", "hyclate",
        "maleate", "mesylate", "monohydrate", "phosphate", "potassium", "propionate", "sodium",
        "succinate", "sulfate", "tartrate", "tosylate", "trihydrate",
    }
)  # fmt: skip
# A name starting with one of these is itself the ingredient ("ferrous sulfate", "sodium chloride").
MINERALS = frozenset({"ferrous", "ferric", "sodium", "potassium", "calcium", "magnesium", "zinc", "lithium"})

# Words that end a drug name: units, dose forms, routes, release words (RxNorm dose-form names).
_FORM_WORDS = frozenset(
    {
        "ml", "mg", "mcg", "ug", "g", "kg", "l", "hr", "h", "day", "unt", "meq", "actuat", "%",
        "injection", "injectable", "solution", "suspension", "oral", "tablet", "tablets", "capsule",
        "capsules", "cream", "ointment", "patch", "transdermal", "topical", "extended", "release",
        "delayed", "chewable", "disintegrating", "film", "coated", "prefilled", "syringe", "pen",
        "injector", "auto", "inhaler", "inhalation", "spray", "nasal", "drops", "ophthalmic",
        "otic", "rectal", "suppository", "vaginal", "powder", "for", "reconstitution", "elixir",
        "syrup", "lozenge", "gel", "lotion", "foam", "kit", "pack", "product", "intravenous", "iv",
        "subcutaneous", "intramuscular", "infusion", "depot", "implant", "mg/ml", "mg/m2",
    }
)  # fmt: skip
_TOKEN = re.compile(r"[a-z][a-z\-']*|\d+(?:\.\d+)?[a-z/%]*|%")
_NUMBER = re.compile(r"\d")

# Depot preparations given every 1–6 months (US prescribing information of each): judged with
# the ``long_acting`` window when given by injection or implant.
LONG_ACTING = frozenset(
    {
        "leuprolide", "goserelin", "triptorelin", "histrelin", "degarelix", "fulvestrant",
        "denosumab", "zoledronic acid", "medroxyprogesterone", "octreotide", "lanreotide",
    }
)  # fmt: skip
# Immunotherapy, targeted and cytotoxic drugs that are not in the timeline's antineoplastic table.
EXTRA_ANTINEOPLASTIC = frozenset({"vincristine", "vinblastine", "vinorelbine", "trastuzumab", "gefitinib"})

ORAL_WORDS = ("oral", "orally", "by mouth", "tablet", "capsule", "per os", "swallow")
PARENTERAL_WORDS = (
    "injection", "injectable", "intravenous", "infusion", "subcutaneous", "intramuscular",
    "syringe", "auto-injector", "pen injector", " iv", "iv ", "(iv", "iv)",
)  # fmt: skip
DEPOT_WORDS = ("depot", "implant", "extended-release injectable", "long-acting")


def _component(text: str) -> str | None:
    """One ingredient name from one `` / `` part of a drug name (see the module docstring)."""
    tokens = _TOKEN.findall(text.lower())
    while tokens and (_NUMBER.match(tokens[0]) or tokens[0] in _FORM_WORDS):
        tokens.pop(0)  # a leading quantity: "0.25 ML", "24 HR", "24hr"
    words: list[str] = []
    for token in tokens:
        if _NUMBER.match(token):
            # "vitamin B 12": a number after a single letter is part of the name
            if words and len(words[-1]) == 1:
                words.append(token)
                continue
            break
        if token in _FORM_WORDS:
            break
        words.append(token)
    while len(words) > 1 and words[-1] in SALTS and words[0] not in MINERALS:
        words.pop()
    if not words:
        return None
    name = " ".join(words)
    return BRANDS.get(name, name)


def ingredient_name(texts: Iterable[str | None]) -> str | None:
    """The ingredient name from the first text that yields one (combinations sorted, `` / ``)."""
    for text in texts:
        if not text:
            continue
        # "[Toprol]", RxNorm pack braces, an NDC display's "(VANCOMYCIN HYDROCHLORIDE)" synonym
        text = re.sub(r"\[[^\]]*\]|\{[^}]*\}|\([^)]*\)", " ", text)
        parts = [p for p in (_component(part) for part in re.split(r"\s/\s", text)) if p]
        if parts:
            return " / ".join(sorted(dict.fromkeys(parts)))
    return None


def is_antineoplastic(ingredient: str) -> bool:
    return any(
        part in ANTINEOPLASTIC_NAMES
        or part in EXTRA_ANTINEOPLASTIC
        or part.endswith((*ANTINEOPLASTIC_SUFFIXES, "mab"))
        for part in ingredient.split(" / ")
    )


def therapy_kind(ingredient: str, words: str, *, cancer_related: bool = False) -> TherapyKind:
    """The kind of therapy from the ingredient and the route / dose-form words of its sources."""
    text = f" {words.lower()} "
    oral = any(w in text for w in ORAL_WORDS)
    parenteral = any(w in text for w in PARENTERAL_WORDS) or any(w in text for w in DEPOT_WORDS)
    if parenteral and (ingredient in LONG_ACTING or any(w in text for w in DEPOT_WORDS)):
        return "long_acting"
    if parenteral and (cancer_related or is_antineoplastic(ingredient)):
        return "cyclic"
    if oral:
        return "oral"
    return "default"
