"""The voxrelay exception tree.

VoxrelayError
├── ConfigError            a setting or a name is wrong (unknown scenario, agent, model)
├── ModelNotFoundError     a model file is missing from the cache; says how to prepare it
├── ModelError             a ChatModel backend failed (retryable says whether to try again)
├── ToolError              a tool was declared wrongly (bad signature, duplicate name)
└── ProtocolError          a Realtime event is malformed or out of place (carries the code)
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


class ToolError(VoxrelayError):
    """A tool or handoff is declared in a way that cannot work."""


class ProtocolError(VoxrelayError):
    """A Realtime event is malformed or not allowed now."""

    def __init__(self, code: str, message: str, *, param: str | None = None) -> None:
        self.code = code
        self.param = param
        super().__init__(message)
