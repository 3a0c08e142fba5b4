"""Local LLM latency: cold and warm time to first token, decode speed, handoff, first sentence.

Run: `python benchmarks/llm.py [--model qwen2.5-0.5b --model qwen2.5-1.5b] [--samples 8]`.
Progress goes to stderr; a Markdown table of p50/p95 per stage per model goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator

from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.models import cache
from voxrelay.models.base import Message, ModelSettings, TextDelta, ToolSpec, Usage, tool_specs
from voxrelay.models.llama import LlamaChatModel
from voxrelay.realtime import InProcessRealtime
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import SessionConfig
from voxrelay.scenarios import load_scenario
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.speech.sentences import SentenceChunker

QUESTIONS = [
    "What is your return window for snowboards?",
    "Do you sell boots as well as boards?",
    "How long does shipping usually take?",
    "Can I pay with a gift card?",
    "What are your store hours on weekends?",
    "Do you price match other shops?",
    "Is there a warranty on bindings?",
    "Can I change the address on my order?",
    "Do you offer student discounts?",
    "How do I know which board size fits me?",
]


RETURN_REQUESTS = [
    "Hi, I want to return the snowboard I bought last week.",
    "Hello, my new bindings arrived cracked and I need to send them back.",
    "I'd like a refund for the goggles I ordered, please.",
    "Can I return a jacket that doesn't fit?",
    "The boots I got are the wrong size, how do I return them?",
    "Hi there, I need to send back a helmet I bought online.",
    "My snowboard has a crack in the base after one ride. I want to return it.",
    "Hey, can you help me return an order? It came damaged.",
    "I bought the wrong gloves and want my money back.",
    "Returning a board here, it was a gift I don't need.",
    "Good afternoon. How do I return a wax kit I never opened?",
    "I need to return two items from my last order, please.",
]
"""Each handoff sample asks differently, so a saved state never already holds its words."""


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Timed:
    """Timings of one streamed reply."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first_token: float | None = None
        self.first_sentence: float | None = None
        self.end = 0.0
        self.tokens = 0


async def timed_reply(
    model: LlamaChatModel, messages: list[Message], tools: list[ToolSpec]
) -> Timed:
    """Stream one text reply (no tools allowed) and time it."""
    t = Timed()
    chunker = SentenceChunker()
    stream = model.stream(messages, tools, "none", ModelSettings(max_tokens=60))
    async for item in stream:
        now = time.perf_counter() - t.start
        if isinstance(item, TextDelta):
            t.first_token = t.first_token if t.first_token is not None else now
            if t.first_sentence is None and chunker.push(item.text):
                t.first_sentence = now
        elif isinstance(item, Usage):
            t.tokens = item.output_tokens
    t.end = time.perf_counter() - t.start
    if t.first_sentence is None:
        t.first_sentence = t.end
    return t


def agent_prompt(scenario_agent: str) -> tuple[list[Message], list[ToolSpec]]:
    """The system prompt and tools a scenario agent runs with."""
    scenario = load_scenario("customer_service_retail")
    agent = scenario.agent(scenario_agent)
    tools = tool_specs(scenario.tools_for(agent))
    return [Message("system", agent.instructions)], tools


