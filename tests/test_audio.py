"""Audio utilities: frames, levels, resampling, G.711 and WAV, against known signals."""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import numpy as np
import pytest

from voxrelay.audio import (
    FrameBuffer,
    StreamResampler,
    alaw_decode,
    alaw_encode,
    dbfs,
    float_to_int16,
    frames,
    peak,
    read_wav,
    resample,
    rms,
    silence,
    to_bytes,
    to_int16,
    ulaw_decode,
    ulaw_encode,
    wav_bytes,
    write_wav,
)
from voxrelay.errors import AudioFileError, AudioFormatError


def sine(freq: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> bytes:
    """A PCM16 sine tone."""
    t = np.arange(round(rate * seconds)) / rate
    return to_bytes(float_to_int16(amp * np.sin(2 * np.pi * freq * t)))


def snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    """Signal-to-noise ratio of `got` against `ref`, in dB."""
    ref = ref.astype(np.float64)
    err = got.astype(np.float64) - ref
    return float(10 * np.log10(np.sum(ref**2) / np.sum(err**2)))


def fitted_sine_snr(x: np.ndarray, freq: float, rate: int) -> float:
    """SNR of `x` against the best-fitting sine at `freq` (any phase and amplitude)."""
    t = np.arange(len(x)) / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x.astype(np.float64), rcond=None)
    return snr_db(basis @ coef, x)


# --- G.711 -------------------------------------------------------------------------------

ALL_PCM = np.arange(-32768, 32768, dtype="<i2").tobytes()
CODES = bytes(range(256))


@pytest.mark.parametrize(
    ("fn", "data", "sha256"),
    [
        (ulaw_encode, ALL_PCM, "81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a"),
        (alaw_encode, ALL_PCM, "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b"),
        (ulaw_decode, CODES, "3dab54339e520bb2c924826e3b72a917a2b612e9fd12fc867500f1d983a75827"),
        (alaw_decode, CODES, "e04788d110e58ff8c70c93b8480190d973e3b67876b6119abbaec766cc75c174"),
    ],
)
def test_g711_tables_match_reference(fn, data, sha256):
    """Every input maps exactly as in the reference tables (hashes from CPython's audioop)."""
    assert hashlib.sha256(fn(data)).hexdigest() == sha256


def test_g711_known_codes():
    """Silence and full scale hit the code points the standard defines."""
    pcm = to_bytes(np.array([0, -1, 32767, -32768], dtype=np.int16))
    assert ulaw_encode(pcm) == bytes([0xFF, 0x7E, 0x80, 0x00])
    assert alaw_encode(pcm) == bytes([0xD5, 0x55, 0xAA, 0x2A])


