"""Which specialists a case runs. New specialists register here; the graph fans out to all."""

from __future__ import annotations

from medboard.agents.base import SpecialistAgent


def default_specialists() -> list[type[SpecialistAgent]]:
    """The specialists that run on every case, in a stable order."""
    from medboard.agents.ehr import EhrAgent
    from medboard.agents.imaging import ImagingAgent
    from medboard.agents.longitudinal import LongitudinalAgent

    specialists: list[type[SpecialistAgent]] = [EhrAgent, ImagingAgent, LongitudinalAgent]
    return specialists
