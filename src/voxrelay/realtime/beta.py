"""Beta ↔ GA translation, applied only at the edge (server WebSocket, WebSocketRealtime)."""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]

_BETA_FORMATS: dict[str, JSON] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_GA_FORMATS = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}

# Server event types whose names changed; `conversation.item.done` has no beta twin.
_SERVER_RENAMES = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "conversation.item.added": "conversation.item.created",
}
BETA_MODELS = (
    "gpt-realtime",
    "gpt-realtime-2025-08-28",
    "gpt-4o-realtime-preview",
    "gpt-4o-realtime-preview-2024-10-01",
    "gpt-4o-realtime-preview-2024-12-17",
    "gpt-4o-realtime-preview-2025-06-03",
    "gpt-4o-mini-realtime-preview",
    "gpt-4o-mini-realtime-preview-2024-12-17",
)
"""The only `session.model` values the beta client types (`openai.types.beta.realtime`) accept."""
BETA_STAND_IN_MODEL = "gpt-4o-realtime-preview"
"""What a beta session reports as `model` when the real name is not in BETA_MODELS."""
REAL_MODEL_FIELD = "voxrelay_model"
"""The beta session field that carries the model name the session really has."""

_CONTENT_TO_BETA = {"output_text": "text", "output_audio": "audio"}
_CONTENT_TO_GA = {v: k for k, v in _CONTENT_TO_BETA.items()}


def session_from_beta(beta: JSON) -> JSON:
    """A flat beta session object → the GA shape."""
    s = dict(beta)
    ga: JSON = {"type": "realtime"}
    audio_in: JSON = {}
    audio_out: JSON = {}
    if "modalities" in s:
        ga["output_modalities"] = _modalities_to_ga(s.pop("modalities"))
    if "voice" in s:
        audio_out["voice"] = s.pop("voice")
    if "input_audio_format" in s:
        audio_in["format"] = _format_to_ga(s.pop("input_audio_format"))
    if "output_audio_format" in s:
        audio_out["format"] = _format_to_ga(s.pop("output_audio_format"))
    if "input_audio_transcription" in s:
        audio_in["transcription"] = s.pop("input_audio_transcription")
    if "turn_detection" in s:
        audio_in["turn_detection"] = s.pop("turn_detection")
    if "max_response_output_tokens" in s:
        ga["max_output_tokens"] = s.pop("max_response_output_tokens")
    s.pop("temperature", None)
    s.pop("type", None)
    ga.update(s)
    if audio_in or audio_out:
        ga["audio"] = {"input": audio_in, "output": audio_out}
    return ga


def _modalities_to_ga(modalities: Any) -> Any:
    """Beta `modalities` → GA `output_modalities`; a non-list passes on for validation to refuse."""
    if not isinstance(modalities, list):
        return modalities
    return ["audio"] if "audio" in modalities else ["text"]


def _format_to_ga(name: Any) -> JSON:
    """A beta audio format name → the GA format; an unknown one passes on to be refused."""
    known = _BETA_FORMATS.get(name) if isinstance(name, str) else None
    return dict(known) if known is not None else {"type": name}


def session_to_beta(ga: JSON) -> JSON:
    """A GA session object → the flat beta shape."""
    s = {
        k: v
        for k, v in ga.items()
        if k not in ("type", "audio", "output_modalities") and v is not None
    }
    if ga.get("output_modalities"):
        s["modalities"] = ["text", "audio"] if "audio" in ga["output_modalities"] else ["text"]
    if "max_output_tokens" in s:
        s["max_response_output_tokens"] = s.pop("max_output_tokens")
    audio = ga.get("audio") or {}
    audio_in, audio_out = audio.get("input") or {}, audio.get("output") or {}
    if audio_in.get("format"):
        s["input_audio_format"] = _GA_FORMATS.get(audio_in["format"].get("type"), "pcm16")
    if audio_out.get("format"):
        s["output_audio_format"] = _GA_FORMATS.get(audio_out["format"].get("type"), "pcm16")
    if "transcription" in audio_in:
        s["input_audio_transcription"] = audio_in["transcription"]
    if "turn_detection" in audio_in:
        s["turn_detection"] = audio_in["turn_detection"]
    if audio_out.get("voice"):
        s["voice"] = audio_out["voice"]
    return s


def beta_model_names(session: JSON) -> JSON:
    """A beta session whose `model` the beta types accept; the real name in `voxrelay_model`."""
    model = session.get("model")
    if model is None:
        return session
    shown = model if model in BETA_MODELS else BETA_STAND_IN_MODEL
    return {**session, "model": shown, REAL_MODEL_FIELD: model}


