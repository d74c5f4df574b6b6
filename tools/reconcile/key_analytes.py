"""The analytes a tumour board reads first, by LOINC code: blood count, renal and liver tests.

Why a table of codes: whether a patient can have cisplatin, an anthracycline or a dose-dense
regimen is decided by a handful of numbers (haemoglobin, neutrophils, platelets, creatinine or
eGFR / creatinine clearance, bilirubin, transaminases, albumin). Chosen by display text, "Bilirubin"
would also pick up the urine dipstick ("Bilirubin.total [Mass/volume] in Urine by Test strip") and
"Hemoglobin" the urine blood test; chosen by code, each concept is exactly the serum/blood tests
that mean it. Each concept lists the LOINC codes that report it in any common unit or method (mass
and molar concentration; automated and manual counts; MDRD, CKD-EPI 2009 and 2021 eGFR, reported
per 1.73 m² or, as some systems do, in plain mL/min), so a record from another laboratory finds the
same concept. The serum tumour markers come from `knowledge.SERUM_MARKERS`, the one marker table.

Source: LOINC (loinc.org, Regenstrief Institute), the codes' fully specified names; the choice of
concepts follows the organ-function eligibility criteria common to oncology protocols (blood counts,
renal and hepatic function) and the cisplatin-eligibility criteria of Galsky et al., J Clin Oncol
2011;29:2432 (creatinine clearance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from medboard.tools.reconcile.knowledge import SERUM_MARKERS

Group = Literal["blood_count", "renal", "liver", "marker"]


@dataclass(frozen=True)
class KeyAnalyte:
    """One board concept and the LOINC codes that report it.

    ``name`` is what a statement calls it: a word the verifier's synonym table folds onto the
    record's own display (``Hemoglobin [Mass/volume] in Blood`` meets "Haemoglobin", ``Leukocytes``
    meets "WBC"); ``short`` is the table cell.
    """

    key: str
    name: str
    short: str
    group: Group
    codes: frozenset[str]


KEY_ANALYTES: tuple[KeyAnalyte, ...] = (
    KeyAnalyte(
        "hemoglobin",
        "Haemoglobin",
        "Hb",
        "blood_count",
        frozenset(
            {
                "718-7",  # Hemoglobin [Mass/volume] in Blood
                "20509-6",  # Hemoglobin [Mass/volume] in Blood by calculation
                "30313-1",  # Hemoglobin [Mass/volume] in Arterial blood
                "30350-3",  # Hemoglobin [Mass/volume] in Venous blood
                "30352-9",  # Hemoglobin [Mass/volume] in Capillary blood
                "59260-0",  # Hemoglobin [Moles/volume] in Blood
            }
        ),
    ),
    KeyAnalyte(
        "wbc",
        "WBC",
        "WBC",
        "blood_count",
        frozenset(
            {
                "6690-2",  # Leukocytes [#/volume] in Blood by Automated count
                "26464-8",  # Leukocytes [#/volume] in Blood
                "804-5",  # Leukocytes [#/volume] in Blood by Manual count
                "33256-9",  # Leukocytes [#/volume] corrected for nucleated erythrocytes in Blood
            }
        ),
    ),
    KeyAnalyte(
        "anc",
        "Neutrophils",
        "ANC",
        "blood_count",
        frozenset(
            {
                "751-8",  # Neutrophils [#/volume] in Blood by Automated count
                "26499-4",  # Neutrophils [#/volume] in Blood
                "753-4",  # Neutrophils [#/volume] in Blood by Manual count
            }
        ),
    ),
    KeyAnalyte(
        "platelets",
        "Platelets",
        "Platelets",
        "blood_count",
        frozenset(
            {
                "777-3",  # Platelets [#/volume] in Blood by Automated count
                "26515-7",  # Platelets [#/volume] in Blood
                "778-1",  # Platelets [#/volume] in Blood by Manual count
            }
        ),
    ),
    KeyAnalyte(
        "creatinine",
        "Creatinine",
        "Creatinine",
        "renal",
        frozenset(
            {
                "2160-0",  # Creatinine [Mass/volume] in Serum or Plasma
                "38483-4",  # Creatinine [Mass/volume] in Blood
                "14682-9",  # Creatinine [Moles/volume] in Serum or Plasma
                "77140-2",  # Creatinine [Moles/volume] in Serum, Plasma or Blood
            }
        ),
    ),
    KeyAnalyte(
        "egfr",
        "eGFR",
        "eGFR",
        "renal",
        frozenset(
            {
                "33914-3",  # GFR/1.73 sq M.predicted (MDRD); some systems report it in mL/min
                "48642-3",  # ... among non-blacks (MDRD)
                "48643-1",  # ... among blacks (MDRD)
                "50044-7",  # ... among females (MDRD)
                "62238-1",  # ... by Creatinine-based formula (CKD-EPI)
                "69405-9",  # GFR/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood
                "77147-7",  # ... by Creatinine-based formula (MDRD)
                "88293-6",  # ... among blacks (CKD-EPI)
                "88294-4",  # ... among non-blacks (CKD-EPI)
                "98979-8",  # ... by Creatinine-based formula (CKD-EPI 2021)
                # GFR/1.73 sq M.predicted by other formulas (cystatin C, paediatric)
                *("50210-4", "50384-7", "70969-1", "94677-2"),
                "98980-6",  # ... by Creatinine and Cystatin C-based formula (CKD-EPI 2021)
            }
        ),
    ),
    KeyAnalyte(
        "crcl",
        "Creatinine clearance",
        "CrCl",
        "renal",
        frozenset(
            {
                "2164-2",  # Creatinine renal clearance in 24 hour Urine and Serum or Plasma (mL/min)
                "35591-7",  # Creatinine renal clearance predicted by Cockcroft-Gault formula
            }
        ),
    ),
    KeyAnalyte(
        "bilirubin",
        "Total bilirubin",
        "Bilirubin",
        "liver",
        frozenset(
            {
                "1975-2",  # Bilirubin.total [Mass/volume] in Serum or Plasma
                "14631-6",  # Bilirubin.total [Moles/volume] in Serum or Plasma
                "42719-5",  # Bilirubin.total [Mass/volume] in Blood
            }
        ),
    ),
    KeyAnalyte(
        "alt",
        "ALT",
        "ALT",
        "liver",
        frozenset(
            {
                "1742-6",  # Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma
                "1743-4",  # ... by With P-5'-P
                "76625-3",  # Alanine aminotransferase [Enzymatic activity/volume] in Blood
            }
        ),
    ),
    KeyAnalyte(
        "ast",
        "AST",
        "AST",
        "liver",
        frozenset(
            {
                "1920-8",  # Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma
                "30239-8",  # ... by With P-5'-P
            }
        ),
    ),
    KeyAnalyte(
        "alp",
        "ALP",
        "ALP",
        "liver",
        frozenset({"6768-6"}),  # Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma
    ),
    KeyAnalyte(
        "albumin",
        "Albumin",
        "Albumin",
        "liver",
        frozenset(
            {
                "1751-7",  # Albumin [Mass/volume] in Serum or Plasma
                "61151-7",  # ... by Bromocresol green (BCG) dye binding method
                "61152-5",  # ... by Bromocresol purple (BCP) dye binding method
                "2862-1",  # Albumin [Mass/volume] in Serum or Plasma by Electrophoresis
            }
        ),
    ),
)

_BY_CODE: dict[str, KeyAnalyte] = {code: a for a in KEY_ANALYTES for code in a.codes}

#: The groups whose absence during therapy is a monitoring gap (a board cannot dose without them).
MONITORED_GROUPS: tuple[Group, ...] = ("blood_count", "renal")

#: Endocrine therapy (WHO ATC L02: aromatase inhibitors, anti-oestrogens, anti-androgens, GnRH
#: analogues): unlike cytotoxic, targeted and immune therapy it is not dosed against blood counts,
#: so a line of these alone has no monitoring gap. Names as the picture gives ingredients.
ENDOCRINE_AGENTS: frozenset[str] = frozenset(
    {
        *("anastrozole", "letrozole", "exemestane", "tamoxifen", "toremifene", "fulvestrant"),
        *("enzalutamide", "apalutamide", "darolutamide", "bicalutamide", "flutamide", "nilutamide"),
        *("leuprolide", "leuprorelin", "goserelin", "triptorelin", "degarelix", "relugolix"),
        *("megestrol", "medroxyprogesterone"),
    }
)


def key_analyte(code: str | None) -> KeyAnalyte | None:
    """The board concept a LOINC code reports: a table concept, else a serum tumour marker."""
    if not code:
        return None
    found = _BY_CODE.get(code)
    if found is not None:
        return found
    marker = SERUM_MARKERS.get(code)
    if marker is not None:
        return KeyAnalyte(f"marker:{code}", marker[0], marker[0], "marker", frozenset({code}))
    return None


def rank(analyte: KeyAnalyte) -> int:
    """The board's reading order: the table's order, tumour markers last."""
    for index, entry in enumerate(KEY_ANALYTES):
        if entry.key == analyte.key:
            return index
    return len(KEY_ANALYTES)
