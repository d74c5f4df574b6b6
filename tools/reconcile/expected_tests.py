"""Tests a tumour board expects for a cancer, by type, and which of them the record does not hold.

Why a table: "no EGFR result" is only worth a board's attention for a non-small cell lung cancer,
"no Gleason grade" only for a prostate cancer. The board asks, per cancer, for the tests its type
calls for and the record lacks; an absent test is an open question, never an inference that the
test was negative or not done.

Sources (each `Expectation` names its own):

- NCCN Clinical Practice Guidelines in Oncology (NCCN Guidelines®), *Non-Small Cell Lung Cancer*,
  "Principles of Molecular and Biomarker Analysis": EGFR, ALK and PD-L1 for treatment decisions
  from early stage on (adjuvant osimertinib / alectinib / immunotherapy); broad molecular profiling
  (also ROS1, BRAF, KRAS, MET exon 14, RET, NTRK) in advanced or metastatic disease.
- ASCO/CAP guideline updates *Estrogen and Progesterone Receptor Testing in Breast Cancer*
  (Allison et al., J Clin Oncol 2020) and *HER2 Testing in Breast Cancer* (Wolff et al., J Clin
  Oncol 2018; 2023 update): ER, PR and HER2 on every invasive breast cancer. NCCN *Breast Cancer*:
  PIK3CA and germline BRCA1/2 in recurrent or metastatic disease.
- NCCN *Colon Cancer* / *Rectal Cancer*: universal MMR or MSI testing; KRAS/NRAS, BRAF and HER2 in
  metastatic disease.
- CAP Cancer Protocol *Prostate Gland* (needle biopsy and radical prostatectomy: Gleason score and
  grade group are required elements); NCCN *Prostate Cancer*: PSA and grade group for risk groups,
  germline/somatic homologous-recombination genes (BRCA1/2) and MSI/MMR in metastatic disease.
- NCCN *Gastric Cancer* / *Esophageal and Esophagogastric Junction Cancers*: MSI/MMR universally;
  HER2 and PD-L1 in advanced or metastatic adenocarcinoma.
- NCCN *Ovarian Cancer*: germline and somatic BRCA1/2 for epithelial ovarian cancer; CA-125.
- NCCN *Pancreatic Adenocarcinoma*: germline testing (BRCA1/2, PALB2) for every patient; MSI/MMR in
  advanced disease; CA 19-9.
- NCCN *Uterine Neoplasms*: universal MMR/MSI testing of endometrial carcinoma.
- NCCN *Melanoma: Cutaneous*: BRAF V600 in stage III–IV.
- WHO Classification of Tumours of the CNS, 5th ed. (2021) and NCCN *Central Nervous System
  Cancers*: IDH1/2, 1p/19q codeletion and MGMT promoter methylation for diffuse gliomas.
- NCCN *Testicular Cancer*: AFP, beta-hCG and LDH (serum tumour markers, the "S" category).
- NCCN *Hepatocellular Carcinoma*: AFP.

A test counts as present when any result in the record names it (gene symbol, antigen, LOINC long
name or the loader's marker name), whatever its value: tests are recognised by name rather than
by LOINC code because each has dozens of codes (method, specimen, scale), while the names in their
displays are stable. Names are matched on the cancer's own biomarkers and markers and on results
no other cancer of the record owns, so a HER2 result of a breast cancer does not answer for a
gastric one — and a result that may be this cancer's is never reported missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import GenomicDetails, TumorMarkerDetails
from medboard.models.picture import Cancer
from medboard.tools.reconcile import knowledge

When = Literal["always", "metastatic"]


@dataclass(frozen=True)
class ExpectedTest:
    """One test, as a board names it, and the names a record's result for it may carry.

    `pattern` is read on every result's names (label, code displays, gene, marker); `symbol`, for
    abbreviations too common elsewhere ("PR interval" of an ECG), only on a result's gene or marker
    name and on the cancer's biomarker names.
    """

    name: str
    pattern: re.Pattern[str]
    when: When = "always"
    symbol: re.Pattern[str] | None = None

    def names(self, name: str) -> bool:
        """Whether a biomarker's name (as the picture or a claim gives it) is this test."""
        return bool(self.pattern.search(name) or (self.symbol and self.symbol.search(name.strip())))

    def metastatic(self) -> ExpectedTest:
        """The same test, asked only in metastatic disease."""
        return ExpectedTest(self.name, self.pattern, "metastatic", self.symbol)


@dataclass(frozen=True)
class Expectation:
    """The tests one cancer type calls for.

    `site` is the knowledge table's coarse site (`knowledge.site_of_text`); `requires` / `excludes`
    are words of the cancer's name or histology that narrow the type (melanoma within skin,
    non-small cell within lung).
    """

    cancer_type: str
    site: str
    tests: tuple[ExpectedTest, ...]
    source: str
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()


def _test(name: str, pattern: str, when: When = "always", symbol: str | None = None) -> ExpectedTest:
    return ExpectedTest(name, re.compile(pattern), when, re.compile(symbol) if symbol else None)


