"""Framework recipes (docs/recipes.md), run through each real library against FakeSequrity.

Every recipe gets a client from ``sq.create_client()`` / ``sq.create_async_client()`` and
hands it to the framework, which must use it and build no client of its own:
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` point at a local "trap" server, and any request
that reaches it fails the test. Each test then checks what reached FakeSequrity: the route,
the Sequrity key, the architecture in ``X-Features`` and the session of every request.

The architecture comes from ``SEQURITY_FEATURES`` (the ``arch`` fixture), so the programs are
the same for every architecture. Only single-llm runs today: dual-llm answers still arrive as
the service's JSON document in ``content``, which no framework parses (issue 12). Adding
``"dual-llm"`` to ``ARCHS`` runs every recipe under dual-llm unchanged.

A library that cannot be installed beside the openai in this environment is skipped with the
reason (see ``WHY`` and the extras in pyproject.toml).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from pytest_httpserver import HTTPServer

import sequrity_openai as sq
from sequrity_openai.testing import FakeSequrity, RecordedRequest

ARCHS = ["single-llm"]  # issue 12: add "dual-llm" once dual-llm answers present the value as content
SQ_KEY = "sq-recipes-key-0123456789"
CHAT_PATH = "/control/chat/v1/chat/completions"
MODEL = "gpt-5-mini"
PARIS = {"name": "Paris", "country": "France"}
WHY = {
    "pydantic_ai": "needs the pydantic-ai extra: pip install 'sequrity-openai[pydantic-ai]'",
    "smolagents": "needs the smolagents extra: pip install 'sequrity-openai[smolagents]'",
    "langgraph": "needs the langgraph extra: pip install 'sequrity-openai[langgraph]'",
    "instructor": (
        "needs the instructor extra, which keeps openai at 3.3.0 or older: instructor 1.17 pins "
        "jiter<0.15 and openai 3.3.1+ needs jiter>=0.16 (CI runs it in a venv of its own)"
    ),
    "llama_index.llms.openai": (
        "needs the llama-index extra, which keeps openai below 3: llama-index-llms-openai 0.8.3 "
        "pins openai<3 (CI runs it in the openai 2.x venv)"
    ),
}


class City(BaseModel):
    name: str
    country: str


def need(module: str) -> Any:
    return pytest.importorskip(module, reason=WHY[module])


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeSequrity]:
    with FakeSequrity(api_key=SQ_KEY, check_api_key=True) as server:
        yield server


@pytest.fixture(params=ARCHS)
def arch(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake(fake_server: FakeSequrity, arch: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSequrity]:
    fake_server.reset()
    for name, value in fake_server.environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SEQURITY_FEATURES", arch)
    yield fake_server
    fake_server.check()


@pytest.fixture(autouse=True)
def trap(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[HTTPServer]:
    # Where a client that a framework built for itself would go.
    monkeypatch.setenv("OPENAI_BASE_URL", httpserver.url_for("/v1"))
    monkeypatch.setenv("OPENAI_API_BASE", httpserver.url_for("/v1"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-trap")
    yield httpserver
    strays = [f"{r.method} {r.path}" for r, _ in httpserver.log]
    assert not strays, f"requests left for a host other than Sequrity: {strays}"


# --------------------------------------------------------------------------- what reached the fake


def through_sequrity(fake: FakeSequrity, arch: str, count: int) -> list[RecordedRequest]:
    """``count`` requests, each on the chat route with the Sequrity key and the architecture."""
    requests = fake.api_requests
    assert len(requests) == count, [r.path for r in requests]
    for request in requests:
        assert request.path == CHAT_PATH
        assert request.header("authorization") == f"Bearer {SQ_KEY}"
        assert request.features is not None and request.features.agent_arch == arch
    return requests


def one_session(requests: list[RecordedRequest], scope: sq.Session) -> None:
    """The first request opened the scope's session and every later one continued it."""
    first, *later = requests
    assert first.sent_session_id is None and first.new_session
    assert scope.id == first.session_id
    for request in later:
        assert not request.new_session and request.session_id == scope.id


def tool_round_trip(requests: list[RecordedRequest], result: str) -> None:
    """The second request carried the tool result under the id the first answer gave."""
    asked, answered = requests
    assert [t["function"]["name"] for t in asked.body["tools"]] == ["get_weather"]
    tool_message = answered.messages[-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == result
    assert tool_message["tool_call_id"].startswith(f"tc-{asked.session_id}-")


def schema_named(request: RecordedRequest, name: str) -> dict[str, Any]:
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["name"] == name
    schema: dict[str, Any] = response_format["json_schema"]["schema"]
    assert set(schema["required"]) == {"name", "country"}
    return schema


def weather(city: str) -> str:
    return f"sunny in {city}"


# --------------------------------------------------------------------------- pydantic-ai


def pydantic_ai_model() -> Any:
    need("pydantic_ai")
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    return OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=sq.create_async_client()))


