"""LangChain's ChatOpenAI, end to end against FakeSequrity, through sequrity_openai.integrations.langchain.

OPENAI_BASE_URL, OPENAI_API_BASE and OPENAI_API_KEY point at a second local "trap" server: a
client that LangChain builds for itself would call it, and any request there fails the test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import openai
import pytest

pytest.importorskip("langchain_openai")

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pytest_httpserver import HTTPServer

import sequrity_openai as sq
from sequrity_openai.integrations.langchain import chat_openai
from sequrity_openai.testing import FakeSequrity

SQ_KEY = "sq-langchain-key-0123456789"
CHAT_PATH = "/control/chat/v1/chat/completions"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeSequrity]:
    with FakeSequrity(api_key=SQ_KEY, check_api_key=True) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeSequrity, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSequrity]:
    fake_server.reset()
    for name, value in fake_server.environ.items():
        monkeypatch.setenv(name, value)
    yield fake_server
    fake_server.check()


@pytest.fixture(autouse=True)
def trap(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[HTTPServer]:
    monkeypatch.setenv("OPENAI_BASE_URL", httpserver.url_for("/v1"))
    monkeypatch.setenv("OPENAI_API_BASE", httpserver.url_for("/v1"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-trap")
    yield httpserver
    strays = [f"{r.method} {r.path}" for r, _ in httpserver.log]
    assert not strays, f"requests left for a host other than Sequrity: {strays}"


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny, 21C in {city}"


def assert_sequrity_call(fake: FakeSequrity, *, stream: bool = False) -> None:
    for request in fake.api_requests:
        assert request.path == CHAT_PATH
        assert request.header("authorization") == f"Bearer {SQ_KEY}"
        assert json.loads(request.header("x-features") or "") == {"agent_arch": "single-llm"}
        assert request.stream is stream


def test_invoke(fake: FakeSequrity) -> None:
    fake.queue_text("Hello from Sequrity")
    llm = chat_openai("gpt-4.1-mini", features="single-llm", temperature=0.2)
    reply = llm.invoke("hi")
    assert reply.content == "Hello from Sequrity"
    assert_sequrity_call(fake)
    (request,) = fake.api_requests
    assert request.body["model"] == "gpt-4.1-mini" and request.body["temperature"] == 0.2


async def test_ainvoke(fake: FakeSequrity) -> None:
    fake.queue_text("async hello")
    llm = chat_openai("gpt-5-mini", features="single-llm")
    reply = await llm.ainvoke("hi")
    assert reply.content == "async hello"
    assert_sequrity_call(fake)


def test_stream(fake: FakeSequrity) -> None:
    fake.queue_text("a streamed answer in several pieces")
    llm = chat_openai("gpt-5-mini", features="single-llm")
    chunks = list(llm.stream("hi"))
    assert len(chunks) > 2
    assert "".join(str(c.content) for c in chunks) == "a streamed answer in several pieces"
    assert_sequrity_call(fake, stream=True)


async def test_astream(fake: FakeSequrity) -> None:
    fake.queue_text("an async streamed answer")
    llm = chat_openai("gpt-5-mini", features="single-llm")
    chunks = [c async for c in llm.astream("hi")]
    assert "".join(str(c.content) for c in chunks) == "an async streamed answer"
    assert_sequrity_call(fake, stream=True)


def test_bind_tools_round_trip_continues_the_session(fake: FakeSequrity) -> None:
    fake.queue_tool_call("get_weather", {"city": "Paris"})
    fake.queue_text("It is sunny in Paris.")
    llm = chat_openai("gpt-5-mini", features="single-llm").bind_tools([get_weather])

    messages: list[BaseMessage] = [HumanMessage("Weather in Paris?")]
    asked = llm.invoke(messages)
    assert isinstance(asked, AIMessage)
    (call,) = asked.tool_calls
    assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"}
    messages += [asked, get_weather.invoke(call)]
    final = llm.invoke(messages)

    assert final.content == "It is sunny in Paris."
    assert_sequrity_call(fake)
    first, second = fake.api_requests
    assert first.body["tools"][0]["function"]["name"] == "get_weather"
    assert first.new_session
    tool_message = second.messages[-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "sunny, 21C in Paris"
    assert tool_message["tool_call_id"].startswith(f"tc-{first.session_id}-")
    assert second.sent_session_id is None  # continued by the tool result's id
    fake.assert_session_continued(first.session_id, request=second)


async def test_streamed_tool_call_round_trip(fake: FakeSequrity) -> None:
    fake.queue_tool_call("get_weather", {"city": "Rome"})
    fake.queue_text("Sunny in Rome.")
    llm = chat_openai("gpt-5-mini", features="single-llm").bind_tools([get_weather])

    messages: list[BaseMessage] = [HumanMessage("Weather in Rome?")]
    gathered: AIMessageChunk | None = None
    async for chunk in llm.astream(messages):
        assert isinstance(chunk, AIMessageChunk)
        gathered = chunk if gathered is None else gathered + chunk
    assert gathered is not None
    (call,) = gathered.tool_calls
    assert call["args"] == {"city": "Rome"}
    messages += [gathered, await get_weather.ainvoke(call)]
    final = "".join([str(c.content) async for c in llm.astream(messages)])

    assert final == "Sunny in Rome."
    assert_sequrity_call(fake, stream=True)
    first, second = fake.api_requests
    fake.assert_session_continued(first.session_id, request=second)


def test_second_invoke_in_a_session_carries_the_first_id(fake: FakeSequrity) -> None:
    llm = chat_openai("gpt-5-mini", features="single-llm")
    with sq.session() as conversation:
        llm.invoke("first")
        list(llm.stream("second"))
    llm.invoke("outside")

    first, second, outside = fake.api_requests
    assert first.sent_session_id is None and first.new_session
    assert conversation.id == first.session_id
    assert second.sent_session_id == first.session_id
    assert outside.sent_session_id is None and outside.new_session


async def test_concurrent_tasks_keep_their_own_sessions(fake: FakeSequrity) -> None:
    llm = chat_openai("gpt-5-mini", features="single-llm")

    async def conversation(name: str) -> str | None:
        async with sq.session() as scope:
            await llm.ainvoke(f"{name} one")
            await asyncio.sleep(0)
            await llm.ainvoke(f"{name} two")
        return scope.id

    ids = await asyncio.gather(*(conversation(f"c{i}") for i in range(4)))

    assert len(set(ids)) == 4
    for session_id in ids:
        mine = [r for r in fake.api_requests if r.session_id == session_id]
        assert [r.sent_session_id for r in mine] == [None, session_id]


def test_responses_api_also_goes_through_sequrity(fake: FakeSequrity) -> None:
    fake.queue_text("via responses")
    llm = chat_openai("gpt-5-mini", features="single-llm", use_responses_api=True)
    reply = llm.invoke("hi")
    assert "via responses" in str(reply.content)  # a list of content blocks on some versions
    (request,) = fake.api_requests
    assert request.path == "/control/chat/v1/responses"


def test_factory_arguments_and_client_options(fake: FakeSequrity) -> None:
    llm = chat_openai(
        "pllm,qllm",
        api_key=SQ_KEY,
        base_url=fake.url,
        provider="openai",
        llm_api_key="sk-provider",
        features=sq.Features.dual_llm(),
        policy={"codes": {"code": 'tool "get_weather" { hard allow always; }'}},
        timeout=7,
        max_retries=0,
        default_headers={"X-Trace": "t1"},
        max_tokens=50,
    )
    assert llm.root_client.max_retries == 0 and llm.root_async_client.max_retries == 0
    assert llm.root_client.timeout == 7
    assert llm.client is llm.root_client.chat.completions
    assert llm.async_client is llm.root_async_client.chat.completions
    llm.invoke("hi")
    (request,) = fake.api_requests
    assert request.path == "/control/chat/openai/v1/chat/completions"
    assert request.header("x-api-key") == "sk-provider"
    assert request.header("x-trace") == "t1"
    assert request.arch == "dual-llm"
    assert request.policy is not None and request.policy.codes is not None
    assert request.body["model"] == "pllm,qllm" and request.body["max_completion_tokens"] == 50


async def test_existing_clients(fake: FakeSequrity) -> None:
    fake.queue_text("sync")
    fake.queue_text("async")
    llm = chat_openai(
        "m", client=fake.client(features="single-llm"), async_client=fake.async_client(features="single-llm")
    )
    assert llm.invoke("a").content == "sync"
    assert (await llm.ainvoke("b")).content == "async"
    assert_sequrity_call(fake)


def test_refuses_what_would_bypass_sequrity(fake: FakeSequrity) -> None:
    with pytest.raises(sq.ConfigurationError, match="both client and async_client"):
        chat_openai("m", client=fake.client())
    with pytest.raises(sq.ConfigurationError, match="not both"):
        chat_openai("m", client=fake.client(), async_client=fake.async_client(), features="dual-llm")
    with pytest.raises(sq.ConfigurationError, match="create_async_client"):
        chat_openai("m", client=fake.client(), async_client=fake.client())  # type: ignore[arg-type]
    with pytest.raises(sq.ConfigurationError, match="not routed"):
        chat_openai("m", client=openai.OpenAI(api_key="k"), async_client=fake.async_client())
    for name in ("openai_api_base", "openai_api_key", "openai_proxy"):
        with pytest.raises(sq.ConfigurationError, match=name):
            chat_openai("m", **{name: "http://127.0.0.1:9"})
    with pytest.raises(sq.ConfigurationError, match="timeout"):
        chat_openai("m", timeout=1, request_timeout=2)


def test_root_client_alone_is_ignored_by_langchain(fake: FakeSequrity, trap: HTTPServer) -> None:
    # The LangChain trap that chat_openai avoids: without `client`, ChatOpenAI replaces the
    # given root_client with one built from OPENAI_* settings (here: the trap).
    trap.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        {"error": "trap"}, status=400
    )
    llm = ChatOpenAI(model="m", root_client=fake.client(), max_retries=0)
    with pytest.raises(openai.BadRequestError):
        llm.invoke("hi")
    assert [r.path for r, _ in trap.log] == ["/v1/chat/completions"]
    trap.log.clear()
    assert fake.api_requests == []


def test_keys_stay_out_of_what_langchain_serialises(fake: FakeSequrity) -> None:
    # LangSmith and callbacks record the model's fields; the keys live only on the openai clients.
    llm = chat_openai("m", llm_api_key="sk-provider-secret")
    recorded = " ".join(
        [
            repr(llm),
            str(llm.model_dump()),
            json.dumps(llm.to_json(), default=str),
            str(llm._identifying_params),
            str(llm._get_ls_params()),
        ]
    )
    assert SQ_KEY not in recorded and "sk-provider-secret" not in recorded
