"""TurnDetector: server_vad semantics on scripted probabilities, and on real Piper speech."""

from __future__ import annotations

import numpy as np
import pytest

from voxrelay.audio import frames, silence, to_int16
from voxrelay.errors import ConfigError
from voxrelay.speech.turns import SpeechStarted, SpeechStopped, TurnConfig, TurnDetector
from voxrelay.testing.speech import ScriptedVAD

RATE = 16000
FRAME = 512  # 32 ms


def run(
    det: TurnDetector, audio: bytes, piece_ms: float = 20
) -> list[SpeechStarted | SpeechStopped]:
    """Push audio in small pieces, as a transport would, then flush."""
    events = []
    for piece in frames(audio, RATE, piece_ms, pad=False):
        events += det.push(piece)
    tail = len(audio) % (RATE * piece_ms // 1000 * 2)
    if tail:
        events += det.push(audio[-tail:])
    return events + det.flush()


def scripted(probs: list[float], **config: int | float) -> tuple[TurnDetector, bytes]:
    """A detector over a ScriptedVAD, and audio with one frame per probability."""
    det = TurnDetector(ScriptedVAD(probs), TurnConfig(**config))  # type: ignore[arg-type]
    audio = np.arange(len(probs) * FRAME, dtype=np.int16) % 1000
    return det, audio.astype("<i2").tobytes()


def test_start_and_stop_with_padding_and_silence():
    """Speech frames 10-19 then silence: started at frame 10, stopped once 500 ms passed."""
    probs = [0.0] * 10 + [0.9] * 10 + [0.0] * 30
    det, audio = scripted(probs, prefix_padding_ms=96, silence_duration_ms=500)
    events = [e for e in run(det, audio) if True]
    assert [e.type for e in events] == ["speech_started", "speech_stopped"]
    started, stopped = events
    assert started.start_sample == 10 * FRAME
    assert started.audio_start_sample == 10 * FRAME - 96 * RATE // 1000
    assert stopped.audio_start_sample == started.audio_start_sample
    silence_frames = -(-500 * RATE // 1000 // FRAME)  # 16 frames of 32 ms reach 500 ms
    assert stopped.audio_end_sample == (20 + silence_frames) * FRAME
    assert stopped.audio == audio[2 * stopped.audio_start_sample : 2 * stopped.audio_end_sample]
    assert not det.in_speech
    det.vad.assert_complete()  # type: ignore[attr-defined]


def test_short_dip_does_not_end_the_turn():
    """Silence shorter than silence_duration_ms keeps one turn."""
    probs = [0.0] * 5 + [0.9] * 10 + [0.0] * 10 + [0.9] * 10 + [0.0] * 30
    det, audio = scripted(probs, silence_duration_ms=500)
    assert [e.type for e in run(det, audio)] == ["speech_started", "speech_stopped"]


def test_hysteresis_keeps_speech_between_release_and_threshold():
    """Inside a turn, 0.4 still counts as speech when threshold is 0.5 and release 0.15."""
    probs = [0.9] * 5 + [0.4] * 30 + [0.0] * 20
    det, audio = scripted(probs, silence_duration_ms=300)
    stopped = run(det, audio)[-1]
    assert isinstance(stopped, SpeechStopped)
    assert stopped.audio_end_sample == (35 + 10) * FRAME


def test_prefix_is_clamped_at_stream_start():
    """Speech in the first frame has no padding to keep."""
    det, audio = scripted([0.9] * 3 + [0.0] * 20, prefix_padding_ms=300)
    started = run(det, audio)[0]
    assert isinstance(started, SpeechStarted)
    assert (started.start_sample, started.audio_start_sample) == (0, 0)


def test_flush_closes_an_open_turn_and_two_turns_are_separate():
    """End of input stops the open turn; offsets keep counting across turns."""
    probs = [0.9] * 5 + [0.0] * 20 + [0.9] * 5
    det, audio = scripted(probs, prefix_padding_ms=0, silence_duration_ms=300)
    events = run(det, audio)
    assert [e.type for e in events] == ["speech_started", "speech_stopped"] * 2
    assert events[2].start_sample == 25 * FRAME
    assert events[3].audio_end_sample == 30 * FRAME


def test_ms_offsets_match_the_realtime_api_fields():
    """audio_start_ms and audio_end_ms are the sample offsets in milliseconds."""
    det, audio = scripted([0.0] * 20 + [0.9] * 5 + [0.0] * 20, silence_duration_ms=200)
    started, stopped = run(det, audio)
    assert started.audio_start_ms == (20 * FRAME - 4800) * 1000 // RATE
    assert stopped.audio_end_ms == stopped.audio_end_sample * 1000 // RATE


@pytest.mark.parametrize(
    "config",
    [{"threshold": 0.0}, {"threshold": 1.5}, {"silence_duration_ms": 0}, {"prefix_padding_ms": -1}],
)
def test_bad_config_is_refused(config):
    """Nonsense settings fail with a message naming them."""
    with pytest.raises(ConfigError):
        TurnConfig(**config)


# --- real speech (Piper at test time, Silero VAD) ---------------------------------------


def speech_bounds(pcm: bytes) -> tuple[int, int]:
    """True speech bounds of clean TTS audio: first/last 10 ms window above -50 dBFS."""
    x = to_int16(pcm).astype(np.float64) / 32768.0
    win = RATE // 100
    n = len(x) // win
    level = 20 * np.log10(np.sqrt(np.mean(x[: n * win].reshape(n, win) ** 2, axis=1)) + 1e-9)
    loud = np.nonzero(level > -50)[0]
    return int(loud[0]) * win, (int(loud[-1]) + 1) * win


@pytest.mark.real
@pytest.mark.parametrize(
    "text",
    [
        "Please call me back tomorrow at noon.",
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "Yes.",
    ],
)
def test_real_speech_bounds_within_100_ms(text):
    """Speech padded with 1.2 s of silence each side: start and end within ±100 ms of truth."""
    from speech_fixtures import speech
    from voxrelay.speech.vad import SileroVAD

    utterance = speech(text)
    begin, end = speech_bounds(utterance)
    lead = silence(1200, RATE)
    audio = lead + utterance + silence(1500, RATE)
    events = run(TurnDetector(SileroVAD(), TurnConfig(silence_duration_ms=500)), audio)
    assert [e.type for e in events] == ["speech_started", "speech_stopped"]
    started, stopped = events
    offset = len(lead) // 2
    tolerance = RATE // 10
    assert abs(started.start_sample - (offset + begin)) <= tolerance
    assert abs(stopped.start_sample - (offset + begin)) <= tolerance
    assert abs(stopped.end_sample - (offset + end)) <= tolerance


@pytest.mark.real
def test_real_500ms_pause_does_not_split_the_turn():
    """Two halves of a sentence with a 500 ms pause are one turn at silence_duration_ms=700."""
    from speech_fixtures import speech
    from voxrelay.speech.vad import SileroVAD

    first = speech("I would like to order")
    second = speech("a large pizza with mushrooms.")
    b1, e1 = speech_bounds(first)
    b2, e2 = speech_bounds(second)
    first, second = first[2 * b1 : 2 * e1], second[2 * b2 : 2 * e2]
    audio = silence(1000, RATE) + first + silence(500, RATE) + second + silence(1500, RATE)
    events = run(TurnDetector(SileroVAD(), TurnConfig(silence_duration_ms=700)), audio)
    assert [e.type for e in events] == ["speech_started", "speech_stopped"]
    true_end = RATE + len(first) // 2 + RATE // 2 + len(second) // 2
    assert abs(events[1].end_sample - true_end) <= RATE // 10
    # ...and the same audio with a 300 ms silence setting is split in two.
    events = run(TurnDetector(SileroVAD(), TurnConfig(silence_duration_ms=300)), audio)
    assert [e.type for e in events] == ["speech_started", "speech_stopped"] * 2


def test_input_at_24khz_is_resampled_and_offsets_stay_in_vad_samples():
    """With input_rate=24000 the detector resamples; offsets and audio are at 16 kHz."""
    from voxrelay.speech.vad import EnergyVAD
    from voxrelay.testing.speech import ScriptedTTS

    tone = ScriptedTTS(sample_rate=24000).tone(1000)
    audio = silence(1000, 24000) + tone + silence(1000, 24000)
    det = TurnDetector(EnergyVAD(), TurnConfig(silence_duration_ms=300), input_rate=24000)
    events = []
    for piece in frames(audio, 24000, 20, pad=True):
        events += det.push(piece)
    events += det.flush()
    assert [e.type for e in events] == ["speech_started", "speech_stopped"]
    stopped = events[1]
    assert abs(stopped.start_sample - RATE) <= RATE // 50
    assert abs(stopped.end_sample - 2 * RATE) <= RATE // 50
    assert len(stopped.audio) // 2 == stopped.audio_end_sample - stopped.audio_start_sample


def test_reset_drops_the_turn_and_keeps_the_clock():
    """After reset no stop is reported for the dropped turn, and offsets keep counting."""
    probs = [0.9] * 5 + [0.0] * 3 + [0.9] * 3 + [0.0] * 20
    det, audio = scripted(probs, prefix_padding_ms=0, silence_duration_ms=300)
    first = det.push(audio[: 5 * FRAME * 2 + 100])
    assert [e.type for e in first] == ["speech_started"]
    det.reset()
    assert not det.in_speech
    assert det.position == 5 * FRAME + 50
    events = run(det, audio[5 * FRAME * 2 + 100 :])
    assert [e.type for e in events] == ["speech_started", "speech_stopped"]
    assert det.vad.resets == 1  # type: ignore[attr-defined]
