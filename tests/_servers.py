"""A small threaded loopback server that follows Sequrity's session rules (PROTOCOL.md section 7).

It speaks just enough of ``POST .../chat/completions`` for the session and result tests:

- a request continues the session named by its ``X-Session-ID`` header, else the one carried by
  its tool results' ids (``tc-<36>-...``), else it starts a new session (a fresh uuid4);
- every answer carries ``X-Session-ID`` and a dual-llm JSON document whose value echoes the
  session, the per-session turn number and the last user text;
- directives in the last user message script the answer: ``[tool]`` asks for a tool call,
  ``[rotate]`` moves the conversation to a fresh id, ``[fail-once:KEY]`` answers 503 the first
  time KEY is seen, ``[status:NNN]`` always answers NNN with a ``{"detail": ...}`` body;
- ``stream: true`` answers server-sent ``chat.completion.chunk`` events ending with ``[DONE]``.

Every request is recorded (thread-safe) so tests can check which id each call carried.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

_TOOL_ID = re.compile(r"tc-([0-9A-Za-z-]{36})-.+")
_FAIL_ONCE = re.compile(r"\[fail-once:([^\]]+)\]")
_STATUS = re.compile(r"\[status:(\d{3})\]")


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    path: str
    sent_session: str | None  # the X-Session-ID header, if any
    session: str  # the session the server used for the answer ("" for error answers)
    how: str  # "header", "tool", "new" or "error"
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def user_text(self) -> str:
        return _last_user_text(self.body.get("messages") or [])


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _tool_session(messages: list[Any]) -> str | None:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "tool":
            match = _TOOL_ID.fullmatch(str(message.get("tool_call_id", "")))
            if match:
                return match.group(1)
    return None


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the clients' pools reuse connections

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _Server(ThreadedWSGIServer):
    # The concurrency tests open a few hundred connections at once.
    request_queue_size = 1024
    daemon_threads = True


class SessionServer:
    """Run with ``with SessionServer() as server:``; ``server.url`` is the service root."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.turns: Counter[str] = Counter()
        self._failed_once: set[str] = set()
        self._server = _Server("127.0.0.1", 0, self._app, handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True

    def __enter__(self) -> SessionServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def by_text(self, needle: str) -> list[Recorded]:
        """The recorded requests whose last user text contains ``needle``, in arrival order."""
        with self._lock:
            return [r for r in self.requests if needle in r.user_text]

    def _record(self, request: Request, body: dict[str, Any], session: str, how: str) -> None:
        with self._lock:
            self.requests.append(
                Recorded(
                    path=request.path,
                    sent_session=request.headers.get("X-Session-ID"),
                    session=session,
                    how=how,
                    body=body,
                    headers=dict(request.headers),
                )
            )

    def _app(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)  # type: ignore[no-any-return]

    def _handle(self, request: Request) -> Response:
        if request.method != "POST" or not request.path.endswith("/chat/completions"):
            return _error(404, f"no route {request.method} {request.path}")
        try:
            body = json.loads(request.get_data())
        except ValueError:
            return _error(400, "body is not JSON")
        messages = body.get("messages") or []
        text = _last_user_text(messages)
        status = _STATUS.search(text)
        if status:
            self._record(request, body, "", "error")
            return _error(int(status.group(1)), f"scripted failure for {text!r}")
        once = _FAIL_ONCE.search(text)
        if once:
            with self._lock:
                first = once.group(1) not in self._failed_once
                self._failed_once.add(once.group(1))
            if first:
                self._record(request, body, "", "error")
                return _error(503, "temporarily unavailable")
        sent = request.headers.get("X-Session-ID")
        last_is_tool = (
            bool(messages) and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"
        )
        if sent:
            session, how = sent, "header"
        elif (found := _tool_session(messages)) is not None:
            session, how = found, "tool"
        else:
            session, how = str(uuid.uuid4()), "new"
        if "[rotate]" in text and not last_is_tool:
            session = str(uuid.uuid4())
        with self._lock:
            self.turns[session] += 1
            turn = self.turns[session]
        self._record(request, body, session, how)
        wants_tool = "[tool]" in text and not last_is_tool
        tool_calls = (
            [
                {
                    "id": f"tc-{session}-{uuid.uuid4()}",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": json.dumps({"q": text})},
                }
            ]
            if wants_tool
            else None
        )
        content = None if wants_tool else _document(session, turn, text, how)
        if body.get("stream"):
            return Response(
                _sse(body.get("model", "m"), content, tool_calls),
                headers={"X-Session-ID": session, "Cache-Control": "no-cache"},
                mimetype="text/event-stream",
            )
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "m"),
            "choices": [
                {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return Response(
            json.dumps(completion), headers={"X-Session-ID": session}, mimetype="application/json"
        )


def _document(session: str, turn: int, text: str, how: str) -> str:
    return json.dumps(
        {
            "status": "success",
            "final_return_value": {
                "value": {"session": session, "turn": turn, "echo": text, "how": how},
                "meta": {"tags": [], "consumers": ["*"], "producers": []},
            },
            "program": None,
            "error": None,
        }
    )


def _error(status: int, detail: str) -> Response:
    # A tiny Retry-After keeps the SDK's retries (which honour it) fast in tests.
    return Response(
        json.dumps({"detail": detail}),
        status=status,
        headers={"retry-after-ms": "1"},
        mimetype="application/json",
    )


def _sse(model: str, content: str | None, tool_calls: list[dict[str, Any]] | None) -> Iterator[bytes]:
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
    }

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(chunk)}\n\n".encode()

    yield event({"role": "assistant", "content": ""})
    if content is not None:
        # Split mid-token so a collector that drops or reorders pieces shows up.
        for start in range(0, len(content), 7):
            yield event({"content": content[start : start + 7]})
    for index, call in enumerate(tool_calls or []):
        yield event(
            {
                "tool_calls": [
                    {"index": index, "id": call["id"], "type": "function", "function": {"name": "lookup"}}
                ]
            }
        )
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            yield event({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield event({}, "tool_calls" if tool_calls else "stop")
    yield b"data: [DONE]\n\n"