# Gene symbols are matched case-sensitively (eGFR, the kidney function, is not EGFR); antigen and
# assay names case-insensitively.
_EGFR = _test("EGFR", r"\bEGFR\b|(?i:epidermal growth factor receptor)")
_ALK = _test("ALK", r"\bALK\b(?!\s*(?i:phos))|(?i:anaplastic lymphoma kinase)")
_PDL1 = _test("PD-L1", r"(?i:\bPD-?L1\b|\bCD274\b|programmed (?:cell )?death[- ]?(?:ligand )?1)")
_MSI = _test(
    "MSI/MMR",
    r"(?i:microsatellite|mismatch repair)|\bMSI(?:-H|-L)?\b|\bdMMR\b|\bMLH1\b|\bMSH2\b|\bMSH6\b|\bPMS2\b",
    symbol=r"^MMR$",  # also the measles-mumps-rubella vaccine
)
_HER2 = _test("HER2", r"(?i:\bHER-?2\b|\bERBB2\b|erb-b2)")
_BRCA = _test("BRCA1/2", r"\bBRCA[12]?\b")
_AFP = _test("AFP", r"(?i:\bAFP\b|alpha[- ]?1?[- ]?fetoprotein)")

EXPECTATIONS: tuple[Expectation, ...] = (
    Expectation(
        "non-small cell lung cancer",
        "lung",
        (
            _EGFR,
            _ALK,
            _PDL1,
            _test("ROS1", r"\bROS1\b", "metastatic"),
            _test("BRAF", r"\bBRAF\b", "metastatic"),
            _test("KRAS", r"\bKRAS\b", "metastatic"),
            _test("MET", r"\bMET\b", "metastatic"),
            _test("RET", r"\bRET\b", "metastatic"),
            _test("NTRK", r"\bNTRK[123]?\b", "metastatic"),
        ),
        "NCCN NSCLC, principles of molecular and biomarker analysis",
        # "small cell carcinoma of lung" but not "non-small cell": small cell lung cancer has no
        # routine predictive biomarkers.
        excludes=("small cell carcinoma", "small cell lung", "small-cell lung", "oat cell"),
    ),
    Expectation(
        "breast cancer",
        "breast",
        (
            _test("ER", r"(?i:estrogen|oestrogen) receptor", symbol=r"^ER$"),
            _test("PR", r"(?i:progesterone receptor)|\bPgR\b", symbol=r"^PR$"),
            _HER2,
            _test("PIK3CA", r"\bPIK3CA\b", "metastatic"),
            _BRCA.metastatic(),
        ),
        "ASCO/CAP ER/PgR and HER2 testing guidelines; NCCN Breast Cancer",
    ),
    Expectation(
        "colorectal cancer",
        "colorectal",
        (
            _MSI,
            _test("RAS (KRAS/NRAS)", r"\b[KN]RAS\b", "metastatic"),
            _test("BRAF", r"\bBRAF\b", "metastatic"),
            _HER2.metastatic(),
        ),
        "NCCN Colon/Rectal Cancer",
    ),
    Expectation(
        "prostate cancer",
        "prostate",
        (
            _test("Gleason score / grade group", r"(?i:gleason|grade group)"),
            _test("PSA", r"(?i:\bPSA\b|prostate[- ]specific (?:antigen|ag)\b)"),
            _BRCA.metastatic(),
            _MSI.metastatic(),
        ),
        "CAP Prostate Gland protocol; NCCN Prostate Cancer",
    ),
    Expectation(
        "gastric cancer",
        "stomach",
        (_MSI, _HER2.metastatic(), _PDL1.metastatic()),
        "NCCN Gastric Cancer",
    ),
    Expectation(
        "esophageal cancer",
        "esophagus",
        (_MSI, _HER2.metastatic(), _PDL1.metastatic()),
        "NCCN Esophageal and Esophagogastric Junction Cancers",
    ),
    Expectation(
        "ovarian cancer",
        "ovary",
        (_BRCA, _test("CA-125", r"(?i:\bCA[- ]?125\b)")),
        "NCCN Ovarian Cancer",
    ),
    Expectation(
        "pancreatic cancer",
        "pancreas",
        (
            _BRCA,
            _test("PALB2", r"\bPALB2\b"),
            _MSI.metastatic(),
            _test("CA 19-9", r"(?i:\bCA[- ]?19[- ]?9\b)"),
        ),
        "NCCN Pancreatic Adenocarcinoma",
    ),
    Expectation("endometrial cancer", "uterus", (_MSI,), "NCCN Uterine Neoplasms"),
    Expectation(
        "melanoma",
        "skin",
        (_test("BRAF", r"\bBRAF\b", "metastatic"),),
        "NCCN Melanoma: Cutaneous",
        requires=("melanoma",),
    ),
    Expectation(
        "diffuse glioma",
        "brain",
        (
            _test("IDH1/2", r"\bIDH[12]?\b|(?i:isocitrate dehydrogenase)"),
            _test("1p/19q", r"(?i:1p\s*/?\s*19q)"),
            _test("MGMT", r"\bMGMT\b"),
        ),
        "WHO CNS5 (2021); NCCN Central Nervous System Cancers",
        requires=("glioma", "glioblastoma", "astrocytoma", "oligodendroglioma"),
    ),
    Expectation(
        "germ cell tumour",
        "germ_cell",
        (
            _AFP,
            _test("beta-hCG", r"(?i:\bb?-?hcg\b|chorionic gonadotropin)"),
            _test("LDH", r"(?i:\bLDH\b|lactate dehydrogenase)"),
        ),
        "NCCN Testicular Cancer",
    ),
    Expectation("hepatocellular carcinoma", "liver", (_AFP,), "NCCN Hepatocellular Carcinoma"),
)

