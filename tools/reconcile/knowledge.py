"""Small offline knowledge tables the cancer reconciliation reads: sites, drugs, markers, biomarkers.

Why offline tables: which cancer a tumour marker or a drug belongs to is stable clinical knowledge,
and a tumour board summary must never take a PSA as the response of a lung regimen. Each table
names its source; each is deliberately small and general (words of SNOMED CT / ICD-O-3 site and
histology displays, ICD-10 / ICD-O-3 topography code prefixes, LOINC codes, WHO ATC classes), never
keyed on one record's identifiers.

Sites are coarse keys (``breast``, ``lung``, ``prostate``, ``colorectal`` ...): enough to decide
whether a marker or a drug *can* belong to a cancer.
"""

from __future__ import annotations

import re

from medboard.tools.reconcile.currency import TherapyKind

# Site words as they appear in SNOMED CT disorder / body-structure displays and ICD-O-3 topography
# and morphology names (e.g. "Primary malignant neoplasm of female left breast", "Non-small cell
# carcinoma of lung", "Hepatocellular carcinoma"). Source: SNOMED CT body structure hierarchy
# names; ICD-O-3 topography (C00–C80) and morphology (e.g. 8170/3 hepatocellular carcinoma,
# 9061/3 seminoma) terms. Order matters: the first match wins (more specific words first).
SITE_WORDS: tuple[tuple[str, str], ...] = (
    ("non-small cell", "lung"),
    ("small cell carcinoma of lung", "lung"),
    ("bronch", "lung"),
    ("lung", "lung"),
    ("pulmonary", "lung"),
    ("breast", "breast"),
    ("mammary", "breast"),
    ("prostat", "prostate"),
    ("colorectal", "colorectal"),
    ("colon", "colorectal"),
    ("rectum", "colorectal"),
    ("rectal", "colorectal"),
    ("rectosigmoid", "colorectal"),
    ("sigmoid", "colorectal"),
    ("cecum", "colorectal"),
    ("caecum", "colorectal"),
    ("ovar", "ovary"),
    ("fallopian", "ovary"),
    ("peritoneum", "ovary"),
    ("pancrea", "pancreas"),
    ("cholangio", "biliary"),
    ("bile duct", "biliary"),
    ("biliary", "biliary"),
    ("gallbladder", "biliary"),
    ("hepatocellular", "liver"),
    ("hepatoblastoma", "liver"),
    ("liver", "liver"),
    ("seminoma", "germ_cell"),
    ("germ cell", "germ_cell"),
    ("testis", "germ_cell"),
    ("testicular", "germ_cell"),
    ("teratoma", "germ_cell"),
    ("yolk sac", "germ_cell"),
    ("choriocarcinoma", "germ_cell"),
    ("bladder", "bladder"),
    ("urothelial", "bladder"),
    ("renal", "kidney"),
    ("kidney", "kidney"),
    ("stomach", "stomach"),
    ("gastric", "stomach"),
    ("oesophag", "esophagus"),
    ("esophag", "esophagus"),
    ("thyroid", "thyroid"),
    ("cervix", "cervix"),
    ("cervical", "cervix"),
    ("endometri", "uterus"),
    ("uterus", "uterus"),
    ("uterine", "uterus"),
    ("melanoma", "skin"),
    ("skin", "skin"),
    ("brain", "brain"),
    ("glioma", "brain"),
    ("glioblastoma", "brain"),
    ("leukemia", "blood"),
    ("leukaemia", "blood"),
    ("lymphoma", "lymph"),
    ("myeloma", "blood"),
    ("bone", "bone"),
)

# ICD-10 (chapter II) and ICD-O-3 topography share the C-code numbering for sites (C50 breast, C34
# lung, C61 prostate ...). Source: WHO ICD-10 chapter II; WHO ICD-O-3 topography axis.
ICD_SITE_PREFIXES: dict[str, str] = {
    "C15": "esophagus",
    "C16": "stomach",
    "C18": "colorectal",
    "C19": "colorectal",
    "C20": "colorectal",
    "C22": "liver",
    "C23": "biliary",
    "C24": "biliary",
    "C25": "pancreas",
    "C33": "lung",
    "C34": "lung",
    "C43": "skin",
    "C50": "breast",
    "C53": "cervix",
    "C54": "uterus",
    "C56": "ovary",
    "C61": "prostate",
    "C62": "germ_cell",
    "C64": "kidney",
    "C67": "bladder",
    "C71": "brain",
    "C73": "thyroid",
    "C78": "secondary",
    "C79": "secondary",
}

