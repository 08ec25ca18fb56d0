"""Issue 9: what the server says reaches the user redacted, bounded and printable; hostile bodies
keep the stock exception class; denial detection is linear; bad settings are caught early.

HTTP cases run over a raw loopback socket, once sync and once async, with both SDKs where the
guarantee applies (``create_client`` with openai, ``create_anthropic_client`` with anthropic).
"""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

import sequrity_openai as sq
from helpers.raw import RawHttp, Seen
from helpers.sdks import Sdk, anthropic_sdk, run
from sequrity_openai._http import sdk_module
from sequrity_openai._presentation_stream import stream_classes

SQ_KEY = "sq-bodies-secret-0123456789abcdef"
LLM_KEY = "sk-provider-bodies-secret-fedcba98"
MESSAGES: Any = [{"role": "user", "content": "hi"}]
ECHO = f"bearer {SQ_KEY} and provider key {LLM_KEY}"


def failure(
    flavour: str,
    sdk: Sdk,
    status: int,
    body: bytes,
    content_type: bytes = b"application/json",
    **kw: Any,
) -> Any:
    def answer(seen: Seen) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        return status, [(b"Content-Type", content_type)], body

    with RawHttp(answer) as server:
        client = sdk.factory(flavour)(api_key=SQ_KEY, llm_api_key=LLM_KEY, base_url=server.url, max_retries=0)
        try:
            if flavour == "sync":
                result = sdk.create(client, **kw)
                if kw.get("stream"):
                    list(result)
            else:

                async def go() -> None:
                    result = await sdk.create(client, **kw)
                    if kw.get("stream"):
                        async for _ in result:
                            pass

                run(go())
        except sdk.module.APIError as exc:
            return exc
    raise AssertionError(f"expected an {sdk.name}.APIError")


def shown(exc: Any) -> str:
    return "\n".join([str(exc), exc.message, json.dumps(exc.body), repr(exc.body)])


def assert_clean(exc: Any) -> None:
    text = shown(exc)
    assert SQ_KEY not in text and LLM_KEY not in text
    assert len(str(exc)) < 20_000 and len(json.dumps(exc.body)) < 20_000
    assert str(exc).isprintable() and exc.message.isprintable()


# --------------------------------------------------------------------------- 5. redaction and bounds


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (ECHO.encode(), b"text/plain"),
        (f"<html><body><h1>Bad gateway</h1><p>{ECHO}</p></body></html>".encode(), b"text/html"),
        (json.dumps(ECHO).encode(), b"application/json"),
        (json.dumps([ECHO, {"nested": [ECHO]}]).encode(), b"application/json"),
        (json.dumps({"detail": {"upstream": {"error": {"message": ECHO}}}}).encode(), b"application/json"),
        (json.dumps({"error": {"message": ECHO, "type": "x"}}).encode(), b"application/json"),
    ],
    ids=["text", "html", "json-string", "json-list", "nested", "openai-style"],
)
def test_keys_are_redacted_from_every_error_body(
    flavour: str, sdk: Sdk, body: bytes, content_type: bytes
) -> None:
    exc = failure(flavour, sdk, 400, body, content_type)
    assert type(exc) is sdk.module.BadRequestError
    assert_clean(exc)
    assert "****" in shown(exc)


def test_error_event_inside_a_200_stream_is_redacted_and_bounded(flavour: str, sdk: Sdk) -> None:
    # openai: `data: {"error": {...}}`; anthropic: `event: error` with `data: {"type": "error", ...}`.
    huge = "y" * 3_000_000
    exc = failure(flavour, sdk, 200, sdk.error_stream(f"{ECHO} {huge}"), b"text/event-stream", stream=True)
    assert isinstance(exc, sdk.module.APIError)
    assert_clean(exc)
    assert "****" in exc.message and "characters cut" in exc.message


