"""Behaviour 6: sq.create_anthropic_client / create_async_anthropic_client return stock
anthropic clients on Sequrity's Messages route, over real HTTP against FakeSequrity."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

import sequrity_openai as sq
from sequrity_openai.testing import FakeSequrity

anthropic = pytest.importorskip("anthropic")

SEQURITY_KEY = "sq-sequrity-key-000000001"
ANTHROPIC_KEY = "sk-ant-provider-key-00002"
USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def fake() -> Any:
    with FakeSequrity(api_key=SEQURITY_KEY, check_api_key=True) as server:
        yield server
        server.check()


@pytest.fixture
def ambient(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the anthropic SDK would read by itself; none of it may reach the wire."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "sk-ambient-auth-token-003")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://api.anthropic.com")
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "Authorization: Bearer sk-custom-0004\nX-Leak: yes")


def _create(client: Any, **kwargs: Any) -> Any:
    return client.messages.create(model="claude-x", max_tokens=64, messages=USER, **kwargs)


@pytest.mark.parametrize(
    ("provider", "prefix"), [(None, "/control/chat/v1"), ("anthropic", "/control/chat/anthropic/v1")]
)
def test_the_wire_bearer_provider_key_and_route(
    fake: FakeSequrity, ambient: None, provider: str | None, prefix: str
) -> None:
    policy = sq.Policy(mode="strict")
    with fake.anthropic_client(provider=provider, features="dual-llm", policy=policy) as client:
        assert isinstance(client, anthropic.Anthropic)
        message = _create(client)
    rec = fake.last_request
    assert rec is not None and rec.path == f"{prefix}/messages"
    assert rec.header("Authorization") == f"Bearer {SEQURITY_KEY}"
    assert rec.header("X-Api-Key") == ANTHROPIC_KEY
    assert rec.header("X-Leak") is None
    assert rec.header("X-Features") == '{"agent_arch":"dual-llm"}'
    assert rec.policy == policy
    assert message.content[0].type == "text"
    assert sq.parse_result(message).value == "echo: hi"
    assert sq.session_id_of(message) is None  # a final answer carries no tool call id


@pytest.mark.parametrize(
    ("kwargs", "env", "expected"),
    [
        (
            {"llm_api_key": "sk-explicit-0005"},
            {"SEQURITY_LLM_API_KEY": "sk-sequrity-llm-06"},
            "sk-explicit-0005",
        ),
        ({}, {"SEQURITY_LLM_API_KEY": "sk-sequrity-llm-06"}, "sk-sequrity-llm-06"),
        ({}, {"OPENROUTER_API_KEY": "sk-or-not-this-0007"}, ANTHROPIC_KEY),
        ({"llm_api_key": ""}, {}, None),
    ],
)
def test_provider_key_precedence(
    fake: FakeSequrity,
    ambient: None,
    monkeypatch: pytest.MonkeyPatch,
    kwargs: dict[str, Any],
    env: dict[str, str],
    expected: str | None,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with fake.anthropic_client(**kwargs) as client:
        _create(client)
    assert fake.last_request is not None
    assert fake.last_request.header("X-Api-Key") == expected
    assert fake.last_request.header("Authorization") == f"Bearer {SEQURITY_KEY}"


def test_settings_come_from_the_sequrity_environment(
    fake: FakeSequrity, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in fake.environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SEQURITY_ENDPOINT_TYPE", "code")
    monkeypatch.setenv("SEQURITY_CONFIG", '{"fsm":{"max_n_turns":2}}')
    with sq.create_anthropic_client() as client:
        _create(client)
    rec = fake.last_request
    assert rec is not None and rec.path == "/control/code/v1/messages"
    assert rec.header("X-Config") == '{"fsm":{"max_n_turns":2}}'


def test_a_tool_use_round_trip_continues_the_session(fake: FakeSequrity) -> None:
    fake.queue_tool_call("get_weather", {"city": "Paris"})
    fake.queue_text("sunny", value={"temp": 20})
    tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    with fake.anthropic_client(features="dual-llm") as client:
        first = _create(client, tools=tools)
        assert first.stop_reason == "tool_use"
        call = first.content[0]
        assert (call.type, call.name, call.input) == ("tool_use", "get_weather", {"city": "Paris"})
        session = fake.assert_new_session()
        assert sq.session_id_of(first) == session
        history = [
            *USER,
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
            },
        ]
        assert sq.session_id_of(history) == session
        final = client.messages.create(model="claude-x", max_tokens=64, messages=history, tools=tools)
    fake.assert_session_continued(session)
    assert sq.parse_result(final).value == {"temp": 20}
    assert sq.parse_result(final).meta.producers == ("get_weather",)


def test_streaming_in_the_anthropic_event_format(fake: FakeSequrity) -> None:
    fake.queue_text("a streamed answer")
    fake.queue_tool_call("lookup", {"q": "x"})
    with fake.anthropic_client() as client:
        with client.messages.stream(model="claude-x", max_tokens=64, messages=USER) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text == "a streamed answer" == final.content[0].text
        events = list(
            _create(client, stream=True, tools=[{"name": "lookup", "input_schema": {"type": "object"}}])
        )
    assert events[0].type == "message_start"
    assert events[-1].type == "message_stop"
    deltas = "".join(e.delta.partial_json for e in events if e.type == "content_block_delta")
    assert json.loads(deltas) == {"q": "x"}


def test_session_scope_sends_the_session_on_the_next_turn(fake: FakeSequrity) -> None:
    with fake.anthropic_client() as client, sq.session() as scope:
        _create(client)
        _create(client)
    first, second = fake.api_requests
    assert first.sent_session_id is None
    assert second.sent_session_id == scope.id == first.session_id


def test_error_detail_is_shown_and_keys_are_redacted(fake: FakeSequrity, ambient: None) -> None:
    fake.queue_error(400, f"bad provider key {ANTHROPIC_KEY} for bearer {SEQURITY_KEY}")
    with fake.anthropic_client(max_retries=0) as client, pytest.raises(anthropic.BadRequestError) as caught:
        _create(client)
    shown = str(caught.value)
    assert "bad provider key" in shown
    assert ANTHROPIC_KEY not in shown and SEQURITY_KEY not in shown


async def test_async_client_round_trip_and_stream(fake: FakeSequrity, ambient: None) -> None:
    fake.queue_denial()
    client = fake.async_anthropic_client(features="dual-llm")
    assert isinstance(client, anthropic.AsyncAnthropic)
    async with client, sq.session() as scope:
        message = await client.messages.create(model="claude-x", max_tokens=64, messages=USER)
        with pytest.raises(sq.PolicyViolation) as denied:
            sq.parse_result(message).raise_for_status()
        assert denied.value.tool_name == "send_email"
        stream = await client.messages.create(model="claude-x", max_tokens=64, messages=USER, stream=True)
        kinds = [event.type async for event in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    first, second = fake.api_requests
    assert second.sent_session_id == scope.id == first.session_id
    assert {r.header("Authorization") for r in fake.api_requests} == {f"Bearer {SEQURITY_KEY}"}


def test_lang_graph_with_anthropic_follows_the_lang_graph_rules(fake: FakeSequrity) -> None:
    with fake.anthropic_client(endpoint_type="lang-graph", provider="anthropic") as client:
        _create(client)
    rec = fake.last_request
    assert rec is not None and rec.path == "/control/lang-graph/anthropic/v1/messages"
    assert rec.header("X-Config") == '{"fsm":{"disable_rllm":true}}'


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"provider": "openai"},
            r"only by the default route and provider 'anthropic'; for chat/completions, responses use sq.create_client",
        ),
        ({"provider": "llama"}, "llama has no documented"),
        ({"endpoint_type": "lang-graph"}, "only by provider 'anthropic'"),
        ({"auth_token": "x"}, "auth_token= is not taken"),
        ({"default_headers": {"Authorization": "Bearer other"}}, "given twice"),
    ],
)
@pytest.mark.parametrize("factory", [sq.create_anthropic_client, sq.create_async_anthropic_client])
def test_refusals(factory: Any, kwargs: dict[str, Any], expected: str) -> None:
    with pytest.raises(sq.ConfigurationError, match=expected):
        factory(api_key=SEQURITY_KEY, **kwargs)


def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)
    with pytest.raises(ImportError, match=r'pip install "sequrity-openai\[anthropic\]"') as caught:
        sq.create_anthropic_client(api_key=SEQURITY_KEY)
    assert caught.value.name == "anthropic"


@pytest.mark.parametrize("factory", [sq.create_anthropic_client, sq.create_async_anthropic_client])
def test_config_is_the_sequrity_setting_not_the_sdk_credential(fake: FakeSequrity, factory: Any) -> None:
    # anthropic.Anthropic has a config= credential argument; here config= is Sequrity's X-Config.
    client = factory(api_key=SEQURITY_KEY, base_url=fake.url, config={"fsm": {"max_n_turns": 3}})
    assert client.auth_token == SEQURITY_KEY and client.credentials is None
    assert client.default_headers["X-Config"] == '{"fsm":{"max_n_turns":3}}'