# Serum tumour markers (LOINC) and the cancer sites they are followed in. Source: NCI "Tumor
# Markers" fact sheet (cancer.gov/about-cancer/diagnosis-staging/diagnosis/tumor-markers-list) and
# NCCN guidelines' follow-up recommendations; LOINC codes from loinc.org.
SERUM_MARKERS: dict[str, tuple[str, frozenset[str]]] = {
    "2857-1": ("PSA", frozenset({"prostate"})),
    "19197-5": ("PSA", frozenset({"prostate"})),
    "83112-3": ("PSA", frozenset({"prostate"})),
    "35741-8": ("PSA", frozenset({"prostate"})),
    "10886-0": ("free PSA", frozenset({"prostate"})),
    "2039-6": ("CEA", frozenset({"colorectal"})),
    "10334-1": ("CA-125", frozenset({"ovary"})),
    "24108-3": ("CA 19-9", frozenset({"pancreas", "biliary"})),
    "1834-1": ("AFP", frozenset({"liver", "germ_cell"})),
    "19176-9": ("AFP", frozenset({"liver", "germ_cell"})),
    "6875-9": ("CA 15-3", frozenset({"breast"})),
    "17842-6": ("CA 27.29", frozenset({"breast"})),
    "19080-1": ("hCG", frozenset({"germ_cell"})),
    "21198-7": ("beta-hCG", frozenset({"germ_cell"})),
    "1992-7": ("calcitonin", frozenset({"thyroid"})),
    "3013-0": ("thyroglobulin", frozenset({"thyroid"})),
}

# Marker names (as the loader's TumorMarkerDetails.marker or a label) → sites, for marker facts
# whose LOINC code is not in `SERUM_MARKERS`. Same source as above.
SERUM_MARKER_NAMES: dict[str, frozenset[str]] = {
    "psa": frozenset({"prostate"}),
    "cea": frozenset({"colorectal"}),
    "ca-125": frozenset({"ovary"}),
    "ca125": frozenset({"ovary"}),
    "ca 19-9": frozenset({"pancreas", "biliary"}),
    "ca19-9": frozenset({"pancreas", "biliary"}),
    "afp": frozenset({"liver", "germ_cell"}),
    "ca 15-3": frozenset({"breast"}),
    "ca15-3": frozenset({"breast"}),
}

