"""Terminology the fact extractors classify by: small, explicit code sets.

These sets decide which `FactKind` an Observation becomes (staging, tumor marker, performance
status, genomic) and which flags a Procedure gets. They are deliberately short and documented here
rather than spread over the extractors, so a reviewer can see (and extend) exactly what is
recognised. Everything not recognised still becomes a fact (``lab``/``vital``/``observation``); it
just gets a less specific kind.
"""

from __future__ import annotations

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
GENOMICS_TBD = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"

# --- TNM staging -------------------------------------------------------------------------
# code -> (category, stage_type). SNOMED CT observables used by mCODE and the matching LOINC
# codes used by US registries (the AJCC "TNM" panel).
TNM_CODES: dict[str, tuple[str, str | None]] = {
    # SNOMED CT
    "399504009": ("T", "clinical"),
    "384625004": ("T", "pathologic"),
    "399534004": ("N", "clinical"),
    "371494008": ("N", "pathologic"),
    "399387003": ("M", "clinical"),
    "371497001": ("M", "pathologic"),
    "399537006": ("stage_group", "clinical"),
    "399588009": ("stage_group", "pathologic"),
    # LOINC
    "21905-5": ("T", "clinical"),
    "21899-0": ("T", "pathologic"),
    "21906-3": ("N", "clinical"),
    "21900-6": ("N", "pathologic"),
    "21907-1": ("M", "clinical"),
    "21901-4": ("M", "pathologic"),
    "21908-9": ("stage_group", "clinical"),
    "21902-2": ("stage_group", "pathologic"),
}
# mCODE profile name -> TNM category. `mcode-cancer-stage` (Binet, Rai, FIGO, ISS, ...) and
# `mcode-lymphoma-stage` are non-TNM stage groups.
STAGING_PROFILES: dict[str, str] = {
    "mcode-tnm-primary-tumor-category": "T",
    "mcode-tnm-regional-nodes-category": "N",
    "mcode-tnm-distant-metastases-category": "M",
    "mcode-tnm-stage-group": "stage_group",
    "mcode-cancer-stage": "stage_group",
    "mcode-lymphoma-stage": "stage_group",
}

# --- Performance status ------------------------------------------------------------------
PERFORMANCE_STATUS_CODES: dict[str, str] = {
    "89247-1": "ECOG performance status",
    "89243-0": "Karnofsky performance status",
    "C38144": "Lansky play-performance status",  # NCIt
}
PERFORMANCE_STATUS_PROFILES = (
    "mcode-ecog-performance-status",
    "mcode-karnofsky-performance-status",
    "mcode-lansky-play-performance-status",
)

# --- Tumor markers (LOINC) ---------------------------------------------------------------
# Hormone receptors, HER2, proliferation and the classic serum tumor markers. Any Observation
# with the mCODE tumor-marker-test profile is a tumor marker too, whatever its code.
TUMOR_MARKER_CODES: dict[str, str] = {
    # estrogen receptor
    "85337-4": "ER",
    "16112-5": "ER",
    "40556-3": "ER",
    # progesterone receptor
    "85339-0": "PR",
    "16113-3": "PR",
    "40557-1": "PR",
    # HER2
    "48676-1": "HER2",
    "85319-2": "HER2",
    "85318-4": "HER2",
    "18474-7": "HER2",
    "31150-6": "HER2",
    "72383-3": "HER2",
    "48675-3": "HER2",
    # Ki-67
    "85330-9": "Ki-67",
    "29593-1": "Ki-67",
    # serum markers
    "2857-1": "PSA",
    "10886-0": "PSA (free)",
    "35741-8": "PSA",
    "2039-6": "CEA",
    "10334-1": "CA-125",
    "24108-3": "CA 19-9",
    "6875-9": "CA 15-3",
    "17842-6": "CA 27-29",
    "1834-1": "AFP",
    "19176-7": "AFP",
    "21198-7": "beta-hCG",
    "39004-7": "EGFR",
}
TUMOR_MARKER_PROFILES = ("mcode-tumor-marker-test",)

