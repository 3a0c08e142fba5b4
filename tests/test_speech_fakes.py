"""The scripted speech fakes check their scripts and fail loudly."""

from __future__ import annotations

import pytest

from voxrelay.audio import silence
from voxrelay.errors import UnknownVoiceError
from voxrelay.speech.base import STT, TTS, VAD
from voxrelay.testing.chat import ScriptError
from voxrelay.testing.speech import Heard, ScriptedSTT, ScriptedTTS, ScriptedVAD


def test_fakes_implement_the_interfaces():
    """Each fake is the interface it stands in for."""
    assert isinstance(ScriptedSTT([]), STT)
    assert isinstance(ScriptedTTS(), TTS)
    assert isinstance(ScriptedVAD([]), VAD)


async def test_scripted_stt_plays_and_checks():
    """Texts come back in order; duration limits and extra calls fail."""
    stt = ScriptedSTT(["hello", Heard("bye", min_duration_s=1.0)]).expect_failures()
    t = await stt.transcribe(silence(500, 16000), 16000)
    assert (t.text, t.duration_s, t.segments[0].end_s) == ("hello", 0.5, 0.5)
    with pytest.raises(ScriptError, match=r"lasts 0\.500 s"):
        await stt.transcribe(silence(500, 16000), 16000)
    with pytest.raises(ScriptError, match="script done"):
        await stt.transcribe(silence(500, 16000), 16000)
    stt.assert_complete()


async def test_scripted_stt_unused_script_and_bad_audio():
    """Leftover steps and non-PCM audio are errors."""
    stt = ScriptedSTT(["a", "b"]).expect_failures()
    with pytest.raises(ScriptError, match="not PCM16"):
        await stt.transcribe(b"\x00", 16000)
    with pytest.raises(ScriptError, match="never used"):
        stt.assert_complete()


async def test_scripted_tts_expects_sentences():
    """Sentences are checked in order; audio length follows the text."""
    tts = ScriptedTTS(expect=["Hi there.", "Bye."], ms_per_char=10).expect_failures()
    chunks = [c async for c in tts.synthesize("Hi there. Bye.")]
    assert [c.text for c in chunks] == ["Hi there.", "Bye."]
    assert chunks[0].duration_s == pytest.approx(0.09)
    assert tts.spoken == [("Hi there.", "alloy"), ("Bye.", "alloy")]
    tts.assert_complete()
    with pytest.raises(ScriptError, match="script done"):
        [c async for c in tts.synthesize("More.")]


async def test_scripted_tts_wrong_sentence_and_voice():
    """A different sentence or an unknown voice fails loudly."""
    tts = ScriptedTTS(expect=["Hello."]).expect_failures()
    with pytest.raises(ScriptError, match=r"expected 'Hello\.', got 'Howdy\.'"):
        [c async for c in tts.synthesize("Howdy.")]
    with pytest.raises(UnknownVoiceError):
        tts.synthesize("Hello.", voice="bob")
