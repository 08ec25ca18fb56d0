"""Faults over real sockets: the adapter fails exactly like the stock SDK, only clearer and safer.

Each fault is played twice by a raw loopback server, once against a stock ``openai.OpenAI``
pointed at the same route with the Sequrity headers set by hand, once against
``sq.create_client``. Both must raise the same exception class after the same number of
attempts; the adapter's message must carry Sequrity's ``detail``, never a key, and a failed
call must not move the ``sq.session()`` scope.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import socket
import socketserver
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest

import sequrity_openai as sq

KEY = "sq-fault-secret-0123456789abcdef"
LLM_KEY = "sk-provider-fault-secret-fedcba9876543210"
FEATURES = sq.Features.dual_llm()
POLICY = sq.Policy.dual_llm(codes='tool "send_email" { hard deny when not to.value in {"a@b.c"}; }')
CONFIG = sq.Config.dual_llm(max_n_turns=3)
MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]
OLD_ID = str(uuid.uuid4())
ERROR_ID = str(uuid.uuid4())
NEW_ID = str(uuid.uuid4())
# openai 3.x shows only a "message" field in str(exc), 2.x the whole body: only under 3.x
# does the adapter have to add Sequrity's "detail" for it to be seen.
SDK_HIDES_DETAIL = int(openai.__version__.split(".", 1)[0]) >= 3
# A stream that breaks after its first bytes: openai 3.x raises APIConnectionError, 2.x lets
# the HTTP library's own error through (httpx2 / httpx, whichever the SDK is built on).
_HTTP = importlib.import_module(openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])
BROKEN_STREAM = (openai.APIConnectionError, _HTTP.TransportError)
# The SDK honours Retry-After (seconds, floats allowed) up to 60 s; 10 ms keeps the file fast.
FAST_RETRY = {"Retry-After": "0.01"}


# --------------------------------------------------------------------------- a scripted raw server


@dataclass
class Seen:
    """One request as the server read it (header names in lower case)."""

    path: str
    headers: dict[str, str]
    body: bytes


Action = Callable[[socket.socket, Seen], bool]  # returns whether to keep the connection open


@dataclass
class RawServer:
    """Threaded HTTP/1.1 server on 127.0.0.1 whose n-th request runs the n-th scripted action.

    The last action repeats once the script runs out. ``release`` ends stalled handlers.
    """

    actions: list[Action] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    max_head: int = 64 * 1024

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner._serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        self.root = f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, *actions: Action) -> None:
        with self._lock:
            self.actions = list(actions)
            self.seen = []

    @property
    def attempts(self) -> int:
        return len(self.seen)

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, conn: socket.socket) -> None:
        stream = conn.makefile("rb")
        try:
            while True:
                request_line = stream.readline(self.max_head)
                if not request_line:
                    return
                headers: dict[str, str] = {}
                while True:
                    line = stream.readline(self.max_head)
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = stream.read(int(headers.get("content-length", "0")))
                seen = Seen(request_line.split()[1].decode(), headers, body)
                with self._lock:
                    self.seen.append(seen)
                    action = self.actions[min(len(self.seen), len(self.actions)) - 1]
                if not action(conn, seen):
                    return
        except OSError:
            return
        finally:
            stream.close()
            with contextlib.suppress(OSError):
                conn.close()


def _completion(content: str = "Paris") -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-fault",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "openai/gpt-5-mini",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
        }
    ).encode()


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def respond(status: int, body: bytes | str, *, session: str | None = None, **extra: str) -> Action:
    data = body.encode() if isinstance(body, str) else body

    def action(conn: socket.socket, seen: Seen) -> bool:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data)), **extra}
        if session:
            headers["X-Session-ID"] = session
        conn.sendall(_head(status, headers) + data)
        return True

    return action


def detail(status: int, text: str, **extra: str) -> Action:
    # Sequrity's error shape; every error names a session the scope must not adopt.
    return respond(status, json.dumps({"detail": text}), session=ERROR_ID, **extra)


def ok(content: str = "Paris", session: str = NEW_ID) -> Action:
    return respond(200, _completion(content), session=session)


def _rst(conn: socket.socket) -> None:
    # SO_LINGER with a zero timeout turns close() into a TCP RST.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def reset(conn: socket.socket, seen: Seen) -> bool:
    _rst(conn)
    return False


def _sse_events(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        chunk = {
            "id": "chatcmpl-fault",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "openai/gpt-5-mini",
            "choices": [{"index": 0, "delta": {"content": f"t{i} "}, "finish_reason": None}],
        }
        out.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    return out


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _sse_head() -> bytes:
    return _head(
        200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked", "X-Session-ID": NEW_ID}
    )


def stream_then(end: Callable[[socket.socket], None], tail: bytes = b"") -> Action:
    """Two complete SSE events, then ``tail`` (raw bytes), then ``end`` on the socket."""

    def action(conn: socket.socket, seen: Seen) -> bool:
        conn.sendall(_sse_head() + b"".join(_chunk(e) for e in _sse_events(2)) + tail)
        end(conn)
        return False

    return action


def stall(server: RawServer) -> Action:
    def action(conn: socket.socket, seen: Seen) -> bool:
        server.release.wait(10)
        return False

    return action


def oversized_head(limit: int) -> Action:
    def action(conn: socket.socket, seen: Seen) -> bool:
        size = sum(len(k) + len(v) + 4 for k, v in seen.headers.items())
        if size > limit:
            return detail(431, f"request header fields too large ({size} > {limit} bytes)")(conn, seen)
        return ok()(conn, seen)

    return action


# --------------------------------------------------------------------------- clients and helpers


@pytest.fixture
def server() -> Iterator[RawServer]:
    srv = RawServer()
    yield srv
    srv.close()


def hand_headers(policy: sq.Policy = POLICY) -> dict[str, str]:
    return {
        "X-Api-Key": LLM_KEY,
        "X-Features": FEATURES.to_header(),
        "X-Policy": policy.to_header(),
        "X-Config": CONFIG.to_header(),
    }


def stock(root: str, policy: sq.Policy = POLICY, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=KEY, base_url=f"{root}/control/chat/v1", default_headers=hand_headers(policy), **kwargs
    )


def adapter(root: str, policy: sq.Policy = POLICY, **kwargs: Any) -> openai.OpenAI:
    return sq.create_client(
        api_key=KEY,
        llm_api_key=LLM_KEY,
        base_url=root,
        features=FEATURES,
        policy=policy,
        config=CONFIG,
        **kwargs,
    )


def stock_async(root: str, **kwargs: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=KEY, base_url=f"{root}/control/chat/v1", default_headers=hand_headers(), **kwargs
    )


def adapter_async(root: str, **kwargs: Any) -> openai.AsyncOpenAI:
    return sq.create_async_client(
        api_key=KEY,
        llm_api_key=LLM_KEY,
        base_url=root,
        features=FEATURES,
        policy=POLICY,
        config=CONFIG,
        **kwargs,
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def assert_no_key(exc: BaseException) -> None:
    for item in _chain(exc):
        for text in (str(item), repr(item)):
            assert KEY not in text, f"Sequrity key leaked into {type(item).__name__}: {text}"
            assert LLM_KEY not in text, f"provider key leaked into {type(item).__name__}: {text}"


@dataclass
class Outcome:
    error: BaseException | None
    attempts: int
    value: Any = None


def play(
    server: RawServer, actions: list[Action], client: openai.OpenAI, call: Callable[[openai.OpenAI], Any]
) -> Outcome:
    server.script(*actions)
    try:
        with client:
            value = call(client)
    except Exception as exc:
        return Outcome(exc, server.attempts)
    return Outcome(None, server.attempts, value)


def parity(
    server: RawServer,
    actions: list[Action],
    call: Callable[[openai.OpenAI], Any] = lambda c: c.chat.completions.create(model="m", messages=MESSAGES),
    **kwargs: Any,
) -> tuple[Outcome, Outcome, sq.Session]:
    """Play ``actions`` to the stock client, then to the adapter inside a resumed session."""
    base = play(server, actions, stock(server.root, **kwargs), call)
    with sq.session(OLD_ID) as scope:
        ours = play(server, actions, adapter(server.root, **kwargs), call)
    assert type(ours.error) is type(base.error), (base.error, ours.error)
    assert ours.attempts == base.attempts
    if ours.error is not None:
        assert_no_key(ours.error)
    return base, ours, scope


def create(client: openai.OpenAI) -> Any:
    return client.chat.completions.create(model="m", messages=MESSAGES)


def stream_all(client: openai.OpenAI) -> sq.CollectedStream:
    with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
        return sq.collect_stream(stream)


# --------------------------------------------------------------------------- HTTP status faults


def test_429_with_retry_after_is_retried_like_the_stock_sdk(server: RawServer) -> None:
    actions = [detail(429, f"rate limit exceeded for key {KEY}", **FAST_RETRY)]
    base, ours, scope = parity(server, actions, max_retries=2)
    assert isinstance(ours.error, openai.RateLimitError)
    assert ours.attempts == 3
    assert "rate limit exceeded for key" in str(ours.error)
    if SDK_HIDES_DETAIL:
        assert "rate limit exceeded" not in str(base.error)
    assert KEY not in json.dumps(ours.error.body)
    assert scope.id == OLD_ID
    # Every attempt, retries included, carried the session of the scope.
    assert [s.headers.get("x-session-id") for s in server.seen] == [OLD_ID] * 3


def test_503_then_success_moves_the_scope_only_on_the_success(server: RawServer) -> None:
    actions = [detail(503, "upstream overloaded", **FAST_RETRY), ok(session=NEW_ID)]
    base, ours, scope = parity(server, actions, max_retries=2)
    assert base.error is None and ours.error is None
    assert ours.attempts == 2
    assert ours.value.choices[0].message.content == base.value.choices[0].message.content == "Paris"
    assert [s.headers.get("x-session-id") for s in server.seen] == [OLD_ID, OLD_ID]
    assert scope.id == NEW_ID
    assert sq.session_id_of(ours.value) is None  # plain content carries no tool call id


def test_503_exhausting_retries_keeps_the_scope(server: RawServer) -> None:
    base, ours, scope = parity(server, [detail(503, "upstream overloaded", **FAST_RETRY)], max_retries=1)
    assert isinstance(ours.error, openai.InternalServerError)
    assert ours.attempts == 2
    if SDK_HIDES_DETAIL:
        assert str(ours.error) == "Error code: 503 - upstream overloaded"
        assert str(base.error) == "Error code: 503"  # the stock SDK drops a bare "detail"
    else:
        assert str(ours.error) == str(base.error) == "Error code: 503 - {'detail': 'upstream overloaded'}"
    assert scope.id == OLD_ID


def test_431_for_oversized_headers_is_not_retried_and_says_why(server: RawServer) -> None:
    big = sq.Policy.dual_llm(codes="// paddin\n" * 600)  # ~6 KB: within the client's 16 KiB limit
    base, ours, scope = parity(server, [oversized_head(4096)], max_retries=2, policy=big)
    assert isinstance(ours.error, openai.APIStatusError)
    assert ours.error.status_code == 431 == base.error.status_code  # type: ignore[union-attr]
    assert ours.attempts == 1
    assert "request header fields too large" in str(ours.error)
    assert scope.id == OLD_ID


def test_oversized_headers_past_the_client_limit_fail_before_sending(server: RawServer) -> None:
    huge = sq.Policy.dual_llm(codes="// paddin\n" * 2000)  # ~20 KB
    with pytest.raises(sq.HeaderTooLargeError) as info:
        adapter(server.root, policy=huge)
    assert server.attempts == 0
    assert "max_header_bytes" in str(info.value)
    assert_no_key(info.value)


# --------------------------------------------------------------------------- connection faults


def _counting(counter: list[object]) -> openai.DefaultHttpxClient:
    # A request hook fires once per attempt, before the connection is made.
    return openai.DefaultHttpxClient(event_hooks={"request": [counter.append], "response": []})


def test_connection_refused(server: RawServer) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    root = f"http://127.0.0.1:{probe.getsockname()[1]}"  # bound, never listening: refused
    try:
        errors: list[BaseException] = []
        counts = []
        for make in (stock, adapter):
            attempts: list[object] = []
            client = make(root, max_retries=1, http_client=_counting(attempts))
            with sq.session(OLD_ID) as scope, client, pytest.raises(openai.APIConnectionError) as info:
                create(client)
            errors.append(info.value)
            counts.append(len(attempts))
            assert scope.id == OLD_ID
    finally:
        probe.close()
    assert type(errors[0]) is type(errors[1]) is openai.APIConnectionError
    assert counts == [2, 2]
    assert str(errors[1]) == str(errors[0]) == "Connection error."
    assert_no_key(errors[1])


def test_connection_reset_before_the_answer_is_retried(server: RawServer) -> None:
    base, ours, scope = parity(server, [reset], max_retries=1)
    assert isinstance(ours.error, openai.APIConnectionError)
    assert ours.attempts == 2
    assert str(ours.error) == str(base.error)
    assert scope.id == OLD_ID


def test_connection_reset_mid_stream(server: RawServer) -> None:
    base, ours, scope = parity(server, [stream_then(_rst)], stream_all, max_retries=2)
    assert isinstance(ours.error, BROKEN_STREAM)
    assert ours.attempts == 1  # a stream that has begun is never replayed
    assert str(ours.error) == str(base.error)
    # The 200's headers named its session before the body broke: the server holds that turn.
    assert scope.id == NEW_ID


def test_stall_past_the_read_timeout(server: RawServer) -> None:
    base, ours, scope = parity(server, [stall(server)], max_retries=1, timeout=0.3)
    assert isinstance(ours.error, openai.APITimeoutError)
    assert ours.attempts == 2
    assert str(ours.error) == str(base.error) == "Request timed out."
    assert scope.id == OLD_ID


def test_truncated_sse_stream_connection_closed_mid_chunk(server: RawServer) -> None:
    # The chunked body stops half-way through a chunk and the server closes the connection.
    tail = b'40\r\ndata: {"id": "chatcmpl-fa'
    base, ours, scope = parity(server, [stream_then(socket.socket.close, tail)], stream_all, max_retries=2)
    assert isinstance(ours.error, BROKEN_STREAM)
    assert ours.attempts == 1
    assert str(ours.error) == str(base.error)
    assert scope.id == NEW_ID


def test_truncated_sse_event_at_a_clean_end_of_body(server: RawServer) -> None:
    # The HTTP body ends properly, but its last event is cut and [DONE] never comes.
    tail = _chunk(b'data: {"id": "chatcmpl-fa') + b"0\r\n\r\n"
    base, ours, _ = parity(server, [stream_then(lambda c: None, tail)], stream_all, max_retries=2)
    assert base.error is None and ours.error is None
    assert ours.value.text == base.value.text == "t0 t1 "
    assert ours.value.chunks == base.value.chunks == 2
    assert ours.value.session_id == NEW_ID


# --------------------------------------------------------------------------- bodies


def test_invalid_json_in_a_200(server: RawServer) -> None:
    base, ours, scope = parity(server, [respond(200, b'{"id": "chatcmpl-x", "choices": [', session=NEW_ID)])
    # The stock SDK lets the decoder's error through; the adapter must not change that.
    assert isinstance(ours.error, json.JSONDecodeError)
    assert ours.attempts == 1
    assert str(ours.error) == str(base.error)
    # The 200 was a success at the HTTP level, so its session header counts.
    assert scope.id == NEW_ID


def test_invalid_json_in_an_error_body(server: RawServer) -> None:
    actions = [respond(500, b"<html>502 Bad Gateway</html>", session=ERROR_ID, **FAST_RETRY)]
    base, ours, scope = parity(server, actions, max_retries=1)
    assert isinstance(ours.error, openai.InternalServerError)
    assert ours.attempts == 2
    assert str(ours.error) == str(base.error)
    assert ours.error.body == base.error.body == "<html>502 Bad Gateway</html>"  # type: ignore[union-attr]
    assert scope.id == OLD_ID


def test_truncated_json_detail_body(server: RawServer) -> None:
    base, ours, scope = parity(server, [respond(400, b'{"detail": "bad requ', session=ERROR_ID)])
    assert isinstance(ours.error, openai.BadRequestError)
    assert ours.attempts == 1
    assert str(ours.error) == str(base.error)
    assert scope.id == OLD_ID


def test_garbage_dual_llm_content_parses_as_unknown(server: RawServer) -> None:
    garbage = '{"status": "succ'  # not the dual-llm document
    base, ours, scope = parity(server, [ok(garbage, session=NEW_ID)])
    assert base.error is None and ours.error is None
    result = sq.parse_result(ours.value)
    assert result.status == "unknown"
    assert result.raw == garbage == base.value.choices[0].message.content
    assert not result.ok
    assert result.raise_for_status() is result
    assert scope.id == NEW_ID


def test_validation_detail_with_the_provider_key_is_redacted(server: RawServer) -> None:
    body = {
        "detail": [{"loc": ["header", "x-api-key"], "msg": f"key {LLM_KEY} rejected", "type": "value_error"}]
    }
    base, ours, scope = parity(server, [respond(422, json.dumps(body), session=ERROR_ID)])
    assert isinstance(ours.error, openai.UnprocessableEntityError)
    assert "key **** rejected" in str(ours.error)
    if SDK_HIDES_DETAIL:
        assert "header.x-api-key: key **** rejected" in str(ours.error)
        assert str(base.error) == "Error code: 422"
    assert scope.id == OLD_ID


# --------------------------------------------------------------------------- async twins


async def _aplay(server: RawServer, actions: list[Action], client: openai.AsyncOpenAI) -> Outcome:
    server.script(*actions)
    try:
        async with client:
            value = await client.chat.completions.create(model="m", messages=MESSAGES)
    except Exception as exc:
        return Outcome(exc, server.attempts)
    return Outcome(None, server.attempts, value)


@pytest.mark.parametrize(
    ("actions", "expected", "attempts"),
    [
        ([detail(429, "slow down", **FAST_RETRY)], openai.RateLimitError, 3),
        ([detail(503, "busy", **FAST_RETRY), ok()], None, 2),
        ([reset], openai.APIConnectionError, 2),
    ],
    ids=["429", "503-then-ok", "reset"],
)
async def test_async_parity(
    server: RawServer, actions: list[Action], expected: type[Exception] | None, attempts: int
) -> None:
    retries = attempts - 1
    base = await _aplay(server, actions, stock_async(server.root, max_retries=retries))
    async with sq.session(OLD_ID) as scope:
        ours = await _aplay(server, actions, adapter_async(server.root, max_retries=retries))
    assert type(ours.error) is type(base.error)
    assert (type(ours.error) if ours.error else None) is expected
    assert ours.attempts == base.attempts == attempts
    if ours.error is not None:
        assert_no_key(ours.error)
        assert scope.id == OLD_ID
        if isinstance(ours.error, openai.APIStatusError):
            assert "slow down" in str(ours.error)
    else:
        assert scope.id == NEW_ID


# --------------------------------------------------------------------------- client lifecycle


def test_closing_one_client_leaves_another_usable(server: RawServer) -> None:
    server.script(ok())
    first, second = adapter(server.root, max_retries=0), adapter(server.root, max_retries=0)
    assert first._client is not second._client  # separate connection pools
    create(first)
    create(second)
    first.close()
    assert first.is_closed() and not second.is_closed()
    assert create(second).choices[0].message.content == "Paris"
    # The closed one refuses to send (openai 3.x: RuntimeError; 2.x wraps it in APIConnectionError).
    with pytest.raises((RuntimeError, openai.APIConnectionError)):
        create(first)
    # A client made after the close still works (the shared TLS context was not torn down).
    with adapter(server.root, max_retries=0) as third:
        assert create(third).choices[0].message.content == "Paris"
    second.close()


def test_factories_do_not_share_connection_pools(server: RawServer) -> None:
    # TLS trust is tested behaviourally in test_security_transport.py (a loopback TLS server).
    server.script(ok())
    one, two = adapter(server.root, max_retries=0), adapter(server.root, max_retries=0)
    create(one)
    one.close()
    assert one.is_closed() and not two.is_closed()
    assert create(two).choices[0].message.content == "Paris"
    two.close()


async def test_closing_one_async_client_leaves_another_usable(server: RawServer) -> None:
    server.script(ok())
    first, second = adapter_async(server.root, max_retries=0), adapter_async(server.root, max_retries=0)
    await first.chat.completions.create(model="m", messages=MESSAGES)
    await first.close()
    answer = await second.chat.completions.create(model="m", messages=MESSAGES)
    assert answer.choices[0].message.content == "Paris"
    await second.close()


def test_with_options_copies_keep_the_sequrity_headers_and_hooks(server: RawServer) -> None:
    server.script(ok(session=NEW_ID))
    with adapter(server.root, max_retries=0) as client:
        create(client)
        copies = [
            client.with_options(timeout=5, max_retries=1),
            client.with_options(default_headers={"X-Trace": "on"}),
        ]
        with sq.session(OLD_ID) as scope:
            for copy in copies:
                create(copy)
    original, *copied = server.seen
    wanted = ("authorization", "x-api-key", "x-features", "x-policy", "x-config")
    for seen in copied:
        assert {k: seen.headers.get(k) for k in wanted} == {k: original.headers.get(k) for k in wanted}
        assert seen.path == original.path == "/control/chat/v1/chat/completions"
    assert original.headers["x-policy"] == POLICY.to_header()
    assert copied[1].headers.get("x-trace") == "on"
    # The hooks came along: the copies joined the scope and followed the server's answer.
    assert copied[0].headers.get("x-session-id") == OLD_ID
    assert copied[1].headers.get("x-session-id") == NEW_ID
    assert scope.id == NEW_ID
