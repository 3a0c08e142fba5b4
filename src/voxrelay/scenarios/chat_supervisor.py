"""Chat-supervisor: a light chat agent defers every real question to a supervisor model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from voxrelay.agents import (
    Agent,
    FunctionTool,
    HistoryEntry,
    RunContext,
    Scenario,
    function_tool,
)
from voxrelay.models.base import ChatModel, Message, ToolCall, complete, tool_specs
from voxrelay.scenarios.telco_tools import SUPERVISOR_TOOLS
from voxrelay.session.tools import run_tool as execute_tool

NAME = "chat_supervisor"
DESCRIPTION = "Brightline Mobile: a chat agent backed by a supervisor model with account tools."
SUPERVISOR_TOOL_NAME = "getNextResponseFromSupervisor"
MAX_SUPERVISOR_STEPS = 4
"""Supervisor generations per question; the last one must answer in text."""
HISTORY_LIMIT = 12
"""Most recent conversation lines shown to the supervisor."""
SUPERVISOR_TIMEOUT_S = 90.0
SUPERVISOR_TOOL_TIMEOUT_S = 10.0
"""A tool loop on a small CPU model takes longer than the default tool timeout."""
NOT_CONFIGURED = (
    "the supervisor model is not configured: "
    "pass chat_model to load_scenario('chat_supervisor', chat_model=...)"
)

CHAT_AGENT = f"""You are Brightline Mobile's phone agent. You know nothing about the \
caller's account, bills, plans, fees, roaming, policies or stores, and must never guess them.
For any such question, call {SUPERVISOR_TOOL_NAME} with the key facts from the caller's last \
message, then say its nextResponse word for word.
Greetings, thanks and goodbyes: answer yourself in one short sentence, without any tool."""

SUPERVISOR = """You supervise a Brightline Mobile phone agent. Read the conversation and \
write the agent's next reply: one to three short, plain sentences to say aloud, no lists.
Use tools for facts: getUserAccountInfo needs the caller's phone number (if it is missing, \
ask for it); lookupPolicyDocument for rules and fees; findNearestStore needs a zip code.
Never invent account details or policies. If you cannot help, say so and suggest a store."""


def transcript(history: Sequence[HistoryEntry]) -> str:
    """The recent user and assistant lines as `role: text`."""
    lines = [f"{e.role}: {e.text}" for e in history if e.role in ("user", "assistant")]
    return "\n".join(lines[-HISTORY_LIMIT:]) or "(no conversation yet)"


def supervisor_messages(history: Sequence[HistoryEntry], context: str) -> list[Message]:
    """The supervisor's opening prompt: its instructions plus the conversation."""
    prompt = (
        f"Conversation so far:\n{transcript(history)}\n\n"
        f"The agent's note on the caller's last message: {context}\n\n"
        "Write the agent's next reply."
    )
    return [Message("system", SUPERVISOR), Message("user", prompt)]


async def run_tool(ctx: RunContext, tools: dict[str, FunctionTool], call: ToolCall) -> str:
    """Run one supervisor tool call (validated, grounded, timed); failures are JSON results."""
    fn = tools.get(call.name)
    if fn is None:
        return json.dumps({"error": f"unknown tool {call.name!r}; tools: {sorted(tools)}"})
    outcome = await execute_tool(fn, call.arguments, ctx, SUPERVISOR_TOOL_TIMEOUT_S)
    return outcome.output


async def ask_supervisor(
    model: ChatModel, ctx: RunContext, context: str, tools: Sequence[FunctionTool]
) -> str:
    """Run the supervisor's tool loop and return the reply text for the chat agent."""
    by_name = {t.name: t for t in tools}
    specs = tool_specs(tools)
    messages = supervisor_messages(ctx.history, context)
    sub_ctx = RunContext(agent_name="supervisor", history=ctx.history, state=ctx.state)
    for step in range(MAX_SUPERVISOR_STEPS):
        last = step == MAX_SUPERVISOR_STEPS - 1
        reply = await complete(model, messages, specs, "none" if last else "auto")
        if not reply.tool_calls or last:
            return reply.text.strip()
        messages.append(Message("assistant", reply.text, tool_calls=reply.tool_calls))
        for call in reply.tool_calls:
            output = await run_tool(ctx=sub_ctx, tools=by_name, call=call)
            messages.append(Message("tool", output, tool_call_id=call.call_id, name=call.name))
    return ""


def supervisor_tool(model: ChatModel | None) -> FunctionTool:
    """The chat agent's `getNextResponseFromSupervisor` tool, bound to a supervisor model."""

    async def ask(
        ctx: RunContext,
        relevantContextFromLastUserMessage: Annotated[
            str, "Key facts from the caller's last message, e.g. a phone number or question."
        ],
    ) -> dict[str, Any]:
        if model is None:
            return {"error": NOT_CONFIGURED}
        text = await ask_supervisor(
            model, ctx, relevantContextFromLastUserMessage, SUPERVISOR_TOOLS
        )
        if not text:
            return {"error": "the supervisor gave no answer; apologise and offer a store visit"}
        return {"nextResponse": text}

    return function_tool(
        ask,
        name=SUPERVISOR_TOOL_NAME,
        description="Ask the supervisor what to say next about anything beyond small talk.",
        timeout_s=SUPERVISOR_TIMEOUT_S,
    )


def build(chat_model: ChatModel | None = None) -> Scenario:
    """The chatAgent, whose supervisor runs on `chat_model`."""
    chat_agent = Agent(
        name="chatAgent",
        instructions=CHAT_AGENT,
        tools=[supervisor_tool(chat_model)],
        handoff_description="Brightline Mobile's front-line chat agent.",
        greeting="Hi, you've reached Brightline Mobile. How can I help you today?",
    )
    return Scenario(NAME, [chat_agent], start="chatAgent", description=DESCRIPTION)
