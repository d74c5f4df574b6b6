"""The one AgentChat adapter: any case-flow participant becomes a GraphFlow node.

Specialists, the synthesizer, the verifier and the publisher are plain classes that know nothing of
AutoGen (`Participant`). `AgentNode` speaks AgentChat for all of them, so what every node must do
alike is written once:

- **the protocol**: the structured contents of the messages it received go in, one
  `StructuredMessage` of the participant's `output_type` comes out;
- **exception parking**: autogen reports an agent's exception to the flow only as text, so an
  error that must end the run as itself (a strict-replay cassette miss) is parked on the context
  for `run_case_flow` to raise;
- **usage accounting**: wall time (summed over revise rounds) and the model calls and tokens the
  participant made, in the run metadata (`CaseContext.agent_runs`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseChatMessage, StructuredMessage
from autogen_core import CancellationToken
from pydantic import BaseModel

from medboard.agents.case import CaseContext
from medboard.llm.errors import CassetteMissError
from medboard.models import AgentRun


@runtime_checkable
class Participant(Protocol):
    """What a node wraps: a name, the message type it answers with, and how it answers."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    output_type: type[BaseModel]

    async def respond(self, inbox: Sequence[BaseModel]) -> BaseModel:
        """Answer the structured contents this node received (oldest first)."""
        ...

    def account(self, output: BaseModel, run: AgentRun) -> None:
        """Fill what only the participant knows into its run record (status, error, findings)."""
        ...

    def reset(self) -> None: ...


class AgentNode(BaseChatAgent):
    """A GraphFlow node around one `Participant` of one case run."""

    def __init__(self, participant: Participant, context: CaseContext, *, accounted: bool = True) -> None:
        super().__init__(name=participant.name, description=participant.description)
        self.participant = participant
        self.context = context
        #: Whether the node has its own line in the run metadata (the publisher, which only seals
        #: the summary, has none).
        self.accounted = accounted

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (StructuredMessage[self.participant.output_type],)  # type: ignore[name-defined]

    async def on_messages(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> Response:
        contents = (getattr(message, "content", None) for message in messages)
        inbox = [content for content in contents if isinstance(content, BaseModel)]
        started = time.perf_counter()
        try:
            output = await self.participant.respond(inbox)
        except CassetteMissError as error:  # strict replay: must end the run as itself
            self.context.fatal = error
            raise
        if self.accounted:
            self._account(output, time.perf_counter() - started)
        message = StructuredMessage[self.participant.output_type](  # type: ignore[name-defined]
            content=output, source=self.name
        )
        return Response(chat_message=message)

    def _account(self, output: BaseModel, seconds: float) -> None:
        run = self.context.agent_runs.get(self.name) or AgentRun(agent=self.name)
        run.seconds = round(run.seconds + seconds, 4)
        self.participant.account(output, run)
        for field, value in model_usage(self.context.caller, self.name).items():
            setattr(run, field, value)
        self.context.agent_runs[self.name] = run

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        self.participant.reset()


def model_usage(caller: object | None, agent: str) -> dict[str, int]:
    """An agent's model calls and tokens so far, from the caller's per-agent totals."""
    totals_of = getattr(caller, "totals", None)
    totals = totals_of().get(agent) if totals_of is not None else None
    if totals is None:
        return {"model_calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    return {
        "model_calls": totals.calls,
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
    }


async def run_node(
    participant: Participant, context: CaseContext, inbox: Sequence[BaseModel] = ()
) -> BaseModel:
    """One turn of a participant behind its node, outside a flow (tests, notebooks): what the flow
    would publish, with the same accounting and exception parking."""
    node = AgentNode(participant, context)
    messages = [StructuredMessage[type(c)](content=c, source="caller") for c in inbox]  # type: ignore[misc,operator]
    response = await node.on_messages(messages, CancellationToken())
    content: BaseModel = response.chat_message.content  # type: ignore[attr-defined]
    return content
