"""Behaviour 2: our helpers put the same JSON on the wire as the official client's helpers.

The official ``sequrity`` package is a test-only dependency; nothing of it is imported by
the package itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

import sequrity_openai as sq
from helpers.payloads import completion

official = pytest.importorskip("sequrity.control.types.headers")

SET_FIELDS = ("producers", "tags", "consumers")


def _normalise(value: Any) -> Any:
    """Sets become lists in an arbitrary order; compare them as sorted lists."""
    if isinstance(value, dict):
        return {
            k: sorted(v) if k in SET_FIELDS and isinstance(v, list) else _normalise(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _same(ours: str, theirs: str) -> None:
    assert _normalise(json.loads(ours)) == _normalise(json.loads(theirs))


flags = st.fixed_dictionaries(
    {
        name: st.booleans()
        for name in (
            "toxicity_filter",
            "pii_redaction",
            "healthcare_guardrail",
            "finance_guardrail",
            "url_blocker",
            "file_blocker",
        )
    }
)


@given(arch=st.sampled_from(["single_llm", "dual_llm"]), kwargs=flags)
def test_features_match_official(arch: str, kwargs: dict[str, bool]) -> None:
    ours = getattr(sq.Features, arch)(**kwargs).to_header()
    theirs = getattr(official.FeaturesHeader, arch)(**kwargs).dump_for_headers()
    _same(ours, theirs)


text = st.text(max_size=40)
names = st.sets(st.text(alphabet="abcdefghij_", min_size=1, max_size=8), max_size=4)
level = st.sampled_from(["hard", "soft"])
mode = st.sampled_from(["standard", "strict", "custom"])
language = st.sampled_from(["sqrt", "cedar"])
opt_bool = st.none() | st.booleans()

# What single_llm() accepts; dual_llm() accepts all of it and more.
POLICY_COMMON = {
    "mode": mode,
    "codes": text,
    "language": language,
    "fail_fast": opt_bool,
    "default_allow": st.booleans(),
    "enable_llm_blocked_tag": st.booleans(),
    "llm_blocked_tag_enforcement_level": level,
}


@given(
    kwargs=st.fixed_dictionaries(
        {},
        optional={
            **POLICY_COMMON,
            "auto_gen": st.booleans(),
            "default_allow_enforcement_level": level,
            "enable_non_executable_memory": st.booleans(),
            "branching_meta_policy_mode": st.sampled_from(["allow", "deny"]),
            "branching_meta_policy_producers": st.none() | names,
            "branching_meta_policy_tags": st.none() | names,
            "branching_meta_policy_consumers": st.none() | names,
        },
    )
)
def test_dual_llm_policy_matches_official(kwargs: dict[str, Any]) -> None:
    _same(
        sq.Policy.dual_llm(**kwargs).to_header(),
        official.SecurityPolicyHeader.dual_llm(**kwargs).dump_for_headers(),
    )


@given(
    kwargs=st.fixed_dictionaries(
        {},
        optional=POLICY_COMMON,
    )
)
def test_single_llm_policy_matches_official(kwargs: dict[str, Any]) -> None:
    _same(
        sq.Policy.single_llm(**kwargs).to_header(),
        official.SecurityPolicyHeader.single_llm(**kwargs).dump_for_headers(),
    )


positive = st.none() | st.integers(min_value=1, max_value=1000)
clear_meta = st.sampled_from(["never", "every_attempt", "every_turn"])
CONFIG_COMMON = {
    "min_num_tools_for_filtering": st.none() | st.integers(min_value=2, max_value=100),
    "clear_session_meta": clear_meta,
    "max_n_turns": positive,
}


@given(
    kwargs=st.fixed_dictionaries(
        {},
        optional=CONFIG_COMMON,
    )
)
def test_single_llm_config_matches_official(kwargs: dict[str, Any]) -> None:
    _same(
        sq.Config.single_llm(**kwargs).to_header(),
        official.FineGrainedConfigHeader.single_llm(**kwargs).dump_for_headers(),
    )


@settings(max_examples=300)
@given(
    kwargs=st.fixed_dictionaries(
        {},
        optional={
            **CONFIG_COMMON,
            "clear_history_every_n_attempts": positive,
            "disable_rllm": opt_bool,
            "enable_multistep_planning": opt_bool,
            "enabled_internal_tools": st.none()
            | st.lists(
                st.sampled_from(["parse_with_ai", "verify_hypothesis", "set_policy", "complete_turn"]),
                max_size=4,
            ),
            "prune_failed_steps": opt_bool,
            "force_to_cache": st.none() | st.lists(st.text(max_size=10), max_size=3),
            "max_pllm_steps": positive,
            "max_pllm_failed_steps": positive,
            "max_tool_calls_per_step": positive,
            "reduced_grammar_for_rllm_review": opt_bool,
            "retry_on_policy_violation": opt_bool,
            "pllm_debug_info_level": st.none() | st.sampled_from(["minimal", "normal", "extra"]),
            "strip_response_content": opt_bool,
            "include_program": opt_bool,
            "include_policy_check_history": opt_bool,
            "include_namespace_snapshot": opt_bool,
        },
    )
)
def test_dual_llm_config_matches_official(kwargs: dict[str, Any]) -> None:
    _same(
        sq.Config.dual_llm(**kwargs).to_header(),
        official.FineGrainedConfigHeader.dual_llm(**kwargs).dump_for_headers(),
    )


def test_documented_example() -> None:
    assert json.loads(sq.Features.dual_llm(pii_redaction=True).to_header()) == {
        "agent_arch": "dual-llm",
        "content_classifiers": [{"name": "pii_redaction", "threshold": 0.5}],
    }


def test_wire_headers_match_official_builder(httpserver: HTTPServer) -> None:
    """The headers a factory-made client sends equal those the official client builds."""
    from sequrity.control._constants import build_sequrity_headers

    features = sq.Features.dual_llm(toxicity_filter=True, url_blocker=True)
    policy = sq.Policy.dual_llm(
        codes='tool "a" { hard deny when true; }', branching_meta_policy_tags={"x", "y"}
    )
    config = sq.Config.dual_llm(max_n_turns=3, include_program=True)
    expected = build_sequrity_headers(
        "sq-key",
        llm_api_key="llm-key",
        features=official.FeaturesHeader.dual_llm(toxicity_filter=True, url_blocker=True).dump_for_headers(),
        policy=official.SecurityPolicyHeader.dual_llm(
            codes='tool "a" { hard deny when true; }', branching_meta_policy_tags={"x", "y"}
        ).dump_for_headers(),
        config=official.FineGrainedConfigHeader.dual_llm(
            max_n_turns=3, include_program=True
        ).dump_for_headers(),
    )
    httpserver.expect_request("/control/chat/openai/v1/chat/completions").respond_with_json(completion())
    client = sq.create_client(
        api_key="sq-key",
        llm_api_key="llm-key",
        provider="openai",
        base_url=httpserver.url_for("/"),
        features=features,
        policy=policy,
        config=config,
    )
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    sent = httpserver.log[0][0].headers
    for name, value in expected.items():
        if name in ("X-Features", "X-Policy", "X-Config"):
            _same(sent[name], value)
        else:
            assert sent[name] == value
