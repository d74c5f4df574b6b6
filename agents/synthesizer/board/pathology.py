"""Pathology and biomarkers of one cancer: what its specimens showed, and its predictive results.

Pathology of the cancer's own specimen (margins, DCIS, nodes, size, grade) is the cancer's, not a
lab trend: each result is stated once here, under its report when the record has one (a report's
conclusion first, then its results). Biomarkers are the specialists' findings whose claim names
this cancer (ER/PR/HER2, genomic variants), except serum tumour markers, which are stated with
their course (`markers.py`).
"""

from __future__ import annotations

from medboard.agents.synthesizer.board.draft import CancerDraft, fhir_refs
from medboard.agents.synthesizer.board.scope import Items, is_tumour_result
from medboard.models import Finding
from medboard.tools.reconcile.expected_tests import expectation_for


def pathology(draft: CancerDraft, items: Items) -> None:
    """Each pathology report (its conclusion, when it has one) with its results, then loose results."""
    record = draft.owner.record
    stated: set[str] = set()
    for report in sorted(items.reports, key=lambda f: f.date or ""):
        results = [f for f in items.results if f.reference in report.related]
        own = draft.board.where(lambda f, r=report: fhir_refs(f) == {r.reference})
        for finding in own:
            draft.verbatim(finding)
        for fact in sorted(results, key=lambda f: (f.date or "", f.label)):
            draft.result(fact)
            stated.add(fact.reference)
    loose = [f for f in items.results if f.reference not in stated and is_tumour_result(f, record)]
    for fact in sorted(loose, key=lambda f: (f.date or "", f.label)):
        draft.result(fact)


def biomarkers(draft: CancerDraft) -> None:
    """The biomarker and genomic findings of this cancer, serum markers left to their course."""
    markers = {r.source for m in draft.scope.cancer.markers for r in m.results}
    found = draft.board.where(
        lambda f: (
            draft.mine(f)
            and f.claim is not None
            and f.claim.concept == "result"
            and f.claim.kind == "biomarker"
            and not (fhir_refs(f) and fhir_refs(f) <= markers)
        )
    )
    expectation = expectation_for(draft.scope.cancer)
    expected = list(expectation.tests) if expectation else []

    def rank(finding: Finding) -> int:
        """The guideline's tests first, in its order (ER, PR, HER2 ...), then the others."""
        name = getattr(finding.claim, "name", "")
        return next((i for i, test in enumerate(expected) if test.names(name)), len(expected))

    for finding in sorted(found, key=rank):
        draft.verbatim(finding)
