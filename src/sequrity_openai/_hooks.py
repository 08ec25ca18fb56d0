"""HTTP event hooks: session scope in and out, server error detail into the stock exception.

The hooks are stateless functions (all they need is on the request, the response or the
session scope), so attaching them to a user's ``http_client`` twice, or sharing that client
between factories, is harmless. Sync and async twins differ only in how the body is read.
"""

from __future__ import annotations

import json
import re
from typing import Any

import openai

from ._routes import ROUTE_MARK
from ._sessions import current_scope
from ._settings import redact

# openai 3.x puts only body["message"] (or body["error"]["message"]) in str(exc); 2.x puts
# the whole body there, detail included, so adding a message would only repeat it.
_SDK_SHOWS_WHOLE_BODY = int(openai.__version__.split(".", 1)[0]) < 3
_SESSION_HEADER = "x-session-id"
_ROUTE_MARK = ROUTE_MARK.encode()
# A tool result (chat), function call output (responses) or tool_result block (Anthropic
# messages) whose id carries a session.
_TOOL_RESULT_ID = re.compile(rb'"(?:tool_call_id|call_id|tool_use_id)"\s*:\s*"tc-[0-9A-Za-z-]{36}-')


def _is_sequrity(request: Any) -> bool:
    return _ROUTE_MARK in request.url.raw_path


def _carries_session(request: Any) -> bool:
    try:
        body = request.content
    except Exception:  # a streaming upload body cannot be inspected; assume not
        return False
    return bool(body) and _TOOL_RESULT_ID.search(body) is not None


def starts_session(request: Any) -> bool:
    """True when ``request`` names no session: without a scope id it would open a new one."""
    return _SESSION_HEADER not in request.headers and _is_sequrity(request) and not _carries_session(request)


def on_request(request: Any) -> None:
    scope = current_scope.get()
    if scope is None or scope.id is None or _SESSION_HEADER in request.headers:
        return
    if not _is_sequrity(request) or _carries_session(request):
        return
    request.headers["X-Session-ID"] = scope.id


def _capture(response: Any) -> None:
    scope = current_scope.get()
    if scope is None or not _is_sequrity(response.request):
        return
    new_id = response.headers.get(_SESSION_HEADER)
    if not new_id:
        return
    sent = response.request.headers.get(_SESSION_HEADER)
    # A call that named its own session explicitly does not move the scope.
    if sent is not None and sent != scope.id:
        return
    scope.id = new_id


def _secrets(request: Any) -> list[str]:
    found = []
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        found.append(auth[7:].strip())
    provider_key = request.headers.get("x-api-key")
    if provider_key:
        found.append(provider_key)
    return found


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    return value


def _detail_text(detail: object) -> str | None:
    if isinstance(detail, str):
        return detail or None
    if isinstance(detail, list):
        # FastAPI validation errors: [{"loc": [...], "msg": "...", ...}, ...]
        parts = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts) or None
    if detail is None:
        return None
    return json.dumps(detail, ensure_ascii=False)


def surface_detail(response: Any) -> None:
    """Give the SDK a ``message`` to show, built from Sequrity's ``detail``; redact keys."""
    if not _is_sequrity(response.request):
        return
    try:
        body = json.loads(response.content)
    except Exception:
        return
    if not isinstance(body, dict):
        return
    shown = _redact(body, _secrets(response.request))
    target = shown["error"] if isinstance(shown.get("error"), dict) else shown
    message = target.get("message")
    if not _SDK_SHOWS_WHOLE_BODY and not (isinstance(message, str) and message):
        text = _detail_text(shown.get("detail"))
        if text is not None:
            target["message"] = text
    if shown != body:
        # The SDK reads the body again after the hooks; replacing the cached content is the
        # only way to change what it parses without touching the SDK.
        response._content = json.dumps(shown).encode()


def on_response(response: Any) -> None:
    if response.status_code >= 400:
        response.read()
        surface_detail(response)
    else:
        _capture(response)


async def aon_request(request: Any) -> None:
    on_request(request)


async def aon_response(response: Any) -> None:
    if response.status_code >= 400:
        await response.aread()
        surface_detail(response)
    else:
        _capture(response)


def attach(http_client: Any, *, is_async: bool) -> None:
    """Add the hooks to ``http_client`` once, keeping the user's own hooks."""
    hooks = http_client.event_hooks
    request_hook, response_hook = (aon_request, aon_response) if is_async else (on_request, on_response)
    if request_hook not in hooks["request"]:
        hooks["request"].append(request_hook)
    if response_hook not in hooks["response"]:
        hooks["response"].append(response_hook)
    http_client.event_hooks = hooks
