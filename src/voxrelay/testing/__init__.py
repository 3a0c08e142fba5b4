"""Scripted fakes for testing code built on voxrelay; they check their own scripts."""

from voxrelay.testing.chat import ScriptedChatModel, ScriptError, Step, call, say
from voxrelay.testing.speech import Heard, ScriptedSTT, ScriptedTTS, ScriptedVAD

__all__ = [
    "Heard",
    "ScriptError",
    "ScriptedChatModel",
    "ScriptedSTT",
    "ScriptedTTS",
    "ScriptedVAD",
    "Step",
    "call",
    "say",
]
