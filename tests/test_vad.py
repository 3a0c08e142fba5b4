"""VAD backends: frame checks, speech vs silence, fallback and reset."""

from __future__ import annotations

import numpy as np
import pytest

from voxrelay.audio import float_to_int16, frames, silence, to_bytes
from voxrelay.errors import AudioFormatError, ConfigError
from voxrelay.speech.base import VAD
from voxrelay.speech.vad import EnergyVAD, SileroVAD, WebRtcVAD, make_vad
from voxrelay.testing.speech import ScriptedVAD, ScriptError

SILERO = pytest.param(SileroVAD, marks=pytest.mark.real, id="SileroVAD")  # loads the ONNX model


def noise(ms: int, level: float = 0.3, rate: int = 16000) -> bytes:
    """Loud white noise."""
    rng = np.random.default_rng(0)
    return to_bytes(float_to_int16(level * rng.standard_normal(rate * ms // 1000).clip(-3, 3) / 3))


@pytest.mark.parametrize("factory", [SILERO, WebRtcVAD, EnergyVAD])
def test_backends_follow_the_protocol_and_reject_wrong_frames(factory):
    """Every backend is a VAD and refuses a frame of the wrong size with a hint."""
    vad = factory()
    assert isinstance(vad, VAD)
    with pytest.raises(AudioFormatError, match=f"{vad.frame_samples} samples of 16-bit PCM"):
        vad.probability(bytes(2 * (vad.frame_samples + 1)))


@pytest.mark.parametrize("factory", [SILERO, WebRtcVAD, EnergyVAD])
def test_silence_is_not_speech(factory):
    """Digital silence scores low on every backend."""
    vad = factory()
    probs = [vad.probability(f) for f in frames(silence(640, 16000), 16000, vad.frame_samples / 16)]
    assert max(probs) < 0.5


@pytest.mark.real
def test_silero_hears_piper_speech_and_resets():
    """Silero scores real speech high; reset gives the same scores again."""
    from speech_fixtures import speech

    vad = SileroVAD()
    audio = speech("Hello, how can I help you today?")
    first = [vad.probability(f) for f in frames(audio, 16000, 32)]
    vad.reset()
    again = [vad.probability(f) for f in frames(audio, 16000, 32)]
    assert max(first) > 0.9
    assert sum(p > 0.5 for p in first) > len(first) / 2
    assert first == pytest.approx(again, abs=1e-4)


def test_energy_vad_scales_with_level():
    """Loud noise is 1.0, silence 0.0."""
    vad = EnergyVAD()
    assert vad.probability(noise(32)) == 1.0
    assert vad.probability(silence(32, 16000)) == 0.0


def test_webrtc_rejects_unsupported_rates():
    """WebRTC only takes its own rates and frame sizes."""
    with pytest.raises(AudioFormatError, match="8/16/32/48 kHz"):
        WebRtcVAD(sample_rate=22050)


@pytest.mark.real
def test_make_vad_picks_backends():
    """The factory builds each backend and refuses an unknown one."""
    assert isinstance(make_vad("silero"), SileroVAD)
    assert isinstance(make_vad("webrtc"), WebRtcVAD)
    assert isinstance(make_vad("energy"), EnergyVAD)
    with pytest.raises(ConfigError, match="unknown VAD backend"):
        make_vad("nope")  # type: ignore[arg-type]


def test_scripted_vad_fails_loudly():
    """Extra frames and unused script both fail."""
    vad = ScriptedVAD([0.1, 0.9]).expect_failures()
    assert [vad.probability(bytes(1024)) for _ in range(2)] == [0.1, 0.9]
    with pytest.raises(ScriptError, match="script done"):
        vad.probability(bytes(1024))
    short = ScriptedVAD([0.5])
    with pytest.raises(ScriptError, match="never used"):
        short.assert_complete()


def test_scripted_vad_from_spans():
    """Spans in ms become per-frame probabilities."""
    vad = ScriptedVAD.from_spans([(64, 128)], total_ms=256)
    assert vad.probabilities == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
