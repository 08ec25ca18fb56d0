"""FakeSequrity: answers (single-llm, dual-llm document of section 6), scripting, errors and delays."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

import sequrity_openai as sq
from helpers.payloads import offer, offer_responses
from sequrity_openai.testing import FakeSequrity, default_denial

USER = [{"role": "user", "content": "what is 2+2?"}]


def _ask(client: openai.OpenAI, text: str = "what is 2+2?", **kwargs: Any) -> Any:
    return client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}], **kwargs)


@pytest.fixture
def dual(fake_sequrity: FakeSequrity) -> Any:
    def make(**config: Any) -> openai.OpenAI:
        return fake_sequrity.client(features="dual-llm", config=sq.Config.dual_llm(**config))

    return make


def test_unscripted_single_llm_echoes_last_user_message(sequrity_client: openai.OpenAI) -> None:
    messages: Any = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "second "}, {"type": "text", "text": "part"}]},
    ]
    answer = sequrity_client.chat.completions.create(model="m", messages=messages)
    assert answer.object == "chat.completion"
    assert answer.model == "m"
    assert answer.choices[0].message.content == "echo: second part"
    assert answer.choices[0].finish_reason == "stop"
    assert sq.parse_result(answer).status == "unknown"


def test_queue_text_single_llm_is_plain_content(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    fake_sequrity.queue_text("four", value=4)
    assert _ask(sequrity_client).choices[0].message.content == "four"
    assert fake_sequrity.last_request is not None
    assert fake_sequrity.last_request.answer == "text"


def test_answers_are_used_in_order_then_echo(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    fake_sequrity.queue_text("one")
    fake_sequrity.queue_text("two")
    assert fake_sequrity.pending and len(fake_sequrity.pending) == 2
    got = [_ask(sequrity_client, "x").choices[0].message.content for _ in range(3)]
    assert got == ["one", "two", "echo: x"]
    assert [r.answer for r in fake_sequrity.requests] == ["text", "text", "echo"]


def test_dual_llm_success_document(fake_sequrity: FakeSequrity, dual: Any) -> None:
    fake_sequrity.queue_text("ignored", value=97)
    with dual() as client:
        answer = _ask(client)
    # The client presents the value; the wire document stays beside it.
    assert answer.choices[0].message.content == "97"
    document = json.loads(answer.choices[0].message.sequrity_content)
    assert document == {
        "status": "success",
        "final_return_value": {"value": 97, "meta": {"producers": [], "consumers": ["*"], "tags": []}},
        "error": None,
    }
    result = sq.parse_result(answer)
    assert (result.ok, result.value, result.meta.consumers) == (True, 97, ("*",))


def test_dual_llm_value_defaults_to_text_and_echo(fake_sequrity: FakeSequrity, dual: Any) -> None:
    fake_sequrity.queue_text("Paris")
    with dual() as client:
        assert sq.parse_result(_ask(client)).value == "Paris"
        assert sq.parse_result(_ask(client, "hello")).value == "echo: hello"


def test_dual_llm_optional_sections(fake_sequrity: FakeSequrity, dual: Any) -> None:
    fake_sequrity.queue_text("x", value={"total": 3})
    with dual(
        include_program=True, include_policy_check_history=True, include_namespace_snapshot=True
    ) as client:
        document = json.loads(_ask(client).choices[0].message.sequrity_content)
    assert document["program"] == 'final_return_value = {"total": 3}'
    assert document["policy_check_history"] == []
    assert document["namespace_snapshot"] == {"final_return_value": {"total": 3}}
    result = sq.parse_result(json.dumps(document))
    assert result.program == document["program"]


def test_dual_llm_sections_absent_by_default(fake_sequrity: FakeSequrity, dual: Any) -> None:
    with dual(include_program=False) as client:
        document = json.loads(_ask(client).choices[0].message.sequrity_content)
    assert set(document) == {"status", "final_return_value", "error"}


@pytest.mark.parametrize(("value", "content"), [("Paris", "Paris"), (97, "97"), ([1, "a"], '[1, "a"]')])
def test_strip_response_content_gives_the_bare_value(
    fake_sequrity: FakeSequrity, dual: Any, value: object, content: str
) -> None:
    fake_sequrity.queue_text("t", value=value)
    with dual(strip_response_content=True, include_program=True) as client:
        answer = _ask(client)
    assert answer.choices[0].message.content == content
    assert sq.parse_result(answer).status == "unknown"


def test_denial_document(fake_sequrity: FakeSequrity, dual: Any) -> None:
    fake_sequrity.queue_denial()
    with dual(include_program=True, include_policy_check_history=True) as client:
        answer = _ask(client, "mail the report")
    assert answer.choices[0].message.content is None
    assert answer.choices[0].message.refusal == default_denial("send_email")
    document = json.loads(answer.choices[0].message.sequrity_content)
    assert document["status"] == "failure"
    assert document["error"]["message"].startswith(
        "Tool call to 'send_email' is denied by argument checking policies. Context: "
    )
    assert document["error"]["message"] == default_denial("send_email")
    assert "send_email" in document["program"]
    assert document["policy_check_history"][-1]["decision"] == "deny"
    result = sq.parse_result(answer)
    assert result.is_policy_violation
    with pytest.raises(sq.PolicyViolation, match="'send_email' is denied") as caught:
        result.raise_for_status()
    assert caught.value.tool_name == "send_email"
    assert caught.value.context == "{'scripted_by': 'FakeSequrity'}"
    assert fake_sequrity.last_request is not None
    assert fake_sequrity.last_request.answer == "denial"


def test_denial_with_own_message_and_tool(
    fake_sequrity: FakeSequrity, dual: Any, sequrity_client: Any
) -> None:
    fake_sequrity.queue_denial("Tool call wire_money denied by argument checking policies. Amount too high.")
    fake_sequrity.queue_denial(tool="delete_file")
    with dual() as client:
        first = sq.parse_result(_ask(client))
    # A denial reads the same when the request asked for single-llm.
    second = sq.parse_result(_ask(sequrity_client))
    assert first.error is not None and "wire_money" in first.error.message
    assert second.error is not None and second.error.message.startswith(
        "Tool call to 'delete_file' is denied"
    )
    assert second.is_policy_violation


def test_control_flow_denial_is_the_services_wording(fake_sequrity: FakeSequrity, dual: Any) -> None:
    fake_sequrity.queue_denial(control_flow=True)
    with dual() as client:
        result = sq.parse_result(_ask(client))
    assert result.error is not None
    assert result.error.message == "Control flow violation detected during program execution."
    with pytest.raises(sq.PolicyViolation) as caught:
        result.raise_for_status()
    assert caught.value.tool_name is None and caught.value.context is None


def test_denial_with_strip_response_content_is_the_message(fake_sequrity: FakeSequrity, dual: Any) -> None:
    fake_sequrity.queue_denial()
    with dual(strip_response_content=True) as client:
        assert _ask(client).choices[0].message.content == default_denial("send_email")


def test_tool_calls_from_tools_that_ran_show_as_producers(fake_sequrity: FakeSequrity, dual: Any) -> None:
    fake_sequrity.queue_tool_call("get_weather", {"city": "Paris"})
    fake_sequrity.queue_text("sunny")
    with dual(include_policy_check_history=True) as client:
        first = _ask(client, "weather?", tools=offer("get_weather"))
        call = first.choices[0].message.tool_calls[0]
        final = client.chat.completions.create(
            model="m",
            tools=offer("get_weather"),
            messages=[
                {"role": "user", "content": "weather?"},
                first.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"},
            ],
        )
    result = sq.parse_result(final)
    assert result.meta.producers == ("get_weather",)
    assert result.policy_check_history == [{"tool_name": "get_weather", "decision": "allow", "message": None}]


def test_tool_call_message(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    fake_sequrity.queue_tool_call("send_email", {"to": "a@b.c", "body": "hi"})
    answer = _ask(sequrity_client, tools=offer("send_email"))
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "send_email"
    assert json.loads(call.function.arguments) == {"to": "a@b.c", "body": "hi"}
    rec = fake_sequrity.last_request
    assert rec is not None and rec.session_id is not None
    assert call.id.startswith(f"tc-{rec.session_id}-")
    assert len(call.id) == 3 + 36 + 1 + 36
    assert sq.session_id_of(call.id) == rec.session_id


def test_tool_call_string_arguments_and_call_id(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    fake_sequrity.queue_tool_call("lookup", '{"q": "x"', call_id="call-1")
    call = (_ask(sequrity_client, tools=offer("lookup")).choices[0].message.tool_calls or [])[0]
    assert call.function.arguments == '{"q": "x"'
    assert call.id.endswith("-call-1")
    assert sq.session_id_of(call.id) == fake_sequrity.requests[-1].session_id


def test_several_tool_calls_in_one_answer(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    fake_sequrity.queue_tool_calls([("a", {"n": 1}), ("b", "{}")])
    calls = _ask(sequrity_client, tools=offer("a", "b")).choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["a", "b"]
    assert len({c.id for c in calls}) == 2
    with pytest.raises(ValueError, match="at least one"):
        fake_sequrity.queue_tool_calls([])


def test_usage_is_deterministic(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    first, second = _ask(sequrity_client, "same"), _ask(sequrity_client, "same")
    longer = _ask(sequrity_client, "same " * 40)
    assert first.usage is not None and second.usage is not None and longer.usage is not None
    assert first.usage.model_dump() == second.usage.model_dump()
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert longer.usage.prompt_tokens > first.usage.prompt_tokens
    assert longer.usage.completion_tokens > first.usage.completion_tokens


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (422, openai.UnprocessableEntityError),
    ],
)
def test_scripted_errors(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI, status: int, error: type[Exception]
) -> None:
    fake_sequrity.queue_error(status, "Model not allowed: gpt-x")
    with pytest.raises(error) as raised:
        _ask(sequrity_client)
    assert isinstance(raised.value, openai.APIStatusError)
    assert raised.value.status_code == status
    assert "Model not allowed: gpt-x" in raised.value.message
    rec = fake_sequrity.last_request
    assert rec is not None and (rec.status, rec.answer, rec.rejected) == (status, "error", False)
    # Scripted errors are not unexpected rejections: check() passes at teardown.


def test_scripted_error_structured_detail(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    detail = [{"loc": ["body", "model"], "msg": "field required", "type": "missing"}]
    fake_sequrity.queue_error(422, detail)
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        _ask(sequrity_client)
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["detail"] == detail


def test_scripted_429_with_retry_after_is_retried(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_error(429, "slow down", headers={"Retry-After": "0"})
    fake_sequrity.queue_text("after retry")
    with fake_sequrity.client(max_retries=1) as client:
        assert _ask(client).choices[0].message.content == "after retry"
    assert [r.status for r in fake_sequrity.requests] == [429, 200]


def test_scripted_error_headers_reach_the_client(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_error(503, "maintenance", headers={"Retry-After": "7", "X-Trace": "abc"})
    with fake_sequrity.client(max_retries=0) as client, pytest.raises(openai.InternalServerError) as raised:
        _ask(client)
    assert raised.value.response.headers["retry-after"] == "7"
    assert raised.value.response.headers["x-trace"] == "abc"


def test_queue_error_checks_status(fake_sequrity: FakeSequrity) -> None:
    with pytest.raises(ValueError, match=r"400\.\.599"):
        fake_sequrity.queue_error(200)
    with pytest.raises(ValueError, match="JSON-serialisable"):
        fake_sequrity.queue_error(500, object())
    with pytest.raises(ValueError, match=">= 0"):
        fake_sequrity.queue_delay(-1)


def test_delay_holds_the_next_answer(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    fake_sequrity.queue_delay(0.3)
    fake_sequrity.queue_text("late")
    started = time.monotonic()
    assert _ask(sequrity_client).choices[0].message.content == "late"
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    _ask(sequrity_client)
    assert time.monotonic() - started < 0.3


def test_delay_before_an_echo_causes_read_timeout(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_delay(1.0)
    with fake_sequrity.client(timeout=0.2, max_retries=0) as client, pytest.raises(openai.APITimeoutError):
        _ask(client)
    assert fake_sequrity.pending == []


def test_responses_api_text_and_tool_call(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    fake_sequrity.queue_tool_call("get_weather", {"city": "Oslo"})
    first = sequrity_client.responses.create(
        model="m", input="weather in Oslo?", tools=offer_responses("get_weather")
    )
    (call,) = first.output
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Oslo"}
    session_id = fake_sequrity.requests[-1].session_id
    assert call.call_id.startswith(f"tc-{session_id}-")
    assert sq.session_id_of(first) == session_id
    fake_sequrity.queue_text("cold")
    second = sequrity_client.responses.create(
        model="m",
        input=[
            {"role": "user", "content": "weather in Oslo?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "-3C"},
        ],
    )
    assert second.output_text == "cold"
    assert second.status == "completed"
    assert second.usage is not None and second.usage.total_tokens > 0
    fake_sequrity.assert_session_continued(session_id)


def test_responses_api_dual_llm(fake_sequrity: FakeSequrity, dual: Any) -> None:
    fake_sequrity.queue_text("t", value=5)
    with dual() as client:
        answer = client.responses.create(model="m", input=[{"role": "user", "content": "x"}])
    assert sq.parse_result(answer).value == 5


async def test_async_client(fake_sequrity: FakeSequrity, async_sequrity_client: openai.AsyncOpenAI) -> None:
    fake_sequrity.queue_tool_call("f", {})
    answer = await async_sequrity_client.chat.completions.create(model="m", messages=USER, tools=offer("f"))
    assert (answer.choices[0].message.tool_calls or [])[0].function.name == "f"
    again = await async_sequrity_client.chat.completions.create(model="m", messages=USER)
    assert again.choices[0].message.content == "echo: what is 2+2?"
    response = await async_sequrity_client.responses.create(model="m", input="hey")
    assert response.output_text == "echo: hey"