def test_an_error_event_cut_off_at_the_stream_end_is_redacted_too(flavour: str) -> None:
    # The stream wrapper's last bytes (no line break after them) go through the same cleaning;
    # the keys to redact are gathered only when an error event comes.
    asked: list[int] = []

    def secrets() -> list[str]:
        asked.append(1)
        return [SQ_KEY]

    def through(chunks: list[bytes]) -> bytes:
        sync, async_ = stream_classes(sdk_module())
        if flavour == "sync":
            return b"".join(sync(chunks, secrets, None, None))

        async def inner() -> Any:
            for chunk in chunks:
                yield chunk

        async def collect() -> bytes:
            return b"".join([part async for part in async_(inner(), secrets, None, None)])

        return run(collect())

    plain = through([b'data: {"choices": []}\n\n', b'data: {"choices": ['])
    assert plain == b'data: {"choices": []}\n\ndata: {"choices": [' and asked == []
    cut = through([b'data: {"choices": []}\n\n', b'data: {"error": {"message": "' + SQ_KEY.encode() + b'"}}'])
    assert SQ_KEY.encode() not in cut and b"****" in cut and asked == [1]


def test_an_answer_to_a_request_sent_before_the_guard_came_is_still_cleaned(flavour: str) -> None:
    # A stock client shares its http_client with a factory made while the stock client's
    # request is on the wire: the guard's response hook meets a request its request hook never
    # saw, decides for it there, and still keeps the keys out of the error.
    module = sdk_module()
    made: list[Any] = []
    body = json.dumps({"detail": ECHO}).encode()

    with RawHttp(lambda seen: (400, [(b"Content-Type", b"application/json")], body)) as server:

        def factory_made_now() -> None:
            if not made:
                factory = sq.create_client if flavour == "sync" else sq.create_async_client
                made.append(
                    factory(api_key=SQ_KEY, llm_api_key=LLM_KEY, base_url=server.url, http_client=http_client)
                )

        class Late(module.HTTPTransport):  # type: ignore[misc, name-defined]
            def handle_request(self, request: Any) -> Any:
                factory_made_now()
                return super().handle_request(request)

        class ALate(module.AsyncHTTPTransport):  # type: ignore[misc, name-defined]
            async def handle_async_request(self, request: Any) -> Any:
                factory_made_now()
                return await super().handle_async_request(request)

        http_client = (
            module.Client(transport=Late()) if flavour == "sync" else module.AsyncClient(transport=ALate())
        )
        stock_cls = openai.OpenAI if flavour == "sync" else openai.AsyncOpenAI
        stock = stock_cls(
            api_key=SQ_KEY, base_url=f"{server.url}/control/chat/v1", http_client=http_client, max_retries=0
        )

        def call() -> Any:
            answer = stock.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            return answer if flavour == "sync" else run(answer)

        with pytest.raises(openai.BadRequestError) as info:
            call()
    assert made  # the guard arrived while the request was out
    assert_clean(info.value)


def test_a_10_mb_detail_is_cut_to_a_few_kb_saying_so(flavour: str, sdk: Sdk) -> None:
    exc = failure(flavour, sdk, 422, json.dumps({"detail": "z" * 10_000_000}).encode())
    assert type(exc) is sdk.module.UnprocessableEntityError
    assert_clean(exc)
    assert len(str(exc)) < 10_000
    assert "characters cut" in str(exc)


def test_messages_are_printable(flavour: str, sdk: Sdk) -> None:
    detail = "red \x1b[31malert\x1b[0m, surrogate \ud800, bidi \u202e, nul \x00 end"
    exc = failure(flavour, sdk, 400, json.dumps({"detail": detail}).encode())
    assert_clean(exc)
    assert "\\x1b[31malert" in str(exc) and "\\u202e" in str(exc) and "\\ud800" in str(exc)


# --------------------------------------------------------------------------- 6. hostile bodies


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"detail": [{"loc": None, "msg": "x"}]}),
        json.dumps({"detail": [{"loc": 7, "msg": "x"}]}),
        json.dumps({"detail": [{"loc": "header", "msg": {"not": "text"}}, 5, None]}),
        '{"detail": ' + "[" * 600 + "]" * 600 + "}",
        "[" * 100_000 + "]" * 100_000,
        '{"detail": "\\ud800\\udfff\\ud800"}',
    ],
    ids=["loc-null", "loc-int", "odd-items", "600-deep", "100000-deep", "surrogates"],
)
def test_hostile_error_bodies_keep_the_stock_exception_class(flavour: str, sdk: Sdk, body: str) -> None:
    exc = failure(flavour, sdk, 400, body.encode())
    assert type(exc) is sdk.module.BadRequestError
    assert_clean(exc)