#: The fact kinds whose results can answer for a test (a Gleason grade may come as a staging fact).
RESULT_KINDS = (
    FactKind.tumor_marker,
    FactKind.genomic,
    FactKind.lab,
    FactKind.observation,
    FactKind.staging,
    FactKind.report,
)


@dataclass(frozen=True)
class Missing:
    """The expected tests one cancer lacks, with the expectation that asks for them."""

    expectation: Expectation
    tests: tuple[ExpectedTest, ...]

    def question(self) -> str:
        names = ", ".join(t.name for t in self.tests)
        expected = f"{self.expectation.cancer_type}: {self.expectation.source}"
        return f"No {names} result is recorded (expected for {expected})."


def cancer_text(cancer: Cancer) -> str:
    return " ".join(t for t in (cancer.name, cancer.histology or "", cancer.body_site or "") if t).lower()


def expectation_for(cancer: Cancer) -> Expectation | None:
    """The expectation for this cancer's type, or None (no table entry, or a site it cannot tell).

    A secondary is typed by its site of origin ("Metastasis from ... prostate"); one whose origin is
    not recorded by the site it is found in, as the reconciliation reads it for tumour markers.
    """
    text = cancer_text(cancer)
    origin = text.split(" from ", 1)[1] if cancer.kind == "secondary" and " from " in text else text
    site = knowledge.site_of_text(origin)
    for expectation in EXPECTATIONS:
        if expectation.site != site:
            continue
        if expectation.requires and not any(w in text for w in expectation.requires):
            continue
        if any(w in text and f"non-{w}" not in text and f"non {w}" not in text for w in expectation.excludes):
            continue
        return expectation
    return None


_STAGE_IV = re.compile(r"^(?:[cpy]{0,2})IV|\bM1", re.IGNORECASE)


def is_metastatic(cancer: Cancer) -> bool:
    """Metastatic as recorded: a secondary, a metastatic site, stage group IV or M1, or the name."""
    return (
        cancer.kind == "secondary"
        or bool(cancer.metastatic_sites)
        or any(_STAGE_IV.search(s.group or "") for s in cancer.stages)
        or "metasta" in cancer_text(cancer)
    )


def _sources(cancer: Cancer) -> set[str]:
    """The results a cancer owns (its biomarkers' and markers')."""
    return {r.source for b in cancer.biomarkers for r in b.results} | {
        r.source for m in cancer.markers for r in m.results
    }


def _symbols(fact: Fact) -> list[str]:
    """The gene or marker a result is about, as the loader read it."""
    symbols = []
    if isinstance(fact.details, GenomicDetails) and fact.details.gene:
        symbols.append(fact.details.gene)
    if isinstance(fact.details, TumorMarkerDetails) and fact.details.marker:
        symbols.append(fact.details.marker)
    return symbols


def _found(test: ExpectedTest, names: list[str], symbols: list[str]) -> bool:
    if any(test.pattern.search(n) for n in [*names, *symbols] if n):
        return True
    symbol = test.symbol
    return symbol is not None and any(symbol.search(s.strip()) for s in symbols)


def missing_tests(cancer: Cancer, facts: Iterable[Fact], others: Sequence[Cancer] = ()) -> Missing | None:
    """The tests this cancer's type expects that no result names (None when nothing is missing).

    `facts` are the record's facts (any kinds; those of `RESULT_KINDS` are read); `others` the
    record's other cancers, whose own biomarkers and markers cannot answer for this one.
    """
    expectation = expectation_for(cancer)
    if expectation is None:
        return None
    foreign = {ref for other in others if other.condition != cancer.condition for ref in _sources(other)}
    own = _sources(cancer)
    results = [
        f for f in facts if f.kind in RESULT_KINDS and (f.reference in own or f.reference not in foreign)
    ]
    names = [n for f in results for n in (f.label, *(c.display or "" for c in f.codes))]
    symbols = [b.name for b in cancer.biomarkers] + [m.name for m in cancer.markers]
    symbols += [s for f in results for s in _symbols(f)]
    metastatic = is_metastatic(cancer)
    absent = tuple(
        test
        for test in expectation.tests
        if (test.when == "always" or metastatic) and not _found(test, names, symbols)
    )
    return Missing(expectation, absent) if absent else None
