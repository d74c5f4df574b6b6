"""Adding a specialist is one class and one registry entry: its section appears in the summary.

The toy specialist below is everything a new specialist needs: a name, the section it feeds (one
the built-ins do not have), and `analyse`. It runs beside the default specialists on a real record
(the embedded mCODE Jenny M case) through the real flow, synthesizer and verifier.
"""

from __future__ import annotations

from pathlib import Path

from medboard.agents.registry import DEFAULT_SPECIALISTS, default_specialists
from medboard.agents.specialist import Specialist, SpecialistOutput
from medboard.models import FactKind, Finding, FindingCategory, SectionKind, SectionSpec
from medboard.models.sections import BOARD_SECTIONS, BUILTIN_BY_KIND
from medboard.orchestrator.case import load_case
from medboard.orchestrator.flow import run_case_flow

JENNY_M = Path(__file__).resolve().parents[1] / "medboard" / "examples" / "jenny-m" / "case.yaml"
TOY_SECTION = SectionSpec(kind="family_history", title="Family history", order=35)


class FamilyHistorySpecialist(Specialist):
    """Restates each recorded condition in a section of its own (a stand-in for real work)."""

    agent_name = "family"
    description_text = "A toy specialist with a section of its own."
    sections = (TOY_SECTION,)

    async def analyse(self) -> SpecialistOutput:
        findings = [
            Finding.create(
                agent=self.agent_name,
                category=FindingCategory.other,
                text=f"Recorded condition: {fact.label}.",
                evidence=[fact.evidence],
                section=TOY_SECTION.kind,
            )
            for fact in self.context.record.facts_of(FactKind.condition)[:3]
        ]
        return SpecialistOutput(findings=findings)


class BrokenSpecialist(FamilyHistorySpecialist):
    agent_name = "broken"

    async def analyse(self) -> SpecialistOutput:
        raise ValueError("a bug in a new specialist")


class BrokenTopicSpecialist(BrokenSpecialist):
    """Files under a topic (``patient``), which the board layout does not show as a section."""

    sections = (BUILTIN_BY_KIND[SectionKind.patient],)


def test_the_registry_lists_the_default_specialists() -> None:
    names = [cls.agent_name for cls in DEFAULT_SPECIALISTS]
    assert names == ["ehr", "imaging", "longitudinal"]
    assert default_specialists() is not default_specialists(), "callers get their own list to extend"


async def test_a_registered_toy_specialist_feeds_its_own_section() -> None:
    case = load_case(JENNY_M)
    summary = await run_case_flow(case, specialists=[*default_specialists(), FamilyHistorySpecialist])

    section = summary.section(TOY_SECTION.kind)
    assert section is not None and section.title == "Family history"
    assert section.statements and all(s.text.startswith("Recorded condition:") for s in section.statements)
    assert all(s.verdict is not None for s in section.statements), "the verifier checked them"
    kinds = [s.kind for s in summary.sections]
    # laid out by `order`: after key labs (30), before medications (40)
    assert kinds.index(SectionKind.key_labs) < kinds.index("family_history") < kinds.index("medications")
    # the board's sections are all still there, with what the default specialists said
    assert {spec.kind for spec in BOARD_SECTIONS} <= set(kinds)
    cancers = [s for s in summary.sections if s.kind == SectionKind.cancer]
    assert cancers and all(s.statements for s in cancers)
    run = next(run for run in summary.run.agents if run.agent == "family")
    assert run.status == "ok" and run.findings == len(section.statements)


async def test_a_failing_specialist_marks_the_section_it_feeds() -> None:
    case = load_case(JENNY_M)
    summary = await run_case_flow(case, specialists=[*default_specialists(), BrokenSpecialist])

    section = summary.section(TOY_SECTION.kind)
    assert section is not None and section.status == "failed"
    assert section.error and "broken failed" in section.error and "ValueError" in section.error
    # the other sections are untouched
    headline = summary.section(SectionKind.headline)
    assert headline is not None and headline.status == "ok" and not headline.error
    assert not [s for s in summary.sections if s is not section and "broken" in (s.error or "")]


async def test_a_failing_specialist_feeding_only_topics_marks_the_headline() -> None:
    """A specialist that files its findings under topics (no section of its own is laid out) still
    shows its failure: on the headline, which every reader sees first."""
    case = load_case(JENNY_M)
    summary = await run_case_flow(case, specialists=[*default_specialists(), BrokenTopicSpecialist])

    headline = summary.section(SectionKind.headline)
    assert headline is not None and headline.statements, "the headline still says what the record says"
    assert headline.status == "degraded"
    assert headline.error and "broken failed" in headline.error and "ValueError" in headline.error
    assert not [s for s in summary.sections if s is not headline and "broken" in (s.error or "")]
    run = next(run for run in summary.run.agents if run.agent == "broken")
    assert run.status == "failed"