def test_pydantic_ai_chat_sync_and_async(fake: FakeSequrity, arch: str) -> None:
    model = pydantic_ai_model()
    from pydantic_ai import Agent

    agent = Agent(model)
    fake.queue_text("Hello from Sequrity")
    with sq.session() as scope:
        assert agent.run_sync("hi").output == "Hello from Sequrity"
        assert agent.run_sync("again").output == "echo: again"
    one_session(through_sequrity(fake, arch, 2), scope)


async def test_pydantic_ai_tool_round_trip(fake: FakeSequrity, arch: str) -> None:
    model = pydantic_ai_model()
    from pydantic_ai import Agent

    agent = Agent(model)

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


async def test_pydantic_ai_native_output(fake: FakeSequrity, arch: str) -> None:
    model = pydantic_ai_model()
    from pydantic_ai import Agent, NativeOutput

    agent = Agent(model, output_type=NativeOutput(City))
    fake.queue_text(json.dumps(PARIS), value=PARIS)
    async with sq.session():
        result = await agent.run("The capital of France?")
    assert result.output.model_dump() == PARIS
    (request,) = through_sequrity(fake, arch, 1)
    schema_named(request, "City")


# --------------------------------------------------------------------------- instructor


def test_instructor_tools_mode_sync(fake: FakeSequrity, arch: str) -> None:
    instructor = need("instructor")
    client = instructor.from_openai(sq.create_client())
    fake.queue_tool_call("City", PARIS)
    with sq.session() as scope:
        city = client.chat.completions.create(
            model=MODEL, response_model=City, messages=[{"role": "user", "content": "Capital of France?"}]
        )
        plain = client.chat.completions.create(
            model=MODEL, response_model=None, messages=[{"role": "user", "content": "hi"}]
        )
    assert city.model_dump() == PARIS
    assert plain.choices[0].message.content == "echo: hi"
    requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    assert requests[0].body["tool_choice"] == {"type": "function", "function": {"name": "City"}}


async def test_instructor_json_schema_mode_async(fake: FakeSequrity, arch: str) -> None:
    instructor = need("instructor")
    client = instructor.from_openai(sq.create_async_client(), mode=instructor.Mode.JSON_SCHEMA)
    fake.queue_text(json.dumps(PARIS), value=PARIS)
    async with sq.session():
        city = await client.chat.completions.create(
            model=MODEL, response_model=City, messages=[{"role": "user", "content": "Capital of France?"}]
        )
    assert city.model_dump() == PARIS
    (request,) = through_sequrity(fake, arch, 1)
    schema_named(request, "City")


# --------------------------------------------------------------------------- llama-index


def llama_index_llm() -> Any:
    need("llama_index.llms.openai")
    from llama_index.llms.openai import OpenAI

    # Both clients: without async_openai_client, the async calls build a client aimed at OpenAI.
    return OpenAI(model=MODEL, openai_client=sq.create_client(), async_openai_client=sq.create_async_client())


async def test_llama_index_chat_sync_and_async(fake: FakeSequrity, arch: str) -> None:
    llm = llama_index_llm()
    from llama_index.core.llms import ChatMessage

    async with sq.session() as scope:
        assert llm.chat([ChatMessage(role="user", content="hi")]).message.content == "echo: hi"
        assert (await llm.acomplete("again")).text == "echo: again"
    one_session(through_sequrity(fake, arch, 2), scope)


def test_llama_index_tool_round_trip(fake: FakeSequrity, arch: str) -> None:
    llm = llama_index_llm()
    from llama_index.core.llms import ChatMessage
    from llama_index.core.tools import FunctionTool

    def get_weather(city: str) -> str:
        """The weather in a city."""
        return weather(city)

    tool = FunctionTool.from_defaults(fn=get_weather)
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


async def test_llama_index_structured_predict(fake: FakeSequrity, arch: str) -> None:
    llm = llama_index_llm()
    from llama_index.core.prompts import PromptTemplate

    prompt = PromptTemplate("The capital of {country}?")
    fake.queue_text(json.dumps(PARIS), value=PARIS)
    fake.queue_text(json.dumps(PARIS), value=PARIS)
    async with sq.session() as scope:
        assert llm.structured_predict(City, prompt, country="France").model_dump() == PARIS
        assert (await llm.astructured_predict(City, prompt, country="France")).model_dump() == PARIS
    requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    for request in requests:
        schema_named(request, "City")


# --------------------------------------------------------------------------- smolagents