# Drugs → the cancer sites they are indicated for; a drug with several sites (platinum, taxanes)
# lists them all, and a drug absent from the table tells nothing (the line then goes by its
# reasonReference or, with one cancer, to that cancer). Source: WHO ATC classes L01 (antineoplastic
# agents) and L02 (endocrine therapy) with their labelled indications (FDA labels / NCI drug
# dictionary), at the granularity of sites.
DRUG_SITES: dict[str, frozenset[str]] = {
    # L02 endocrine therapy
    "anastrozole": frozenset({"breast"}),
    "letrozole": frozenset({"breast"}),
    "exemestane": frozenset({"breast"}),
    "tamoxifen": frozenset({"breast"}),
    "fulvestrant": frozenset({"breast"}),
    "enzalutamide": frozenset({"prostate"}),
    "abiraterone": frozenset({"prostate"}),
    "apalutamide": frozenset({"prostate"}),
    "darolutamide": frozenset({"prostate"}),
    "bicalutamide": frozenset({"prostate"}),
    "flutamide": frozenset({"prostate"}),
    "leuprolide": frozenset({"prostate", "breast"}),
    "goserelin": frozenset({"prostate", "breast"}),
    "degarelix": frozenset({"prostate"}),
    "triptorelin": frozenset({"prostate"}),
    # L01 antineoplastic agents
    "trastuzumab": frozenset({"breast", "stomach"}),
    "pertuzumab": frozenset({"breast"}),
    "palbociclib": frozenset({"breast"}),
    "ribociclib": frozenset({"breast"}),
    "abemaciclib": frozenset({"breast"}),
    "cyclophosphamide": frozenset({"breast", "lymph", "blood", "ovary"}),
    "doxorubicin": frozenset({"breast", "lymph", "blood", "bone", "bladder", "ovary", "stomach"}),
    "epirubicin": frozenset({"breast", "stomach"}),
    "paclitaxel": frozenset({"breast", "lung", "ovary", "stomach", "esophagus", "pancreas"}),
    "docetaxel": frozenset({"breast", "lung", "prostate", "stomach"}),
    "cabazitaxel": frozenset({"prostate"}),
    "cisplatin": frozenset({"lung", "germ_cell", "bladder", "ovary", "cervix", "esophagus", "stomach"}),
    "carboplatin": frozenset({"lung", "ovary", "breast"}),
    "oxaliplatin": frozenset({"colorectal", "stomach", "pancreas"}),
    "etoposide": frozenset({"lung", "germ_cell"}),
    "pemetrexed": frozenset({"lung"}),
    "gefitinib": frozenset({"lung"}),
    "erlotinib": frozenset({"lung", "pancreas"}),
    "osimertinib": frozenset({"lung"}),
    "afatinib": frozenset({"lung"}),
    "alectinib": frozenset({"lung"}),
    "crizotinib": frozenset({"lung"}),
    "leucovorin": frozenset({"colorectal", "stomach", "pancreas"}),
    "fluorouracil": frozenset({"colorectal", "stomach", "pancreas", "breast"}),
    "capecitabine": frozenset({"colorectal", "breast", "stomach"}),
    "irinotecan": frozenset({"colorectal", "pancreas"}),
    "bevacizumab": frozenset({"colorectal", "lung", "ovary", "kidney", "brain"}),
    "cetuximab": frozenset({"colorectal"}),
    "panitumumab": frozenset({"colorectal"}),
    "gemcitabine": frozenset({"pancreas", "biliary", "lung", "bladder", "ovary", "breast"}),
    "sorafenib": frozenset({"liver", "kidney", "thyroid"}),
    "temozolomide": frozenset({"brain"}),
    "bleomycin": frozenset({"germ_cell", "lymph"}),
    "vincristine": frozenset({"blood", "lymph"}),
    "idarubicin": frozenset({"blood"}),
    "rituximab": frozenset({"lymph", "blood"}),
}

# Oral agents and long-acting depots (WHO ATC L01/L02 route of administration; product labels):
# the kind decides the currency window (`currency.WINDOW_DAYS`); other antineoplastics are cyclic.
ORAL_DRUGS = frozenset(
    {
        "anastrozole",
        "letrozole",
        "exemestane",
        "tamoxifen",
        "enzalutamide",
        "abiraterone",
        "apalutamide",
        "darolutamide",
        "bicalutamide",
        "flutamide",
        "capecitabine",
        "gefitinib",
        "erlotinib",
        "osimertinib",
        "afatinib",
        "alectinib",
        "crizotinib",
        "palbociclib",
        "ribociclib",
        "abemaciclib",
        "temozolomide",
        "sorafenib",
        "olaparib",
    }
)
ORAL_SUFFIXES = ("tinib", "ciclib", "parib", "lutamide")
LONG_ACTING_DRUGS = frozenset(
    {"leuprolide", "goserelin", "triptorelin", "fulvestrant", "degarelix", "denosumab"}
)

