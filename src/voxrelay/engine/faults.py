"""The fixed error messages a wire client gets when a model fails (I/O-free).

A client never sees an exception's own text: it can name internals (`llama_decode returned 1`,
a URL, a file path). It gets one of these messages; the server log keeps the detail.

- the language model: `response.done` with `status: failed`, code `model_error`,
  `MODEL_FAILED`;
- the speech synthesizer: `response.done` with `status: failed`, code `speech_error`,
  `SPEECH_FAILED`;
- anything else while a response runs (a sentence gate): `response.done` with
  `status: failed`, code `server_error`, `SERVER_FAILED`;
- the speech recognizer: `conversation.item.input_audio_transcription.failed`, code
  `transcription_failed`, `TRANSCRIPTION_FAILED`.

A ProtocolError raised while a response runs (the conversation is full) keeps its own code and
message: those are ours and say what to do.
"""

from __future__ import annotations

from voxrelay.errors import ModelError, ProtocolError, SpeechError

MODEL_FAILED = "the language model failed to respond; see the server log, then try again"
SPEECH_FAILED = "the speech synthesizer failed to speak the reply; see the server log"
SERVER_FAILED = "the response failed on the server; see the server log"
TRANSCRIPTION_FAILED = "the audio could not be transcribed; see the server log"


class ModelFailed(ModelError):
    """The response's language model raised; the cause is its own exception (for the log)."""

    def __init__(self) -> None:
        super().__init__(MODEL_FAILED)


class SpeechFailed(SpeechError):
    """The response's speech synthesizer raised; the cause is its own exception (for the log)."""

    def __init__(self) -> None:
        super().__init__(SPEECH_FAILED)


def response_error(exc: BaseException) -> dict[str, str]:
    """The `status_details.error` of a response that failed with `exc`."""
    if isinstance(exc, ProtocolError):
        return {"type": "invalid_request_error", "code": exc.code, "message": str(exc)}
    if isinstance(exc, ModelFailed):
        return {"type": "server_error", "code": "model_error", "message": MODEL_FAILED}
    if isinstance(exc, SpeechFailed):
        return {"type": "server_error", "code": "speech_error", "message": SPEECH_FAILED}
    return {"type": "server_error", "code": "server_error", "message": SERVER_FAILED}


def transcription_error() -> dict[str, str]:
    """The `error` of a `conversation.item.input_audio_transcription.failed` event."""
    return {
        "type": "transcription_error",
        "code": "transcription_failed",
        "message": TRANSCRIPTION_FAILED,
    }
