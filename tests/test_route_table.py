"""One route table in code, equal to PROTOCOL.md section 1; FakeSequrity serves exactly it;
the factories refuse routes that serve none of their SDK's APIs; the lang-graph rules."""

from __future__ import annotations

import itertools
import json
from typing import Any

import openai
import pytest

import sequrity_openai as sq
from sequrity_openai._routes import ROUTES, Route
from sequrity_openai.testing import FakeSequrity

# PROTOCOL.md section 1, "What the service documents as served", row by row.
DOCUMENTED = {
    "chat/completions": (("chat", "code", "lang-graph"), (None, "openai", "openrouter", "sequrity_azure")),
    "responses": (("chat", "code"), (None, "openai", "sequrity_azure")),
    "messages": (("chat", "code"), (None, "anthropic")),
    "generate": (("policy-gen",), (None, "openai", "openrouter", "anthropic", "sequrity_azure")),
}
LANG_GRAPH_MESSAGES = {("messages", "lang-graph", "anthropic")}
APIS = ("chat/completions", "responses", "messages", "generate")
ENDPOINTS = ("chat", "code", "agent", "lang-graph", "policy-gen")
PROVIDERS = (None, "openai", "openrouter", "anthropic", "sequrity_azure", "llama")


def test_the_code_table_is_the_documented_table() -> None:
    documented = {
        (api, et, p) for api, (ets, ps) in DOCUMENTED.items() for et in ets for p in ps
    } | LANG_GRAPH_MESSAGES
    assert {(r.api, r.endpoint_type, r.provider) for r in ROUTES} == documented


def _body(api: str, provider: str | None) -> dict[str, Any]:
    if api == "generate":
        kind = {None: "openrouter_chat_completion", "openrouter": "openrouter_chat_completion"}.get(
            provider,
            {"openai": "oai_chat_completion", "anthropic": "anthropic_messages"}.get(
                provider or "", "sequrity_azure_chat_completion"
            ),
        )
        return {"type": kind, "model": "m", "description": "d", "tools": []}
    if api == "responses":
        return {"model": "m", "input": "hi"}
    return {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


def test_the_fake_serves_exactly_the_code_table(fake_sequrity: FakeSequrity) -> None:
    served: set[tuple[str, str, str | None]] = set()
    with fake_sequrity.expect_rejection(), openai.DefaultHttpxClient(base_url=fake_sequrity.url) as http:
        for api, et, provider in itertools.product(APIS, ENDPOINTS, PROVIDERS):
            path = Route(api, et, provider).path  # type: ignore[arg-type]
            answer = http.post(path, json=_body(api, provider), headers={"Authorization": "Bearer k"})
            if answer.status_code == 404:
                assert "not a Sequrity Control route" in answer.json()["detail"]
            else:
                assert answer.status_code == 200, (path, answer.text)
                served.add((api, et, provider))
        listing = http.get("/control/").json()["routes"]
        health = http.get("/control/health")
    assert served == {(r.api, r.endpoint_type, r.provider) for r in ROUTES}
    assert {(r["api"], r["endpoint_type"], r["provider"]) for r in listing} == served
    assert health.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"provider": "anthropic"},
            r"serves only the Anthropic Messages API: use sq.create_anthropic_client",
        ),
        ({"provider": "anthropic", "endpoint_type": "lang-graph"}, "sq.create_anthropic_client"),
        ({"provider": "llama"}, "llama has no documented Sequrity Control route"),
        ({"provider": "llama", "endpoint_type": "code"}, "llama has no documented"),
    ],
)
@pytest.mark.parametrize("factory", [sq.create_client, sq.create_async_client])
def test_openai_factories_refuse_routes_without_an_openai_api(
    factory: Any, kwargs: dict[str, str], expected: str
) -> None:
    with pytest.raises(sq.ConfigurationError, match=expected) as caught:
        factory(api_key="sk-test", **kwargs)
    assert (caught.value.setting, caught.value.origin) == ("provider", "argument")


def test_a_refused_provider_from_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQURITY_PROVIDER", "anthropic")
    with pytest.raises(sq.ConfigurationError) as caught:
        sq.create_client(api_key="sk-test")
    assert (caught.value.origin, caught.value.env_var) == ("environment", "SEQURITY_PROVIDER")


@pytest.mark.parametrize("factory", [sq.create_client, sq.create_async_client])
def test_the_agent_endpoint_type_warns_and_still_builds(factory: Any) -> None:
    with pytest.warns(UserWarning, match="'agent'.*documents no route") as record:
        client = factory(api_key="sk-test", endpoint_type="agent")
    assert str(client.base_url).endswith("/control/agent/v1/")
    assert record[0].filename == __file__  # the warning points at the caller's line


def test_sequrity_azure_is_accepted_and_documented_as_internal() -> None:
    client = sq.create_client(api_key="sk-test", provider="sequrity_azure")
    assert str(client.base_url).endswith("/control/chat/sequrity_azure/v1/")
    assert "Sequrity-internal" in (sq.create_client.__doc__ or "")


# -- lang-graph --------------------------------------------------------------------------------

MESSAGES = [{"role": "user", "content": "hi"}]


def _sent_config(fake: FakeSequrity) -> Any:
    rec = fake.last_request
    assert rec is not None and rec.path.startswith("/control/lang-graph/")
    return json.loads(rec.headers["x-config"])


def test_lang_graph_sends_a_config_with_disable_rllm_when_none_is_given(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.client(endpoint_type="lang-graph") as client:
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert _sent_config(fake_sequrity) == {"fsm": {"disable_rllm": True}}


async def test_lang_graph_forces_disable_rllm_into_a_given_config(fake_sequrity: FakeSequrity) -> None:
    client = fake_sequrity.async_client(endpoint_type="lang-graph", config=sq.Config(fsm={"max_n_turns": 2}))
    async with client:
        await client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert _sent_config(fake_sequrity) == {"fsm": {"max_n_turns": 2, "disable_rllm": True}}


@pytest.mark.parametrize(
    ("kwargs", "setting", "expected"),
    [
        ({"features": "single-llm"}, "features", "always runs dual-llm"),
        ({"config": {"fsm": {"disable_rllm": False}}}, "config", "disable_rllm=true"),
        (
            {"config": {"response_format": {"strip_response_content": True}}},
            "config",
            "strip_response_content",
        ),
    ],
)
@pytest.mark.parametrize("factory", [sq.create_client, sq.create_async_client])
def test_lang_graph_refuses_what_its_runner_forbids(
    factory: Any, kwargs: dict[str, Any], setting: str, expected: str
) -> None:
    with pytest.raises(sq.ConfigurationError, match=expected) as caught:
        factory(api_key="sk-test", endpoint_type="lang-graph", **kwargs)
    assert caught.value.setting == setting


def test_other_endpoint_types_send_the_config_unchanged(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.client(endpoint_type="code") as client:
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert fake_sequrity.last_request is not None
    assert "x-config" not in fake_sequrity.last_request.headers
