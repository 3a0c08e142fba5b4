"""The in-process engine's hooks: sentence gate, latency traces and handoff warm-ups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxrelay.realtime.model import EngineHooks
from voxrelay.session import events as app
from voxrelay.session.core import Conversation
from voxrelay.session.guardrail_gate import SentenceVerdicts, check_output
from voxrelay.session.handoffs import arrival, reachable
from voxrelay.session.lanes import AppEventStream

if TYPE_CHECKING:
    from voxrelay.engine.trace import TurnTrace


class LocalHooks:
    """Connects a session to an in-process engine's hooks."""

    def __init__(
        self, conv: Conversation, verdicts: SentenceVerdicts, stream: AppEventStream
    ) -> None:
        self.conv = conv
        self.verdicts = verdicts
        self.stream = stream

    def attach(self, hooks: EngineHooks, *, warm_handoffs: bool) -> None:
        """Gate sentences, publish traces and (optionally) warm every reachable agent."""
        hooks.set_sentence_gate(self.gate_sentence)
        hooks.add_trace_listener(self.on_trace)
        if warm_handoffs:
            scenario = self.conv.scenario
            order = reachable(scenario.graph(), self.conv.agent.name)
            hooks.prewarm([(self.conv.config(scenario.agent(n)), arrival(n)) for n in order])

    async def gate_sentence(self, sentence: str) -> bool:
        """False (and a guardrail_tripped event) when an output guardrail trips on `sentence`."""
        block = await check_output(self.conv.agent, sentence, self.conv.context())
        if block is not None:
            for event in block.events:
                self.stream.put(event)
        return self.verdicts.blocked(block)

    def on_trace(self, trace: TurnTrace) -> None:
        """Publish a voice turn's latency trace."""
        stages = trace.stages_ms()
        self.stream.put(
            app.TurnLatency(agent=self.conv.agent.name, item_id=trace.item_id, stages=stages)
        )
