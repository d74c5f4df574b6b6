"""What a unit conversion needs to know about the analyte: its molar mass and its valence.

Mass ↔ substance concentration (mg/dL ↔ mmol/L) needs the molar mass; equivalents ↔ moles
(mEq/L ↔ mmol/L) need the valence (the charge per particle: Na⁺ 1, Ca²⁺ 2). Both are known only for
the analytes below and refused for every other analyte: medboard never guesses a chemistry.

Sources: molar masses are PubChem's computed molecular weights (pubchem.ncbi.nlm.nih.gov, compound
CID given per row) for molecules, and IUPAC/CIAAW standard atomic weights (ciaaw.org) for ions and
elements. Two clinical conventions are named where they apply: triglycerides are reported as
triolein, and urea nitrogen as the two nitrogen atoms of urea (so 1 mmol/L = 2.8 mg/dL).
Valences are the ion's charge; phosphate has none here (its charge depends on pH).

LOINC codes map to an analyte; one analyte has one molar mass, whatever the LOINC code that names
it (the mass- and substance-concentration codes of one analyte, serum and blood).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Analyte:
    name: str
    molar_mass: float | None  # g/mol
    valence: int | None  # equivalents per mole
    words: tuple[str, ...]  # label words that name it (for facts without a known LOINC code)


ANALYTES: dict[str, Analyte] = {
    a.name: a
    for a in (
        Analyte("glucose", 180.156, None, ("glucose",)),  # PubChem CID 5793
        Analyte("creatinine", 113.12, None, ("creatinine",)),  # PubChem CID 588
        Analyte("cholesterol", 386.65, None, ("cholesterol",)),  # PubChem CID 5997
        Analyte("triglycerides (as triolein)", 885.7, None, ("triglyceride",)),  # CID 5497163
        Analyte("urea nitrogen", 28.014, None, ("urea",)),  # 2 × N (CIAAW 14.007)
        Analyte("uric acid", 168.11, None, ("uric", "urate")),  # PubChem CID 1175
        Analyte("bilirubin", 584.66, None, ("bilirubin",)),  # PubChem CID 5280352
        Analyte("calcium", 40.078, 2, ("calcium",)),  # CIAAW
        Analyte("magnesium", 24.305, 2, ("magnesium",)),  # CIAAW
        Analyte("phosphate (as phosphorus)", 30.974, None, ("phosphate", "phosphorus")),  # CIAAW
        Analyte("iron", 55.845, None, ("iron",)),  # CIAAW
        Analyte("sodium", 22.990, 1, ("sodium",)),  # CIAAW
        Analyte("potassium", 39.098, 1, ("potassium",)),  # CIAAW
        Analyte("chloride", 35.45, 1, ("chloride",)),  # CIAAW
        Analyte("bicarbonate", 61.017, 1, ("bicarbonate", "carbon dioxide")),  # PubChem CID 769
    )
}

# LOINC code → analyte name. Mass and substance codes of one analyte, in serum/plasma and blood.
LOINC_ANALYTE: dict[str, str] = {
    "2345-7": "glucose",
    "2339-0": "glucose",
    "14749-6": "glucose",
    "15074-8": "glucose",
    "2160-0": "creatinine",
    "38483-4": "creatinine",
    "14682-9": "creatinine",
    "2093-3": "cholesterol",
    "14647-2": "cholesterol",
    "2085-9": "cholesterol",  # HDL cholesterol
    "14646-4": "cholesterol",
    "18262-6": "cholesterol",  # LDL cholesterol
    "13457-7": "cholesterol",
    "2089-1": "cholesterol",
    "22748-8": "cholesterol",
    "2571-8": "triglycerides (as triolein)",
    "14927-8": "triglycerides (as triolein)",
    "6299-2": "urea nitrogen",
    "3094-0": "urea nitrogen",
    "14937-7": "urea nitrogen",
    "3084-1": "uric acid",
    "14933-6": "uric acid",
    "1975-2": "bilirubin",
    "14631-6": "bilirubin",
    "17861-6": "calcium",
    "49765-1": "calcium",
    "2000-8": "calcium",
    "19123-9": "magnesium",
    "2601-3": "magnesium",
    "2777-1": "phosphate (as phosphorus)",
    "14879-1": "phosphate (as phosphorus)",
    "2498-4": "iron",
    "14798-3": "iron",
    "2951-2": "sodium",
    "2947-0": "sodium",
    "2823-3": "potassium",
    "6298-4": "potassium",
    "2075-0": "chloride",
    "2069-3": "chloride",
    "2028-9": "bicarbonate",  # carbon dioxide, total: reported as bicarbonate
    "20565-8": "bicarbonate",
    "1963-8": "bicarbonate",
}


def analyte_for(loinc: str | None = None, label: str | None = None) -> Analyte | None:
    """The analyte a LOINC code names, else the one analyte a label names (None if zero or several).

    The label is the fallback for facts coded in another system: its words must name exactly one
    analyte ("Creatinine [Mass/volume]" does; "Calcium/creatinine ratio" names two and gets none).
    """
    if loinc is not None and loinc in LOINC_ANALYTE:
        return ANALYTES[LOINC_ANALYTE[loinc]]
    if not label:
        return None
    low = label.lower()
    hits = {a.name: a for a in ANALYTES.values() if any(re.search(rf"\b{w}", low) for w in a.words)}
    return next(iter(hits.values())) if len(hits) == 1 else None
