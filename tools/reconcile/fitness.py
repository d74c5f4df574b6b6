"""Comorbidities and co-medications that decide whether a patient is fit for a cancer treatment.

Why a table: a board deciding on cisplatin, an anthracycline, a VEGF inhibitor or surgery asks the
same questions of every patient — heart failure and the ejection fraction, kidney function,
anticoagulation (biopsy and thrombocytopenia), diabetes (steroids, neuropathy), hearing loss and
neuropathy (platinum, taxanes), cognition (consent, oral adherence). The answers sit among dozens
of other problems (appendicitis in 1972, a polyp); a small, explicit table of codes picks them out.
Never by display words: "History of heart failure screening" is not heart failure.

Each concept is matched by code: SNOMED CT concepts (and the descendants a
record uses in practice, listed — there is no offline subsumption here), ICD-10 / ICD-10-CM code
prefixes (first concept wins, so hypertensive kidney disease I12 is kidney disease), LOINC for
observations, ingredient names for drugs.

Sources: SNOMED CT International Edition (concept ids and their fully specified names); ICD-10
codes of the Charlson comorbidity categories as coded by Quan et al., Med Care 2005;43:1130
(heart failure, renal disease, diabetes, dementia, cerebrovascular, chronic pulmonary and liver
disease); cisplatin-ineligibility criteria of Galsky et al., J Clin Oncol 2011;29:2432 (heart
failure, hearing loss, neuropathy, renal function); WHO ATC class B01 (antithrombotic agents:
B01AA vitamin K antagonists, B01AB heparins, B01AE direct thrombin inhibitors, B01AF direct factor
Xa inhibitors, B01AC platelet aggregation inhibitors); LOINC (loinc.org) for the ejection fraction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from medboard.models.facts import Coding


@dataclass(frozen=True)
class Comorbidity:
    """One fitness concept: its SNOMED CT ids and ICD-10 code prefixes."""

    key: str
    label: str
    snomed: frozenset[str]
    icd10: tuple[str, ...] = ()


COMORBIDITIES: tuple[Comorbidity, ...] = (
    Comorbidity(
        "heart_failure",
        "Heart failure",
        frozenset(
            {
                "84114007",  # Heart failure
                "42343007",  # Congestive heart failure
                "88805009",  # Chronic congestive heart failure
                "48447003",  # Chronic heart failure
                "10633002",  # Acute congestive heart failure
                "85232009",  # Left heart failure
                "367363000",  # Right ventricular failure
                "703272007",  # Heart failure with reduced ejection fraction
                "446221000",  # Heart failure with normal ejection fraction
            }
        ),
        ("I50", "I09.9", "I11.0", "I13.0", "I13.2", "I25.5", "I42", "I43"),
    ),
    Comorbidity(
        "ischaemic_heart_disease",
        "Ischaemic heart disease",
        frozenset(
            {
                "414545008",  # Ischemic heart disease
                "53741008",  # Coronary arteriosclerosis
                "22298006",  # Myocardial infarction
                "401303003",  # Acute ST segment elevation myocardial infarction
                "401314000",  # Acute non-ST segment elevation myocardial infarction
                "399211009",  # History of myocardial infarction
                "194828000",  # Angina
            }
        ),
        ("I20", "I21", "I22", "I23", "I24", "I25"),
    ),
    Comorbidity(
        "atrial_fibrillation",
        "Atrial fibrillation",
        frozenset({"49436004", "282825002", "440059007", "440028005"}),  # AF; paroxysmal/persistent/permanent
        ("I48",),
    ),
    Comorbidity(
        "cerebrovascular",
        "Cerebrovascular disease",
        frozenset({"230690007", "422504002", "266257000"}),  # Cerebrovascular accident; Ischemic stroke; TIA
        ("I60", "I61", "I62", "I63", "I64", "I65", "I66", "I67", "I68", "I69", "G45", "G46"),
    ),
    Comorbidity(
        "ckd",
        "Chronic kidney disease",
        frozenset(
            {
                "709044004",  # Chronic kidney disease
                "431855005",  # Chronic kidney disease stage 1
                "431856006",  # Chronic kidney disease stage 2
                "433144002",  # Chronic kidney disease stage 3
                "700378005",  # Chronic kidney disease stage 3A
                "700379002",  # Chronic kidney disease stage 3B
                "431857002",  # Chronic kidney disease stage 4
                "433146000",  # Chronic kidney disease stage 5
                "46177005",  # End-stage renal disease
                "90688005",  # Chronic renal failure syndrome
                "127013003",  # Disorder of kidney due to diabetes mellitus
            }
        ),
        ("N18", "N19", "I12", "I13.1", "Z49", "Z94.0", "Z99.2"),
    ),
    Comorbidity(
        "hypertension",
        "Hypertension",
        frozenset({"38341003", "59621000"}),  # Hypertensive disorder; Essential hypertension
        ("I10", "I11", "I12", "I13", "I15"),
    ),
    Comorbidity(
        "diabetes",
        "Diabetes",
        frozenset({"73211009", "44054006", "46635009"}),  # Diabetes mellitus; type 2; type 1
        ("E08", "E09", "E10", "E11", "E13", "E14"),
    ),
    Comorbidity(
        "chronic_lung_disease",
        "Chronic lung disease",
        frozenset(
            {"13645005", "185086009", "87433001", "51615001"}
        ),  # COPD; chronic obstructive bronchitis; emphysema; pulmonary fibrosis
        ("J41", "J42", "J43", "J44", "J84"),
    ),
    Comorbidity(
        "liver_disease",
        "Chronic liver disease",
        frozenset({"19943007", "328383001"}),  # Cirrhosis of liver; Chronic liver disease
        ("K70", "K72", "K74"),
    ),
    Comorbidity(
        "anaemia",
        "Anaemia",
        frozenset({"271737000"}),  # Anemia
        ("D50", "D51", "D52", "D53", "D55", "D56", "D57", "D58", "D59", "D60", "D61", "D62", "D63", "D64"),
    ),
    Comorbidity(
        "hearing_loss",
        "Hearing loss",
        frozenset({"15188001", "60700002", "44057004"}),  # Hearing loss; sensorineural; conductive
        ("H90", "H91"),
    ),
    Comorbidity(
        "neuropathy",
        "Peripheral neuropathy",
        frozenset(
            {
                "302226006",  # Peripheral nerve disease
                "42345000",  # Polyneuropathy
                "230572002",  # Diabetic neuropathy
                "368581000119106",  # Neuropathy due to type 2 diabetes mellitus
            }
        ),
        ("G60", "G61", "G62", "G63", "E10.4", "E11.4"),
    ),
    Comorbidity(
        "dementia",
        "Dementia",
        frozenset({"52448006", "26929004", "230265002"}),  # Dementia; Alzheimer's disease; familial AD
        ("F00", "F01", "F02", "F03", "G30"),
    ),
)

#: Left ventricular ejection fraction, by method (LOINC): the number a cardiotoxic regimen needs.
LVEF_CODES: frozenset[str] = frozenset(
    {
        "10230-1",  # Left ventricular Ejection fraction
        "8806-2",  # Left ventricular Ejection fraction by 2D echo
        "18043-0",  # Left ventricular Ejection fraction by US
        # Left ventricular Ejection fraction by other methods (nuclear, angiography, MR)
        *("8808-8", "8809-6", "18045-5", "8811-2", "79991-6"),
    }
)

#: Antithrombotic ingredients (WHO ATC B01), by the name the picture gives an ingredient.
ANTICOAGULANTS: frozenset[str] = frozenset(
    {
        *("warfarin", "acenocoumarol", "phenprocoumon"),  # B01AA
        *("heparin", "enoxaparin", "dalteparin", "tinzaparin", "nadroparin"),  # B01AB
        "fondaparinux",  # B01AX
        *("dabigatran", "argatroban", "bivalirudin"),  # B01AE
        *("rivaroxaban", "apixaban", "edoxaban", "betrixaban"),  # B01AF
    }
)
ANTIPLATELETS: frozenset[str] = frozenset(
    {
        "aspirin",
        "clopidogrel",
        "prasugrel",
        "ticagrelor",
        "ticlopidine",
        "dipyridamole",
        "cilostazol",
    }  # B01AC
)

_SNOMED = "snomed"
_ICD10 = "icd-10"


def comorbidity(codes: Iterable[Coding]) -> Comorbidity | None:
    """The fitness concept one of a condition's codings names (SNOMED CT id or ICD-10 prefix)."""
    for coding in codes:
        system, code = (coding.system or "").lower(), (coding.code or "").strip()
        if not code:
            continue
        for concept in COMORBIDITIES:
            if _SNOMED in system and code in concept.snomed:
                return concept
            if _ICD10 in system and code.upper().startswith(concept.icd10):
                return concept
    return None


def drug_class(ingredient: str) -> str | None:
    """``anticoagulant`` / ``antiplatelet`` when a word of the ingredient is one (ATC B01)."""
    words = set(re.findall(r"[a-z]+", ingredient.lower()))
    if words & ANTICOAGULANTS:
        return "anticoagulant"
    if words & ANTIPLATELETS:
        return "antiplatelet"
    return None
