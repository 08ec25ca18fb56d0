"""FakeSequrity: a local stand-in of Sequrity Control on a real socket."""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable
from typing import Any

import openai
from werkzeug.wrappers import Request, Response

from .._client import create_async_client, create_client
from .._headers import Config, Features, Policy
from . import _responses, _sse
from ._answer_rules import check_request, shape_answer
from ._checks import Checks
from ._request import Api, Arch, RecordedRequest
from ._route_table import ROUTE, Rejection, authenticate, json_response, parse_body, parse_header
from ._script import DenialAnswer, ErrorAnswer, Scripting, ScriptItem, TextAnswer, ToolCallAnswer
from ._server import Lifecycle
from ._session_rules import SessionTable

__all__ = ["FakeSequrity", "RecordedRequest"]


class FakeSequrity(Scripting, Checks, Lifecycle):
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
        self._sessions = SessionTable()
        self._catchers: list[list[RecordedRequest]] = []
        self._generation = 0
        self._server = None
        self._thread = None
        self._serving = False

    # ------------------------------------------------------------------ clients

    def client(self, **kwargs: Any) -> openai.OpenAI:
        """``sq.create_client(api_key=..., base_url=self.url, **kwargs)``."""
        return create_client(**{"api_key": self.api_key, "base_url": self.url, **kwargs})

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        """``sq.create_async_client(api_key=..., base_url=self.url, **kwargs)``."""
        return create_async_client(**{"api_key": self.api_key, "base_url": self.url, **kwargs})

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget queued answers, recorded requests, sessions and rejections."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self._sessions.clear()
            self._generation += 1

    @property
    def sessions(self) -> dict[str, int]:
        """Live sessions and how many turns each has used."""
        with self._lock:
            return self._sessions.turns()

    # ------------------------------------------------------------------ serving

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        response = self._handle(Request(environ))
        return response(environ, start_response)

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
        except Rejection as reject:
            record.status, record.detail, record.rejected = reject.status, reject.detail, True
            self.record(record, generation)
            return json_response(reject.status, {"detail": reject.detail})
        except Exception as exc:  # a bug in the fake must show up, not hang the client
            traceback.print_exc(file=sys.stderr)
            record.status, record.rejected = 500, True
            record.detail = f"FakeSequrity internal error: {type(exc).__name__}: {exc}"
            self.record(record, generation)
            return json_response(500, {"detail": record.detail})

    def _answer(self, request: Request, record: RecordedRequest, generation: int) -> Response:
        if request.path in ("/health", "/"):
            if request.method not in ("GET", "HEAD"):
                raise Rejection(405, f"Method {request.method} not allowed on {request.path}")
            record.status = 200
            self.record(record, generation)
            payload = {"status": "ok"} if request.path == "/health" else {"service": "FakeSequrity"}
            return json_response(200, payload)
        match = ROUTE.fullmatch(request.path)
        if match is None:
            raise Rejection(
                404, f"Not Found: {request.method} {request.path} is not a Sequrity Control route"
            )
        record.endpoint_type = match["endpoint_type"]  # type: ignore[assignment]
        record.provider = match["provider"]  # type: ignore[assignment]
        api: Api = match["api"]  # type: ignore[assignment]
        record.api = api
        if request.method != "POST":
            raise Rejection(405, f"Method {request.method} not allowed on {request.path}; use POST")
        authenticate(
            request.headers.get("Authorization"), api_key=self.api_key, check_api_key=self.check_api_key
        )
        record.features = parse_header(Features, "X-Features", request.headers.get("X-Features"))
        record.policy = parse_header(Policy, "X-Policy", request.headers.get("X-Policy"))
        record.config = parse_header(Config, "X-Config", request.headers.get("X-Config"))
        body = parse_body(request.get_data(), api)
        record.body = body
        arch: Arch = (
            "dual-llm" if record.features and record.features.agent_arch == "dual-llm" else "single-llm"
        )
        record.arch = arch
        check_request(api, body)

        with self._lock:
            existing, new_turn = self._sessions.resolve(api, body, record.sent_session_id)
            delay, item = self.next_answer()
            if not isinstance(item, ErrorAnswer):
                scripted = item
                item = shape_answer(item, api, body, dual=arch == "dual-llm")
                record.answer = "echo" if scripted is None else None
            if isinstance(item, ErrorAnswer):
                record.session_id = existing
            elif existing is None:
                record.session_id = self._sessions.open(arch, record.config)
                record.new_session = True
            else:
                record.session_id = existing
                if new_turn:
                    self._sessions.count_turn(existing)

        if isinstance(item, ErrorAnswer):
            record.status, record.answer = item.status, "error"
            record.detail = item.detail if isinstance(item.detail, str) else json.dumps(item.detail)
            self.record(record, generation)
            time.sleep(delay)
            return json_response(item.status, {"detail": item.detail}, item.headers)

        assert record.session_id is not None
        reply = _responses.make_reply(
            item, api=api, body=body, arch=arch, config=record.config, session_id=record.session_id
        )
        record.status = 200
        record.answer = (
            record.answer
            or {
                TextAnswer: "text",
                ToolCallAnswer: "tool_calls",
                DenialAnswer: "denial",
                type(None): "echo",
            }[type(item)]
        )
        self.record(record, generation)
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
            return json_response(200, _responses.chat_completion(reply, model=model), headers)
        payload = _responses.response_object(
            reply,
            response_id=_responses.new_id("resp_"),
            item_ids=_responses.response_item_ids(reply),
            model=model,
            body=body,
        )
        return json_response(200, payload, headers)
