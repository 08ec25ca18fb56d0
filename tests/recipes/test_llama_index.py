"""llama-index: ``OpenAI(openai_client=..., async_openai_client=...)``, never ``reuse_client=False``."""

from __future__ import annotations

import json

import openai
import pytest
from pytest_httpserver import HTTPServer

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

pytest.importorskip("llama_index.llms.openai", reason=WHY["llama_index.llms.openai"])

from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index.llms.openai import OpenAI


def sequrity_llm() -> OpenAI:
    # Both clients: without async_openai_client the async calls build a client aimed at OpenAI.
    return OpenAI(model=MODEL, openai_client=sq.create_client(), async_openai_client=sq.create_async_client())


async def test_chat_sync_and_async(fake: FakeSequrity, arch: str) -> None:
    llm = sequrity_llm()
    async with sq.session() as scope:
        assert llm.chat([ChatMessage(role="user", content="hi")]).message.content == "echo: hi"
        assert (await llm.acomplete("again")).text == "echo: again"
    one_session(through_sequrity(fake, arch, 2), scope)


def test_tool_round_trip(fake: FakeSequrity, arch: str) -> None:
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return weather(city)

    llm, tool = sequrity_llm(), FunctionTool.from_defaults(fn=get_weather)
    fake.queue_tool_call("get_weather", {"city": "Paris"})
    fake.queue_text("It is sunny in Paris.")
    with sq.session() as scope:
        asked = llm.chat_with_tools([tool], user_msg="Weather in Paris?")
        messages = [ChatMessage(role="user", content="Weather in Paris?"), asked.message]
        for call in llm.get_tool_calls_from_response(asked):
            result = tool(**call.tool_kwargs).content
            messages.append(
                ChatMessage(role="tool", content=result, additional_kwargs={"tool_call_id": call.tool_id})
            )
        final = llm.chat(messages)
    assert final.message.content == "It is sunny in Paris."
    requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    tool_round_trip(requests, "sunny in Paris")


async def test_structured_predict_sync_and_async(fake: FakeSequrity, arch: str) -> None:
    llm, prompt = sequrity_llm(), PromptTemplate("The capital of {country}?")
    fake.queue_text(json.dumps(PARIS), value=PARIS)
    fake.queue_text(json.dumps(PARIS), value=PARIS)
    async with sq.session() as scope:
        assert llm.structured_predict(City, prompt, country="France").model_dump() == PARIS
        assert (await llm.astructured_predict(City, prompt, country="France")).model_dump() == PARIS
    requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    for request in requests:
        schema_named(request, "City")


def test_reuse_client_false_bypasses_sequrity(fake: FakeSequrity, trap: HTTPServer) -> None:
    # Why the recipe says never: llama-index then builds a client per call from its own
    # api_key / api_base (here OPENAI_API_KEY / OPENAI_BASE_URL), ignoring openai_client.
    llm = OpenAI(model=MODEL, openai_client=sq.create_client(), reuse_client=False, max_retries=0)
    with pytest.raises(openai.InternalServerError):
        llm.complete("hi")
    assert fake.api_requests == []
    (bypass,) = [request for request, _ in trap.log]
    assert bypass.headers["Authorization"] == "Bearer sk-trap"
    trap.clear_log()
