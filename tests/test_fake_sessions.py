"""FakeSequrity: sessions as in PROTOCOL.md section 7, driven through factory-made clients."""

from __future__ import annotations

import uuid
from typing import Any

import openai
import pytest

import sequrity_openai as sq
from helpers.payloads import offer, offer_responses
from sequrity_openai.testing import FakeSequrity


def _ask(client: openai.OpenAI, text: str = "hi", **kwargs: Any) -> Any:
    return client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}], **kwargs)


def _tool_round_trip(client: openai.OpenAI, fake: FakeSequrity, **kwargs: Any) -> tuple[Any, Any]:
    fake.queue_tool_call("get_time", {})
    fake.queue_text("it is noon")
    first = _ask(client, "time?", tools=offer("get_time"), **kwargs)
    message = first.choices[0].message
    call = (message.tool_calls or [])[0]
    final = client.chat.completions.create(
        model="m",
        tools=offer("get_time"),
        messages=[
            {"role": "user", "content": "time?"},
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "12:00"},
        ],
        **kwargs,
    )
    return first, final


def test_every_answer_names_a_new_session(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    first = sequrity_client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "a"}]
    )
    second = sequrity_client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "b"}]
    )
    ids = [first.headers["x-session-id"], second.headers["x-session-id"]]
    assert ids[0] != ids[1]
    for session_id in ids:
        assert len(session_id) == 36
        uuid.UUID(session_id)
    assert [r.session_id for r in fake_sequrity.requests] == ids
    assert all(r.new_session for r in fake_sequrity.requests)
    assert fake_sequrity.sessions == dict.fromkeys(ids, 1)
    fake_sequrity.assert_new_session()


