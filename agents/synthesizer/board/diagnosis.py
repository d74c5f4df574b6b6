"""The top of a cancer section: what the cancer is, how it was established, how far it had spread.

Order follows how a tumour board presents a case: the diagnosis (with any metastasis of the same
cancer), its histology and latest disease status, the procedure that established it (biopsy,
cytology), its stages, then the tests around the diagnosis (imaging, endoscopy) — each cited to the
record items `scope.collect` gave this cancer. Tests well after the diagnosis come last, as
follow-up.
"""

from __future__ import annotations

from collections import defaultdict

from medboard.agents.synthesizer.board.draft import CancerDraft, item, short, when
from medboard.agents.synthesizer.board.scope import WORKUP_AFTER, Items, day, is_tumour_result, role_of
from medboard.models import Fact, Finding
from medboard.models.claims import DiagnosisClaim, StageClaim
from medboard.models.fact_kinds import ConditionDetails


def diagnosis(draft: CancerDraft, items: Items) -> None:
    """The diagnosis findings (the primary first, then its metastases), histology, disease status."""
    scope = draft.scope
    order = [scope.cancer.condition, *(s.condition for s in scope.secondaries)]

    def rank(finding: Finding) -> int:
        claim = finding.claim
        condition = claim.condition if isinstance(claim, DiagnosisClaim) else None
        return order.index(condition) if condition in order else len(order)

    found = draft.board.where(lambda f: isinstance(f.claim, DiagnosisClaim) and draft.mine(f))
    for finding in sorted(found, key=rank):
        draft.verbatim(finding)
    cancer = scope.cancer
    record = draft.owner.record
    if cancer.histology and short(cancer.histology).lower() not in cancer.name.lower() and record is not None:
        said = [
            f
            for ref in scope.conditions
            for f in draft.owner.facts(ref)
            if isinstance(f.details, ConditionDetails) and f.details.histology == cancer.histology
        ]
        if said:
            draft.add(f"Type: {short(cancer.histology)}.", facts=said[:1])
    # observations about the cancer that are not specimen results: disease status, risk
    for fact in sorted(
        (f for f in items.results if not is_tumour_result(f, record)), key=lambda f: f.date or ""
    ):
        draft.result(fact)


def established(draft: CancerDraft, items: Items) -> None:
    """The biopsy or cytology that established the diagnosis (up to the end of its workup)."""
    onset = draft.scope.onset
    biopsies = [
        f
        for f in items.procedures
        if role_of(f) == "biopsy"
        and (onset is None or (d := day(f.date)) is None or d <= onset + WORKUP_AFTER)
    ]
    if biopsies:
        biopsies.sort(key=lambda f: f.date or "")
        draft.add("Diagnosed by " + "; ".join(item(f) for f in biopsies) + ".", facts=biopsies)


def stages(draft: CancerDraft) -> None:
    """Every stage the picture gives this cancer: the specialists' stage findings, else the picture's."""
    found = draft.board.where(lambda f: f.claim is not None and f.claim.concept == "stage" and draft.mine(f))
    for finding in found:
        draft.verbatim(finding)
    if found:
        return
    for stage in draft.scope.cancer.stages:
        if not stage.group or not stage.sources:
            continue
        kind = "" if stage.type == "unspecified" else f"{stage.type.replace('_', '-')} "
        text = f"{kind}stage {stage.group}" + (f" on {stage.date}." if stage.date else ".")
        text = text[0].upper() + text[1:]
        claim = StageClaim(
            cancer=draft.scope.cancer.condition, type=stage.type, group=stage.group, facts=stage.sources
        )
        draft.add(text, evidence=[draft.evidence(s) for s in stage.sources], claim=claim)


def _test_pool(draft: CancerDraft, items: Items) -> tuple[list[Fact], list[Fact]]:
    """Imaging, endoscopy and other tests (and a biopsy after the workup, a re-biopsy): those up to
    the end of the workup window, and those after it."""
    onset = draft.scope.onset

    def after_workup(fact: Fact) -> bool:
        found = day(fact.date)
        return onset is not None and found is not None and found > onset + WORKUP_AFTER

    pool = [
        f
        for f in (*items.procedures, *(r for r in items.reports if role_of(r) == "imaging"))
        if role_of(f) in ("imaging", "endoscopy", "other") or (role_of(f) == "biopsy" and after_workup(f))
    ]
    early = [f for f in pool if not after_workup(f) and (onset is None or day(f.date) is not None)]
    return early, [f for f in pool if f not in early]


def tests_around_diagnosis(draft: CancerDraft, items: Items) -> None:
    """Imaging, endoscopy and other tests up to the end of the workup (diagnosis and staging).

    One item is listed by its date; a test repeated under one name is its own statement with its
    count and span, so every statement's count is the count of what it cites.
    """
    _listed(draft, "Tests around diagnosis", _test_pool(draft, items)[0])


def later_tests(draft: CancerDraft, items: Items) -> None:
    """Tests after the workup window: follow-up, listed as `tests_around_diagnosis` lists."""
    _listed(draft, "Later tests", _test_pool(draft, items)[1])


def _listed(draft: CancerDraft, title: str, facts: list[Fact]) -> None:
    groups: dict[str, list[Fact]] = defaultdict(list)
    for fact in sorted(facts, key=lambda f: f.date or ""):
        groups[short(fact.label)].append(fact)
    singles = [g[0] for g in groups.values() if len(g) == 1]
    if singles:
        draft.add(f"{title}: " + "; ".join(item(f) for f in singles) + ".", facts=singles)
        draft.restate({f.reference for f in singles})
    for label, group in groups.items():
        if len(group) > 1:
            first, last = when(group[0]), when(group[-1])
            draft.add(f"{title}: {label}, {len(group)} records, {first} – {last}.", facts=group)
            draft.restate({f.reference for f in group})
