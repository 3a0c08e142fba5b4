"""Scripted fakes for testing code built on voxrelay; they check their own scripts."""

from voxrelay.testing.chat import ScriptedChatModel, ScriptError, Step, call, say

__all__ = ["ScriptError", "ScriptedChatModel", "Step", "call", "say"]