# --------------------------------------------------------------------------- 7. denial detection


@pytest.mark.parametrize(
    "text",
    [
        "den " * 250_000,
        "denied " * 150_000 + "policy",
        "policy " * 150_000,
        "polic" + "-" * 1_000_000,
        ("denied " + "x" * 70 + " policy. ") * 10_000,
        "violated " * 120_000 + ". policy",
    ],
    ids=["den", "denied-then-policy", "policy", "polic-dashes", "near-misses", "sentence-break"],
)
def test_denial_detection_is_linear(text: str) -> None:
    document = json.dumps({"status": "failure", "error": {"code": text, "message": text}})
    started = time.process_time()  # CPU time: other work on a shared machine does not count
    result = sq.parse_result(document)
    with pytest.raises(sq.SequrityExecutionError):
        result.raise_for_status()
    # The backtracking pattern this replaces took about 40 minutes on 1 MB.
    assert time.process_time() - started < 1.0


@pytest.mark.parametrize(
    ("code", "message", "denied"),
    [
        (None, "Tool call send_email denied by argument checking policies. Context: {}", True),
        (None, "The program violated control flow policies and cannot continue", True),
        (None, "policy violation in step 3", True),
        ("policy_denied", "", True),
        ("POLICY-VIOLATION", "x", True),
        (None, "denied. The policy failed to parse", False),
        (None, "denied " + "x" * 90 + " policy", False),
        ("max_steps_exceeded", "planning stopped", False),
        ("den", "deny in policy text is a syntax error", False),
    ],
)
def test_denial_classification_is_unchanged(code: str | None, message: str, denied: bool) -> None:
    result = sq.parse_result({"status": "failure", "error": {"code": code, "message": message}})
    assert result.is_policy_violation is denied


# --------------------------------------------------------------------------- 11-14. settings


WRONG_TYPES = [
    ("api_key", 123),
    ("llm_api_key", 123),
    ("session_id", b"9653dc47-fb18-11f0-b0ee-7d965b6bbd63"),
    ("allow_insecure_http", "no"),
    ("allow_insecure_http", 1),
    ("provider", 1),
    ("endpoint_type", ["chat"]),
    ("base_url", b"https://api.sequrity.ai"),
    ("max_header_bytes", True),
    ("max_header_bytes", "16384"),
    ("features", 3.5),
    ("default_headers", {"X-Trace": 1}),
    ("default_headers", [("X-Trace", "1")]),
]


def _factories() -> list[Any]:
    anthropic = anthropic_sdk()
    both = [sq.create_client, sq.create_async_client]
    if anthropic is not None:
        both += list(anthropic.factories)
    return [pytest.param(f, id=f.__name__) for f in both]


FACTORIES = _factories()


@pytest.mark.parametrize(("name", "value"), WRONG_TYPES, ids=[f"{n}={v!r}"[:40] for n, v in WRONG_TYPES])
@pytest.mark.parametrize("factory", FACTORIES)
def test_wrong_types_are_configuration_errors_naming_the_argument(
    factory: Any, name: str, value: Any
) -> None:
    kwargs: dict[str, Any] = {"api_key": SQ_KEY, "base_url": "http://127.0.0.1:9", name: value}
    with pytest.raises(sq.ConfigurationError) as info:
        factory(**kwargs)
    assert name in str(info.value)
    assert info.value.setting == name and info.value.origin == "argument"


@pytest.mark.parametrize("host", ["evil.localhost", "localhost.evil.test", "sequrity.localhost"])
@pytest.mark.parametrize("factory", FACTORIES)
def test_only_literal_loopback_is_exempt_from_https(factory: Any, host: str) -> None:
    with pytest.raises(sq.ConfigurationError, match="plain http") as info:
        factory(api_key=SQ_KEY, base_url=f"http://{host}:8080")
    assert info.value.setting == "base_url"