async def cold_and_warm(model: LlamaChatModel, samples: int) -> dict[str, list[float]]:
    """TTFT from an empty cache, TTFT with the system prompt cached, decode rate, sentence."""
    system, tools = agent_prompt("sales")
    out: dict[str, list[float]] = {"cold": [], "warm": [], "decode": [], "sentence": []}
    for n in range(samples):
        question = QUESTIONS[n % len(QUESTIONS)]
        if n < max(2, samples // 3):
            await model.reset()
            cold = await timed_reply(model, [*system, Message("user", question)], tools)
            out["cold"].append(cold.first_token or cold.end)
        # a question not asked just before: only the system prompt is shared with the cache
        other = QUESTIONS[(n + len(QUESTIONS) // 2) % len(QUESTIONS)]
        warm = await timed_reply(model, [*system, Message("user", other + " Thanks.")], tools)
        out["warm"].append(warm.first_token or warm.end)
        out["sentence"].append(warm.first_sentence or warm.end)
        decode_time = warm.end - (warm.first_token or 0.0)
        if warm.tokens > 1 and decode_time > 0:
            out["decode"].append((warm.tokens - 1) / decode_time)
        log(f"    sample {n + 1}/{samples}: warm TTFT {warm.first_token or 0:.3f} s")
    return out


class Stamped:
    """A RealtimeModel wrapper that stamps when the first text delta of each response arrives."""

    def __init__(self, inner: InProcessRealtime) -> None:
        self.inner = inner
        self.hooks = inner.hooks
        self.habits = inner.habits
        """Exposed like InProcessRealtime's, so the Session finds the engine's hooks and habits."""
        self.first_delta: list[float] = []
        self._seen: set[str] = set()

    async def connect(self, session: SessionConfig | None = None) -> None:
        await self.inner.connect(session)

    async def send(self, event: ev.ClientEvent) -> None:
        await self.inner.send(event)

    async def events(self) -> AsyncIterator[ev.ServerEvent]:
        async for event in self.inner.events():
            if isinstance(event, ev.OutputTextDelta) and event.response_id not in self._seen:
                self._seen.add(event.response_id)
                self.first_delta.append(time.perf_counter())
            yield event

    async def close(self) -> None:
        await self.inner.close()


async def timed_handoff(session: Session, stamped: Stamped, message: str) -> float | None:
    """Send one message; seconds from agent_changed to the new agent's first text token."""
    changed_at = None
    await session.send_text(message)
    async for event in session.events():
        if isinstance(event, app.AgentChanged):
            changed_at = time.perf_counter()
        if isinstance(event, app.TurnDone):
            break
    await session.close()
    later = [t for t in stamped.first_delta if changed_at is not None and t > changed_at]
    return later[0] - changed_at if changed_at is not None and later else None


async def handoff_latency(model: LlamaChatModel, samples: int, warm_states: bool) -> list[float]:
    """Seconds from the runtime's agent_changed to the new agent's first text token.

    Warm: as a session runs by default, its handoff targets warmed before the caller speaks
    (after the first sample, from states earlier conversations left). Cold: cache cleared.
    """
    out: list[float] = []
    for n in range(samples):
        if not warm_states:
            await model.reset()
        engine = Engine(model)
        stamped = Stamped(InProcessRealtime(engine))
        scenario = load_scenario("customer_service_retail", model)
        session = Session(scenario, stamped, warm_handoffs=warm_states)
        await session.start()
        await engine.warmed()
        seconds = await timed_handoff(session, stamped, RETURN_REQUESTS[n % len(RETURN_REQUESTS)])
        if seconds is None:
            log(f"    sample {n + 1}/{samples}: no handoff this time (model answered directly)")
            continue
        out.append(seconds)
        log(f"    sample {n + 1}/{samples}: handoff → first token {seconds:.3f} s")
    return out


async def first_handoff(model: LlamaChatModel, samples: int) -> dict[str, list[float]]:
    """A fresh cache: the session warms its handoff targets, then the first transfer is timed."""
    out: dict[str, list[float]] = {"prewarm": [], "handoff_first": []}
    for n in range(samples):
        await model.reset()
        engine = Engine(model)
        stamped = Stamped(InProcessRealtime(engine))
        session = Session(load_scenario("customer_service_retail", model), stamped)
        started = time.perf_counter()
        await session.start()
        await engine.warmed()
        out["prewarm"].append(time.perf_counter() - started)
        seconds = await timed_handoff(session, stamped, RETURN_REQUESTS[n % len(RETURN_REQUESTS)])
        if seconds is not None:
            out["handoff_first"].append(seconds)
        log(f"    sample {n + 1}/{samples}: warm-up {out['prewarm'][-1]:.1f} s")
    return out


async def bench(name: str, samples: int) -> dict[str, list[float]]:
    """Every measurement for one model."""
    settings = Settings(llm=name)
    log(f"== {name}: loading")
    model = LlamaChatModel(cache.require(name, settings.model_dir), n_threads=settings.llm_threads)
    log("  cold/warm time to first token, decode rate, first sentence")
    results = await cold_and_warm(model, samples)
    log("  handoff → first token, with warm per-agent states")
    results["handoff_warm"] = await handoff_latency(model, samples, warm_states=True)
    log("  handoff → first token, cold (cache cleared before each run)")
    results["handoff_cold"] = await handoff_latency(model, max(2, samples // 3), warm_states=False)
    log("  first handoff of a session, after its background warm-up of the handoff targets")
    results.update(await first_handoff(model, max(2, samples // 3)))
    return results


ROWS = [
    ("cold", "time to first token, cold", "ms"),
    ("warm", "time to first token, warm prefix", "ms"),
    ("decode", "decode rate", "tok/s"),
    ("sentence", "time to first complete sentence (warm)", "ms"),
    ("handoff_warm", "handoff → new agent's first token, warmed in the background", "ms"),
    ("handoff_cold", "handoff → new agent's first token, cold", "ms"),
    ("prewarm", "session start → all handoff targets warmed (empty cache)", "ms"),
    ("handoff_first", "first handoff → first token, after that warm-up", "ms"),
]


def table(results: dict[str, dict[str, list[float]]]) -> str:
    """Markdown: one row per stage, p50/p95/n per model."""
    names = list(results)
    head = "| stage | " + " | ".join(f"{n} p50 | {n} p95 | n" for n in names) + " |"
    lines = [head, "|---" * (1 + 3 * len(names)) + "|"]
    for key, label, unit in ROWS:
        cells = []
        for n in names:
            values = results[n].get(key, [])
            if not values:
                cells += ["—", "—", "0"]
                continue
            scale = 1000.0 if unit == "ms" else 1.0
            fmt = "{:.0f} " + unit
            cells += [fmt.format(pct(values, 0.5) * scale), fmt.format(pct(values, 0.95) * scale)]
            cells.append(str(len(values)))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", help="model name (repeatable)")
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    models = args.model or ["qwen2.5-0.5b", "qwen2.5-1.5b"]
    results = {m: asyncio.run(bench(m, args.samples)) for m in models}
    load = os.getloadavg()
    print(f"Machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print()
    print(table(results))


if __name__ == "__main__":
    main()
