"""LangGraph: ``create_react_agent`` with the ``ChatOpenAI`` of ``integrations.langchain.chat_openai``."""

from __future__ import annotations

import json
from typing import Any

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

pytest.importorskip("langgraph", reason=WHY["langgraph"])

from langchain_core.tools import tool
from langgraph.prebuilt import create_react_agent

from sequrity_openai.integrations.langchain import chat_openai

# LangGraph 1.x points to langchain.agents.create_agent; create_react_agent still works.
pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")
QUESTION = {"messages": [{"role": "user", "content": "Weather in Paris?"}]}


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return weather(city)


def sequrity_agent(**kwargs: Any) -> Any:
    return create_react_agent(chat_openai(MODEL), [get_weather], **kwargs)


def test_tool_round_trip_sync(fake: FakeSequrity, arch: str) -> None:
    agent = sequrity_agent()
    fake.queue_tool_call("get_weather", {"city": "Paris"})
    fake.queue_text("It is sunny in Paris.")
    with sq.session() as scope:
        assert agent.invoke(QUESTION)["messages"][-1].content == "It is sunny in Paris."
    requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    tool_round_trip(requests, "sunny in Paris")


async def test_tool_round_trip_async(fake: FakeSequrity, arch: str) -> None:
    agent = sequrity_agent()
    fake.queue_tool_call("get_weather", {"city": "Paris"})
    fake.queue_text("It is sunny in Paris.")
    async with sq.session() as scope:
        assert (await agent.ainvoke(QUESTION))["messages"][-1].content == "It is sunny in Paris."
    requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    tool_round_trip(requests, "sunny in Paris")


def test_response_format(fake: FakeSequrity, arch: str) -> None:
    agent = sequrity_agent(response_format=City)
    fake.queue_text("Paris is the capital of France.")
    fake.queue_text(json.dumps(PARIS), value=PARIS)
    with sq.session() as scope:
        out = agent.invoke({"messages": [{"role": "user", "content": "Capital of France?"}]})
    assert out["structured_response"].model_dump() == PARIS
    answer, structured = requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    assert "response_format" not in answer.body
    schema_named(structured, "City")
