"""FakeSequrity: ``stream=true`` for chat completions and responses, parsed by the stock SDK."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

import sequrity_openai as sq
from helpers.payloads import offer, offer_responses
from sequrity_openai.testing import FakeSequrity

USER: Any = [{"role": "user", "content": "tell me a short story"}]


def test_text_stream_chunks(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    fake_sequrity.queue_text("Once upon a time there was a fox.")
    chunks = list(sequrity_client.chat.completions.create(model="m", messages=USER, stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) >= 2
    assert "".join(deltas) == "Once upon a time there was a fox."
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert all(c.usage is None for c in chunks)


def test_raw_stream_has_headers_first_and_ends_with_done(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    with sequrity_client.chat.completions.with_streaming_response.create(
        model="m", messages=USER, stream=True
    ) as response:
        session_id = response.headers["x-session-id"]
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)
    assert session_id == fake_sequrity.requests[-1].session_id


def test_collect_stream_gets_session_and_text(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    collected = sq.collect_stream(
        sequrity_client.chat.completions.create(model="m", messages=USER, stream=True)
    )
    assert collected.text == "echo: tell me a short story"
    assert collected.session_id == fake_sequrity.requests[-1].session_id
    assert collected.finish_reason == "stop"


def test_usage_chunk(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    plain = sequrity_client.chat.completions.create(model="m", messages=USER)
    chunks = list(
        sequrity_client.chat.completions.create(
            model="m", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None and plain.usage is not None
    assert last.usage.model_dump() == plain.usage.model_dump()
    assert all(c.usage is None for c in chunks[:-1])


def test_tool_call_deltas(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    fake_sequrity.queue_tool_calls(
        [("send_email", {"to": "bob@example.com", "body": "hello there"}), ("log", "{}")]
    )
    chunks = list(
        sequrity_client.chat.completions.create(
            model="m", messages=USER, stream=True, tools=offer("send_email", "log")
        )
    )
    call_deltas = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])]
    first = call_deltas[0]
    assert (first.index, first.function and first.function.name) == (0, "send_email")
    assert first.id is not None and first.id.startswith("tc-")
    fragments = [
        d.function.arguments for d in call_deltas if d.index == 0 and d.function and d.function.arguments
    ]
    assert len(fragments) >= 2
    assert json.loads("".join(fragments)) == {"to": "bob@example.com", "body": "hello there"}
    assert {d.index for d in call_deltas} == {0, 1}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_collect_stream_tool_calls(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    fake_sequrity.queue_tool_call("get_weather", {"city": "Rome"})
    collected = sq.collect_stream(
        sequrity_client.chat.completions.create(
            model="m", messages=USER, stream=True, tools=offer("get_weather")
        )
    )
    (call,) = collected.tool_calls
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Rome"}'}
    assert sq.session_id_of(call["id"]) == collected.session_id == fake_sequrity.requests[-1].session_id
    assert collected.finish_reason == "tool_calls"


def test_sdk_stream_helper(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    fake_sequrity.queue_text("streamed via helper")
    fake_sequrity.queue_tool_call("lookup", {"q": "x"})
    with sequrity_client.chat.completions.stream(model="m", messages=USER) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_completion()
    assert "content.delta" in kinds
    assert final.choices[0].message.content == "streamed via helper"
    with sequrity_client.chat.completions.stream(model="m", messages=USER, tools=offer("lookup")) as stream:
        final = stream.get_final_completion()
    call = (final.choices[0].message.tool_calls or [])[0]
    assert (call.function.name, call.function.arguments) == ("lookup", '{"q": "x"}')


def test_dual_llm_stream_carries_the_document(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_text("x", value={"answer": 42})
    with fake_sequrity.client(features="dual-llm", config=sq.Config.dual_llm(include_program=True)) as client:
        collected = sq.collect_stream(client.chat.completions.create(model="m", messages=USER, stream=True))
    result = collected.result()
    assert result.ok
    assert result.value == {"answer": 42}
    assert result.program is not None


def test_scripted_error_on_stream_is_raised_before_chunks(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    fake_sequrity.queue_error(403, "stream forbidden")
    with pytest.raises(openai.PermissionDeniedError, match="stream forbidden"):
        sequrity_client.chat.completions.create(model="m", messages=USER, stream=True)


def test_delayed_stream_times_out(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_delay(1.0)
    with fake_sequrity.client(timeout=0.2, max_retries=0) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=USER, stream=True)


def test_responses_stream_events(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    fake_sequrity.queue_text("a streamed response")
    events = list(sequrity_client.responses.create(model="m", input="go", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) >= 2
    assert "".join(deltas) == "a streamed response"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == "a streamed response"


def test_responses_stream_helper_with_function_call(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    fake_sequrity.queue_tool_call("search", {"query": "sequrity control"})
    with sequrity_client.responses.stream(
        model="m", input="find it", tools=offer_responses("search")
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    (call,) = final.output
    assert call.type == "function_call"
    assert json.loads(call.arguments) == {"query": "sequrity control"}
    assert sq.session_id_of(call.call_id) == fake_sequrity.requests[-1].session_id
    fake_sequrity.queue_text("found")
    with sequrity_client.responses.stream(model="m", input="again") as stream:
        assert stream.get_final_response().output_text == "found"


async def test_async_stream(fake_sequrity: FakeSequrity, async_sequrity_client: openai.AsyncOpenAI) -> None:
    fake_sequrity.queue_tool_call("f", {"a": 1})
    stream = await async_sequrity_client.chat.completions.create(
        model="m", messages=USER, stream=True, tools=offer("f")
    )
    collected = await sq.acollect_stream(stream)
    assert collected.tool_calls[0]["function"]["name"] == "f"
    assert collected.session_id == fake_sequrity.requests[-1].session_id
    events = [
        e async for e in await async_sequrity_client.responses.create(model="m", input="yo", stream=True)
    ]
    assert events[-1].type == "response.completed"


# --------------------------------------------------------------------------- collect_stream on the SDK's state

DUAL = sq.Features.dual_llm()


def _dual(client: openai.OpenAI | openai.AsyncOpenAI) -> Any:
    return client.with_options(default_headers=sq.headers(features=DUAL))


def _check_completion(collected: sq.CollectedStream, session_id: str | None) -> None:
    # The SDK's own snapshot: a ChatCompletion that parse_result and session_id_of take as is.
    assert isinstance(collected.completion, openai.types.chat.ChatCompletion)
    message = collected.completion.choices[0].message
    assert message.content == (collected.text or None)
    assert message.refusal == collected.refusal
    # The kept wire document: the SDK's state accumulates the streamed extra field itself.
    assert getattr(message, "sequrity_content", None) == collected.document
    wire = collected.document if collected.document is not None else collected.text
    assert sq.parse_result(collected.completion) == collected.result() == sq.parse_result(wire)
    if collected.tool_calls:
        assert sq.session_id_of(collected.completion) == session_id


@pytest.mark.parametrize("answer", ["text", "tool_calls", "dual_value", "denial"])
async def test_collect_stream_sync_and_async_agree_with_the_sdk_state(
    fake_sequrity: FakeSequrity,
    sequrity_client: openai.OpenAI,
    async_sequrity_client: openai.AsyncOpenAI,
    answer: str,
) -> None:
    def queue() -> None:
        if answer == "text":
            fake_sequrity.queue_text("Once upon a time")
        elif answer == "tool_calls":
            fake_sequrity.queue_tool_calls([("a", {"x": 1}), ("b", '{"y": 2}')])
        elif answer == "dual_value":
            fake_sequrity.queue_text("done", value={"n": 3})
        else:
            fake_sequrity.queue_denial(tool="send_email")

    dual = answer in ("dual_value", "denial")
    tools = offer("a", "b") if answer == "tool_calls" else openai.omit
    queue()
    sync_client = _dual(sequrity_client) if dual else sequrity_client
    ours = sq.collect_stream(
        sync_client.chat.completions.create(model="m", messages=USER, stream=True, tools=tools)
    )
    _check_completion(ours, fake_sequrity.requests[-1].session_id)
    queue()
    async_client = _dual(async_sequrity_client) if dual else async_sequrity_client
    theirs = await sq.acollect_stream(
        await async_client.chat.completions.create(model="m", messages=USER, stream=True, tools=tools)
    )
    _check_completion(theirs, fake_sequrity.requests[-1].session_id)
    assert (ours.text, ours.document, ours.refusal, ours.finish_reason, ours.chunks) == (
        theirs.text,
        theirs.document,
        theirs.refusal,
        theirs.finish_reason,
        theirs.chunks,
    )
    if not dual:
        assert (ours.document, ours.refusal) == (None, None)
    assert [c["function"] for c in ours.tool_calls] == [c["function"] for c in theirs.tool_calls]
    if answer == "tool_calls":
        assert [c["function"] for c in ours.tool_calls] == [
            {"name": "a", "arguments": '{"x": 1}'},
            {"name": "b", "arguments": '{"y": 2}'},
        ]
    if answer == "dual_value":
        # The value is the text; the document the service sent is kept beside it.
        assert (ours.text, ours.refusal) == ('{"n":3}', None)
        assert ours.document is not None and json.loads(ours.document)["status"] == "success"
        assert ours.result().value == {"n": 3}
    if answer == "denial":
        assert ours.text == ""
        assert ours.refusal is not None and ours.refusal.startswith("Tool call to 'send_email' is denied")
        assert ours.document is not None and json.loads(ours.document)["status"] == "failure"
        with pytest.raises(sq.PolicyViolation, match="send_email"):
            ours.result().raise_for_status()


def test_collect_stream_of_nothing() -> None:
    collected = sq.collect_stream(iter([]))
    assert (collected.text, collected.chunks, collected.completion, collected.session_id) == (
        "",
        0,
        None,
        None,
    )


# --------------------------------------------------------------------------- the SDK's own schemas


def test_the_suite_runs_the_fake_with_strict_response_validation(
    sequrity_client: openai.OpenAI, async_sequrity_client: openai.AsyncOpenAI
) -> None:
    # tests/conftest.py overrides fake_sequrity_options; every answer below is schema-checked.
    assert sequrity_client._strict_response_validation is True
    assert async_sequrity_client._strict_response_validation is True


@pytest.mark.parametrize("answer", ["text", "tool_call", "dual"])
def test_responses_objects_and_stream_events_validate_against_the_sdk_types(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI, answer: str
) -> None:
    from openai.types.responses import Response, ResponseStreamEvent
    from pydantic import TypeAdapter

    events = TypeAdapter(ResponseStreamEvent)
    client = (
        sequrity_client.with_options(default_headers=sq.headers(features=DUAL))
        if answer == "dual"
        else sequrity_client
    )
    for stream in (False, True):
        if answer == "tool_call":
            fake_sequrity.queue_tool_call("lookup", {"q": "x"})
        tools = offer_responses("lookup") if answer == "tool_call" else openai.omit
        with client.responses.with_streaming_response.create(
            model="m", input="hi", stream=stream, tools=tools
        ) as raw:
            if not stream:
                Response.model_validate(raw.json())
                continue
            lines = [line for line in raw.iter_lines() if line.startswith("data: ")]
        kinds = [events.validate_python(json.loads(line[len("data: ") :])).type for line in lines]
        assert kinds[0] == "response.created"
        assert kinds[-1] == "response.completed"
