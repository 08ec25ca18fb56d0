"""pydantic-ai: ``OpenAIChatModel`` with ``OpenAIProvider(openai_client=sq.create_async_client())``."""

from __future__ import annotations

import json

import pytest

import sequrity_openai as sq
from recipes._recipes import (
    MODEL,
    PARIS,
    WHY,
    City,
    one_session,
    schema_named,
    through_sequrity,
    tool_round_trip,
    weather,
)
from sequrity_openai.testing import FakeSequrity

pytest.importorskip("pydantic_ai", reason=WHY["pydantic_ai"])

from pydantic_ai import Agent, NativeOutput
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider


def sequrity_model() -> OpenAIChatModel:
    return OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=sq.create_async_client()))


def test_chat(fake: FakeSequrity, arch: str) -> None:
    agent = Agent(sequrity_model())
    fake.queue_text("Hello from Sequrity")
    with sq.session() as scope:
        assert agent.run_sync("hi").output == "Hello from Sequrity"
        assert agent.run_sync("again").output == "echo: again"
    one_session(through_sequrity(fake, arch, 2), scope)


async def test_tool_round_trip(fake: FakeSequrity, arch: str) -> None:
    agent = Agent(sequrity_model())

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return weather(city)

    fake.queue_tool_call("get_weather", {"city": "Paris"})
    fake.queue_text("It is sunny in Paris.")
    async with sq.session() as scope:
        result = await agent.run("Weather in Paris?")
    assert result.output == "It is sunny in Paris."
    requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    tool_round_trip(requests, "sunny in Paris")


async def test_native_output(fake: FakeSequrity, arch: str) -> None:
    agent = Agent(sequrity_model(), output_type=NativeOutput(City))
    fake.queue_text(json.dumps(PARIS), value=PARIS)
    async with sq.session():
        result = await agent.run("The capital of France?")
    assert result.output.model_dump() == PARIS
    (request,) = through_sequrity(fake, arch, 1)
    schema_named(request, "City")
