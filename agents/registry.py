"""Which specialists a case runs: adding one is its folder plus one line here.

The case flow fans out to every registered specialist at once; the synthesizer lays out the
sections they declare. A caller (a test, a board with a specialist of its own) may pass another
list to `medboard.orchestrator.flow.run_case_flow(specialists=...)`.
"""

from __future__ import annotations

from medboard.agents.ehr.specialist import EhrAgent
from medboard.agents.imaging.specialist import ImagingAgent
from medboard.agents.longitudinal.specialist import LongitudinalAgent
from medboard.agents.specialist import Specialist

#: The specialists that run on every case, in a stable order.
DEFAULT_SPECIALISTS: tuple[type[Specialist], ...] = (
    EhrAgent,
    ImagingAgent,
    LongitudinalAgent,
)


def default_specialists() -> list[type[Specialist]]:
    """A fresh list of the default specialists (callers may extend it)."""
    return list(DEFAULT_SPECIALISTS)
