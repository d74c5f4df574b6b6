"""The longitudinal comparer: what changed, with numbers it can prove.

Its deterministic core (`medboard.tools.longitudinal`) computes lab and marker trends, PSA
kinetics, RECIST 1.1 responses and the treatment timeline, every finding citing every
measurement it used. With a model and paired prior/current images it adds the MedGemma
longitudinal reading (prior image, current image, then the text); without one the deterministic
comparison stands alone.
"""

from __future__ import annotations

import asyncio

from medboard.agents.base import SpecialistAgent, SpecialistOutput
from medboard.tools.longitudinal.findings import AGENT, longitudinal_findings


class LongitudinalAgent(SpecialistAgent):
    agent_name = AGENT
    description_text = "Trends, tumour-marker kinetics, RECIST response and the treatment timeline."

    async def analyse(self) -> SpecialistOutput:
        # Pure CPU work on the record: run it off the event loop so other specialists' model calls
        # keep flowing meanwhile.
        findings = await asyncio.to_thread(longitudinal_findings, self.context.record)
        return SpecialistOutput(findings=findings)
