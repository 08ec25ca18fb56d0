"""FakeSequrity: a local stand-in of Sequrity Control on a real socket."""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import openai
from werkzeug.wrappers import Request, Response

from .._anthropic import create_anthropic_client, create_async_anthropic_client
from .._client import create_async_client, create_client
from .._headers import Config, Features, Policy
from . import _messages, _responses, _sse
from ._answer_rules import check_request, shape_answer
from ._checks import Checks
from ._policy_gen import generate_answer
from ._policy_rules import PolicySessions, check_policy_code
from ._request import Api, Arch, RecordedRequest
from ._route_table import (
    Rejection,
    authenticate,
    json_response,
    parse_body,
    parse_header,
    route_for,
    route_listing,
)
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
        client_options: Mapping[str, Any] | None = None,
        apply_policies: bool = True,
        accept_unknown_fields: bool = False,
    ) -> None:
        self.host = host
        self.api_key = api_key
        self.check_api_key = check_api_key
        self.log_requests = log_requests
        self.client_options = dict(client_options or {})
        #: Decide scripted tool calls with the request's X-Policy (see docs/testing.md).
        self.apply_policies = apply_policies
        # Header fields this release does not know (sent with unchecked=) are refused with a 422
        # like a typo, unless the test stands in for a newer service.
        self.accept_unknown_fields = accept_unknown_fields
        self.requests: list[RecordedRequest] = []
        self._port = port
        self._lock = threading.RLock()
        self._queue: deque[ScriptItem] = deque()
        self._sessions = SessionTable()
        self._policies = PolicySessions()
        self._catchers: list[list[RecordedRequest]] = []
        self._generation = 0
        self._server = None
        self._thread = None
        self._serving = False

    # ------------------------------------------------------------------ clients

    def client(self, **kwargs: Any) -> openai.OpenAI:
        """``sq.create_client(api_key=..., base_url=self.url, **client_options, **kwargs)``."""
        return create_client(**self._client_kwargs(kwargs))

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        """``sq.create_async_client(api_key=..., base_url=self.url, **client_options, **kwargs)``."""
        return create_async_client(**self._client_kwargs(kwargs))

    def _client_kwargs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return {"api_key": self.api_key, "base_url": self.url, **self.client_options, **kwargs}

    def anthropic_client(self, **kwargs: Any) -> Any:
        """``sq.create_anthropic_client(api_key=..., base_url=self.url, **kwargs)`` (needs anthropic)."""
        return create_anthropic_client(**{"api_key": self.api_key, "base_url": self.url, **kwargs})

    def async_anthropic_client(self, **kwargs: Any) -> Any:
        """``sq.create_async_anthropic_client(api_key=..., base_url=self.url, **kwargs)``."""
        return create_async_anthropic_client(**{"api_key": self.api_key, "base_url": self.url, **kwargs})

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget queued answers, recorded requests, sessions and rejections."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self._sessions.clear()
            self._policies.clear()
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

    def _error(self, item: ErrorAnswer, record: RecordedRequest, generation: int, delay: float) -> Response:
        record.status, record.answer = item.status, "error"
        record.detail = item.detail if isinstance(item.detail, str) else json.dumps(item.detail)
        self.record(record, generation)
        time.sleep(delay)
        return json_response(item.status, {"detail": item.detail}, item.headers)

    def _answer(self, request: Request, record: RecordedRequest, generation: int) -> Response:
        listing = {
            "/health": {"status": "ok"},
            "/control/health": {"status": "ok"},
            "/": {"service": "FakeSequrity"},
        }
        if request.path in listing or request.path == "/control/":
            if request.method not in ("GET", "HEAD"):
                raise Rejection(405, f"Method {request.method} not allowed on {request.path}")
            record.status = 200
            self.record(record, generation)
            return json_response(200, listing.get(request.path) or route_listing())
        route = route_for(request.path)
        if route is None:
            raise Rejection(
                404, f"Not Found: {request.method} {request.path} is not a Sequrity Control route"
            )
        record.endpoint_type, record.provider, record.api = route.endpoint_type, route.provider, route.api
        if request.method != "POST":
            raise Rejection(405, f"Method {request.method} not allowed on {request.path}; use POST")
        authenticate(
            request.headers.get("Authorization"), api_key=self.api_key, check_api_key=self.check_api_key
        )
        if route.api == "generate":
            record.body = parse_body(request.get_data(), "generate")
            with self._lock:
                delay, scripted = self.next_answer()
            if isinstance(scripted, ErrorAnswer):
                return self._error(scripted, record, generation, delay)
            text = scripted.text if isinstance(scripted, TextAnswer) else None
            payload = generate_answer(route.provider, record.body, scripted=text)
            record.status, record.answer = 200, "policies"
            self.record(record, generation)
            time.sleep(delay)
            return json_response(200, payload)
        api: Api = route.api
        record.features = parse_header(
            Features,
            "X-Features",
            request.headers.get("X-Features"),
            accept_unknown=self.accept_unknown_fields,
        )
        record.policy = parse_header(
            Policy, "X-Policy", request.headers.get("X-Policy"), accept_unknown=self.accept_unknown_fields
        )
        check_policy_code(record.policy)
        record.config = parse_header(
            Config, "X-Config", request.headers.get("X-Config"), accept_unknown=self.accept_unknown_fields
        )
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
            if not isinstance(item, ErrorAnswer):
                assert record.session_id is not None
                item = self._policies.apply(
                    item,
                    session_id=record.session_id,
                    api=api,
                    body=body,
                    policy=record.policy if self.apply_policies else None,
                    arch=arch,
                    config=record.config,
                    new_turn=new_turn and not record.new_session,
                    decisions=record.decisions,
                )

        if isinstance(item, ErrorAnswer):
            return self._error(item, record, generation, delay)

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
        if api == "messages":
            if body.get("stream") is True:
                headers["Cache-Control"] = "no-cache"
                events = _messages.message_events(reply, model=model)
                return Response(events, status=200, headers=headers, mimetype="text/event-stream")
            return json_response(200, _messages.message_object(reply, model=model), headers)
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
