"""What one case run shares between its agents.

The `PatientRecord` and images are large and read-only, so agents receive them through this
context object at construction, not through chat messages; what the agents *exchange* are
structured messages (`SpecialistReport`, `DraftSummary`, `VerificationResult`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from medboard.models import AgentRun

if TYPE_CHECKING:
    from medboard.llm.calls import ModelCaller
    from medboard.models.picture import ClinicalPicture
    from medboard.tools.fhir.record import PatientRecord
    from medboard.tools.imaging.series import ImageSeries


@dataclass
class CaseInput:
    """A case as loaded from a bundle, a case folder or a case YAML."""

    case_id: str
    record: PatientRecord
    question: str | None = None
    case_date: str | None = None
    images: list[Any] = field(default_factory=list)
    image_links: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def effective_date(self) -> str | None:
        """The case's 'now': the given case date, else the latest date in the record."""
        return self.case_date or self.record.latest_date()


@dataclass
class CaseContext:
    """Per-run shared state: the case, the model caller (None without a model) and run records."""

    case: CaseInput
    caller: ModelCaller | None = None
    max_revise_rounds: int = 1
    #: Whether the verifier may ask the model to judge what its rules cannot decide.
    model_entailment: bool = True
    agent_runs: dict[str, AgentRun] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: An error that must end the run as itself (a strict-replay cassette miss): autogen reports an
    #: agent's exception only as text, so the agent parks the original here for the flow to raise.
    fatal: BaseException | None = None
    #: The case's images, loaded once (by `medboard.agents.imaging.core.case_images`), by series id:
    #: the verifier resolves ``image:<series>#frame=i`` evidence against these ids.
    image_series: dict[str, ImageSeries] = field(default_factory=dict)
    #: The shared loading task (imaging and longitudinal agents both await the same one).
    image_loading: Any = field(default=None, repr=False)

    @property
    def record(self) -> PatientRecord:
        return self.case.record

    @property
    def picture(self) -> ClinicalPicture:
        """The reconciled clinical picture at the case date: what every agent reads of the patient.

        Built once per record and case date (`medboard.tools.reconcile.picture_of`).
        """
        from medboard.tools.reconcile import picture_of

        return picture_of(self.case.record, case_date=self.case.effective_date)
