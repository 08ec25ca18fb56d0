"""Session scopes: one ``X-Session-ID`` per conversation, per task and per thread.

A scope lives in a :class:`contextvars.ContextVar`, so concurrent asyncio tasks and threads
each see their own conversation. The HTTP hooks in ``_hooks`` read and update the scope.
"""

from __future__ import annotations

import re
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

__all__ = ["Session", "current_session", "session", "session_id_of"]

_current: ContextVar[Session | None] = ContextVar("sequrity_openai_session", default=None)

# Tool call ids carry the session: "tc-" + 36-character session id + "-" + call id.
_TOOL_CALL_ID = re.compile(r"tc-([0-9A-Za-z-]{36})-.+", re.DOTALL)


class Session:
    """A conversation scope. Use ``with sq.session() as s:`` (or ``async with``).

    ``s.id`` is ``None`` until the first response names the session, then follows it
    (including a rotation by the server). Pass ``session_id=`` to resume a stored one.
    """

    __slots__ = ("_tokens", "id")

    def __init__(self, session_id: str | None = None) -> None:
        if session_id is not None:
            from .headers import check_header_value

            check_header_value(session_id, "session_id")
        self.id: str | None = session_id
        self._tokens: list[Token[Session | None]] = []

    def __enter__(self) -> Session:
        self._tokens.append(_current.set(self))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _current.reset(self._tokens.pop())

    async def __aenter__(self) -> Session:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"Session(id={self.id!r})"


def session(session_id: str | None = None) -> Session:
    """Open a conversation scope; calls made inside it share one Sequrity session."""
    return Session(session_id)


def current_session() -> Session | None:
    """The innermost active scope of this task or thread, if any."""
    return _current.get()


def _from_tool_call_id(value: str) -> str | None:
    match = _TOOL_CALL_ID.fullmatch(value)
    return match.group(1) if match else None


def _from_headers(headers: Any) -> str | None:
    try:
        value = headers.get("x-session-id")
    except Exception:
        return None
    return value if isinstance(value, str) and value else None


def session_id_of(obj: object) -> str | None:
    """The Sequrity session id carried by ``obj``, or ``None``.

    Accepts a tool call id string, a ChatCompletion or message (from its tool call ids),
    a Responses ``Response`` (from function call ids), a raw or streaming response, a
    ``Stream``, or a result of :func:`sequrity_openai.collect_stream` (from the header).
    """
    if isinstance(obj, str):
        return _from_tool_call_id(obj)
    direct = getattr(obj, "session_id", None)
    if isinstance(direct, str) and direct:
        return direct
    headers = getattr(obj, "headers", None)
    if headers is not None:
        found = _from_headers(headers)
        if found:
            return found
    response = getattr(obj, "response", None)
    if response is not None and getattr(response, "headers", None) is not None:
        found = _from_headers(response.headers)
        if found:
            return found
    for call_id in _tool_call_ids(obj):
        found = _from_tool_call_id(call_id)
        if found:
            return found
    return None


def _tool_call_ids(obj: object) -> list[str]:
    ids: list[str] = []
    messages: list[Any] = []
    choices = getattr(obj, "choices", None)
    if isinstance(choices, list):
        messages = [getattr(c, "message", None) for c in choices]
    elif hasattr(obj, "tool_calls"):
        messages = [obj]
    for message in messages:
        for call in getattr(message, "tool_calls", None) or []:
            call_id = getattr(call, "id", None)
            if isinstance(call_id, str):
                ids.append(call_id)
    for item in getattr(obj, "output", None) or []:
        call_id = getattr(item, "call_id", None)
        if isinstance(call_id, str):
            ids.append(call_id)
    return ids
