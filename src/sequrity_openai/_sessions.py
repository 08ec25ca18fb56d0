"""Session scopes: one ``X-Session-ID`` per conversation, per task and per thread.

A scope lives in a :class:`contextvars.ContextVar`, so concurrent asyncio tasks and threads
each see their own conversation. The HTTP hooks in ``_hooks`` read and update the scope.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, Final

from ._headers import check_session_id

__all__ = ["Session", "current_session", "session", "session_id_of"]

#: The active scope of this task or thread (read and moved by the HTTP hooks).
current_scope: ContextVar[Session | None] = ContextVar("sequrity_openai_session", default=None)

# Tool call ids carry the session: "tc-" + 36-character session id + "-" + call id. Written once,
# used on ids (here) and on request bodies (TOOL_RESULT_IN_BODY, for the hooks).
_SESSION_IN_ID: Final = r"tc-([0-9A-Za-z-]{36})-"
_TOOL_CALL_ID = re.compile(_SESSION_IN_ID + ".+", re.DOTALL)
#: A tool result (chat), function call output (responses) or tool_result block (messages) in a
#: JSON body whose id carries a session.
TOOL_RESULT_IN_BODY: Final = re.compile(
    rb'"(?:tool_call_id|call_id|tool_use_id)"\s*:\s*"' + _SESSION_IN_ID.encode()
)


class Session:
    """A conversation scope. Use ``with sq.session() as s:`` (or ``async with``).

    ``s.id`` is ``None`` until the first response names the session, then follows it
    (including a rotation by the server). Pass ``session_id=`` to resume a stored one.
    """

    __slots__ = ("_tokens", "id")

    def __init__(self, session_id: str | None = None) -> None:
        if session_id is not None:
            check_session_id(session_id, "argument session_id")
        self.id: str | None = session_id
        self._tokens: list[Token[Session | None]] = []

    def __enter__(self) -> Session:
        self._tokens.append(current_scope.set(self))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # One Session object may be entered by several tasks or threads at once (a stored
        # conversation resumed from two places), so exits need not come in LIFO order: reset
        # the newest token that belongs to the current context. Only that context can reset
        # it, and list.append / list.remove are atomic, so no lock is needed.
        tokens = self._tokens
        for token in reversed(tokens.copy()):  # the newest first: usually this context's
            try:
                current_scope.reset(token)
            except ValueError:  # created in another task's or thread's context
                continue
            tokens.remove(token)
            return
        raise RuntimeError("sq.session() scope exited in a different context from the one that entered it")

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
    return current_scope.get()


def session_id_of_tool_call_id(value: str) -> str | None:
    match = _TOOL_CALL_ID.fullmatch(value)
    return match.group(1) if match else None


# The extra field on a message (or Responses message item, or stream delta) that keeps the
# service's content word for word when the value was put in ``content`` (see _presentation).
DOCUMENT_FIELD: Final = "sequrity_content"


def field_of(obj: object, name: str) -> Any:
    """``obj[name]`` for a mapping, else ``obj.name``; ``None`` when absent or unreadable."""
    try:
        return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
    except Exception:  # an exotic object whose attribute access fails carries no session
        return None


def _from_headers(headers: Any) -> str | None:
    try:
        value = headers.get("x-session-id")
    except Exception:
        return None
    return value if isinstance(value, str) and value else None


def session_id_of(obj: object) -> str | None:
    """The Sequrity session id carried by ``obj``, or ``None``.

    Accepts a tool call id string; a ChatCompletion, a message, a tool call or a tool message
    (objects or their dicts), or a list of messages (from tool call ids, newest first); a
    Responses ``Response`` (from function call ids); an Anthropic ``Message`` or message dict
    (from ``tool_use`` / ``tool_result`` block ids); a raw or streaming response, a ``Stream``,
    or a result of :func:`sequrity_openai.collect_stream` (from the header); a :class:`Session`.
    """
    if isinstance(obj, str):
        return session_id_of_tool_call_id(obj)
    if isinstance(obj, Session):
        return obj.id
    if isinstance(obj, (list, tuple)):
        for item in reversed(obj):
            found = session_id_of(item)
            if found:
                return found
        return None
    direct = field_of(obj, "session_id")
    if isinstance(direct, str) and direct:
        return direct
    headers = field_of(obj, "headers")
    if headers is not None:
        found = _from_headers(headers)
        if found:
            return found
    response = field_of(obj, "response")
    if response is not None:
        found = _from_headers(field_of(response, "headers"))
        if found:
            return found
    for call_id in _tool_call_ids(obj):
        found = session_id_of_tool_call_id(call_id)
        if found:
            return found
    return None


def _tool_call_ids(obj: object) -> list[str]:
    """Candidate ids in ``obj``, most recent first."""
    holders: list[Any] = [obj]
    choices = field_of(obj, "choices")
    if isinstance(choices, list):
        holders += [field_of(c, "message") for c in choices]
    output = field_of(obj, "output")
    if isinstance(output, list):
        holders += output
    content = field_of(obj, "content")  # Anthropic messages: tool_use and tool_result blocks
    if isinstance(content, list):
        holders += reversed(content)
    ids: list[str] = []
    for holder in holders:
        calls = field_of(holder, "tool_calls")
        for call in reversed(calls) if isinstance(calls, list) else ():
            ids.append(field_of(call, "id"))
        ids += [field_of(holder, name) for name in ("tool_call_id", "call_id", "tool_use_id", "id")]
    return [i for i in ids if isinstance(i, str)]
