"""FakeSequrity: a local stand-in of Sequrity Control on a real socket."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, TypeVar

import openai
from pydantic import ValidationError
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from .._client import create_async_client, create_client
from .._headers import Config, Features, Policy, _describe, _HeaderModel
from .._routes import ENDPOINT_TYPES, PROVIDERS, EndpointType, Provider
from . import _responses, _sse
from ._responses import Api, Arch
from ._script import Delay, DenialAnswer, ErrorAnswer, ScriptItem, TextAnswer, ToolCall, ToolCallAnswer

__all__ = ["FakeSequrity", "RecordedRequest"]

_M = TypeVar("_M", bound=_HeaderModel)

_ROUTE: Final = re.compile(
    rf"/control/(?P<endpoint_type>{'|'.join(map(re.escape, ENDPOINT_TYPES))})"
    rf"(?:/(?P<provider>{'|'.join(map(re.escape, PROVIDERS))}))?"
    r"/v1/(?P<api>chat/completions|responses)"
)
# Many clients may connect at once (load tests); a small listen backlog would drop them.
_BACKLOG: Final = 1024
DEFAULT_MAX_TURNS: Final[Mapping[Arch, int]] = {"single-llm": 50, "dual-llm": 5}
_UNSET: Final = object()


@dataclass
class RecordedRequest:
    """One request as FakeSequrity saw it. ``headers`` has lower-case names."""

    method: str
    path: str
    endpoint_type: EndpointType | None = None
    provider: Provider | None = None
    api: Api | None = None
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

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        return self.headers.get(name.lower())

    @property
    def messages(self) -> list[Any]:
        """The chat ``messages`` (or Responses ``input`` items) of the body."""
        if not isinstance(self.body, dict):
            return []
        raw = self.body.get("messages", self.body.get("input"))
        if isinstance(raw, str):
            return [{"role": "user", "content": raw}]
        return raw if isinstance(raw, list) else []

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True


@dataclass
class _SessionState:
    max_turns: int
    turns: int = 1


class _Reject(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class _Handler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if getattr(self.server, "log_requests", False):
            super().log_request(code, size)


class _Server(ThreadedWSGIServer):
    log_requests = False


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status=status,
        headers=dict(headers or {}),
        mimetype="application/json",
    )


def _describe_item(item: ScriptItem) -> str:
    if isinstance(item, TextAnswer):
        return f"text {item.text!r}"
    if isinstance(item, ToolCallAnswer):
        return "tool call " + ", ".join(c.name for c in item.calls)
    if isinstance(item, DenialAnswer):
        return f"denial of {item.tool}"
    if isinstance(item, ErrorAnswer):
        return f"error {item.status}"
    return f"delay {item.seconds}s"


def _parse_header(model: type[_M], name: str, raw: str | None) -> _M | None:
    if raw is None:
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _Reject(422, f"{name}: {_describe(exc)}") from None


class FakeSequrity:
    """A local Sequrity Control for tests: real HTTP on 127.0.0.1, scripted answers, recorded requests.

    Use ``with FakeSequrity() as fake: client = fake.client()``. Queue answers with
    ``queue_text`` / ``queue_tool_call`` / ``queue_denial`` / ``queue_error`` / ``queue_delay``;
    unscripted requests get ``"echo: <last user message>"``. ``check()`` fails when a queued
    answer was never used or a request was rejected unexpectedly.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str = "sq-test-key",
        check_api_key: bool = False,
        log_requests: bool = False,
    ) -> None:
        self.host = host
        self.api_key = api_key
        self.check_api_key = check_api_key
        self.log_requests = log_requests
        self.requests: list[RecordedRequest] = []
        self._port = port
        self._lock = threading.RLock()
        self._queue: deque[ScriptItem] = deque()
        self._sessions: dict[str, _SessionState] = {}
        self._catchers: list[list[RecordedRequest]] = []
        # Requests still in flight when reset() runs belong to the previous test; drop their records.
        self._generation = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._serving = False

    # ------------------------------------------------------------------ lifecycle

    def _bind(self) -> _Server:
        if self._server is None:
            # Bind here rather than in werkzeug, which answers a busy port with sys.exit(1).
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            listener = socket.create_server((self.host, self._port), family=family, backlog=_BACKLOG)
            try:
                port = listener.getsockname()[1]
                server = _Server(self.host, port, self._wsgi, handler=_Handler, fd=listener.fileno())
            finally:
                listener.close()  # the server holds its own duplicate of the socket
            server.log_requests = self.log_requests
            self._server = server
        return self._server

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSequrity is not started; call start() or use it as a context manager")
        return int(self._server.port)

    @property
    def url(self) -> str:
        """The service root, e.g. ``http://127.0.0.1:54321`` (what ``base_url=`` takes)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def environ(self) -> dict[str, str]:
        """``SEQURITY_API_KEY`` and ``SEQURITY_BASE_URL`` pointing at this server."""
        return {"SEQURITY_API_KEY": self.api_key, "SEQURITY_BASE_URL": self.url}

    @property
    def running(self) -> bool:
        """True while a background thread started by ``start()`` serves."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FakeSequrity:
        """Bind the socket and serve in a background thread. Idempotent."""
        with self._lock:
            if self._serving:
                return self
            server = self._bind()
            self._serving = True
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"FakeSequrity:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (also a ``serve_forever`` running in another thread) and close the socket."""
        with self._lock:
            server, thread, serving = self._server, self._thread, self._serving
            self._server = self._thread = None
            self._serving = False
        if server is None:
            return
        if serving:
            server.shutdown()
        if thread is not None:
            thread.join()
        server.server_close()

    def serve_forever(self, *, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in the foreground until Ctrl-C or ``stop()`` (for ``sequrity-openai fake-server``).

        ``on_ready`` is called with the URL once the socket listens.
        """
        if self.running:
            thread = self._thread
            if on_ready is not None:
                on_ready(self.url)
            try:
                while thread is not None and thread.is_alive():
                    thread.join(0.1)
            except KeyboardInterrupt:
                pass
            finally:
                self.stop()
            return
        with self._lock:
            server = self._bind()
            self._serving = True
        if on_ready is not None:
            on_ready(self.url)
        try:
            server.serve_forever(poll_interval=0.05)  # returns on Ctrl-C as well
        finally:
            self.stop()

    def __enter__(self) -> FakeSequrity:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"FakeSequrity({where})"

    # ------------------------------------------------------------------ clients

    def client(self, **kwargs: Any) -> openai.OpenAI:
        """``sq.create_client(api_key=..., base_url=self.url, **kwargs)``."""
        return create_client(**{"api_key": self.api_key, "base_url": self.url, **kwargs})

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        """``sq.create_async_client(api_key=..., base_url=self.url, **kwargs)``."""
        return create_async_client(**{"api_key": self.api_key, "base_url": self.url, **kwargs})

    # ------------------------------------------------------------------ scripting

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
        self.queue_tool_calls([ToolCall(name, _arguments(arguments), call_id)])

    def queue_tool_calls(self, calls: Iterable[ToolCall | tuple[str, Mapping[str, Any] | str]]) -> None:
        """One assistant message asking for several tools at once."""
        built = tuple(c if isinstance(c, ToolCall) else ToolCall(c[0], _arguments(c[1])) for c in calls)
        if not built:
            raise ValueError("queue_tool_calls() needs at least one call")
        self.queue(ToolCallAnswer(built))

    def queue_denial(self, message: str | None = None, *, tool: str = "send_email") -> None:
        """A dual-llm failure document saying a policy denied ``tool``."""
        self.queue(DenialAnswer(message or _responses.default_denial(tool), tool))

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

    # ------------------------------------------------------------------ state and checks

    def reset(self) -> None:
        """Forget queued answers, recorded requests, sessions and rejections."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self._sessions.clear()
            self._generation += 1

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self.requests[-1] if self.requests else None

    @property
    def api_requests(self) -> list[RecordedRequest]:
        """Requests to chat completions or responses (not ``/health`` or unknown paths)."""
        with self._lock:
            return [r for r in self.requests if r.api is not None]

    @property
    def sessions(self) -> dict[str, int]:
        """Live sessions and how many turns each has used."""
        with self._lock:
            return {sid: state.turns for sid, state in self._sessions.items()}

    def check(self) -> None:
        """``AssertionError`` if a scripted answer was never used or a request was rejected unexpectedly."""
        with self._lock:
            pending = list(self._queue)
            rejected = [r for r in self.requests if r.rejected and not r.expected]
        problems = []
        if pending:
            items = ", ".join(_describe_item(i) for i in pending)
            problems.append(f"{len(pending)} scripted answer(s) never consumed: {items}")
        problems.extend(
            f"unexpected rejection: {r.method} {r.path} -> {r.status}: {r.detail}"
            " (wrap the call in fake.expect_rejection() if it is meant to fail)"
            for r in rejected
        )
        if problems:
            raise AssertionError("FakeSequrity.check() failed:\n  - " + "\n  - ".join(problems))

    @contextlib.contextmanager
    def expect_rejection(self, *, at_least: int = 1) -> Iterator[list[RecordedRequest]]:
        """Requests rejected inside the block are expected; yields the list of them.

        Fails at the end of the block if fewer than ``at_least`` requests were rejected.
        """
        caught: list[RecordedRequest] = []
        with self._lock:
            self._catchers.append(caught)
        try:
            yield caught
        finally:
            with self._lock:
                self._catchers.remove(caught)
        if len(caught) < at_least:
            raise AssertionError(f"expected at least {at_least} rejected request(s), got {len(caught)}")

    # ------------------------------------------------------------------ assertion helpers

    def _pick(self, request: RecordedRequest | None) -> RecordedRequest:
        chosen = request or self.last_request
        if chosen is None:
            raise AssertionError("FakeSequrity received no request")
        return chosen

    def assert_request_count(self, count: int, *, api: Api | None = None) -> None:
        """Exactly ``count`` requests arrived (only to ``api`` if given, e.g. ``"chat/completions"``)."""
        with self._lock:
            seen = [r for r in self.requests if api is None or r.api == api]
        if len(seen) != count:
            paths = ", ".join(f"{r.method} {r.path} -> {r.status}" for r in seen) or "none"
            raise AssertionError(f"expected {count} request(s), got {len(seen)}: {paths}")

    def assert_header(
        self, name: str, value: str | None = None, *, request: RecordedRequest | None = None
    ) -> None:
        """The last (or given) request carried header ``name`` (with ``value`` if given)."""
        rec = self._pick(request)
        got = rec.header(name)
        if got is None:
            raise AssertionError(f"{rec.method} {rec.path} carried no {name} header")
        if value is not None and got != value:
            raise AssertionError(f"{name}: expected {value!r}, got {got!r}")

    def assert_no_header(self, name: str, *, request: RecordedRequest | None = None) -> None:
        """The last (or given) request did not carry header ``name``."""
        rec = self._pick(request)
        if rec.header(name) is not None:
            raise AssertionError(f"{rec.method} {rec.path} carried {name}: {rec.header(name)!r}")

    def assert_new_session(self, request: RecordedRequest | None = None) -> str:
        """The last (or given) request started a session; returns its id."""
        rec = self._pick(request)
        if not rec.new_session or rec.session_id is None:
            raise AssertionError(f"expected a new session, request continued {rec.session_id!r}")
        return rec.session_id

    def assert_session_continued(
        self, session_id: str | None = None, *, request: RecordedRequest | None = None
    ) -> str:
        """The last (or given) request continued a session (``session_id`` if given); returns its id."""
        rec = self._pick(request)
        if rec.new_session or rec.session_id is None:
            raise AssertionError(
                f"expected a continued session, got new={rec.new_session} id={rec.session_id!r}"
            )
        if session_id is not None and rec.session_id != session_id:
            raise AssertionError(f"expected session {session_id!r}, request continued {rec.session_id!r}")
        return rec.session_id

    # ------------------------------------------------------------------ serving

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        response = self._handle(Request(environ))
        return response(environ, start_response)

    def _append(self, record: RecordedRequest, generation: int) -> None:
        with self._lock:
            if record.rejected and self._catchers:
                record.expected = True
                for caught in self._catchers:
                    caught.append(record)
            if generation == self._generation:
                self.requests.append(record)

    def _handle(self, request: Request) -> Response:
        with self._lock:
            generation = self._generation
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            sent_session_id=request.headers.get("X-Session-ID"),
        )
        try:
            return self._answer(request, record, generation)
        except _Reject as reject:
            record.status, record.detail, record.rejected = reject.status, reject.detail, True
            self._append(record, generation)
            return _json(reject.status, {"detail": reject.detail})
        except Exception as exc:  # a bug in the fake must show up, not hang the client
            traceback.print_exc(file=sys.stderr)
            record.status, record.rejected = 500, True
            record.detail = f"FakeSequrity internal error: {type(exc).__name__}: {exc}"
            self._append(record, generation)
            return _json(500, {"detail": record.detail})

    def _answer(self, request: Request, record: RecordedRequest, generation: int) -> Response:
        if request.path in ("/health", "/"):
            if request.method not in ("GET", "HEAD"):
                raise _Reject(405, f"Method {request.method} not allowed on {request.path}")
            record.status = 200
            self._append(record, generation)
            return _json(200, {"status": "ok"} if request.path == "/health" else {"service": "FakeSequrity"})
        match = _ROUTE.fullmatch(request.path)
        if match is None:
            raise _Reject(404, f"Not Found: {request.method} {request.path} is not a Sequrity Control route")
        record.endpoint_type = match["endpoint_type"]  # type: ignore[assignment]
        record.provider = match["provider"]  # type: ignore[assignment]
        api: Api = match["api"]  # type: ignore[assignment]
        record.api = api
        if request.method != "POST":
            raise _Reject(405, f"Method {request.method} not allowed on {request.path}; use POST")
        self._authenticate(request.headers.get("Authorization"))
        record.features = _parse_header(Features, "X-Features", request.headers.get("X-Features"))
        record.policy = _parse_header(Policy, "X-Policy", request.headers.get("X-Policy"))
        record.config = _parse_header(Config, "X-Config", request.headers.get("X-Config"))
        body = self._parse_body(request.get_data(), api)
        record.body = body
        arch: Arch = (
            "dual-llm" if record.features and record.features.agent_arch == "dual-llm" else "single-llm"
        )
        record.arch = arch

        with self._lock:
            existing, new_turn = self._resolve_session(api, body, record.sent_session_id)
            delay = 0.0
            while self._queue and isinstance(head := self._queue[0], Delay):
                self._queue.popleft()
                delay += head.seconds
            item = self._queue.popleft() if self._queue else None
            if isinstance(item, ErrorAnswer):
                record.session_id = existing
            elif existing is None:
                record.session_id = str(uuid.uuid4())
                record.new_session = True
                fsm = record.config.fsm if record.config else None
                max_turns = fsm.max_n_turns if fsm and fsm.max_n_turns else DEFAULT_MAX_TURNS[arch]
                self._sessions[record.session_id] = _SessionState(max_turns=max_turns)
            else:
                record.session_id = existing
                if new_turn:
                    self._sessions[existing].turns += 1
        assert not isinstance(item, Delay)

        if isinstance(item, ErrorAnswer):
            record.status, record.answer = item.status, "error"
            record.detail = item.detail if isinstance(item.detail, str) else json.dumps(item.detail)
            self._append(record, generation)
            time.sleep(delay)
            return _json(item.status, {"detail": item.detail}, item.headers)

        assert record.session_id is not None
        reply = _responses.make_reply(
            item, api=api, body=body, arch=arch, config=record.config, session_id=record.session_id
        )
        record.status = 200
        record.answer = {
            TextAnswer: "text",
            ToolCallAnswer: "tool_calls",
            DenialAnswer: "denial",
            type(None): "echo",
        }[type(item)]
        self._append(record, generation)
        time.sleep(delay)
        headers = {"X-Session-ID": record.session_id}
        model = str(body["model"])
        if body.get("stream") is True:
            if api == "chat/completions":
                options = body.get("stream_options")
                include_usage = isinstance(options, dict) and options.get("include_usage") is True
                events = _sse.chat_chunks(reply, model=model, include_usage=include_usage)
            else:
                events = _sse.response_events(reply, model=model, body=body)
            headers["Cache-Control"] = "no-cache"
            return Response(events, status=200, headers=headers, mimetype="text/event-stream")
        if api == "chat/completions":
            return _json(200, _responses.chat_completion(reply, model=model), headers)
        payload = _responses.response_object(
            reply,
            response_id=_responses.new_id("resp_"),
            item_ids=_responses.response_item_ids(reply),
            model=model,
            body=body,
        )
        return _json(200, payload, headers)

    def _authenticate(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Reject(
                401, "Missing or empty bearer token: send 'Authorization: Bearer <Sequrity API key>'"
            )
        if self.check_api_key and token.strip() != self.api_key:
            raise _Reject(401, "Invalid Sequrity API key")

    @staticmethod
    def _parse_body(raw: bytes, api: Api) -> dict[str, Any]:
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise _Reject(422, f"body: invalid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _Reject(422, "body: expected a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model.strip():
            raise _Reject(422, "body.model: a non-empty model id is required")
        if api == "chat/completions" and not isinstance(body.get("messages"), list):
            raise _Reject(422, "body.messages: a list of messages is required")
        return body

    def _resolve_session(
        self, api: Api, body: Mapping[str, Any], sent: str | None
    ) -> tuple[str | None, bool]:
        """The session a request continues (``None``: a new one) and whether it starts a turn."""
        carried = _responses.carried_sessions(api, body)
        if sent is not None:
            if sent not in self._sessions:
                raise _Reject(
                    400, f"unknown session {sent!r} in X-Session-ID (expired, reset or never created)"
                )
            others = [c for c in carried if c != sent]
            if others:
                raise _Reject(
                    400, f"X-Session-ID names session {sent!r} but tool results carry session {others[0]!r}"
                )
            existing = sent
        elif carried:
            if len(carried) > 1:
                raise _Reject(400, f"tool results carry several sessions: {', '.join(carried)}")
            existing = carried[0]
            if existing not in self._sessions:
                raise _Reject(
                    400, f"unknown session {existing!r} in tool call ids (expired, reset or never created)"
                )
        else:
            return None, True
        new_turn = _responses.starts_turn(api, body)
        state = self._sessions[existing]
        if new_turn and state.turns >= state.max_turns:
            raise _Reject(
                400,
                f"session {existing!r} has used all {state.max_turns} turns (fsm.max_n_turns); "
                "start a new session without X-Session-ID",
            )
        return existing, new_turn


def _arguments(arguments: Mapping[str, Any] | str) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(dict(arguments), ensure_ascii=False)
