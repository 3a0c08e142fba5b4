"""G.711 μ-law and A-law codecs (ITU-T G.711) for PCM16, table-driven with numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voxrelay.audio.pcm import to_bytes, to_int16

_MU_BIAS = 0x84
_MU_CLIP = 32635
_A_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def _mulaw_encode_all(x: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    v = x >> 2  # 14-bit magnitude domain, as in G.711's reference coder
    sign = (v < 0).astype(np.int32)
    mag = np.minimum(np.where(v < 0, -v, v), _MU_CLIP >> 2) + (_MU_BIAS >> 2)
    exponent = np.frexp(mag.astype(np.float64))[1] - 6
    mantissa = (mag >> (exponent + 1)) & 0x0F
    codes: npt.NDArray[np.uint8] = (~((sign << 7) | (exponent << 4) | mantissa) & 0xFF).astype(
        np.uint8
    )
    return codes


def _mulaw_decode_all(b: npt.NDArray[np.int32]) -> npt.NDArray[np.int16]:
    u = ~b & 0xFF
    exponent = (u >> 4) & 0x07
    mag = (((u & 0x0F) << 3) + _MU_BIAS) << exponent
    value = mag - _MU_BIAS
    return np.where(u & 0x80, -value, value).astype(np.int16)


def _alaw_encode_all(x: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    v = x >> 3
    mask = np.where(v >= 0, 0xD5, 0x55)
    v = np.where(v >= 0, v, -v - 1)
    seg = np.searchsorted(_A_SEG_END, v, side="left").astype(np.int32)
    shift = np.where(seg < 2, 1, seg)
    code = (np.minimum(seg, 7) << 4) | ((v >> shift) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _alaw_decode_all(b: npt.NDArray[np.int32]) -> npt.NDArray[np.int16]:
    a = b ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ALL_PCM = np.arange(-32768, 32768, dtype=np.int32)
_ALL_CODES = np.arange(256, dtype=np.int32)
_MULAW_ENC = _mulaw_encode_all(_ALL_PCM)
_MULAW_DEC = _mulaw_decode_all(_ALL_CODES)
_ALAW_ENC = _alaw_encode_all(_ALL_PCM)
_ALAW_DEC = _alaw_decode_all(_ALL_CODES)


def _codes(data: bytes) -> npt.NDArray[np.uint8]:
    codes: npt.NDArray[np.uint8] = np.frombuffer(data, dtype=np.uint8)
    return codes


def ulaw_encode(pcm: bytes) -> bytes:
    """Encode PCM16 to G.711 μ-law, one byte per sample."""
    samples = to_int16(pcm, allow_empty=True).astype(np.int32)
    return bytes(_MULAW_ENC[samples + 32768].tobytes())


def ulaw_decode(data: bytes) -> bytes:
    """Decode G.711 μ-law bytes to PCM16."""
    return to_bytes(_MULAW_DEC[_codes(data)])


def alaw_encode(pcm: bytes) -> bytes:
    """Encode PCM16 to G.711 A-law, one byte per sample."""
    samples = to_int16(pcm, allow_empty=True).astype(np.int32)
    return bytes(_ALAW_ENC[samples + 32768].tobytes())


def alaw_decode(data: bytes) -> bytes:
    """Decode G.711 A-law bytes to PCM16."""
    return to_bytes(_ALAW_DEC[_codes(data)])
