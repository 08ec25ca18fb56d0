"""Behaviour 4: on the default route the provider key depends on the API (OpenRouter for chat
completions, OpenAI for Responses) unless llm_api_key / SEQURITY_LLM_API_KEY names one."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from sequrity_openai.testing import FakeSequrity

USER = [{"role": "user", "content": "hi"}]
OPENROUTER = "sk-or-openrouter-key-0001"
OPENAI = "sk-openai-provider-key-0002"


def _keys(fake: FakeSequrity) -> list[tuple[str | None, str | None]]:
    return [(r.api, r.header("X-Api-Key")) for r in fake.api_requests]


def _both(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    client.responses.create(model="m", input="hi")
    list(client.responses.create(model="m", input="hi", stream=True))
    client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]


async def _aboth(client: openai.AsyncOpenAI) -> None:
    await client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    await client.responses.create(model="m", input="hi")
    [e async for e in await client.responses.create(model="m", input="hi", stream=True)]
    await client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]


@pytest.fixture
def both_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", OPENROUTER)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI)


EXPECTED = [
    ("chat/completions", OPENROUTER),
    ("responses", OPENAI),
    ("responses", OPENAI),
    ("chat/completions", OPENROUTER),
]


def test_default_route_sends_each_apis_key(fake_sequrity: FakeSequrity, both_keys: None) -> None:
    with fake_sequrity.client() as client:
        _both(client)
    assert _keys(fake_sequrity) == EXPECTED


async def test_default_route_sends_each_apis_key_async(fake_sequrity: FakeSequrity, both_keys: None) -> None:
    async with fake_sequrity.async_client() as client:
        await _aboth(client)
    assert _keys(fake_sequrity) == EXPECTED


@pytest.mark.parametrize(
    ("kwargs", "env", "expected"),
    [
        ({"llm_api_key": "sk-explicit-key-0003"}, {}, "sk-explicit-key-0003"),
        ({}, {"SEQURITY_LLM_API_KEY": "sk-sequrity-llm-0004"}, "sk-sequrity-llm-0004"),
        ({"provider": "openai"}, {}, OPENAI),
        (
            {"provider": "sequrity_azure"},
            {"SEQURITY_AZURE_API_KEY": "sk-azure-key-0007"},
            "sk-azure-key-0007",
        ),
        ({"llm_api_key": ""}, {}, None),
    ],
)
def test_a_named_key_or_provider_sends_one_key_for_both_apis(
    fake_sequrity: FakeSequrity,
    both_keys: None,
    monkeypatch: pytest.MonkeyPatch,
    kwargs: dict[str, Any],
    env: dict[str, str],
    expected: str | None,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with fake_sequrity.client(**kwargs) as client:
        _both(client)
    assert _keys(fake_sequrity) == [(api, expected) for api, _ in EXPECTED]


@pytest.mark.parametrize(
    ("env", "chat", "responses"),
    [
        ({"OPENROUTER_API_KEY": OPENROUTER}, OPENROUTER, None),
        ({"OPENAI_API_KEY": OPENAI}, None, OPENAI),
    ],
)
def test_only_one_variable_set(
    fake_sequrity: FakeSequrity,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    chat: str | None,
    responses: str | None,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with fake_sequrity.client() as client:
        client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
        client.responses.create(model="m", input="hi")
    assert _keys(fake_sequrity) == [("chat/completions", chat), ("responses", responses)]


def test_a_key_set_on_the_call_is_kept(fake_sequrity: FakeSequrity, both_keys: None) -> None:
    with fake_sequrity.client() as client:
        client.responses.create(model="m", input="hi", extra_headers={"X-Api-Key": "sk-per-call-key-0005"})
    assert _keys(fake_sequrity) == [("responses", "sk-per-call-key-0005")]


def test_the_hook_is_added_only_when_the_keys_differ(fake_sequrity: FakeSequrity, both_keys: None) -> None:
    plain = openai.DefaultHttpxClient()
    fake_sequrity.client(http_client=plain, llm_api_key="sk-explicit-key-0003")
    before = list(plain.event_hooks["request"])
    shared = openai.DefaultHttpxClient()
    fake_sequrity.client(http_client=shared)
    fake_sequrity.client(http_client=shared)  # the same keys again: not added twice
    assert len(shared.event_hooks["request"]) == len(before) + 1


def test_a_shared_http_client_keeps_each_routes_keys(fake_sequrity: FakeSequrity, both_keys: None) -> None:
    shared = openai.DefaultHttpxClient()
    default = fake_sequrity.client(http_client=shared)
    code = fake_sequrity.client(http_client=shared, endpoint_type="code", llm_api_key="sk-code-route-0006")
    default.responses.create(model="m", input="hi")
    code.responses.create(model="m", input="hi")
    assert _keys(fake_sequrity) == [("responses", OPENAI), ("responses", "sk-code-route-0006")]
