"""The voxrelay exception tree: every error voxrelay raises on purpose derives from VoxrelayError.

VoxrelayError
├── ConfigError              a setting or a name is wrong (unknown scenario, agent, model)
│   └── UnknownVoiceError    a voice name does not map to any voice of the TTS backend
├── ModelNotFoundError       a model file is missing from the cache; says how to prepare it
├── ModelError               a ChatModel backend failed (retryable says whether to try again)
│   ├── ContextOverflow      the prompt did not fit the model's context window (retry shorter)
│   └── ModelFailed          a response's model raised; the cause is kept for the log
│                            (voxrelay.engine.faults)
├── UnsupportedPattern       a schema regex the grammar translator cannot handle (also ValueError;
│                            voxrelay.models.grammar)
├── ToolError                a tool was declared wrongly (bad signature, duplicate name)
├── ToolArgumentsError       the model's arguments do not match a tool's schema (also ValueError;
│                            voxrelay.agents.tool)
├── ProtocolError            a Realtime event is malformed or out of place (carries the code)
├── AuthRefused              a client's credentials are missing, wrong or expired
│   │                        (voxrelay.server.auth)
│   └── OriginRefused        a browser page from an origin the server does not serve
├── AudioFormatError         audio is not in the expected shape (rate, width, encoding, empty)
├── AudioFileError           an audio file is missing or unreadable (carries the path)
├── AudioDeviceError         no usable microphone or speaker (voxrelay.transports.devices)
├── SpeechError              an STT or TTS backend failed (retryable says whether to try again)
│   └── SpeechFailed         a response's TTS raised; the cause is kept for the log
│                            (voxrelay.engine.faults)
├── SentenceBlocked          the sentence gate refused a sentence; the response ends unspoken
│                            (voxrelay.engine.respond)
├── RealtimeConnectionError  a realtime server could not be reached or the link was lost
├── CallTimeout              a WAV call's agents did not finish in time
│                            (voxrelay.transports.wavfile)
├── EvalCaseError            an eval case file is malformed (carries the path and case;
│                            voxrelay.evals.cases)
└── ScriptError              a scripted fake was called against its script (also AssertionError;
                             voxrelay.testing.checks)

Exceptions defined outside this module are named with their module and importable from there.
"""

from __future__ import annotations


class VoxrelayError(Exception):
    """Root of every error voxrelay raises on purpose."""


class ConfigError(VoxrelayError):
    """A setting or a name does not resolve; the message lists the valid choices."""


class ModelNotFoundError(VoxrelayError):
    """A model file is missing from the model cache."""

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = path
        super().__init__(
            f"model {name!r} is not prepared (expected {path}). "
            "Run `voxrelay models --prepare` (or `make setup`) to assemble it."
        )


class ModelError(VoxrelayError):
    """A ChatModel backend failed while generating."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)


class ContextOverflow(ModelError):
    """The prompt did not fit the model's context window; a shorter history may."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class ToolError(VoxrelayError):
    """A tool or handoff is declared in a way that cannot work."""


class ProtocolError(VoxrelayError):
    """A Realtime event is malformed or not allowed now."""

    def __init__(self, code: str, message: str, *, param: str | None = None) -> None:
        self.code = code
        self.param = param
        super().__init__(message)


class AudioFormatError(VoxrelayError):
    """Audio is not in the shape a component needs; the message says what was expected."""


class AudioFileError(VoxrelayError):
    """An audio file is missing or cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"cannot read audio file {path}: {reason}")


class SpeechError(VoxrelayError):
    """An STT or TTS backend failed while working."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)


class UnknownVoiceError(ConfigError):
    """A voice name that the TTS backend cannot speak with."""

    def __init__(self, voice: str, choices: list[str]) -> None:
        self.voice = voice
        self.choices = choices
        super().__init__(
            f"unknown voice {voice!r}; choose one of: {', '.join(choices)} "
            "(set the agent's `voice` or VOXRELAY_TTS_VOICE)"
        )


class RealtimeConnectionError(VoxrelayError):
    """A realtime server could not be reached, refused us, or the connection was lost."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)