# --- Genomics ----------------------------------------------------------------------------
GENOMIC_CODES: dict[str, str] = {
    "69548-6": "Genetic variant assessment",
    "81695-9": "Microsatellite instability",
    "94076-7": "Tumor mutation burden",
    "53041-0": "Genomic region studied",
    "51969-4": "Genetic analysis report",
    "81247-9": "Genetic variant reporting panel",
    "diagnostic-implication": "Diagnostic implication",
    "therapeutic-implication": "Therapeutic implication",
}
# Component codes inside a variant / implication Observation -> details key.
GENOMIC_COMPONENTS: dict[str, str] = {
    "48018-6": "gene",
    "48004-6": "hgvs_c",
    "48005-3": "hgvs_p",
    "81290-9": "hgvs_g",
    "48019-4": "variant_type",
    "48002-0": "source_class",
    "53037-8": "interpretation",
    "81252-9": "variant",
    "81258-6": "allele_frequency",
    "51963-7": "medication",
    "predicted-therapeutic-implication": "interpretation",
    "molecular-consequence": "molecular_consequence",
    "81259-4": "phenotype",
}

# --- Tobacco use -------------------------------------------------------------------------
# Which Observations say whether and how much the patient smokes, whatever their category (US Core
# and mCODE file them under `social-history`, Synthea under `survey`) and so whatever kind the
# registry gives them. Sources: US Core's "Smoking Status Type" value set
# (us-core-smoking-status-observation-codes: LOINC 72166-2 and 11367-0, SNOMED CT 401201003 and
# 782516008), and LOINC 8664-5 "Cigarettes smoked total (pack per year) - Reported".
TOBACCO_STATUS_CODES: dict[str, str] = {
    "72166-2": "Tobacco smoking status",
    "11367-0": "History of Tobacco use",
}
PACK_YEARS_CODES: dict[str, str] = {
    "401201003": "Cigarette pack-years",  # SNOMED CT observable
    "782516008": "Number of calculated smoking pack years",  # SNOMED CT observable
    "8664-5": "Cigarettes smoked total (pack per year)",  # LOINC
}

# --- Observation categories / interpretation ----------------------------------------------
VITAL_CATEGORIES = frozenset({"vital-signs", "vital-sign"})
LAB_CATEGORIES = frozenset({"laboratory", "LAB"})
# HL7 v3 ObservationInterpretation codes meaning "outside normal".
ABNORMAL_INTERPRETATIONS = frozenset(
    {"A", "AA", "H", "HH", "HU", "H>", "L", "LL", "LU", "L<", "<", ">", "W", "CAR", "Carrier"}
)
NORMAL_INTERPRETATIONS = frozenset({"N"})

# --- Laterality (SNOMED CT qualifiers) -----------------------------------------------------
LATERALITY_CODES: dict[str, str] = {
    "7771000": "left",
    "24028007": "right",
    "51440002": "bilateral",
}

# --- Procedures ----------------------------------------------------------------------------
RADIOTHERAPY_CODES = frozenset(
    {
        "1217123003",  # Radiotherapy course of treatment
        "108290001",  # Radiation oncology AND/OR radiotherapy
        "33195004",  # Teleradiotherapy procedure
        "152198000",  # Brachytherapy
        "1156506007",  # External beam radiation therapy using photons
        "399315003",  # Radionuclide therapy
    }
)
RADIOTHERAPY_PROFILES = (
    "mcode-radiotherapy-course-summary",
    "mcode-radiotherapy-volume",
)
SURGERY_CATEGORY = "387713003"  # SNOMED "Surgical procedure"
SURGERY_PROFILES = ("mcode-cancer-related-surgical-procedure",)

# --- Labels for codes that sources often send without a display -----------------------------
CODE_LABELS: dict[str, str] = {
    # vital signs (FHIR vital-signs profile LOINC codes)
    "85353-1": "Vital signs panel",
    "9279-1": "Respiratory rate",
    "8867-4": "Heart rate",
    "2708-6": "Oxygen saturation",
    "59408-5": "Oxygen saturation by pulse oximetry",
    "8310-5": "Body temperature",
    "8302-2": "Body height",
    "9843-4": "Head circumference",
    "29463-7": "Body weight",
    "39156-5": "Body mass index",
    "85354-9": "Blood pressure panel",
    "8480-6": "Systolic blood pressure",
    "8462-4": "Diastolic blood pressure",
    "8277-6": "Body surface area",
    # mCODE
    "97509-4": "Cancer disease status",
    "398192003": "Co-morbid conditions",
    "21889-1": "Tumor size",
    "33728-7": "Size.maximum dimension in Tumor",
    "33732-9": "Size.additional dimension in Tumor",
    "C167435": "ALL risk assessment",
    "C18000": "Histologic grade",
    "C148010": "Rhabdomyosarcoma risk assessment",
    "1217123003": "Radiotherapy course of treatment",
    **GENOMIC_CODES,
    **PERFORMANCE_STATUS_CODES,
    **TOBACCO_STATUS_CODES,
    **PACK_YEARS_CODES,
}
