"""Structured output under dual-llm, through the SDK and the libraries that wrap the stock client.

Each test runs under single-llm and dual-llm: the same code must give the same kind of result.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from pydantic import BaseModel

import sequrity_openai as sq
from sequrity_openai.testing import FakeSequrity, default_denial

ARCHS = ["single-llm", "dual-llm"]
USER = [{"role": "user", "content": "Which city?"}]


class City(BaseModel):
    name: str
    population: int


PARIS = {"name": "Paris", "population": 2_100_000}


def script(fake: FakeSequrity, value: dict[str, Any]) -> None:
    # One script for both architectures: the text for single-llm, the value for dual-llm.
    fake.queue_text(json.dumps(value), value=value)


@pytest.mark.parametrize("arch", ARCHS)
def test_sdk_chat_parse(fake_sequrity: FakeSequrity, arch: str) -> None:
    script(fake_sequrity, PARIS)
    with fake_sequrity.client(features=arch) as client:
        scripted = client.chat.completions.parse(model="m", messages=USER, response_format=City)
        generated = client.chat.completions.parse(model="m", messages=USER, response_format=City)
    assert scripted.choices[0].message.parsed == City(**PARIS)
    assert isinstance(generated.choices[0].message.parsed, City)  # FakeSequrity made one up
    fake_sequrity.check()


def test_sdk_chat_parse_denial_is_a_refusal(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_denial()
    with fake_sequrity.client(features="dual-llm") as client:
        denied = client.chat.completions.parse(model="m", messages=USER, response_format=City)
    message = denied.choices[0].message
    assert message.parsed is None and message.refusal == default_denial("send_email")
    with pytest.raises(sq.PolicyViolation):
        sq.parse_result(denied).raise_for_status()


@pytest.mark.parametrize("arch", ARCHS)
async def test_sdk_async_chat_parse_and_stream(fake_sequrity: FakeSequrity, arch: str) -> None:
    script(fake_sequrity, PARIS)
    script(fake_sequrity, PARIS)
    async with fake_sequrity.async_client(features=arch) as client:
        parsed = await client.chat.completions.parse(model="m", messages=USER, response_format=City)
        async with client.chat.completions.stream(model="m", messages=USER, response_format=City) as stream:
            final = await stream.get_final_completion()
    assert parsed.choices[0].message.parsed == City(**PARIS)
    assert final.choices[0].message.parsed == City(**PARIS)


@pytest.mark.parametrize("arch", ARCHS)
def test_sdk_responses_parse(fake_sequrity: FakeSequrity, arch: str) -> None:
    script(fake_sequrity, PARIS)
    script(fake_sequrity, PARIS)
    with fake_sequrity.client(features=arch) as client:
        parsed = client.responses.parse(model="m", input="Which city?", text_format=City)
        with client.responses.stream(model="m", input="Which city?", text_format=City) as stream:
            final = stream.get_final_response()
    assert parsed.output_parsed == City(**PARIS)
    assert final.output_parsed == City(**PARIS)


@pytest.mark.parametrize("arch", ARCHS)
def test_agents_sdk_output_type(fake_sequrity: FakeSequrity, arch: str) -> None:
    agents = pytest.importorskip("agents")
    from sequrity_openai.integrations import agents as sq_agents

    script(fake_sequrity, PARIS)
    client = fake_sequrity.async_client(features=arch)
    agent = agents.Agent(
        name="geo", instructions="Answer.", model=sq_agents.chat_model("m", client=client), output_type=City
    )
    result = sq_agents.run_sync(agent, "Which city?", run_config=agents.RunConfig(tracing_disabled=True))
    assert result.final_output == City(**PARIS)
    request = fake_sequrity.last_request
    assert request is not None and request.body["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_langchain_with_structured_output(fake_sequrity: FakeSequrity, arch: str, method: str) -> None:
    pytest.importorskip("langchain_openai")
    from sequrity_openai.integrations.langchain import chat_openai

    script(fake_sequrity, PARIS)
    llm = chat_openai(
        "m",
        client=fake_sequrity.client(features=arch),
        async_client=fake_sequrity.async_client(features=arch),
    )
    answer = llm.with_structured_output(City, method=method).invoke("Which city? Answer in JSON.")  # type: ignore[arg-type]
    assert answer == City(**PARIS)
    request = fake_sequrity.last_request
    assert request is not None
    expected = "json_schema" if method == "json_schema" else "json_object"
    assert request.body["response_format"]["type"] == expected


def test_langchain_denial_is_a_refusal(fake_sequrity: FakeSequrity) -> None:
    pytest.importorskip("langchain_openai")
    from langchain_openai.chat_models.base import OpenAIRefusalError

    from sequrity_openai.integrations.langchain import chat_openai

    fake_sequrity.queue_denial()
    llm = chat_openai(
        "m",
        client=fake_sequrity.client(features="dual-llm"),
        async_client=fake_sequrity.async_client(features="dual-llm"),
    )
    # The refusal is the service's denial wording (queue_denial's default), word for word.
    with pytest.raises(
        OpenAIRefusalError, match=r"^Tool call to 'send_email' is denied by argument checking"
    ):
        llm.with_structured_output(City, method="json_schema").invoke("Which city?")


# ---------------------------------------------------------------- what the fake allows


def test_fake_refuses_a_scripted_value_that_breaks_the_schema(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_text("t", value={"name": "Paris"})
    with (
        fake_sequrity.client(features="dual-llm") as client,
        fake_sequrity.expect_rejection() as rejected,
        pytest.raises(openai.BadRequestError, match="does not match the request's response_format"),
    ):
        client.chat.completions.parse(model="m", messages=USER, response_format=City)
    assert "'population' is a required property" in (rejected[0].detail or "")


def test_fake_refuses_text_that_is_not_json_when_json_is_asked(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_text("Paris")
    with (
        fake_sequrity.client() as client,
        fake_sequrity.expect_rejection(),
        pytest.raises(openai.BadRequestError, match="is not JSON"),
    ):
        client.chat.completions.create(model="m", messages=USER, response_format={"type": "json_object"})


def test_fake_json_object_echo_is_an_object(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.client() as client:
        answer = client.chat.completions.create(
            model="m", messages=USER, response_format={"type": "json_object"}
        )
    assert json.loads(answer.choices[0].message.content or "") == {"echo": "Which city?"}


def test_fake_generates_instances_for_nested_schemas(fake_sequrity: FakeSequrity) -> None:
    class Trip(BaseModel):
        cities: list[City]
        stops: int | None
        kind: str = "rail"

    with fake_sequrity.client(features="dual-llm") as client:
        trip = client.chat.completions.parse(model="m", messages=USER, response_format=Trip)
    # The SDK sends a strict schema (every field required), so "kind" is made up too.
    assert trip.choices[0].message.parsed == Trip(cities=[], stops=0, kind="string")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({}, "offered no such tool (offered: none)"),
        ({"tools": "other"}, "offered no such tool (offered: other)"),
        ({"tools": "get_weather", "tool_choice": "none"}, "tool_choice is 'none'"),
        (
            {"tools": "get_weather", "tool_choice": {"type": "function", "function": {"name": "x"}}},
            "tool_choice forces 'x'",
        ),
    ],
)
def test_fake_refuses_tool_calls_the_request_rules_out(
    fake_sequrity: FakeSequrity, kwargs: dict[str, Any], reason: str
) -> None:
    from helpers.payloads import offer

    if "tools" in kwargs:
        kwargs["tools"] = offer(kwargs["tools"], "x")[:1] if kwargs["tools"] != "other" else offer("other")
    fake_sequrity.queue_tool_call("get_weather", {"city": "Oslo"})
    with (
        fake_sequrity.client() as client,
        fake_sequrity.expect_rejection(),
        pytest.raises(openai.BadRequestError, match=reason.replace("(", r"\(").replace(")", r"\)")),
    ):
        client.chat.completions.create(model="m", messages=USER, **kwargs)


def test_fake_forced_tool_choice(fake_sequrity: FakeSequrity) -> None:
    from helpers.payloads import offer

    tools = offer("lookup")
    tools[0]["function"]["parameters"] = {
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "required": ["q"],
    }
    with fake_sequrity.client() as client:
        made_up = client.chat.completions.create(
            model="m", messages=USER, tools=tools, tool_choice="required"
        )
        fake_sequrity.queue_text("plain")
        with (
            fake_sequrity.expect_rejection(),
            pytest.raises(openai.BadRequestError, match="requires a tool call"),
        ):
            client.chat.completions.create(model="m", messages=USER, tools=tools, tool_choice="required")
    call = (made_up.choices[0].message.tool_calls or [])[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("lookup", {"q": "string"})


def test_fake_refuses_previous_response_id(fake_sequrity: FakeSequrity) -> None:
    with (
        fake_sequrity.client() as client,
        fake_sequrity.expect_rejection(),
        pytest.raises(openai.BadRequestError, match="previous_response_id"),
    ):
        client.responses.create(model="m", input="again", previous_response_id="resp_1")