def _real_model(session: JSON) -> JSON:
    """Undo `beta_model_names`: the real name back in `model` (the client direction)."""
    if REAL_MODEL_FIELD not in session:
        return session
    real = dict(session)
    real["model"] = real.pop(REAL_MODEL_FIELD)
    return real


def _rename_content(node: Any, table: dict[str, str]) -> Any:
    """Rename content-part types inside items and parts, recursively."""
    if isinstance(node, list):
        return [_rename_content(n, table) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _rename_content(v, table) for k, v in node.items()}
    if out.get("type") in table and ("text" in out or "transcript" in out or "audio" in out):
        out["type"] = table[out["type"]]
    return out


def client_from_beta(event: JSON) -> JSON:
    """A beta client event → its GA form."""
    e = copy.deepcopy(event)
    kind = e.get("type")
    if kind == "session.update" and isinstance(e.get("session"), dict):
        e["session"] = session_from_beta(e["session"])
    elif kind == "conversation.item.create":
        e["item"] = _rename_content(e.get("item"), _CONTENT_TO_GA)
    elif kind == "response.create" and isinstance(e.get("response"), dict):
        r = e["response"]
        if "modalities" in r:
            r["output_modalities"] = _modalities_to_ga(r.pop("modalities"))
        if "max_response_output_tokens" in r:
            r["max_output_tokens"] = r.pop("max_response_output_tokens")
        for key in ("voice", "output_audio_format", "temperature"):
            r.pop(key, None)
    return e


def server_to_beta(event: JSON) -> list[JSON]:
    """A GA server event → zero or one beta events."""
    kind = event.get("type", "")
    if kind == "conversation.item.done":
        return []
    e = _rename_content(copy.deepcopy(event), _CONTENT_TO_BETA)
    e["type"] = _SERVER_RENAMES.get(kind, kind)
    if kind in ("session.created", "session.updated"):
        e["session"] = beta_model_names(session_to_beta(e["session"]))
    if kind in ("response.created", "response.done"):
        mods = e["response"].pop("output_modalities", None)
        if mods:
            e["response"]["modalities"] = ["text", "audio"] if "audio" in mods else ["text"]
    return [e]


# ---- the client direction: GA client events out, beta server events in --------------------

_SERVER_RENAMES_TO_GA = {v: k for k, v in _SERVER_RENAMES.items()}


def client_to_beta(event: JSON) -> JSON:
    """A GA client event → its beta form (for a client talking to a beta server)."""
    e: JSON = _rename_content(copy.deepcopy(event), _CONTENT_TO_BETA)
    kind = e.get("type")
    if kind == "session.update" and isinstance(e.get("session"), dict):
        e["session"] = session_to_beta(e["session"])
    elif kind == "response.create" and isinstance(e.get("response"), dict):
        r = e["response"]
        mods = r.pop("output_modalities", None)
        if mods:
            r["modalities"] = ["text", "audio"] if "audio" in mods else ["text"]
        if "max_output_tokens" in r:
            r["max_response_output_tokens"] = r.pop("max_output_tokens")
    return e


class BetaServerDecoder:
    """Beta server events → GA, per connection (beta's `arguments.done` omits the name)."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        """Function name by call_id, learnt from function_call items."""

    def decode(self, event: JSON) -> list[JSON]:
        """One beta server event → zero or more GA events."""
        kind = event.get("type", "")
        e: JSON = _rename_content(copy.deepcopy(event), _CONTENT_TO_GA)
        e["type"] = _SERVER_RENAMES_TO_GA.get(kind, kind)
        if kind in ("session.created", "session.updated") and isinstance(e.get("session"), dict):
            e["session"] = session_from_beta(_real_model(e["session"]))
        elif kind in ("response.created", "response.done") and isinstance(e.get("response"), dict):
            mods = e["response"].pop("modalities", None)
            if mods:
                e["response"]["output_modalities"] = ["audio"] if "audio" in mods else ["text"]
        self._learn(e.get("item"))
        if kind == "response.function_call_arguments.done" and not e.get("name"):
            e["name"] = self._names.get(str(e.get("call_id")), "")
        if kind == "conversation.item.created" and (e.get("item") or {}).get("status") in (
            None,
            "completed",
        ):
            done = copy.deepcopy({**e, "type": "conversation.item.done"})
            return [e, done]  # GA also says when an item is final
        return [e]

    def _learn(self, item: Any) -> None:
        if isinstance(item, dict) and item.get("type") == "function_call" and item.get("name"):
            self._names[str(item.get("call_id"))] = str(item["name"])
