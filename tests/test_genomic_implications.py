"""Genomic implications are stated with the variant they derive from (shared mCODE genomics bundle).

Five "Presumed responsive" therapeutic implications, or two "Uncertain significance" diagnostic
ones, were identical sentences: an implication says what it is about only through its medication
and the variant it derives from (`derivedFrom`), so both are named and the variant is cited.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medboard.agents.ehr.core import ehr_findings
from medboard.models import FindingCategory
from medboard.tools.fhir import load_record

ADAM = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "fhir"
    / "mcode"
    / "Bundle-gx-genomic-bundle-adam-anyperson.json"
)


@pytest.mark.skipif(not ADAM.is_file(), reason="shared genomics bundle not available")
def test_each_implication_names_its_variant_and_cites_it() -> None:
    record = load_record(ADAM)
    genomics = [f for f in ehr_findings(record) if f.category == FindingCategory.genomics]
    texts = [f.text for f in genomics]
    assert len(texts) == len(set(texts)), "two genomic results stated in the same words"
    implications = [f for f in genomics if "implication" in f.text.lower()]
    assert implications
    for finding in implications:
        cited = [e.reference for e in finding.evidence]
        variants = [r for r in cited if "variant" in r]
        assert len(cited) == 2 and variants, finding.text  # the implication and its variant
    alectinib = next(f for f in implications if "alectinib" in f.text)
    assert "ALK" in alectinib.text and "Presumed responsive" in alectinib.text
