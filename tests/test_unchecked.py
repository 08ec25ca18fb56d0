"""Behaviour 8: unknown header fields stay errors; unchecked= is the one escape hatch for
fields newer than this release, sent as given and marked in explain()."""

from __future__ import annotations

import json
from typing import Any

import pytest

import sequrity_openai as sq
from sequrity_openai._settings import resolve_settings
from sequrity_openai.testing import FakeSequrity

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def newer_service() -> Any:
    with FakeSequrity(accept_unknown_fields=True) as fake:
        yield fake
        fake.check()


def test_unchecked_fields_reach_the_wire_next_to_checked_ones(newer_service: FakeSequrity) -> None:
    config = sq.Config(
        fsm=sq.FsmConfig(max_n_turns=3, unchecked={"new_fsm_flag": True}), unchecked={"new_section": {"a": 1}}
    )
    features = sq.Features(agent_arch="dual-llm", unchecked={"new_feature": ["x"]})
    with newer_service.client(config=config, features=features) as client:
        client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    rec = newer_service.last_request
    assert rec is not None
    assert json.loads(rec.headers["x-config"]) == {
        "fsm": {"max_n_turns": 3, "new_fsm_flag": True},
        "new_section": {"a": 1},
    }
    assert json.loads(rec.headers["x-features"]) == {"agent_arch": "dual-llm", "new_feature": ["x"]}
    assert rec.config == config and rec.features == features  # read back as unchecked fields


async def test_unchecked_from_a_dict_and_from_the_environment(
    newer_service: FakeSequrity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQURITY_POLICY", '{"mode":"strict","unchecked":{"new_policy_knob":2}}')
    client = newer_service.async_client(config={"fsm": {"unchecked": {"n": None}}})
    async with client:
        await client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    rec = newer_service.last_request
    assert rec is not None
    assert rec.headers["x-policy"] == '{"mode":"strict","new_policy_knob":2}'
    assert rec.headers["x-config"] == '{"fsm":{"n":null}}'


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"fsmm": {}}, "fsmm: Extra inputs are not permitted"),  # a typo still fails
        ({"fsm": {"max_n_turn": 3}}, "fsm.max_n_turn: Extra inputs are not permitted"),
        ({"unchecked": {"fsm": {}}}, "set 'fsm' directly"),  # a known field is checked, not smuggled
        ({"fsm": {"unchecked": {"max_n_turns": 0}}}, "set 'max_n_turns' directly"),
        ({"unchecked": {"x": float("nan")}}, "unchecked"),
        ({"unchecked": ["x"]}, "unchecked"),
    ],
)
def test_typos_and_misuse_are_refused_at_construction(config: dict[str, Any], expected: str) -> None:
    with pytest.raises(sq.ConfigurationError, match=expected):
        sq.create_client(api_key="sk-test", config=config)


def test_explain_marks_unchecked_fields() -> None:
    settings = resolve_settings(
        api_key="sk-test", config=sq.Config(fsm=sq.FsmConfig(unchecked={"new_flag": 1}), unchecked={"z": 0})
    )
    rows = {name: shown for name, shown, _ in settings.explain()}
    assert rows["config"] == '{"fsm":{"new_flag":1},"z":0} (unchecked: z, fsm.new_flag)'
    plain = resolve_settings(api_key="sk-test", config=sq.Config(fsm=sq.FsmConfig(max_n_turns=2)))
    assert "unchecked" not in {name: shown for name, shown, _ in plain.explain()}["config"]


def test_a_service_of_this_release_refuses_unknown_fields_with_a_hint(fake_sequrity: FakeSequrity) -> None:
    with (
        fake_sequrity.client(config=sq.Config(unchecked={"brand_new": True})) as client,
        fake_sequrity.expect_rejection() as rejected,
        pytest.raises(Exception, match="Extra inputs are not permitted"),
    ):
        client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert rejected[0].detail is not None and "accept_unknown_fields=True" in rejected[0].detail


def test_unchecked_survives_assignment_and_copies() -> None:
    fsm = sq.FsmConfig(max_n_turns=2, unchecked={"new": 1})
    fsm.max_n_turns = 3
    assert fsm.unchecked == {"new": 1}
    assert fsm.model_copy(deep=True) == fsm
    assert fsm != sq.FsmConfig(max_n_turns=3)
