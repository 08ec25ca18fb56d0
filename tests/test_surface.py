"""Behaviour 3: the stock SDK surface works unchanged through a factory-made client."""

from __future__ import annotations

import json
import re
from typing import Any

import openai
import pytest
from pydantic import BaseModel
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import sequrity_openai as sq
from helpers.payloads import chunk, completion, sse

SESSION = "9653dc47-fb18-11f0-b0ee-7d965b6bbd63"
CALL_ID = f"tc-{SESSION}-9aa3fb07-fb18-11f0-b66c-7d965b6bbd63"
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture
def client(httpserver: HTTPServer) -> openai.OpenAI:
    return sq.create_client(
        api_key="sq-key",
        llm_api_key="llm-key",
        provider="openai",
        base_url=httpserver.url_for("/"),
        features=sq.Features.dual_llm(),
        policy=sq.Policy.dual_llm(codes="// allow"),
        config=sq.Config.dual_llm(),
        max_retries=0,
    )


def _headers(httpserver: HTTPServer, index: int = -1) -> dict[str, str]:
    return {k.lower(): v for k, v in httpserver.log[index][0].headers.items()}


def _body(httpserver: HTTPServer, index: int = -1) -> Any:
    return json.loads(httpserver.log[index][0].data)


def test_tool_call_round_trip(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    def answer(request: Request) -> Response:
        body = request.get_json()
        if body["messages"][-1]["role"] == "tool":
            return Response(json.dumps(completion("It is sunny in Paris.")), content_type="application/json")
        call = {
            "id": CALL_ID,
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
        return Response(
            json.dumps(completion(None, tool_calls=[call])),
            content_type="application/json",
            headers={"X-Session-ID": SESSION},
        )

    httpserver.expect_request("/control/chat/openai/v1/chat/completions").respond_with_handler(answer)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(model="m", messages=messages, tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    assert sq.session_id_of(first) == SESSION
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    final = client.chat.completions.create(model="m", messages=messages, tools=TOOLS)
    assert final.choices[0].message.content == "It is sunny in Paris."
    sent = _body(httpserver)
    assert sent["tools"] == TOOLS
    assert sent["messages"][-1] == {"role": "tool", "tool_call_id": CALL_ID, "content": "sunny"}
    assert _headers(httpserver)["x-features"] == '{"agent_arch":"dual-llm"}'


def test_streaming(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    httpserver.expect_request("/control/chat/openai/v1/chat/completions").respond_with_data(
        sse([chunk("Hel"), chunk("lo"), chunk(finish_reason="stop")]),
        content_type="text/event-stream",
        headers={"X-Session-ID": SESSION},
    )
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    collected = sq.collect_stream(stream)
    assert (collected.text, collected.finish_reason, collected.session_id) == ("Hello", "stop", SESSION)
    assert _body(httpserver)["stream"] is True
    assert _headers(httpserver)["x-api-key"] == "llm-key"


def test_raw_response_exposes_session_header(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    httpserver.expect_request("/control/chat/openai/v1/chat/completions").respond_with_json(
        completion("hi"), headers={"X-Session-ID": SESSION}
    )
    raw = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "x"}]
    )
    assert raw.headers["X-Session-ID"] == SESSION
    assert sq.session_id_of(raw) == SESSION
    assert raw.parse().choices[0].message.content == "hi"


def test_with_streaming_response(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    httpserver.expect_request("/control/chat/openai/v1/chat/completions").respond_with_json(
        completion("streamed body"), headers={"X-Session-ID": SESSION}
    )
    with client.chat.completions.with_streaming_response.create(
        model="m", messages=[{"role": "user", "content": "x"}]
    ) as response:
        assert response.headers["x-session-id"] == SESSION
        assert (
            json.loads(b"".join(response.iter_bytes()))["choices"][0]["message"]["content"] == "streamed body"
        )


class Weather(BaseModel):
    city: str
    celsius: int


def test_parse_structured_output(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    httpserver.expect_request("/control/chat/openai/v1/chat/completions").respond_with_json(
        completion('{"city":"Paris","celsius":21}')
    )
    parsed = client.chat.completions.parse(
        model="m", messages=[{"role": "user", "content": "x"}], response_format=Weather
    )
    assert parsed.choices[0].message.parsed == Weather(city="Paris", celsius=21)
    assert _body(httpserver)["response_format"]["type"] == "json_schema"


# What copies (with_options / copy) keep is ours to guarantee only where the stock SDK would
# drop it: see test_security_transport.py::test_copies_made_after_the_environment_changed_keep_the_guarantees.


def test_extra_headers_override_and_omit(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_json(completion())
    override = sq.headers(features="single-llm")
    client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], extra_headers=override
    )
    assert _headers(httpserver)["x-features"] == '{"agent_arch":"single-llm"}'
    client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], extra_headers={"X-Policy": openai.omit}
    )
    sent = _headers(httpserver)
    assert "x-policy" not in sent
    assert "x-config" in sent


def test_responses_api(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    from helpers.payloads import response_object

    httpserver.expect_request("/control/chat/openai/v1/responses").respond_with_json(
        response_object("from responses")
    )
    out = client.responses.create(model="m", input="hello", instructions="be brief")
    assert out.output_text == "from responses"
    assert _body(httpserver)["instructions"] == "be brief"
    assert _headers(httpserver)["x-features"] == '{"agent_arch":"dual-llm"}'


async def test_async_surface(httpserver: HTTPServer) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        completion("async"), headers={"X-Session-ID": SESSION}
    )
    client = sq.create_async_client(api_key="sq-key", base_url=httpserver.url_for("/"), features="dual-llm")
    async with client:
        raw = await client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
        assert raw.headers["x-session-id"] == SESSION
        copy = client.with_options(max_retries=0)
        done = await copy.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], extra_headers={"X-Features": openai.omit}
        )
        assert done.choices[0].message.content == "async"
    assert "x-features" not in _headers(httpserver)
    assert _headers(httpserver, 0)["x-features"] == '{"agent_arch":"dual-llm"}'
