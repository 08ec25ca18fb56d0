"""The OpenAI Agents SDK, end to end against FakeSequrity, through sequrity_openai.integrations.agents.

Every test also runs a "trap": OPENAI_BASE_URL points at a second local server, so a model call
the SDK sends to its own default client lands there, and the SDK's trace exporter posts there
instead of to OpenAI. Model calls must never reach the trap; trace uploads may, but only with
the user's own OpenAI key.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import openai
import pytest

agents = pytest.importorskip("agents")

from agents import Agent, RunConfig, Runner, function_tool  # noqa: E402
from agents.models import _openai_shared  # noqa: E402
from agents.tracing import set_tracing_disabled  # noqa: E402
from agents.tracing.processors import default_exporter, default_processor  # noqa: E402
from pytest_httpserver import HTTPServer  # noqa: E402

import sequrity_openai as sq  # noqa: E402
from sequrity_openai.integrations import agents as sqa  # noqa: E402
from sequrity_openai.testing import FakeSequrity, RecordedRequest  # noqa: E402

SQ_KEY = "sq-agents-key-0123456789"
USER_OPENAI_KEY = "sk-user-own-openai-key"
CHAT_PATH = "/control/chat/v1/chat/completions"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeSequrity]:
    with FakeSequrity(api_key=SQ_KEY, check_api_key=True) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeSequrity) -> Iterator[FakeSequrity]:
    fake_server.reset()
    yield fake_server
    fake_server.check()


@pytest.fixture(autouse=True)
def trap(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[HTTPServer]:
    """Stand-in for api.openai.com; model calls that reach it fail the test.

    Each test starts from the SDK's defaults (no default client, /responses, tracing on) and
    the SDK's globals are put back afterwards.
    """
    httpserver.expect_request("/v1/traces/ingest", method="POST").respond_with_json({})
    monkeypatch.setenv("OPENAI_BASE_URL", httpserver.url_for("/v1"))
    exporter = default_exporter()
    endpoint = exporter.endpoint
    exporter.endpoint = httpserver.url_for("/v1/traces/ingest")
    exporter.set_api_key("")  # forget a key cached earlier; fall back to the env
    client = _openai_shared.get_default_openai_client()
    use_responses = _openai_shared.get_use_responses_by_default()
    _openai_shared.set_default_openai_client(None)  # type: ignore[arg-type]
    _openai_shared.set_use_responses_by_default(True)
    set_tracing_disabled(False)
    yield httpserver
    flush_traces()  # while the exporter still points at the trap
    exporter.endpoint = endpoint
    exporter.set_api_key("")
    set_tracing_disabled(False)
    _openai_shared.set_default_openai_client(client)  # type: ignore[arg-type]
    _openai_shared.set_use_responses_by_default(use_responses)
    strays = [f"{r.method} {r.path}" for r, _ in httpserver.log if r.path != "/v1/traces/ingest"]
    assert not strays, f"requests left for a host other than Sequrity: {strays}"


def flush_traces() -> None:
    # agents.flush_traces() is newer than some supported versions; the processor had it always.
    default_processor().force_flush()


def trace_keys(trap: HTTPServer) -> list[str]:
    flush_traces()
    return [r.headers["Authorization"] for r, _ in trap.log if r.path == "/v1/traces/ingest"]


WEATHER_CALLS: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    WEATHER_CALLS.append(city)
    return f"sunny, 21C in {city}"


def weather_agent(model: Any) -> Agent[Any]:
    return Agent(name="weather", instructions="Answer briefly.", model=model, tools=[get_weather])


def script_tool_round_trip(fake: FakeSequrity, city: str = "Paris") -> None:
    fake.queue_tool_call("get_weather", {"city": city})
    fake.queue_text(f"It is sunny in {city}.")


def tool_results(request: RecordedRequest) -> list[dict[str, Any]]:
    return [m for m in request.messages if isinstance(m, dict) and m.get("role") == "tool"]


def assert_tool_round_trip(fake: FakeSequrity, city: str = "Paris") -> str:
    """Two chat calls: the tool call, then the tool result continuing the same session."""
    first, second = fake.api_requests
    assert first.path == second.path == CHAT_PATH
    assert first.new_session and first.sent_session_id is None
    (result,) = tool_results(second)
    assert result["content"] == f"sunny, 21C in {city}"  # the SDK really ran the tool
    assert result["tool_call_id"].startswith(f"tc-{first.session_id}-")
    assert second.session_id == first.session_id and not second.new_session
    assert first.session_id is not None
    return first.session_id


async def test_chat_model_runs_a_tool_round_trip_through_sequrity(
    fake: FakeSequrity, trap: HTTPServer
) -> None:
    script_tool_round_trip(fake)
    model = sqa.chat_model(
        "gpt-5-mini",
        api_key=SQ_KEY,
        base_url=fake.url,
        features=sq.Features.single_llm(),
        policy={"codes": {"code": 'tool "get_weather" { hard allow always; }'}},
        config={"fsm": {"max_n_turns": 4}},
    )
    result = await Runner.run(weather_agent(model), "Weather in Paris?")

    assert result.final_output == "It is sunny in Paris."
    assert_tool_round_trip(fake)
    for request in fake.api_requests:
        assert request.header("authorization") == f"Bearer {SQ_KEY}"
        assert json.loads(request.header("x-features") or "") == {"agent_arch": "single-llm"}
        assert request.policy is not None and request.policy.codes is not None
        assert request.config is not None and request.config.fsm is not None
        assert request.config.fsm.max_n_turns == 4
        assert request.body["model"] == "gpt-5-mini"
        assert request.body["tools"][0]["function"]["name"] == "get_weather"


async def test_chat_model_takes_an_existing_client(fake: FakeSequrity, trap: HTTPServer) -> None:
    fake.queue_text("hello")
    client = fake.async_client(features="dual-llm")
    result = await Runner.run(weather_agent(sqa.chat_model("m", client=client)), "hi")
    assert result.final_output is not None
    (request,) = fake.api_requests
    assert request.path == CHAT_PATH and request.arch == "dual-llm"


async def test_run_scopes_one_session_per_run(fake: FakeSequrity, trap: HTTPServer) -> None:
    agent = weather_agent(sqa.chat_model("m", client=fake.async_client()))
    script_tool_round_trip(fake, "Paris")
    script_tool_round_trip(fake, "Rome")
    # An ambient scope would join both runs; run() gives each its own session.
    with sq.session() as outer:
        await sqa.run(agent, "Paris?")
        await sqa.run(agent, "Rome?")
    assert outer.id is None

    paris = fake.api_requests[:2]
    rome = fake.api_requests[2:]
    assert paris[0].session_id == paris[1].session_id
    assert rome[0].session_id == rome[1].session_id
    assert paris[0].session_id != rome[0].session_id
    assert rome[0].new_session and rome[0].sent_session_id is None


async def test_run_with_a_session_object_continues_across_runs(fake: FakeSequrity, trap: HTTPServer) -> None:
    agent = weather_agent(sqa.chat_model("m", client=fake.async_client()))
    script_tool_round_trip(fake)
    fake.queue_text("You asked about Paris.")
    conversation = sq.session()

    await sqa.run(agent, "Paris?", sequrity_session=conversation)
    session_id = assert_tool_round_trip(fake)
    assert conversation.id == session_id
    result = await sqa.run(agent, "What did I ask?", sequrity_session=conversation)

    assert result.final_output == "You asked about Paris."
    third = fake.api_requests[2]
    assert third.sent_session_id == session_id  # plain turn: continued by header
    fake.assert_session_continued(session_id, request=third)


async def test_run_resumes_a_session_id_and_false_leaves_the_scope(
    fake: FakeSequrity, trap: HTTPServer
) -> None:
    agent = weather_agent(sqa.chat_model("m", client=fake.async_client()))
    await sqa.run(agent, "start")
    started = fake.api_requests[0].session_id
    assert started is not None

    await sqa.run(agent, "resume", sequrity_session=started)
    async with sq.session(started):
        await sqa.run(agent, "ambient", sequrity_session=False)
    await sqa.run(agent, "fresh")

    resumed, ambient, fresh = fake.api_requests[1:]
    assert resumed.sent_session_id == started
    assert ambient.sent_session_id == started
    assert fresh.new_session and fresh.session_id != started


async def test_concurrent_runs_keep_their_own_sessions(fake: FakeSequrity, trap: HTTPServer) -> None:
    both_called = asyncio.Event()
    called: list[str] = []

    @function_tool
    async def lookup(q: str) -> str:
        """Look something up."""
        called.append(q)
        if len(called) == 2:
            both_called.set()
        # Hold each run here until both have had their tool call, so the queued answers are
        # consumed in a known order: two tool calls first, then two final texts.
        await asyncio.wait_for(both_called.wait(), 5)
        return f"found {q}"

    client = fake.async_client()
    agent = Agent(name="lookup", model=sqa.chat_model("m", client=client), tools=[lookup])
    fake.queue_tool_call("lookup", {"q": "a"})
    fake.queue_tool_call("lookup", {"q": "b"})
    fake.queue_text("done")
    fake.queue_text("done")
    one, two = sq.session(), sq.session()

    await asyncio.gather(
        sqa.run(agent, "first", sequrity_session=one), sqa.run(agent, "second", sequrity_session=two)
    )

    assert one.id and two.id and one.id != two.id
    for scope in (one, two):
        mine = [r for r in fake.api_requests if r.session_id == scope.id]
        assert len(mine) == 2 and mine[0].new_session
        assert all(m["tool_call_id"].startswith(f"tc-{scope.id}-") for m in tool_results(mine[1]))


async def test_run_streamed_keeps_the_session_while_events_are_consumed(
    fake: FakeSequrity, trap: HTTPServer
) -> None:
    script_tool_round_trip(fake)
    agent = weather_agent(sqa.chat_model("m", client=fake.async_client()))
    scope = sq.session()

    result = sqa.run_streamed(agent, "Paris?", sequrity_session=scope)
    kinds = [event.type async for event in result.stream_events()]

    assert "raw_response_event" in kinds
    assert result.final_output == "It is sunny in Paris."
    session_id = assert_tool_round_trip(fake)
    assert all(r.stream for r in fake.api_requests)
    assert scope.id == session_id


def test_run_sync_scopes_the_run(fake: FakeSequrity, trap: HTTPServer) -> None:
    agent = weather_agent(sqa.chat_model("m", client=fake.async_client()))
    scope = sq.session()
    sqa.run_sync(agent, "one", sequrity_session=scope)
    sqa.run_sync(agent, "two", sequrity_session=scope)
    first, second = fake.api_requests
    assert scope.id == first.session_id
    assert second.sent_session_id == first.session_id


async def test_model_provider_serves_every_agent_and_keeps_prefixed_names(
    fake: FakeSequrity, trap: HTTPServer
) -> None:
    script_tool_round_trip(fake)
    agent = weather_agent("openai/gpt-5-mini")  # an OpenRouter id; the default provider strips it
    config = RunConfig(model_provider=sqa.model_provider(client=fake.async_client()))

    result = await sqa.run(agent, "Paris?", run_config=config)

    assert result.final_output == "It is sunny in Paris."
    assert_tool_round_trip(fake)
    assert [r.body["model"] for r in fake.api_requests] == ["openai/gpt-5-mini"] * 2


async def test_set_default_client_routes_string_models_and_keeps_tracing_on_its_own_key(
    fake: FakeSequrity, trap: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", USER_OPENAI_KEY)
    script_tool_round_trip(fake)
    client = sqa.set_default_client(api_key=SQ_KEY, base_url=fake.url)

    result = await Runner.run(weather_agent("gpt-5-mini"), "Paris?")

    assert result.final_output == "It is sunny in Paris."
    assert_tool_round_trip(fake)  # chat completions, not /responses, and not the trap
    assert client.api_key == SQ_KEY
    assert default_exporter().api_key == USER_OPENAI_KEY
    keys = trace_keys(trap)
    assert keys, "tracing stayed on, so the run was exported to the trap"
    assert set(keys) == {f"Bearer {USER_OPENAI_KEY}"}


async def test_set_default_client_can_turn_tracing_off(
    fake: FakeSequrity, trap: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", USER_OPENAI_KEY)
    sqa.set_default_client(fake.async_client(), tracing=False)
    await Runner.run(weather_agent("gpt-5-mini"), "hi")
    assert fake.api_requests[0].path == CHAT_PATH
    assert trace_keys(trap) == []


async def test_stock_set_default_openai_client_leaks_the_key_to_tracing(
    fake: FakeSequrity, trap: HTTPServer
) -> None:
    # The trap the helper avoids, shown on the SDK itself: use_for_tracing defaults to True.
    client = fake.async_client()
    agents.set_default_openai_client(client)
    agents.set_default_openai_api("chat_completions")
    await Runner.run(weather_agent("gpt-5-mini"), "hi")
    assert set(trace_keys(trap)) == {f"Bearer {SQ_KEY}"}

    # Once the exporter holds the Sequrity key, set_default_client refuses to go on with it.
    with pytest.raises(sq.ConfigurationError, match="tracing=False") as info:
        sqa.set_default_client(client)
    assert SQ_KEY not in str(info.value)
    sqa.set_default_client(client, tracing=False)


async def test_without_the_helper_the_sdk_would_call_the_trap(
    trap: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", USER_OPENAI_KEY)
    # Shows the trap is armed: a stock agent goes to OPENAI_BASE_URL.
    trap.expect_request("/v1/responses", method="POST").respond_with_json({"error": "trap"}, status=400)
    with pytest.raises(openai.BadRequestError):
        await Runner.run(weather_agent("gpt-5-mini"), "hi", run_config=RunConfig(tracing_disabled=True))
    assert [r.path for r, _ in trap.log] == ["/v1/responses"]
    trap.log.clear()


def test_helpers_refuse_clients_that_bypass_sequrity(fake: FakeSequrity) -> None:
    with pytest.raises(sq.ConfigurationError, match="AsyncOpenAI"):
        sqa.chat_model("m", client=fake.client())  # type: ignore[arg-type]
    with pytest.raises(sq.ConfigurationError, match="not routed"):
        sqa.model_provider(client=openai.AsyncOpenAI(api_key="k", base_url=f"{fake.url}/v1"))
    with pytest.raises(sq.ConfigurationError, match="not both"):
        sqa.set_default_client(fake.async_client(), api_key="other")
    with pytest.raises(sq.ConfigurationError, match="SEQURITY_API_KEY"):
        sqa.chat_model("m", base_url=fake.url)


def test_importing_the_package_imports_no_framework() -> None:
    code = (
        "import sys, sequrity_openai, sequrity_openai.integrations\n"
        "loaded = sorted(m for m in ('agents', 'langchain_openai', 'langchain_core') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