def smolagents_agent(max_steps: int) -> Any:
    need("smolagents")
    from smolagents import OpenAIModel, ToolCallingAgent, tool

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city.

        Args:
            city: the city's name.
        """
        return weather(city)

    # retry=False: the openai client already retries 429s; smolagents' own retry looks for
    # "429" anywhere in an error's text (a session id can hold it) and then waits 60 s or more.
    model = OpenAIModel(model_id=MODEL, client=sq.create_client(), retry=False)
    return ToolCallingAgent(tools=[get_weather], model=model, max_steps=max_steps, verbosity_level=0)


def test_smolagents_tool_loop_in_one_session(fake: FakeSequrity, arch: str) -> None:
    agent = smolagents_agent(max_steps=4)
    fake.queue_tool_call("get_weather", {"city": "Paris"})
    fake.queue_tool_call("final_answer", {"answer": "It is sunny in Paris."})
    with sq.session() as scope:
        assert agent.run("Weather in Paris?") == "It is sunny in Paris."
    asked, answered = requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    # smolagents replays the call and its result as text, so only the scope's X-Session-ID
    # keeps the second step in the session; the server counts it as a new turn.
    assert answered.sent_session_id == scope.id
    assert not any(m["role"] == "tool" for m in answered.messages)
    assert answered.messages[-1]["role"] == "user"
    assert answered.messages[-1]["content"][0]["text"] == "Observation:\nsunny in Paris"
    assert fake.sessions[scope.id] == 2


def test_smolagents_needs_max_steps_plus_one_turns(
    fake: FakeSequrity, arch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    need("smolagents")
    from smolagents.utils import AgentGenerationError

    max_steps = 2
    question = "Weather in Paris and Rome?"

    def run(max_n_turns: int) -> tuple[str, sq.Session]:
        fake.reset()
        monkeypatch.setenv("SEQURITY_CONFIG", json.dumps({"fsm": {"max_n_turns": max_n_turns}}))
        agent = smolagents_agent(max_steps=max_steps)
        # Both steps call a tool; at max_steps smolagents asks once more for a final answer.
        fake.queue_tool_call("get_weather", {"city": "Paris"})
        fake.queue_tool_call("get_weather", {"city": "Rome"})
        fake.queue_text("Sunny in Paris and Rome.")
        with sq.session() as scope:
            return str(agent.run(question)), scope

    answer, scope = run(max_steps + 1)
    assert answer == "Sunny in Paris and Rome."
    one_session(through_sequrity(fake, arch, max_steps + 1), scope)

    # One turn short: the final-answer request is refused, and smolagents returns the error
    # text as if it were the answer.
    with fake.expect_rejection() as rejected:
        answer, scope = run(max_steps)
    assert "Error in generating final LLM output: Error code: 400" in answer
    assert "has used all 2 turns" in answer and rejected[0].sent_session_id == scope.id
    fake.reset()

    # The limit inside the loop: the step's request is refused and the run raises.
    with fake.expect_rejection(), pytest.raises(AgentGenerationError, match="has used all 1 turns"):
        run(1)
    fake.reset()


# --------------------------------------------------------------------------- LangGraph


def react_agent(**kwargs: Any) -> Any:
    need("langgraph")
    from langchain_core.tools import tool
    from langgraph.prebuilt import create_react_agent

    from sequrity_openai.integrations.langchain import chat_openai

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return weather(city)

    return create_react_agent(chat_openai(MODEL), [get_weather], **kwargs)


langgraph_deprecation = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")


@langgraph_deprecation
async def test_langgraph_react_agent_tool_round_trip(fake: FakeSequrity, arch: str) -> None:
    agent = react_agent()
    question = {"messages": [{"role": "user", "content": "Weather in Paris?"}]}
    fake.queue_tool_call("get_weather", {"city": "Paris"})
    fake.queue_text("It is sunny in Paris.")
    with sq.session() as scope:
        assert agent.invoke(question)["messages"][-1].content == "It is sunny in Paris."
    sync_requests = through_sequrity(fake, arch, 2)
    one_session(sync_requests, scope)
    tool_round_trip(sync_requests, "sunny in Paris")

    fake.reset()
    fake.queue_tool_call("get_weather", {"city": "Paris"})
    fake.queue_text("Still sunny.")
    async with sq.session() as scope:
        assert (await agent.ainvoke(question))["messages"][-1].content == "Still sunny."
    async_requests = through_sequrity(fake, arch, 2)
    one_session(async_requests, scope)
    tool_round_trip(async_requests, "sunny in Paris")


@langgraph_deprecation
def test_langgraph_react_agent_response_format(fake: FakeSequrity, arch: str) -> None:
    agent = react_agent(response_format=City)
    fake.queue_text("Paris is the capital of France.")
    fake.queue_text(json.dumps(PARIS), value=PARIS)
    with sq.session() as scope:
        out = agent.invoke({"messages": [{"role": "user", "content": "Capital of France?"}]})
    assert out["structured_response"].model_dump() == PARIS
    answer, structured = requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    assert "response_format" not in answer.body
    schema_named(structured, "City")
