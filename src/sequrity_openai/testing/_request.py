"""A request as FakeSequrity sees it: the recorded request, and what is read from its body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .._headers import Config, Features, Policy
from .._routes import Provider, RouteEndpoint
from .._sessions import session_id_of_tool_call_id

if TYPE_CHECKING:
    from .._policies._checker import PolicyDecision

__all__ = [
    "Api",
    "Arch",
    "RecordedRequest",
    "carried_sessions",
    "input_items",
    "last_user_text",
    "starts_turn",
    "tool_results",
    "tools_that_ran",
]

# The APIs a conversation runs on (policy generation has no session and is answered apart).
Api = Literal["chat/completions", "responses", "messages"]
Arch = Literal["single-llm", "dual-llm"]


def input_items(body: Any, api: Api | Literal["generate"] | None = None) -> list[Mapping[str, Any]]:
    """The chat ``messages`` or Responses ``input`` items of a body; a bare string is one user message.

    Without ``api`` (a request the fake did not route), ``messages`` is read, else ``input``.
    """
    if not isinstance(body, Mapping):
        return []
    if api is None or api == "generate":
        raw = body.get("messages", body.get("input"))
    else:
        raw = body.get("input") if api == "responses" else body.get("messages")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list):
        return []
    return [item for item in raw if isinstance(item, Mapping)]


@dataclass
class RecordedRequest:
    """One request as FakeSequrity saw it. ``headers`` has lower-case names."""

    method: str
    path: str
    endpoint_type: RouteEndpoint | None = None
    provider: Provider | None = None
    api: Api | Literal["generate"] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    features: Features | None = None
    policy: Policy | None = None
    config: Config | None = None
    session_id: str | None = None
    sent_session_id: str | None = None
    status: int = 0
    # What the answer was: "text", "echo", "tool_calls", "denial", "error"; None when rejected.
    answer: str | None = None
    detail: str | None = None
    rejected: bool = False
    expected: bool = False
    new_session: bool = False
    arch: Arch | None = None
    #: The X-Policy decisions the fake took for the scripted tool calls of this answer.
    decisions: list[PolicyDecision] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        return self.headers.get(name.lower())

    @property
    def messages(self) -> list[Any]:
        """The chat ``messages`` (or Responses ``input`` items) of the body."""
        return list(input_items(self.body, self.api))

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            str(p.get("text", ""))
            for p in content
            if isinstance(p, Mapping) and p.get("type") in ("text", "input_text", "output_text")
        ]
        return "".join(parts)
    return ""


def _blocks(item: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    """The Anthropic content blocks of type ``kind`` in a message."""
    content = item.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, Mapping) and b.get("type") == kind]


def _is_tool_result(api: Api, item: Mapping[str, Any]) -> bool:
    if api == "chat/completions":
        return item.get("role") == "tool"
    if api == "messages":
        return item.get("role") == "user" and bool(_blocks(item, "tool_result"))
    return item.get("type") == "function_call_output"


def _result_ids(api: Api, item: Mapping[str, Any]) -> list[str]:
    if api == "messages":
        values = [b.get("tool_use_id") for b in _blocks(item, "tool_result")]
    else:
        values = [item.get("tool_call_id" if api == "chat/completions" else "call_id")]
    return [v if isinstance(v, str) else "" for v in values]


def last_user_text(api: Api, body: Mapping[str, Any]) -> str:
    for item in reversed(input_items(body, api)):
        if item.get("role") == "user" and not (api == "messages" and _is_tool_result(api, item)):
            return _text_of(item.get("content"))
    return ""


def carried_sessions(api: Api, body: Mapping[str, Any]) -> list[str]:
    """Session ids named by the tool results of the request, in order, without repeats."""
    found: list[str] = []
    for item in input_items(body, api):
        if _is_tool_result(api, item):
            for result_id in _result_ids(api, item):
                session_id = session_id_of_tool_call_id(result_id)
                if session_id and session_id not in found:
                    found.append(session_id)
    return found


def tool_results(api: Api, body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(tool call id, output text) of each tool result the request carries, in order."""
    found: list[tuple[str, str]] = []
    for item in input_items(body, api):
        if not _is_tool_result(api, item):
            continue
        if api == "messages":
            for block in _blocks(item, "tool_result"):
                call_id = block.get("tool_use_id")
                found.append((call_id if isinstance(call_id, str) else "", _text_of(block.get("content"))))
        else:
            key = "content" if api == "chat/completions" else "output"
            found.append((_result_ids(api, item)[0], _text_of(item.get(key))))
    return found


def starts_turn(api: Api, body: Mapping[str, Any]) -> bool:
    """A request starts a turn when it ends with a user message, not with a tool result."""
    items = input_items(body, api)
    if not items:
        return True
    last = items[-1]
    return not _is_tool_result(api, last) and last.get("role", "user") == "user"


def tools_that_ran(api: Api, body: Mapping[str, Any]) -> list[str]:
    """Names of the tools whose results the request carries (from the matching calls)."""
    names: dict[str, str] = {}
    items = input_items(body, api)
    for item in items:
        if api == "chat/completions":
            for call in item.get("tool_calls") or []:
                if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
                    names[str(call.get("id"))] = str(call["function"].get("name"))
        elif api == "messages":
            for block in _blocks(item, "tool_use"):
                names[str(block.get("id"))] = str(block.get("name"))
        elif item.get("type") == "function_call":
            names[str(item.get("call_id"))] = str(item.get("name"))
    ran: list[str] = []
    for item in items:
        if _is_tool_result(api, item):
            for result_id in _result_ids(api, item):
                name = names.get(result_id)
                if name and name not in ran:
                    ran.append(name)
    return ran
