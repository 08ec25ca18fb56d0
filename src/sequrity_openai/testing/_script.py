"""What a test can queue on a FakeSequrity: script items and the ``queue_*`` methods."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from .._denials import CONTROL_FLOW_VIOLATION, tool_denial_message
from ._policy_args import late_bound

__all__ = [
    "Delay",
    "DenialAnswer",
    "ErrorAnswer",
    "ScriptItem",
    "TextAnswer",
    "ToolCall",
    "ToolCallAnswer",
    "Answer",
    "Scripting",
    "default_denial",
    "describe_item",
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
    #: The arguments as scripted when they hold ``sq.TaggedValue``s or ``ResultOf``s: bound
    #: (and ``arguments`` written) when the call is sent.
    args: Mapping[str, Any] | None = field(default=None, compare=False)


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
Answer: TypeAlias = TextAnswer | ToolCallAnswer | DenialAnswer | ErrorAnswer


def default_denial(tool: str) -> str:
    """The message of a scripted denial of ``tool`` when the test gives none: the service's
    wording, ``Tool call to 'send_email' is denied by argument checking policies. Context: ...``."""
    return tool_denial_message(tool, "{'scripted_by': 'FakeSequrity'}")


_UNSET: Final = object()


def describe_item(item: ScriptItem) -> str:
    """A short human description of a script item, for failure messages."""
    if isinstance(item, TextAnswer):
        return f"text {item.text!r}"
    if isinstance(item, ToolCallAnswer):
        return "tool call " + ", ".join(c.name for c in item.calls)
    if isinstance(item, DenialAnswer):
        return f"denial of {item.tool}"
    if isinstance(item, ErrorAnswer):
        return f"error {item.status}"
    return f"delay {item.seconds}s"


def _arguments(arguments: Mapping[str, Any] | str) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(dict(arguments), ensure_ascii=False)


def _tool_call(name: str, arguments: Mapping[str, Any] | str, call_id: str | None = None) -> ToolCall:
    if not isinstance(arguments, str) and late_bound(arguments):
        return ToolCall(name, "", call_id, args=dict(arguments))
    return ToolCall(name, _arguments(arguments), call_id)


class Scripting:
    """The scripting half of FakeSequrity: answers queued by a test, used first in, first out."""

    _lock: threading.RLock
    _queue: deque[ScriptItem]

    def queue(self, *items: ScriptItem) -> None:
        """Append script items (answers are used first in, first out, one per request)."""
        with self._lock:
            self._queue.extend(items)

    def queue_text(self, text: str, *, value: Any = _UNSET) -> None:
        """A final answer: ``text`` (single-llm), or dual-llm success with ``value`` (default ``text``)."""
        if value is _UNSET:
            self.queue(TextAnswer(text))
        else:
            self.queue(TextAnswer(text, value=value, has_value=True))

    def queue_tool_call(
        self, name: str, arguments: Mapping[str, Any] | str, *, call_id: str | None = None
    ) -> None:
        """An assistant message asking for tool ``name``; its id is ``tc-<session>-<call_id or uuid>``."""
        self.queue_tool_calls([_tool_call(name, arguments, call_id)])

    def queue_tool_calls(self, calls: Iterable[ToolCall | tuple[str, Mapping[str, Any] | str]]) -> None:
        """One assistant message asking for several tools at once."""
        built = tuple(c if isinstance(c, ToolCall) else _tool_call(c[0], c[1]) for c in calls)
        if not built:
            raise ValueError("queue_tool_calls() needs at least one call")
        self.queue(ToolCallAnswer(built))

    def queue_denial(
        self, message: str | None = None, *, tool: str = "send_email", control_flow: bool = False
    ) -> None:
        """A dual-llm failure document saying a policy denied ``tool`` (in the service's wording).

        ``control_flow=True`` gives the service's branching denial instead:
        ``Control flow violation detected during program execution.``
        """
        if message is None:
            message = CONTROL_FLOW_VIOLATION if control_flow else default_denial(tool)
        self.queue(DenialAnswer(message, tool))

    def queue_error(
        self, status: int, detail: object = "scripted error", *, headers: Mapping[str, str] | None = None
    ) -> None:
        """An HTTP error ``status`` with body ``{"detail": detail}`` and extra ``headers``."""
        if not 400 <= status <= 599:
            raise ValueError(f"queue_error(): status must be 400..599, got {status}")
        try:
            json.dumps(detail)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"queue_error(): detail must be JSON-serialisable: {exc}") from None
        self.queue(ErrorAnswer(status, detail, dict(headers or {})))

    def queue_delay(self, seconds: float) -> None:
        """Send the next answer (scripted or echo) only after ``seconds``."""
        if seconds < 0:
            raise ValueError("queue_delay(): seconds must be >= 0")
        self.queue(Delay(seconds))

    @property
    def pending(self) -> list[ScriptItem]:
        """Script items not used yet."""
        with self._lock:
            return list(self._queue)

    def next_answer(self) -> tuple[float, Answer | None]:
        """Take the next answer (``None``: echo) and the delays queued before it. Call under the lock."""
        delay = 0.0
        while self._queue and isinstance(head := self._queue[0], Delay):
            self._queue.popleft()
            delay += head.seconds
        item = self._queue.popleft() if self._queue else None
        assert not isinstance(item, Delay)
        return delay, item