# Predictive biomarkers and the sites where they are tested, for results that carry no link to a
# condition. Source: NCCN biomarker recommendations (breast: ER/PR/HER2; NSCLC: EGFR, ALK, ROS1,
# KRAS, PD-L1 ...), CAP cancer protocol templates. Only consulted with more than one cancer.
BIOMARKER_SITES: dict[str, frozenset[str]] = {
    "er": frozenset({"breast"}),
    "pr": frozenset({"breast"}),
    "her2": frozenset({"breast", "stomach"}),
    "egfr": frozenset({"lung", "colorectal"}),
    "alk": frozenset({"lung"}),
    "ros1": frozenset({"lung"}),
    "kras": frozenset({"lung", "colorectal", "pancreas"}),
    "braf": frozenset({"skin", "colorectal", "lung", "thyroid"}),
    "brca1": frozenset({"breast", "ovary", "prostate", "pancreas"}),
    "brca2": frozenset({"breast", "ovary", "prostate", "pancreas"}),
    "palb2": frozenset({"breast", "pancreas"}),
}

# Words saying a condition is not (yet) a diagnosed cancer: SNOMED CT "situation" concepts
# (suspected, history of, screening) and ICD-10 Z80/Z85 family or personal history.
NOT_A_DIAGNOSIS_WORDS = ("suspected", "history of", "screening", "family history", "at risk", "risk of")

_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV", "0": "0"}
_STAGE_IN_TEXT = re.compile(r"\bstage\s+(0|[1-4]|IV|I{1,3}|0is)([A-C](?:[1-3])?)?\b", re.IGNORECASE)


def stage_in_text(text: str | None) -> str | None:
    """The stage group a diagnosis name or stage display states ("TNM stage 1" → ``I``).

    Arabic numerals are written in Roman, as AJCC stage groups are.
    """
    match = _STAGE_IN_TEXT.search(text or "")
    if match is None:
        return None
    number, sub = match.group(1), match.group(2) or ""
    return _ROMAN.get(number, number.upper()) + sub.upper()


def site_of_text(*texts: str | None) -> str | None:
    """The coarse site a display names, by `SITE_WORDS` (first text with a match wins)."""
    for text in texts:
        low = (text or "").lower()
        for word, site in SITE_WORDS:
            if word in low:
                return site
    return None


def site_of_icd(code: str | None) -> str | None:
    """The coarse site of an ICD-10 / ICD-O-3 topography code (``C50.912`` → breast)."""
    return ICD_SITE_PREFIXES.get((code or "").upper()[:3])


def drug_kind(drug: str) -> TherapyKind:
    """`currency.TherapyKind` of one drug: ``oral``, ``long_acting`` or ``cyclic``."""
    if drug in LONG_ACTING_DRUGS:
        return "long_acting"
    if drug in ORAL_DRUGS or drug.endswith(ORAL_SUFFIXES):
        return "oral"
    return "cyclic"


# Qualitative results that say "yes" or "no", whatever the answer list: LOINC answer lists LL360-9
# (Positive/Negative), LL2-9 ... and SNOMED CT qualifier values. Two results of one biomarker
# that read opposite here disagree even when coded in different systems.
POSITIVE_ANSWERS = frozenset(
    {
        "LA6576-8",  # Positive (LOINC)
        "LA9633-4",  # Present
        "LA11882-0",  # Detected
        "10828004",  # Positive (SNOMED CT)
        "52101004",  # Present
        "260373001",  # Detected
    }
)
NEGATIVE_ANSWERS = frozenset(
    {
        "LA6577-6",  # Negative (LOINC)
        "LA9634-2",  # Absent
        "LA11883-8",  # Not detected
        "260385009",  # Negative (SNOMED CT)
        "2667000",  # Absent
        "260415000",  # Not detected
    }
)
_NEGATIVE_WORDS = ("negative", "not detected", "absent", "not amplified", "non-amplified")
_POSITIVE_WORDS = ("positive", "detected", "present", "amplified")


def polarity(codes: list[str], text: str | None) -> str | None:
    """``positive`` / ``negative`` for a qualitative result, None when it says neither (or both)."""
    if any(c in POSITIVE_ANSWERS for c in codes):
        return "positive"
    if any(c in NEGATIVE_ANSWERS for c in codes):
        return "negative"
    low = (text or "").lower()
    if any(w in low for w in _NEGATIVE_WORDS):  # checked first: "not detected" contains "detected"
        return "negative"
    if any(w in low for w in _POSITIVE_WORDS):
        return "positive"
    return None
