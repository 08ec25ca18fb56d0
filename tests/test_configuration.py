"""Behaviours 4 and 5: precedence argument > environment > default, and early, clear errors."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

import sequrity_openai as sq
from helpers.payloads import completion

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def _sent(httpserver: HTTPServer, **kwargs: Any) -> dict[str, str]:
    """Make one call with a factory-made client; return the headers the server saw."""
    httpserver.clear()
    httpserver.expect_request(re.compile(".*")).respond_with_json(completion())
    kwargs.setdefault("base_url", httpserver.url_for("/"))
    client = sq.create_client(**kwargs)
    client.chat.completions.create(model="m", messages=MESSAGES)
    request = httpserver.log[-1][0]
    return {k.lower(): v for k, v in request.headers.items()} | {"path": request.path}


# --------------------------------------------------------------------------- precedence

PRECEDENCE = [
    # (argument name, env var, argument value, env value, header/path check)
    ("api_key", "SEQURITY_API_KEY", "sq-arg", "sq-env", lambda h: h["authorization"].removeprefix("Bearer ")),
    ("llm_api_key", "SEQURITY_LLM_API_KEY", "llm-arg", "llm-env", lambda h: h.get("x-api-key")),
    ("provider", "SEQURITY_PROVIDER", "openai", "sequrity_azure", lambda h: h["path"].split("/")[3]),
    ("endpoint_type", "SEQURITY_ENDPOINT_TYPE", "code", "lang-graph", lambda h: h["path"].split("/")[2]),
    (
        "features",
        "SEQURITY_FEATURES",
        "dual-llm",
        '{"agent_arch":"single-llm"}',
        lambda h: h.get("x-features"),
    ),
    ("policy", "SEQURITY_POLICY", {"mode": "strict"}, '{"mode":"custom"}', lambda h: h.get("x-policy")),
    (
        "config",
        "SEQURITY_CONFIG",
        {"fsm": {"max_n_turns": 3}},
        '{"fsm":{"max_n_turns":9}}',
        lambda h: h.get("x-config"),
    ),
]
EXPECTED = {
    "api_key": ("sq-arg", "sq-env"),
    "llm_api_key": ("llm-arg", "llm-env"),
    "provider": ("openai", "sequrity_azure"),
    "endpoint_type": ("code", "lang-graph"),
    "features": ('{"agent_arch":"dual-llm"}', '{"agent_arch":"single-llm"}'),
    "policy": ('{"mode":"strict"}', '{"mode":"custom"}'),
    "config": ('{"fsm":{"max_n_turns":3}}', '{"fsm":{"max_n_turns":9}}'),
}
DEFAULTS: dict[str, Any] = {
    "llm_api_key": None,
    "provider": "v1",  # no provider segment: /control/chat/v1/...
    "endpoint_type": "chat",
    "features": None,
    "policy": None,
    "config": None,
}


@pytest.mark.parametrize(
    ("arg", "var", "arg_value", "env_value", "read"), PRECEDENCE, ids=[p[0] for p in PRECEDENCE]
)
def test_argument_beats_environment_beats_default(
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    arg: str,
    var: str,
    arg_value: Any,
    env_value: str,
    read: Any,
) -> None:
    base = {"api_key": "sq-base"} if arg != "api_key" else {}
    from_arg, from_env = EXPECTED[arg]
    monkeypatch.setenv(var, env_value)
    assert read(_sent(httpserver, **base, **{arg: arg_value})) == from_arg
    assert read(_sent(httpserver, **base)) == from_env
    monkeypatch.delenv(var)
    if arg == "api_key":
        with pytest.raises(sq.ConfigurationError):
            _sent(httpserver)
    else:
        assert read(_sent(httpserver, **base)) == DEFAULTS[arg]


def test_base_url_precedence(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQURITY_BASE_URL", "https://env.example.test")
    assert str(sq.create_client(api_key="k", base_url=httpserver.url_for("/")).base_url).startswith(
        httpserver.url_for("/")
    )
    assert str(sq.create_client(api_key="k").base_url) == "https://env.example.test/control/chat/v1/"
    # Without either, the default: tests/test_routing.py::test_default_base_url_is_the_service.


@pytest.mark.parametrize(
    ("provider", "var"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("openrouter", "OPENROUTER_API_KEY"),
        (None, "OPENROUTER_API_KEY"),
        ("sequrity_azure", "SEQURITY_AZURE_API_KEY"),
    ],
)
def test_provider_key_fallback(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, provider: str | None, var: str
) -> None:
    monkeypatch.setenv(var, "provider-key-from-env")
    assert _sent(httpserver, api_key="k", provider=provider)["x-api-key"] == "provider-key-from-env"
    monkeypatch.setenv("SEQURITY_LLM_API_KEY", "sequrity-llm-key")
    assert _sent(httpserver, api_key="k", provider=provider)["x-api-key"] == "sequrity-llm-key"
    assert "x-api-key" not in _sent(httpserver, api_key="k", provider=provider, llm_api_key="")


def test_provider_keys_of_other_providers_are_not_sent(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    assert _sent(httpserver, api_key="k", provider="openrouter").get("x-api-key") is None
    assert _sent(httpserver, api_key="k", provider="sequrity_azure").get("x-api-key") is None


def test_settings_report_their_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    from sequrity_openai._settings import resolve_settings

    monkeypatch.setenv("SEQURITY_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-1234567890")
    settings = resolve_settings(api_key="sq-secret-key-123456", features="dual-llm")
    origins = {name: origin for name, _, origin in settings.explain()}
    assert origins == {
        "api_key": "argument",
        "llm_api_key": "OPENAI_API_KEY",
        "provider": "SEQURITY_PROVIDER",
        "endpoint_type": "default",
        "base_url": "default",
        "session_id": "default",
        "features": "argument",
        "policy": "default",
        "config": "default",
    }


# --------------------------------------------------------------------------- errors


def test_missing_key_never_falls_back_to_openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-should-not-be-used")
    with pytest.raises(sq.ConfigurationError, match="SEQURITY_API_KEY") as info:
        sq.create_client()
    assert "sk-openai-should-not-be-used" not in str(info.value)
    with pytest.raises(sq.ConfigurationError, match="api_key"):
        sq.create_async_client(api_key="")


@pytest.mark.parametrize(
    ("kwargs", "env", "pattern"),
    [
        ({"provider": "azure"}, {}, r"argument provider: unknown provider 'azure'"),
        (
            {},
            {"SEQURITY_PROVIDER": "gemini"},
            r"environment variable SEQURITY_PROVIDER: unknown provider 'gemini'",
        ),
        ({"endpoint_type": "embeddings"}, {}, r"argument endpoint_type: unknown endpoint type"),
        ({}, {"SEQURITY_ENDPOINT_TYPE": "x"}, r"environment variable SEQURITY_ENDPOINT_TYPE"),
        (
            {},
            {"SEQURITY_FEATURES": "{not json"},
            r"environment variable SEQURITY_FEATURES: invalid X-Features",
        ),
        ({}, {"SEQURITY_FEATURES": '{"agent_arch":"triple-llm"}'}, r"SEQURITY_FEATURES.*agent_arch"),
        ({}, {"SEQURITY_POLICY": '{"mode":"lenient"}'}, r"environment variable SEQURITY_POLICY.*mode"),
        ({}, {"SEQURITY_POLICY": "[1,2]"}, r"SEQURITY_POLICY: invalid X-Policy"),
        (
            {},
            {"SEQURITY_CONFIG": '{"fsm":{"max_n_turn":3}}'},
            r"SEQURITY_CONFIG.*fsm.max_n_turn.*Extra inputs",
        ),
        (
            {"config": {"fsm": {"max_n_turns": 0}}},
            {},
            r"argument config.*fsm.max_n_turns.*greater than or equal to 1",
        ),
        (
            {"config": sq.Config.dual_llm(max_n_turns=2).model_dump() | {"fsm": {"max_pllm_steps": 0}}},
            {},
            r"max_pllm_steps",
        ),
        (
            {"features": {"content_classifiers": [{"name": "pii_redaction", "threshold": 1.5}]}},
            {},
            r"threshold",
        ),
        ({"features": 42}, {}, r"argument features: expected sq.Features, a dict or a JSON string, got int"),
        (
            {"policy": '{"presets": {"default_allow": "maybe"}}'},
            {},
            r"argument policy.*presets.default_allow",
        ),
    ],
)
def test_bad_settings_fail_at_construction_naming_the_source(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any], env: dict[str, str], pattern: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(sq.ConfigurationError, match=pattern):
        sq.create_client(api_key="k", **kwargs)
    with pytest.raises(sq.ConfigurationError, match=pattern):
        sq.create_async_client(api_key="k", **kwargs)


def test_model_constructors_enforce_documented_constraints() -> None:
    with pytest.raises(ValueError, match="max_n_turns"):
        sq.Config.single_llm(max_n_turns=0)
    with pytest.raises(ValueError, match="min_num_tools_for_filtering"):
        sq.FsmConfig(min_num_tools_for_filtering=1)
    with pytest.raises(ValueError, match="threshold"):
        sq.ContentClassifier(name="pii_redaction", threshold=-0.1)
    with pytest.raises(ValueError, match="Extra inputs"):
        sq.Policy.model_validate({"mode": "strict", "typo": 1})


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\x00b"])
@pytest.mark.parametrize("where", ["api_key", "llm_api_key", "session_id", "default_headers"])
def test_header_injection_is_refused_before_sending(where: str, bad: str) -> None:
    kwargs: dict[str, Any] = {"api_key": "k"}
    if where == "default_headers":
        kwargs["default_headers"] = {"X-Trace": bad}
    else:
        kwargs[where] = bad
    with pytest.raises(sq.ConfigurationError, match=r"CR, LF or NUL") as info:
        sq.create_client(**kwargs)
    assert bad not in str(info.value)
    assert where.split("_")[0] in str(info.value)


def test_header_injection_in_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQURITY_API_KEY", "abc\ndef")
    with pytest.raises(sq.ConfigurationError, match="environment variable SEQURITY_API_KEY contains a CR"):
        sq.create_client()
    with pytest.raises(sq.ConfigurationError, match="session_id"):
        sq.headers(session_id="x\ny")
    with pytest.raises(sq.ConfigurationError, match="session_id"):
        sq.session("x\r\ny")


def test_non_ascii_key_is_refused_without_echo() -> None:
    with pytest.raises(sq.ConfigurationError, match="non-ASCII") as info:
        sq.create_client(api_key="clé-secrète")
    assert "secr" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["http://api.sequrity.ai", "http://10.0.0.5:8080", "http://my-gateway.internal/"]
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(sq.ConfigurationError, match="allow_insecure_http=True"):
        sq.create_client(api_key="k", base_url=url)
    client = sq.create_client(api_key="k", base_url=url, allow_insecure_http=True)
    assert str(client.base_url).startswith("http://")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9", "http://127.8.9.10"]
)
def test_plain_http_to_loopback_is_fine(url: str) -> None:
    assert str(sq.create_client(api_key="k", base_url=url).base_url).startswith(url)


@pytest.mark.parametrize("url", ["ftp://x.test", "api.sequrity.ai", "https://", "https://x.test/?a=1"])
def test_malformed_base_url(url: str) -> None:
    with pytest.raises(sq.ConfigurationError, match="base_url"):
        sq.create_client(api_key="k", base_url=url)


def test_oversized_headers_are_refused_with_the_way_out(httpserver: HTTPServer) -> None:
    big_policy = sq.Policy.dual_llm(codes="// " + "x" * 20_000)
    with pytest.raises(
        sq.HeaderTooLargeError, match=r"over the limit of 16384 bytes.*max_header_bytes"
    ) as info:
        sq.create_client(api_key="k", policy=big_policy)
    assert "X-Policy" in str(info.value)
    with pytest.raises(sq.HeaderTooLargeError):
        sq.headers(policy=big_policy)
    headers = _sent(httpserver, api_key="k", policy=big_policy, max_header_bytes=64 * 1024)
    assert len(headers["x-policy"]) > 20_000
    with pytest.raises(sq.ConfigurationError, match="max_header_bytes"):
        sq.create_client(api_key="k", max_header_bytes=0)


def test_non_ascii_policy_is_escaped_not_an_encode_error(httpserver: HTTPServer) -> None:
    code = 'tool "envoyer_courriel" { hard deny when to.value == "zoë@exemple.fr"; } // 日本語'
    headers = _sent(httpserver, api_key="k", policy=sq.Policy.dual_llm(codes=code))
    assert headers["x-policy"].isascii()
    assert json.loads(headers["x-policy"])["codes"]["code"] == code


def test_same_header_given_twice_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(sq.ConfigurationError, match="X-Features is given twice"):
        sq.create_client(
            api_key="k", features="dual-llm", default_headers={"X-Features": '{"agent_arch":"single-llm"}'}
        )


def test_default_headers_beat_environment(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQURITY_FEATURES", "dual-llm")
    raw = '{"agent_arch":"single-llm"}'
    assert _sent(httpserver, api_key="k", default_headers={"X-Features": raw})["x-features"] == raw


def test_unknown_openai_keyword_is_not_dropped() -> None:
    with pytest.raises(TypeError, match="no_such_option"):
        sq.create_client(api_key="k", no_such_option=1)


def test_wrong_http_client_kind_is_named() -> None:
    import openai

    with pytest.raises(sq.ConfigurationError, match="http_client"):
        sq.create_client(api_key="k", http_client=openai.DefaultAsyncHttpxClient())
    with pytest.raises(sq.ConfigurationError, match="http_client"):
        sq.create_async_client(api_key="k", http_client=openai.DefaultHttpxClient())


def test_explain_words_unset_values_by_kind() -> None:
    from sequrity_openai._settings import resolve_settings

    shown = {name: value for name, value, _ in resolve_settings(api_key="k").explain()}
    assert shown["provider"] == "(default route)"
    assert shown["session_id"] == "(not set)"
    assert shown["features"] == "(not sent)"
    assert shown["api_key"] == "****"


@pytest.mark.parametrize(
    "url", ["http://[::1", "https://h/\udcff", "https://h\x7f", "https://exa mple.test", "https://h:99999"]
)
def test_unparseable_base_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(sq.ConfigurationError, match="argument base_url"):
        sq.create_client(api_key="k", base_url=url)


def test_non_finite_numbers_never_reach_a_header() -> None:
    with pytest.raises(sq.ConfigurationError, match=r"llm.pllm.temperature"):
        sq.create_client(api_key="k", config={"llm": {"pllm": {"temperature": float("inf")}}})
    with pytest.raises(ValueError, match="finite"):
        sq.LlmSettings(top_p=float("nan"))