@pytest.mark.parametrize(("enc", "dec"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_g711_round_trip_sine_snr(enc, dec):
    """A half-scale 1 kHz sine survives G.711 with the textbook ~38 dB SNR."""
    pcm = sine(1000, 8000)
    coded = enc(pcm)
    assert len(coded) == len(pcm) // 2
    out = dec(coded)
    assert len(out) == len(pcm)
    assert snr_db(to_int16(pcm), to_int16(out)) > 33


@pytest.mark.parametrize(("enc", "dec"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_g711_decode_encode_is_identity_on_codes(enc, dec):
    """Decoding then encoding every code gives the code back (except μ-law's duplicate zero)."""
    again = enc(dec(CODES))
    diffs = [c for c, d in zip(CODES, again, strict=True) if c != d]
    assert diffs in ([], [0x7F])


def test_g711_rejects_odd_pcm():
    """Encoding needs whole 16-bit samples."""
    with pytest.raises(AudioFormatError, match="even number of bytes"):
        ulaw_encode(b"\x01\x02\x03")


# --- resampling --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (8000, 16000),
        (16000, 8000),
        (24000, 16000),
        (16000, 24000),
        (22050, 16000),
        (48000, 24000),
        (24000, 48000),
        (22050, 24000),
    ],
)
def test_resample_sine_keeps_frequency_and_length(src, dst):
    """A 440 Hz sine resampled stays a clean 440 Hz sine of the same duration."""
    out = to_int16(resample(sine(440, src), src, dst))
    assert abs(len(out) - dst) <= 1
    core = out[dst // 10 : -dst // 10]  # ignore filter edges
    assert fitted_sine_snr(core, 440, dst) > 40


def test_resample_same_rate_is_identity():
    """No conversion when the rates match."""
    pcm = sine(440, 16000, 0.1)
    assert resample(pcm, 16000, 16000) == pcm


def test_resample_removes_content_above_new_nyquist():
    """A 6 kHz tone vanishes when going down to 8 kHz (anti-aliasing)."""
    out = to_int16(resample(sine(6000, 24000), 24000, 8000))
    assert rms(to_bytes(out[800:-800])) < 0.01


def test_stream_resampler_matches_length_and_quality():
    """Pushing 20 ms pieces gives the same duration and a clean sine."""
    pcm = sine(440, 24000)
    rs = StreamResampler(24000, 16000)
    out = b"".join(rs.push(f) for f in frames(pcm, 24000, 20)) + rs.flush()
    x = to_int16(out)
    assert abs(len(x) - 16000) <= 2
    assert fitted_sine_snr(x[1600:-1600], 440, 16000) > 40


def test_resample_rejects_unknown_rate():
    """A rate outside the supported list fails and lists the valid ones."""
    with pytest.raises(AudioFormatError, match="unsupported sample rate 12345 Hz; use one of"):
        resample(sine(440, 16000, 0.1), 12345, 16000)


# --- frames and levels -------------------------------------------------------------------


def test_frames_fixed_duration_and_tail():
    """20 ms frames at 16 kHz are 640 bytes; the tail is dropped or padded."""
    pcm = bytes(2 * 330)
    assert [len(f) for f in frames(pcm, 16000, 20)] == [640]
    assert [len(f) for f in frames(pcm, 16000, 20, pad=True)] == [640, 640]


def test_frame_buffer_regroups_pushes():
    """Odd-sized pushes come back as whole frames; flush pads the rest."""
    buf = FrameBuffer(160)
    got = buf.push(bytes(100)) + buf.push(bytes(300)) + buf.push(bytes(250))
    assert [len(f) for f in got] == [320, 320]
    assert buf.pending_samples == 5
    assert len(buf.flush()) == 320
    assert buf.flush() == b""


def test_levels_of_known_signals():
    """A half-scale sine has RMS 0.5/√2 and peak 0.5; silence is 0 / -120 dBFS."""
    pcm = sine(1000, 16000)
    assert rms(pcm) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert peak(pcm) == pytest.approx(0.5, rel=1e-3)
    assert dbfs(rms(pcm)) == pytest.approx(-9.03, abs=0.05)
    assert rms(silence(10, 16000)) == 0.0
    assert dbfs(0.0) == -120.0


def test_empty_buffer_is_a_clear_error():
    """Conversions that need samples say so."""
    with pytest.raises(AudioFormatError, match="empty"):
        to_int16(b"")


# --- WAV ---------------------------------------------------------------------------------


def test_wav_round_trip(tmp_path: Path):
    """What we write is what we read."""
    pcm = sine(440, 24000, 0.25)
    path = write_wav(tmp_path / "a.wav", pcm, 24000)
    got = read_wav(path)
    assert (got.pcm, got.sample_rate) == (pcm, 24000)
    assert got.duration_s == pytest.approx(0.25)
    assert read_wav(wav_bytes(pcm, 24000)) == got


def test_wav_stereo_is_mixed_to_mono(tmp_path: Path):
    """Two channels are averaged."""
    left = np.full(100, 1000, dtype=np.int16)
    right = np.full(100, 3000, dtype=np.int16)
    path = tmp_path / "s.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.stack([left, right], axis=1).astype("<i2").tobytes())
    assert set(to_int16(read_wav(path).pcm).tolist()) == {2000}


def test_wav_missing_file():
    """A missing file names the path."""
    with pytest.raises(AudioFileError, match=r"nope\.wav: no such file"):
        read_wav("/nonexistent/nope.wav")


def test_wav_corrupt(tmp_path: Path):
    """Garbage and truncated headers are reported as invalid WAV."""
    path = tmp_path / "bad.wav"
    path.write_bytes(b"this is not a wav file at all")
    with pytest.raises(AudioFormatError, match="not a WAV file"):
        read_wav(path)
    with pytest.raises(AudioFormatError, match="not a valid WAV"):
        read_wav(wav_bytes(sine(440, 16000, 0.1), 16000)[:30])


def test_wav_8_bit(tmp_path: Path):
    """8-bit audio is read as PCM16 (more formats: test_wav.py)."""
    path = tmp_path / "u8.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(16000)
        w.writeframes(bytes([128, 192] * 50))
    assert set(to_int16(read_wav(path).pcm).tolist()) == {0, 64 * 256}


def test_wav_wrong_rate(tmp_path: Path):
    """An unusual rate is refused."""
    path = tmp_path / "r.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(11111)
        w.writeframes(bytes(100))
    with pytest.raises(AudioFormatError, match="11111 Hz"):
        read_wav(path)


def test_wav_empty(tmp_path: Path):
    """A header with no samples is an error, not silence."""
    path = write_wav(tmp_path / "e.wav", b"", 16000)
    with pytest.raises(AudioFormatError, match="no audio samples"):
        read_wav(path)
