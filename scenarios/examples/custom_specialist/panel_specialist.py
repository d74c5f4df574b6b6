"""A team's own specialist, as a scenario names it: `panel_specialist:BiomarkerPanel`.

It lists every biomarker result of every cancer in a section of its own ("Biomarker panel"), each
finding citing the result it restates — a stand-in for whatever a team adds to medboard (a trial
pre-screen, a local pathway check). Nothing else is needed: a `Specialist` subclass with a name,
the section it feeds and `analyse`; the scenario's `specialists:` list puts it beside the default
ones, and the synthesizer and the verifier treat its findings like any other.
"""

from __future__ import annotations

from medboard.agents.specialist import Specialist, SpecialistOutput
from medboard.models import EvidenceRef, Finding, FindingCategory, SectionSpec

PANEL = SectionSpec(kind="biomarker_panel", title="Biomarker panel", order=15)


class BiomarkerPanel(Specialist):
    """One finding per biomarker result: "<cancer>: <marker> <value> (<date>)"."""

    agent_name = "panel"
    description_text = "Lists every biomarker result of each cancer, citing it."
    sections = (PANEL,)

    async def analyse(self) -> SpecialistOutput:
        findings = []
        for cancer in self.context.picture.cancers:
            for biomarker in cancer.biomarkers:
                for result in biomarker.results:
                    if result.value is None:
                        continue
                    day = f" ({result.date[:10]})" if result.date else ""
                    findings.append(
                        Finding.create(
                            agent=self.agent_name,
                            category=FindingCategory.biomarker,
                            text=f"{biomarker.name}: {result.value}{day}.",
                            evidence=[EvidenceRef(reference=result.source)],
                            section=PANEL.kind,
                        )
                    )
        return SpecialistOutput(findings=findings)
