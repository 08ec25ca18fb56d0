"""Behaviours 6 and 7: nothing leaks, and server errors read well while keeping SDK semantics."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import openai
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import sequrity_openai as sq
from helpers.payloads import completion
from sequrity_openai._settings import resolve_settings

SQ_KEY = "sq-live-0123456789abcdef"
LLM_KEY = "sk-provider-fedcba9876543210"
OPENAI_3 = int(openai.__version__.split(".")[0]) >= 3
MESSAGES: Any = [{"role": "user", "content": "hi"}]


def _headers(httpserver: HTTPServer) -> dict[str, str]:
    return {k.lower(): v for k, v in httpserver.log[-1][0].headers.items()}


def test_openai_account_headers_are_not_sent_to_sequrity(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-secret")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-secret")
    httpserver.expect_request(re.compile(".*")).respond_with_json(completion())
    stock = openai.OpenAI(api_key="x", base_url=httpserver.url_for("/v1"))
    stock.chat.completions.create(model="m", messages=MESSAGES)
    assert _headers(httpserver)["openai-organization"] == "org-secret"  # the stock SDK does send them
    client = sq.create_client(api_key=SQ_KEY, base_url=httpserver.url_for("/"))
    client.chat.completions.create(model="m", messages=MESSAGES)
    assert "openai-organization" not in _headers(httpserver)
    assert "openai-project" not in _headers(httpserver)
    explicit = sq.create_client(
        api_key=SQ_KEY, base_url=httpserver.url_for("/"), organization="org-mine", project="p"
    )
    explicit.chat.completions.create(model="m", messages=MESSAGES)
    assert _headers(httpserver)["openai-organization"] == "org-mine"
    assert _headers(httpserver)["openai-project"] == "p"


async def test_openai_custom_headers_do_not_replace_the_sequrity_bearer(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "Authorization: Bearer sk-openai-key\nX-Corp-Proxy: token")
    httpserver.expect_request(re.compile(".*")).respond_with_json(completion())
    sq.create_client(api_key=SQ_KEY, base_url=httpserver.url_for("/")).chat.completions.create(
        model="m", messages=MESSAGES
    )
    await sq.create_async_client(api_key=SQ_KEY, base_url=httpserver.url_for("/")).chat.completions.create(
        model="m", messages=MESSAGES
    )
    for index in (-2, -1):  # sync, then async
        sent = {k.lower(): v for k, v in httpserver.log[index][0].headers.items()}
        assert sent["authorization"] == f"Bearer {SQ_KEY}"
        assert "x-corp-proxy" not in sent
    sq.create_client(
        api_key=SQ_KEY, base_url=httpserver.url_for("/"), default_headers={"X-Corp-Proxy": "mine"}
    ).chat.completions.create(model="m", messages=MESSAGES)
    assert _headers(httpserver)["x-corp-proxy"] == "mine"


def test_no_key_in_repr_str_or_logs(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SEQURITY_API_KEY", SQ_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", LLM_KEY)
    monkeypatch.setenv("OPENAI_LOG", "debug")
    settings = resolve_settings(provider="openai")
    shown = repr(settings) + str(settings) + repr(settings.explain())
    assert SQ_KEY not in shown and LLM_KEY not in shown
    assert "****cdef" in shown  # masked, still recognisable
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        completion(), headers={"X-Session-ID": "s" * 36}
    )
    caplog.set_level(logging.DEBUG)
    client = sq.create_client(provider="openai", base_url=httpserver.url_for("/"))
    with sq.session() as scope:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert _headers(httpserver)["x-api-key"] == LLM_KEY  # it was sent...
    for text in (caplog.text, repr(scope), str(scope)):  # ...but never shown
        assert SQ_KEY not in text
        assert LLM_KEY not in text


def test_configuration_errors_never_contain_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", LLM_KEY)
    cases: list[dict[str, Any]] = [
        {"api_key": SQ_KEY, "provider": "nope"},
        {"api_key": SQ_KEY, "base_url": "http://remote.test"},
        {"api_key": SQ_KEY, "llm_api_key": LLM_KEY + "\n"},
        {"api_key": SQ_KEY, "policy": "{bad"},
        {"api_key": SQ_KEY, "policy": sq.Policy(codes=sq.PolicyCode(code="x" * 20000))},
    ]
    for kwargs in cases:
        with pytest.raises(sq.ConfigurationError) as info:
            sq.create_client(**kwargs)
        assert SQ_KEY not in str(info.value) and LLM_KEY not in str(info.value), kwargs


# --------------------------------------------------------------------------- server errors


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (422, openai.UnprocessableEntityError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_detail_reaches_str_and_class_is_kept(
    httpserver: HTTPServer, status: int, cls: type[Exception]
) -> None:
    detail = f"X-Policy: presets.mode rejected (status {status})"
    httpserver.expect_request(re.compile(".*")).respond_with_json({"detail": detail}, status=status)
    stock = openai.OpenAI(api_key="x", base_url=httpserver.url_for("/control/chat/v1"), max_retries=0)
    with pytest.raises(cls) as stock_info:
        stock.chat.completions.create(model="m", messages=MESSAGES)
    if OPENAI_3:
        assert detail not in str(stock_info.value)  # the gap this package closes
    client = sq.create_client(api_key=SQ_KEY, base_url=httpserver.url_for("/"), max_retries=0)
    with pytest.raises(cls) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert type(info.value) is type(stock_info.value)
    assert detail in str(info.value)
    if OPENAI_3:
        assert str(info.value) == f"Error code: {status} - {detail}"
    assert info.value.body["detail"] == detail  # type: ignore[attr-defined]


async def test_detail_reaches_str_async_and_streaming(httpserver: HTTPServer) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_json({"detail": "model not allowed"}, status=400)
    client = sq.create_async_client(api_key=SQ_KEY, base_url=httpserver.url_for("/"), max_retries=0)
    with pytest.raises(openai.BadRequestError, match="model not allowed"):
        await client.chat.completions.create(model="m", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError, match="model not allowed"):
        await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    sync = sq.create_client(api_key=SQ_KEY, base_url=httpserver.url_for("/"), max_retries=0)
    with pytest.raises(openai.BadRequestError, match="model not allowed"):
        sync.chat.completions.create(model="m", messages=MESSAGES, stream=True)


def test_fastapi_validation_detail_is_readable(httpserver: HTTPServer) -> None:
    detail = [
        {"loc": ["body", "messages", 0, "role"], "msg": "Input should be 'user'", "type": "literal_error"},
        {"loc": ["header", "x-config"], "msg": "Invalid JSON", "type": "json_invalid"},
    ]
    httpserver.expect_request(re.compile(".*")).respond_with_json({"detail": detail}, status=422)
    client = sq.create_client(api_key=SQ_KEY, base_url=httpserver.url_for("/"), max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    expected = "messages.0.role: Input should be 'user'; header.x-config: Invalid JSON"
    if OPENAI_3:
        assert str(info.value) == f"Error code: 422 - {expected}"
    else:  # 2.x shows the whole body, which already holds every item
        assert "Input should be 'user'" in str(info.value)


def test_error_text_echoing_a_key_is_redacted(httpserver: HTTPServer) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"detail": f"invalid key {SQ_KEY} for provider key {LLM_KEY}"}, status=401
    )
    client = sq.create_client(
        api_key=SQ_KEY, llm_api_key=LLM_KEY, base_url=httpserver.url_for("/"), max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    shown = str(info.value) + repr(info.value) + json.dumps(info.value.body)
    assert SQ_KEY not in shown and LLM_KEY not in shown
    assert "invalid key ****" in str(info.value)


def test_non_json_and_openai_style_errors_are_left_alone(httpserver: HTTPServer) -> None:
    client = sq.create_client(api_key=SQ_KEY, base_url=httpserver.url_for("/"), max_retries=0)
    httpserver.expect_oneshot_request(re.compile(".*")).respond_with_data("upstream exploded", status=400)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.body == "upstream exploded"
    httpserver.expect_oneshot_request(re.compile(".*")).respond_with_json(
        {"error": {"message": "openai style", "type": "invalid_request_error"}}, status=400
    )
    with pytest.raises(openai.BadRequestError, match="openai style"):
        client.chat.completions.create(model="m", messages=MESSAGES)


def _attempts(
    httpserver: HTTPServer, make: Any, statuses: list[int], headers: dict[str, str]
) -> tuple[type, int]:
    httpserver.clear()
    remaining = list(statuses)

    def answer(request: Request) -> Response:
        status = remaining.pop(0) if remaining else 200
        if status == 200:
            return Response(json.dumps(completion()), content_type="application/json")
        return Response(
            json.dumps({"detail": "busy"}), status=status, content_type="application/json", headers=headers
        )

    httpserver.expect_request(re.compile(".*")).respond_with_handler(answer)
    try:
        make().chat.completions.create(model="m", messages=MESSAGES)
        outcome: type = type(None)
    except openai.APIError as exc:
        outcome = type(exc)
    return outcome, len(httpserver.log)


@pytest.mark.parametrize(
    ("statuses", "headers"),
    [
        ([429, 429], {"retry-after-ms": "1"}),
        ([503], {"retry-after-ms": "1"}),
        ([500, 502, 503, 504], {"retry-after-ms": "1"}),
        ([429], {"Retry-After": "0.01"}),
        ([408], {"retry-after-ms": "1"}),
        ([409, 409, 409], {"retry-after-ms": "1"}),
        ([400], {}),
    ],
)
def test_retries_match_the_stock_sdk(
    httpserver: HTTPServer, statuses: list[int], headers: dict[str, str]
) -> None:
    def stock() -> openai.OpenAI:
        return openai.OpenAI(api_key="x", base_url=httpserver.url_for("/control/chat/v1"), max_retries=2)

    def ours() -> openai.OpenAI:
        return sq.create_client(api_key=SQ_KEY, base_url=httpserver.url_for("/"), max_retries=2)

    assert _attempts(httpserver, ours, statuses, headers) == _attempts(httpserver, stock, statuses, headers)