@pytest.mark.parametrize(
    "root", ["http://localhost:9", "http://127.0.0.1:9", "http://127.5.6.7:9", "http://[::1]:9"]
)
@pytest.mark.parametrize("factory", FACTORIES)
def test_literal_loopback_may_use_http(factory: Any, root: str) -> None:
    assert str(factory(api_key=SQ_KEY, base_url=root).base_url).startswith(root)


@pytest.mark.parametrize(
    ("variable", "setting"),
    [
        ("SEQURITY_PROVIDER", "provider"),
        ("SEQURITY_ENDPOINT_TYPE", "endpoint_type"),
        ("SEQURITY_BASE_URL", "base_url"),
    ],
)
@pytest.mark.parametrize("factory", FACTORIES)
def test_a_key_pasted_into_a_variable_is_not_echoed(factory: Any, variable: str, setting: str) -> None:
    environ = {"SEQURITY_API_KEY": SQ_KEY, variable: LLM_KEY}
    with pytest.raises(sq.ConfigurationError) as info:
        factory(environ=environ)
    assert LLM_KEY not in str(info.value)
    assert (info.value.setting, info.value.origin, info.value.env_var) == (setting, "environment", variable)


@pytest.mark.parametrize("factory", FACTORIES)
def test_credentials_in_the_base_url_are_refused_and_not_echoed(factory: Any) -> None:
    with pytest.raises(sq.ConfigurationError, match="credentials") as info:
        factory(api_key=SQ_KEY, base_url=f"https://user:{LLM_KEY}@sequrity.example")
    assert LLM_KEY not in str(info.value)


@pytest.mark.parametrize("name", ["X Trace", "X-Trace\r\nEvil", "", "X-Tr\u00e4ce", "X:Trace", "(X)"])
@pytest.mark.parametrize("factory", FACTORIES)
def test_header_names_are_checked_at_construction(factory: Any, name: str) -> None:
    with pytest.raises(sq.ConfigurationError, match="header name") as info:
        factory(api_key=SQ_KEY, base_url="http://127.0.0.1:9", default_headers={name: "v"})
    assert info.value.setting == "default_headers"


@pytest.mark.parametrize("factory", FACTORIES)
def test_environ_opts_out_of_every_ambient_input(factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQURITY_API_KEY", "sq-from-the-environment-0000")
    monkeypatch.setenv("SEQURITY_POLICY", "{bad")
    for var in ("OPENROUTER_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.setenv(var, LLM_KEY)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with pytest.raises(sq.ConfigurationError, match="no Sequrity API key"):
        factory(environ={})
    client = factory(environ={"SEQURITY_API_KEY": SQ_KEY})
    bearer = getattr(client, "auth_token", None) or client.api_key
    assert bearer == SQ_KEY and "X-Api-Key" not in client.default_headers
    assert client._client._trust_env is False  # no proxy or certificate variable either


def test_factories_accept_resolved_settings() -> None:
    settings = sq.resolve_settings(api_key=SQ_KEY, provider="openai", llm_api_key=LLM_KEY, environ={})
    for factory in (sq.create_client, sq.create_async_client):
        client = factory(settings, max_retries=1)
        assert client.api_key == SQ_KEY and str(client.base_url).endswith("/control/chat/openai/v1/")
        with pytest.raises(sq.ConfigurationError, match="not both"):
            factory(settings, provider="openai")
    assert str(settings) == repr(settings) and SQ_KEY not in str(settings)


@pytest.mark.skipif(anthropic_sdk() is None, reason="the [anthropic] extra is not installed")
@pytest.mark.parametrize("factory", FACTORIES[2:])
def test_anthropic_factories_accept_resolved_settings(factory: Any) -> None:
    settings = sq.resolve_settings(api_key=SQ_KEY, provider="anthropic", llm_api_key=LLM_KEY, environ={})
    client = factory(settings, max_retries=1)
    assert client.auth_token == SQ_KEY and str(client.base_url).endswith("/control/chat/anthropic/")
    assert client.default_headers["X-Api-Key"] == LLM_KEY
    with pytest.raises(sq.ConfigurationError, match="not both"):
        factory(settings, provider="anthropic")
    with pytest.raises(sq.ConfigurationError, match="not both"):
        factory(settings, environ={})
    with pytest.raises(sq.ConfigurationError, match="settings must be a Settings"):
        factory({"api_key": SQ_KEY})
