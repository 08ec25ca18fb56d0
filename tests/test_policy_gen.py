"""Behaviour 7: sq.generate_policies / sq.agenerate_policies against FakeSequrity over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from sequrity.sqrt import check as official_check

import sequrity_openai as sq
from sequrity_openai._policy_gen import tools_from_file
from sequrity_openai.testing import FakeSequrity

SEQURITY_KEY = "sq-sequrity-key-000000001"
TOOLS = [
    {"type": "function", "function": {"name": "send_email", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_document", "parameters": {"type": "object"}}},
]
ANTHROPIC_TOOLS = [{"name": "send_email", "input_schema": {"type": "object"}}]
DESCRIPTION = "Never email confidential documents outside trustedcorp.com"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeSequrity(api_key=SEQURITY_KEY, check_api_key=True) as server:
        for name, value in server.environ.items():
            monkeypatch.setenv(name, value)
        yield server
        server.check()


@pytest.mark.parametrize(
    ("provider", "env", "path", "kind"),
    [
        (None, "OPENROUTER_API_KEY", "/control/policy-gen/v1/generate", "openrouter_chat_completion"),
        ("openai", "OPENAI_API_KEY", "/control/policy-gen/openai/v1/generate", "oai_chat_completion"),
        (
            "sequrity_azure",
            "SEQURITY_AZURE_API_KEY",
            "/control/policy-gen/sequrity_azure/v1/generate",
            "sequrity_azure_chat_completion",
        ),
    ],
)
def test_generate_policies_route_body_and_result(
    fake: FakeSequrity, monkeypatch: pytest.MonkeyPatch, provider: str | None, env: str, path: str, kind: str
) -> None:
    monkeypatch.setenv(env, "sk-provider-key-0000001")
    generated = sq.generate_policies(
        DESCRIPTION,
        model="openai/gpt-5-mini",
        tools=TOOLS,
        internal_tool_names=["parse_with_ai"],
        n_retries=1,
        provider=provider,
    )
    rec = fake.last_request
    assert rec is not None and rec.path == path and rec.status == 200
    assert rec.body == {
        "type": kind,
        "model": "openai/gpt-5-mini",
        "description": DESCRIPTION,
        "tools": TOOLS,
        "policy_lang": "sqrt",
        "n_retries": 1,
        "internal_tool_names": ["parse_with_ai"],
    }
    assert rec.header("Authorization") == f"Bearer {SEQURITY_KEY}"
    assert rec.header("X-Api-Key") == "sk-provider-key-0000001"
    assert isinstance(generated, sq.GeneratedPolicies)
    assert 'tool "send_email"' in generated.policies and 'tool "get_document"' in generated.policies
    assert official_check(generated.policies) is None  # the service's own grammar accepts it
    assert (
        generated.usage["total_tokens"]
        == generated.usage["prompt_tokens"] + generated.usage["completion_tokens"]
        > 0
    )


def test_only_the_bearer_and_the_provider_key_are_sent(
    fake: FakeSequrity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQURITY_POLICY", '{"mode":"strict"}')
    monkeypatch.setenv("SEQURITY_FEATURES", "dual-llm")
    monkeypatch.setenv("SEQURITY_CONFIG", '{"fsm":{"max_n_turns":2}}')
    monkeypatch.setenv("OPENAI_ORG_ID", "org-ambient")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Ambient: 1")
    with sq.session("5c0ffee0-0000-4000-8000-000000000000"):
        sq.generate_policies(DESCRIPTION, model="m", tools=TOOLS, llm_api_key="sk-llm-key-00000002")
    rec = fake.last_request
    assert rec is not None
    sent = {name for name in rec.headers if name.startswith(("x-", "openai-", "authorization"))}
    assert sent - {n for n in sent if n.startswith("x-stainless")} == {"authorization", "x-api-key"}


async def test_agenerate_policies_with_anthropic_tools(
    fake: FakeSequrity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-key-0000000003")
    generated = await sq.agenerate_policies(
        DESCRIPTION, model="claude-x", tools=ANTHROPIC_TOOLS, provider="anthropic"
    )
    rec = fake.last_request
    assert rec is not None and rec.path == "/control/policy-gen/anthropic/v1/generate"
    assert rec.body["type"] == "anthropic_messages"
    assert rec.header("X-Api-Key") == "sk-ant-key-0000000003"
    assert generated.policies == 'tool "send_email" {\n    hard allow always;\n}\n'
    policy = generated.as_policy(mode="custom")
    assert policy.codes is not None and policy.codes.code == generated.policies


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"description": " "}, "description"),
        ({"model": ""}, "model"),
        ({"n_retries": -1}, "n_retries"),
        ({"internal_tool_names": ["rm_rf"]}, "internal_tool_names"),
        ({"provider": "llama"}, "provider"),
    ],
)
def test_bad_arguments_are_refused_before_sending(
    fake: FakeSequrity, kwargs: dict[str, Any], setting: str
) -> None:
    call = {"description": DESCRIPTION, "model": "m", **kwargs}
    with pytest.raises(sq.ConfigurationError) as caught:
        sq.generate_policies(call.pop("description"), **call)
    assert caught.value.setting == setting
    assert fake.requests == []


def test_http_errors_are_the_sdks_with_keys_redacted(fake: FakeSequrity) -> None:
    fake.queue_error(400, "model not allowed for key sk-llm-key-00000002")
    with pytest.raises(openai.BadRequestError) as caught:
        sq.generate_policies(DESCRIPTION, model="m", llm_api_key="sk-llm-key-00000002", max_retries=0)
    assert "model not allowed" in str(caught.value)
    assert "sk-llm-key-00000002" not in str(caught.value)


def test_tools_from_file(tmp_path: Path) -> None:
    listed, wrapped, broken = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    listed.write_text(json.dumps(TOOLS))
    wrapped.write_text(json.dumps({"tools": TOOLS}))
    broken.write_text("{not json")
    assert tools_from_file(str(listed)) == tools_from_file(str(wrapped)) == TOOLS
    for path, expected in ((broken, "not JSON"), (tmp_path / "missing.json", "missing.json")):
        with pytest.raises(sq.ConfigurationError, match=expected) as caught:
            tools_from_file(str(path))
        assert caught.value.setting == "tools"


def test_scripted_policies_are_answered(fake: FakeSequrity) -> None:
    fake.queue_text('tool "send_email" {\n    hard deny always;\n}\n')
    assert sq.generate_policies(DESCRIPTION, model="m").policies.startswith('tool "send_email"')


def test_generated_text_goes_through_the_service_grammar(fake: FakeSequrity) -> None:
    fake.queue_text('tool "send_email" { hard deny; }')
    with pytest.raises(sq.ConfigurationError, match=r"generated policies: invalid SQRT at line 1, column 30"):
        sq.generate_policies(DESCRIPTION, model="m")


async def test_agenerate_checks_the_generated_text_too(fake: FakeSequrity) -> None:
    fake.queue_text("pass")
    with pytest.raises(sq.ConfigurationError, match=r"generated policies: invalid SQRT at line 1, column 1"):
        await sq.agenerate_policies(DESCRIPTION, model="m")
