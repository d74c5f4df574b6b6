"""One cancer section under construction: its statements, what they cite, what they took.

Why a draft object: a cancer section is written by several modules (diagnosis, therapy, markers)
that must share two rules. A statement cites every finding it restates or summarises, and a
finding whose record evidence a statement already covers ("Procedure: X on D" under the
aggregated "X: 19 procedure records, D1 – D19") is cited by that statement and taken, so it is
neither stated twice nor left for the appendix. The record items a statement cites are remembered
(`refs`) for the last pass, which states whatever finding the section's items still cover.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from medboard.agents.synthesizer.board.base import Board, state
from medboard.agents.synthesizer.board.scope import CancerScope, Owner
from medboard.models import EvidenceRef, Fact, Finding, FindingCategory, SectionKind, Statement, iso_day
from medboard.models.claims import Claim

# SNOMED CT semantic tags ("(procedure)", "(disorder)"): the concept's hierarchy, not its name.
_SEMANTIC_TAG = re.compile(
    r"\s*\((?:procedure|regime/therapy|disorder|finding|situation|qualifier value|body structure|"
    r"observable entity|morphologic abnormality|event)\)",
    re.IGNORECASE,
)


#: Findings that read a report or an image: stated in their own words after the items they read.
READINGS = frozenset({FindingCategory.imaging, FindingCategory.report})


def short(text: str) -> str:
    """A record display without its SNOMED CT semantic tag ("Prostatectomy (procedure)" → "Prostatectomy")."""
    return _SEMANTIC_TAG.sub("", text).strip()


def when(fact: Fact) -> str:
    return iso_day(fact.date) if fact.date else "an unrecorded date"


def item(fact: Fact) -> str:
    """ "Label on date (body site)", the body site only when the label does not already say it."""
    label = short(fact.label)
    site = short(fact.body_site) if fact.body_site else ""
    shown = f" ({site})" if site and site.lower() not in label.lower() else ""
    return f"{label} on {when(fact)}{shown}"


def value_text(fact: Fact) -> str:
    """A result's value as the record gives it (its number and unit, else its coded answer)."""
    if fact.value is None:
        return "; ".join(short(c.display or c.code or "") for c in fact.value_codes)
    shown = f"{fact.value:g}" if isinstance(fact.value, float) else short(str(fact.value))
    return f"{shown} {fact.unit}" if fact.unit else shown


def fhir_refs(finding: Finding) -> set[str]:
    """The record resources a finding cites (image frames left out)."""
    return {e.reference for e in finding.evidence if e.kind == "fhir"}


def claim_cancer(finding: Finding) -> str | None:
    """The cancer (Condition) a finding's claim is about, if it names one."""
    claim = finding.claim
    if claim is None:
        return None
    if claim.concept == "diagnosis":
        return claim.condition
    return getattr(claim, "cancer", None)


@dataclass
class CancerDraft:
    """The statements of one cancer's section, in the order they are added."""

    board: Board
    scope: CancerScope
    owner: Owner
    statements: list[Statement] = field(default_factory=list)
    refs: set[str] = field(default_factory=set)
    questions: list[str] = field(default_factory=list)

    def mine(self, finding: Finding) -> bool:
        """A finding whose claim names this cancer (or one of its folded secondaries)."""
        owner = claim_cancer(finding)
        return owner is not None and owner in self.scope.conditions

    def foreign(self, finding: Finding) -> bool:
        """A finding whose claim names another cancer."""
        owner = claim_cancer(finding)
        return owner is not None and owner not in self.scope.conditions

    def covered(self, refs: set[str], exclude: Sequence[Finding] = ()) -> list[Finding]:
        """Unstated findings resting only on `refs` whose content a statement citing `refs` says:
        a procedure ("Procedure: X on D", "Surgery on D: X") or a result (a value, a trend). A
        diagnosis, stage or line is a statement of its own (its claim is the section's structure),
        and a report's or an image's reading says more than its date: `restate` them."""
        skip = {f.id for f in exclude}
        return self.board.where(
            lambda f: (
                f.id not in skip
                and (
                    (f.claim is None and f.category == FindingCategory.procedure)
                    or (f.claim is not None and f.claim.concept == "result")
                )
                and bool(fhir_refs(f))
                and fhir_refs(f) <= refs
                and not self.foreign(f)
            )
        )

    def restate(self, refs: set[str]) -> None:
        """State, as their specialists wrote them, the unstated readings (reports, images) that
        rest only on `refs` — the items a statement just listed."""
        for finding in self.board.where(
            lambda f: (
                f.category in READINGS and bool(fhir_refs(f)) and fhir_refs(f) <= refs and not self.foreign(f)
            )
        ):
            self.verbatim(finding)

    def add(
        self,
        text: str,
        findings: Sequence[Finding] = (),
        *,
        facts: Iterable[Fact] = (),
        evidence: Iterable[EvidenceRef] = (),
        claim: Claim | None = None,
        cells: list[str] | None = None,
        cover: bool = True,
    ) -> Statement:
        """State `text`, citing `findings`, the `facts`' evidence, `evidence`, and (with `cover`)
        every unstated finding resting only on what the statement cites."""
        cited = [*[f.evidence for f in facts], *evidence]
        refs = {r for f in findings for r in fhir_refs(f)} | {e.reference for e in cited if e.kind == "fhir"}
        also = self.covered(refs, findings) if cover else []
        everything = [*findings, *also]
        self.board.take(everything)
        statement = state(SectionKind.cancer, text, everything, evidence=cited, claim=claim, cells=cells)
        self.statements.append(statement)
        self.refs |= refs
        return statement

    def evidence(self, reference: str) -> EvidenceRef:
        """How the record's fact cites a resource (with its path and quote), else the bare reference."""
        facts = self.owner.facts(reference)
        return facts[0].evidence if facts else EvidenceRef(reference=reference)

    def verbatim(self, finding: Finding) -> Statement:
        """Restate one finding as it is, with its claim."""
        return self.add(finding.text, [finding], claim=finding.claim)

    def result(self, fact: Fact) -> Statement:
        """One result: its finding as the specialist wrote it, else the record's own words."""
        own = self.board.where(lambda f: fhir_refs(f) == {fact.reference} and not self.foreign(f))
        if own:
            return self.verbatim(own[0])
        return self.add(f"{short(fact.label)}: {value_text(fact)} on {when(fact)}.", facts=[fact])
