"""Behaviour 1: every call lands on {base}/control/{endpoint_type}/{provider?}/v1/..."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer

import sequrity_openai as sq
from helpers.payloads import chunk, completion, response_events, response_object, sse
from sequrity_openai._routes import ENDPOINT_TYPES, OPENAI_SDK_APIS, PROVIDERS, apis_served

MESSAGES = [{"role": "user", "content": "hi"}]
# Every route the OpenAI factory accepts (test_route_table pins the table against PROTOCOL.md).
ROUTES = [
    (et, p)
    for et in ENDPOINT_TYPES
    for p in (*PROVIDERS, None)
    if et != "agent" and set(apis_served(et, p)) & set(OPENAI_SDK_APIS)
]


def _prefix(endpoint_type: str, provider: str | None) -> str:
    return f"/control/{endpoint_type}/{provider}/v1" if provider else f"/control/{endpoint_type}/v1"


def _serve_all(httpserver: HTTPServer, prefix: str) -> None:
    httpserver.expect_request(
        f"{prefix}/chat/completions", json={"model": "m", "messages": MESSAGES}
    ).respond_with_json(completion("plain"))
    httpserver.expect_request(
        f"{prefix}/chat/completions", json={"model": "m", "messages": MESSAGES, "stream": True}
    ).respond_with_data(
        sse([chunk("str"), chunk("eam"), chunk(finish_reason="stop")]), content_type="text/event-stream"
    )
    httpserver.expect_request(f"{prefix}/responses", json={"model": "m", "input": "hi"}).respond_with_json(
        response_object("resp")
    )
    httpserver.expect_request(
        f"{prefix}/responses", json={"model": "m", "input": "hi", "stream": True}
    ).respond_with_data(response_events("rstream"), content_type="text/event-stream")


def _assert_paths(httpserver: HTTPServer, prefix: str) -> None:
    """Plain and streamed chat completions, then plain and streamed responses."""
    chat, responses = f"{prefix}/chat/completions", f"{prefix}/responses"
    assert [r.path for r, _ in httpserver.log] == [chat, chat, responses, responses]


@pytest.mark.parametrize(("endpoint_type", "provider"), ROUTES)
def test_sync_paths(httpserver: HTTPServer, endpoint_type: str, provider: str | None) -> None:
    prefix = _prefix(endpoint_type, provider)
    _serve_all(httpserver, prefix)
    client = sq.create_client(
        api_key="k", base_url=httpserver.url_for("/"), endpoint_type=endpoint_type, provider=provider
    )
    assert str(client.base_url).rstrip("/").endswith(prefix)
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "plain"  # type: ignore[arg-type]
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    )  # type: ignore[arg-type]
    assert text == "stream"
    assert client.responses.create(model="m", input="hi").output_text == "resp"
    events = list(client.responses.create(model="m", input="hi", stream=True))
    assert [e.type for e in events][-1] == "response.completed"
    _assert_paths(httpserver, prefix)


@pytest.mark.parametrize(
    ("endpoint_type", "provider"), [("chat", None), ("code", "openai"), ("lang-graph", "sequrity_azure")]
)
async def test_async_paths(httpserver: HTTPServer, endpoint_type: str, provider: str | None) -> None:
    prefix = _prefix(endpoint_type, provider)
    _serve_all(httpserver, prefix)
    client = sq.create_async_client(
        api_key="k", base_url=httpserver.url_for("/"), endpoint_type=endpoint_type, provider=provider
    )
    async with client:
        done = await client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert done.choices[0].message.content == "plain"
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        assert "".join([c.choices[0].delta.content or "" async for c in stream]) == "stream"
        assert (await client.responses.create(model="m", input="hi")).output_text == "resp"
        events = [e async for e in await client.responses.create(model="m", input="hi", stream=True)]
        assert events[-1].type == "response.completed"
    _assert_paths(httpserver, prefix)


@pytest.mark.parametrize(
    ("given", "expected_prefix"),
    [
        ("{root}", "/control/chat/v1"),
        ("{root}/", "/control/chat/v1"),
        ("{root}//", "/control/chat/v1"),
        ("{root}/control", "/control/chat/v1"),
        ("{root}/control/", "/control/chat/v1"),
        ("{root}/control/code/v1", "/control/code/v1"),
        ("{root}/control/chat/openai/v1/", "/control/chat/openai/v1"),
        ("{root}/control/lang-graph/openrouter", "/control/lang-graph/openrouter/v1"),
        ("{root}/gateway/control/chat/v1", "/gateway/control/chat/v1"),
    ],
)
def test_base_url_suffix_is_not_doubled(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, given: str, expected_prefix: str
) -> None:
    root = httpserver.url_for("/").rstrip("/")
    monkeypatch.setenv("SEQURITY_BASE_URL", given.format(root=root))
    httpserver.expect_request(f"{expected_prefix}/chat/completions").respond_with_json(completion())
    client = sq.create_client(api_key="k")
    client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert httpserver.log[0][0].path == f"{expected_prefix}/chat/completions"


def test_explicit_route_arguments_beat_the_route_in_base_url(httpserver: HTTPServer) -> None:
    root = httpserver.url_for("/").rstrip("/")
    client = sq.create_client(
        api_key="k",
        base_url=f"{root}/control/code/openai/v1",
        endpoint_type="lang-graph",
        provider="openrouter",
    )
    assert str(client.base_url) == f"{root}/control/lang-graph/openrouter/v1/"


def test_base_url_route_with_bad_segment_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(sq.ConfigurationError, match=r"argument base_url.*unknown endpoint type 'nope'"):
        sq.create_client(api_key="k", base_url="https://api.sequrity.ai/control/nope/v1")
    monkeypatch.setenv("SEQURITY_BASE_URL", "https://x.test/control/chat/openai/extra/v1")
    with pytest.raises(sq.ConfigurationError, match="environment variable SEQURITY_BASE_URL"):
        sq.create_client(api_key="k")


@pytest.mark.parametrize(
    "environ",
    [{}, {"OPENAI_BASE_URL": "https://api.openai.com/v1"}],
    ids=["nothing-set", "OPENAI_BASE_URL-is-ignored"],
)
def test_default_base_url_is_the_service(environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # The one place the default route is spelled out.
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    client = sq.create_client(api_key="k")
    assert str(client.base_url) == "https://api.sequrity.ai/control/chat/v1/"


def test_dual_model() -> None:
    assert sq.dual_model("openai/gpt-5-mini", "openai/gpt-5-nano") == "openai/gpt-5-mini,openai/gpt-5-nano"
    assert sq.dual_model("openai/gpt-5-mini") == "openai/gpt-5-mini"
    with pytest.raises(sq.ConfigurationError, match="qllm"):
        sq.dual_model("a", "b,c")
    with pytest.raises(sq.ConfigurationError, match="pllm"):
        sq.dual_model(" ")


def test_dual_model_reaches_the_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/control/chat/v1/chat/completions").respond_with_json(completion())
    client = sq.create_client(api_key="k", base_url=httpserver.url_for("/"), features="dual-llm")
    client.chat.completions.create(model=sq.dual_model("p/a", "q/b"), messages=MESSAGES)  # type: ignore[arg-type]
    assert json.loads(httpserver.log[0][0].data)["model"] == "p/a,q/b"