def test_continuation_by_header(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    with sq.session() as conversation:
        _ask(sequrity_client, "one")
        first_id = fake_sequrity.assert_new_session()
        _ask(sequrity_client, "two")
    assert conversation.id == first_id
    fake_sequrity.assert_header("X-Session-ID", first_id)
    rec = fake_sequrity.requests[-1]
    assert (rec.sent_session_id, rec.session_id, rec.new_session) == (first_id, first_id, False)
    assert fake_sequrity.assert_session_continued(first_id) == first_id
    assert fake_sequrity.sessions[first_id] == 2


def test_continuation_by_tool_call_ids(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    first, final = _tool_round_trip(sequrity_client, fake_sequrity)
    assert final.choices[0].message.content == "it is noon"
    opened, continued = fake_sequrity.requests
    assert continued.sent_session_id is None
    assert continued.session_id == opened.session_id == sq.session_id_of(first)
    fake_sequrity.assert_session_continued(opened.session_id)
    # A tool result continues the turn; it does not start a new one.
    assert opened.session_id is not None
    assert fake_sequrity.sessions[opened.session_id] == 1


def test_responses_continuation_by_call_id(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    fake_sequrity.queue_tool_call("f", {})
    first = sequrity_client.responses.create(model="m", input="go", tools=offer_responses("f"))
    call = first.output[0]
    assert call.type == "function_call"
    sequrity_client.responses.create(
        model="m", input=[{"type": "function_call_output", "call_id": call.call_id, "output": "done"}]
    )
    fake_sequrity.assert_session_continued(sq.session_id_of(first))


def test_unknown_session_in_header_is_rejected(fake_sequrity: FakeSequrity) -> None:
    stale = str(uuid.uuid4())
    with (
        fake_sequrity.client(session_id=stale) as client,
        fake_sequrity.expect_rejection() as rejected,
        pytest.raises(openai.BadRequestError, match="unknown session"),
    ):
        _ask(client)
    assert rejected[0].status == 400
    assert stale in (rejected[0].detail or "")
    assert fake_sequrity.sessions == {}


def test_unknown_session_in_tool_call_id_is_rejected(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    stale = f"tc-{uuid.uuid4()}-{uuid.uuid4()}"
    messages: Any = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "tool_calls": [{"id": stale, "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": stale, "content": "r"},
    ]
    with (
        fake_sequrity.expect_rejection(),
        pytest.raises(openai.BadRequestError, match="unknown session"),
    ):
        sequrity_client.chat.completions.create(model="m", messages=messages)


def test_header_and_tool_ids_naming_different_sessions_are_rejected(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    first, _ = _tool_round_trip(sequrity_client, fake_sequrity)
    _ask(sequrity_client, "other")
    other = fake_sequrity.requests[-1].session_id
    assert other is not None
    call = first.choices[0].message.tool_calls[0]
    with (
        fake_sequrity.expect_rejection(),
        pytest.raises(openai.BadRequestError, match="tool results carry session"),
    ):
        sequrity_client.chat.completions.create(
            model="m",
            messages=[
                first.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": "again"},
            ],
            extra_headers={"X-Session-ID": other},
        )


def test_tool_ids_that_are_not_sequrity_ids_start_a_new_session(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    messages: Any = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "r"},
    ]
    sequrity_client.chat.completions.create(model="m", messages=messages)
    fake_sequrity.assert_new_session()


def test_max_n_turns_from_config(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.client(config=sq.Config(fsm=sq.FsmConfig(max_n_turns=2))) as client, sq.session():
        _ask(client, "1")
        _ask(client, "2")
        with (
            fake_sequrity.expect_rejection() as rejected,
            pytest.raises(openai.BadRequestError, match="max_n_turns") as raised,
        ):
            _ask(client, "3")
    assert "2 turns" in raised.value.message
    assert rejected[0].sent_session_id == fake_sequrity.requests[0].session_id
    assert [r.status for r in fake_sequrity.requests] == [200, 200, 400]


def test_tool_results_do_not_use_up_turns(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.client(config=sq.Config(fsm=sq.FsmConfig(max_n_turns=1))) as client:
        _, final = _tool_round_trip(client, fake_sequrity)
        assert final.choices[0].message.content == "it is noon"
        with (
            sq.session(fake_sequrity.requests[0].session_id),
            fake_sequrity.expect_rejection(),
            pytest.raises(openai.BadRequestError, match="max_n_turns"),
        ):
            _ask(client, "and now?")


def test_dual_llm_defaults_to_five_turns(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.client(features="dual-llm") as client, sq.session():
        for turn in range(5):
            assert sq.parse_result(_ask(client, str(turn))).ok
        with fake_sequrity.expect_rejection(), pytest.raises(openai.BadRequestError, match="5 turns"):
            _ask(client, "sixth")


def test_single_llm_defaults_to_fifty_turns(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    with sq.session():
        for turn in range(50):
            _ask(sequrity_client, str(turn))
        with fake_sequrity.expect_rejection(), pytest.raises(openai.BadRequestError, match="50 turns"):
            _ask(sequrity_client, "fifty-first")


def test_session_keeps_the_limit_it_started_with(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.client(config=sq.Config(fsm=sq.FsmConfig(max_n_turns=1))) as short:
        _ask(short)
    session_id = fake_sequrity.requests[0].session_id
    with (
        fake_sequrity.client(session_id=session_id) as default,
        fake_sequrity.expect_rejection(),
        pytest.raises(openai.BadRequestError, match="1 turns"),
    ):
        _ask(default)


def test_scripted_error_does_not_open_or_advance_a_session(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    fake_sequrity.queue_error(500, "boom")
    with pytest.raises(openai.InternalServerError):
        _ask(sequrity_client.with_options(max_retries=0))
    assert fake_sequrity.sessions == {}
    assert fake_sequrity.last_request is not None
    assert fake_sequrity.last_request.session_id is None


async def test_async_sessions(fake_sequrity: FakeSequrity, async_sequrity_client: openai.AsyncOpenAI) -> None:
    async with sq.session() as conversation:
        await async_sequrity_client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "a"}]
        )
        await async_sequrity_client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "b"}]
        )
    assert conversation.id is not None
    fake_sequrity.assert_session_continued(conversation.id)
    assert fake_sequrity.sessions == {conversation.id: 2}
