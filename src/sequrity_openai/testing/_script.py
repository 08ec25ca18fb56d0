"""What a test can queue on a FakeSequrity, and the reply an answer turns into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = [
    "Delay",
    "DenialAnswer",
    "ErrorAnswer",
    "ScriptItem",
    "TextAnswer",
    "ToolCall",
    "ToolCallAnswer",
]


@dataclass(frozen=True)
class TextAnswer:
    """A final answer: ``text`` for single-llm, ``value`` (or ``text``) as the dual-llm value."""

    text: str
    value: Any = None
    has_value: bool = False

    @property
    def final_value(self) -> Any:
        return self.value if self.has_value else self.text


@dataclass(frozen=True)
class ToolCall:
    """One scripted tool call. ``arguments`` is the JSON text the model would send."""

    name: str
    arguments: str
    call_id: str | None = None


@dataclass(frozen=True)
class ToolCallAnswer:
    """An assistant turn that asks the client to run one or more tools."""

    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class DenialAnswer:
    """A dual-llm failure: the plan tried ``tool`` and a policy denied it."""

    message: str
    tool: str


@dataclass(frozen=True)
class ErrorAnswer:
    """An HTTP error with ``{"detail": detail}``."""

    status: int
    detail: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delay:
    """Hold the next answer back for ``seconds``."""

    seconds: float


ScriptItem: TypeAlias = TextAnswer | ToolCallAnswer | DenialAnswer | ErrorAnswer | Delay
