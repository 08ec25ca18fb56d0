"""A small loopback server that follows Sequrity's session rules (PROTOCOL.md section 7).

It speaks just enough of ``POST .../chat/completions`` for the session and result tests:

- a request continues the session named by its ``X-Session-ID`` header, else the one carried by
  its tool results' ids (``tc-<36>-...``), else it starts a new session (a fresh uuid4);
- every answer carries ``X-Session-ID`` and a dual-llm JSON document whose value echoes the
  session, the per-session turn number, the last user text and how the session was found;
- directives in the last user message script the answer: ``[tool]`` asks for a tool call,
  ``[rotate]`` moves the conversation to a fresh id, ``[fail-once:KEY]`` answers 503 the first
  time KEY is seen, ``[status:NNN]`` always answers NNN with a ``{"detail": ...}`` body (and an
  ``X-Session-ID`` naming a fresh session);
- ``stream: true`` answers server-sent ``chat.completion.chunk`` events ending with ``[DONE]``.

Every request is recorded (thread-safe) so tests can check which id each call carried.

It is an asyncio HTTP/1.1 server with keep-alive on its own thread and event loop, rather than
a thread-per-connection WSGI server: the concurrency tests send several hundred requests at
once and must stay fast in the normal test run.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any

_TOOL_ID = re.compile(r"tc-([0-9A-Za-z-]{36})-.+")
_FAIL_ONCE = re.compile(r"\[fail-once:([^\]]+)\]")
_STATUS = re.compile(r"\[status:(\d{3})\]")


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it (header names in lower case)."""

    path: str
    sent_session: str | None  # the X-Session-ID header, if any
    session: str  # the session the server used for the answer ("" for error answers)
    how: str  # "header", "tool", "new" or "error"
    body: dict[str, Any]
    headers: dict[str, str]
    user_text: str


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes | list[bytes]  # a list is sent chunk by chunk (server-sent events)


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


class SessionServer:
    """Run with ``with SessionServer() as server:``; ``server.url`` is the service root."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.turns: Counter[str] = Counter()
        self._failed_once: set[str] = set()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.url = ""

    def __enter__(self) -> SessionServer:
        self._thread.start()
        if not self._ready.wait(10) or self._server is None:
            raise RuntimeError("test server did not start")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def by_text(self, needle: str) -> list[Recorded]:
        """The recorded requests whose last user text contains ``needle``, in arrival order."""
        with self._lock:
            return [r for r in self.requests if needle in r.user_text]

    # -- transport -----------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=2048)
            )
            self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        finally:
            self._ready.set()
        self._loop.run_forever()
        self._server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, target, _ = head[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in head[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                answer = self._handle(method, target.split("?", 1)[0], headers, body)
                await self._send(writer, answer)
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, answer: _Answer) -> None:
        reason = HTTPStatus(answer.status).phrase
        lines = [f"HTTP/1.1 {answer.status} {reason}"]
        lines += [f"{name}: {value}" for name, value in answer.headers.items()]
        if isinstance(answer.body, bytes):
            lines.append(f"Content-Length: {len(answer.body)}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer.body)
            await writer.drain()
            return
        lines.append("Transfer-Encoding: chunked")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        for chunk in answer.body:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()  # really streamed: the client sees the headers before the body
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    # -- behaviour -----------------------------------------------------------------------------

    def _record(
        self, path: str, headers: dict[str, str], body: dict[str, Any], session: str, how: str
    ) -> None:
        recorded = Recorded(
            path=path,
            sent_session=headers.get("x-session-id"),
            session=session,
            how=how,
            body=body,
            headers=headers,
            user_text=_last_user_text(body.get("messages") or []),
        )
        with self._lock:
            self.requests.append(recorded)

    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> _Answer:
        if method != "POST" or not path.endswith("/chat/completions"):
            return _error(404, f"no route {method} {path}")
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "body is not JSON")
        messages = body.get("messages") or []
        text = _last_user_text(messages)
        status = _STATUS.search(text)
        if status:
            self._record(path, headers, body, "", "error")
            # Errors name a session too, one the client must not adopt.
            answer = _error(int(status.group(1)), f"scripted failure for {text!r}")
            answer.headers["X-Session-ID"] = str(uuid.uuid4())
            return answer
        once = _FAIL_ONCE.search(text)
        if once:
            with self._lock:
                first = once.group(1) not in self._failed_once
                self._failed_once.add(once.group(1))
            if first:
                self._record(path, headers, body, "", "error")
                return _error(503, "temporarily unavailable")
        sent = headers.get("x-session-id")
        last = messages[-1] if messages else None
        last_is_tool = isinstance(last, dict) and last.get("role") == "tool"
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
        self._record(path, headers, body, session, how)
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
        model = str(body.get("model", "m"))
        if body.get("stream"):
            return _Answer(
                200,
                {"X-Session-ID": session, "Content-Type": "text/event-stream"},
                list(_sse(model, content, tool_calls)),
            )
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return _Answer(
            200,
            {"X-Session-ID": session, "Content-Type": "application/json"},
            json.dumps(completion).encode(),
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


def _error(status: int, detail: str) -> _Answer:
    # A tiny Retry-After keeps the SDK's retries (which honour it) fast in tests.
    return _Answer(
        status,
        {"Content-Type": "application/json", "retry-after-ms": "1"},
        json.dumps({"detail": detail}).encode(),
    )


def _sse(model: str, content: str | None, tool_calls: list[dict[str, Any]] | None) -> list[bytes]:
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": 0}

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {**base, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(chunk)}\n\n".encode()

    events = [event({"role": "assistant", "content": ""})]
    if content is not None:
        # Split mid-token so a collector that drops or reorders pieces shows up.
        events += [event({"content": content[i : i + 7]}) for i in range(0, len(content), 7)]
    for index, call in enumerate(tool_calls or []):
        head = {"index": index, "id": call["id"], "type": "function", "function": {"name": "lookup"}}
        events.append(event({"tool_calls": [head]}))
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            events.append(event({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    events.append(event({}, "tool_calls" if tool_calls else "stop"))
    events.append(b"data: [DONE]\n\n")
    return events
