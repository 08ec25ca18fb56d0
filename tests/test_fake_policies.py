"""FakeSequrity applies the request's X-Policy (issues 13 and 14), end to end over HTTP.

Invalid SQRT is refused with a 422 naming the line and the column; scripted tool calls are
decided by a PolicyChecker per fake session (denied: the service's denial document; allowed:
the tool call); tool results get the policy's metadata; session metadata carries across turns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import openai
import pytest

import sequrity_openai as sq
from helpers.payloads import offer, offer_responses
from sequrity_openai._policies._check import grammar_available
from sequrity_openai.testing import FakeSequrity, ResultOf, TextAnswer

pytestmark = pytest.mark.skipif(not grammar_available(), reason="needs the [sqrt] extra (official grammar)")

LEAK = r"""
let sensitive_docs = {"internal_use", "confidential"};
tool "get_internal_document" -> @tags |= sensitive_docs;
tool "send_email" {
    hard deny when (body.tags overlaps sensitive_docs)
        and (not to.value in {str matching r".*@trustedcorp\.com"});
}
"""

# Session metadata: reading a confidential document marks the session; from then on, in
# this session, nothing may be mailed outside.
SESSION_LEAK = r"""
tool "get_internal_document" { session after { @tags |= {"read_confidential"}; } }
tool "send_email" {
    hard deny when ("read_confidential" in @session.tags)
        and (not to.value in {str matching r".*@trustedcorp\.com"});
}
"""

TOOLS: dict[str, Callable[..., str]] = {
    "get_internal_document": lambda doc_id: f"Q3 numbers of {doc_id}",
    "send_email": lambda to, body: f"sent to {to}",
}


def _tool_messages(message: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [message.model_dump(exclude_none=True)]
    for call in message.tool_calls:
        result = TOOLS[call.function.name](**json.loads(call.function.arguments))
        out.append({"role": "tool", "tool_call_id": call.id, "content": result})
    return out


def run(client: openai.OpenAI, question: str, tools: Sequence[str] | None = None) -> sq.DualLlmResult:
    """The vendor examples' loop: ask offering ``tools`` (default: TOOLS), run the tools asked for,
    send the results back."""
    messages: list[Any] = [{"role": "user", "content": question}]
    offered = offer(*(TOOLS if tools is None else tools))
    while True:
        completion = client.chat.completions.create(model="m", messages=messages, tools=offered)
        message = completion.choices[0].message
        if not message.tool_calls:
            return sq.parse_result(completion)
        messages.extend(_tool_messages(message))


async def arun(client: openai.AsyncOpenAI, question: str) -> sq.DualLlmResult:
    messages: list[Any] = [{"role": "user", "content": question}]
    offered = offer(*TOOLS)
    while True:
        completion = await client.chat.completions.create(model="m", messages=messages, tools=offered)
        message = completion.choices[0].message
        if not message.tool_calls:
            return sq.parse_result(completion)
        messages.extend(_tool_messages(message))


def _dual(fake: FakeSequrity, code: str, **policy: Any) -> dict[str, Any]:
    return {"features": "dual-llm", "policy": sq.Policy.dual_llm(codes=code, **policy)}


def _leak_script(fake: FakeSequrity, to: str) -> None:
    fake.queue_tool_call("get_internal_document", {"doc_id": "DOC1"})
    fake.queue_tool_call(
        "send_email", {"to": to, "body": ResultOf("get_internal_document", "FYI: {}".format)}
    )
    fake.queue_text("done")


def _denial_of(result: sq.DualLlmResult, tool: str) -> str:
    assert result.is_policy_violation, result
    assert result.error is not None
    message = result.error.message
    assert message.startswith(f"Tool call to '{tool}' is denied by argument checking policies. Context: ")
    return message


# --------------------------------------------------------------------------- invalid SQRT


BAD = 'tool "send_email" { hard deny; }'


def _raw_client(fake: FakeSequrity, cls: Any, policy: str) -> Any:
    # The factories refuse invalid SQRT before sending; the stock SDK sends whatever it is given.
    return cls(
        api_key=fake.api_key,
        base_url=f"{fake.url}/control/chat/v1",
        default_headers={"X-Policy": json.dumps({"codes": {"code": policy, "language": "sqrt"}})},
        max_retries=0,
    )


def test_invalid_sqrt_in_x_policy_is_422_naming_line_and_column(fake_sequrity: FakeSequrity) -> None:
    with (
        fake_sequrity.expect_rejection() as rejected,
        _raw_client(fake_sequrity, openai.OpenAI, BAD) as client,
        pytest.raises(openai.UnprocessableEntityError) as info,
    ):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    detail = info.value.body["detail"] if isinstance(info.value.body, dict) else info.value.body
    assert "X-Policy: invalid SQRT at line 1, column 30" in str(detail)
    assert rejected[0].status == 422 and "line 1, column 30" in (rejected[0].detail or "")
    assert fake_sequrity.sessions == {}  # refused before a session starts


async def test_invalid_sqrt_multiline_is_refused_async(fake_sequrity: FakeSequrity) -> None:
    code = 'tool "a" { hard deny always; }\ntool "b" { soft allow when x.value in {1, }; }'
    client = _raw_client(fake_sequrity, openai.AsyncOpenAI, code)
    with fake_sequrity.expect_rejection() as rejected, pytest.raises(openai.UnprocessableEntityError):
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    await client.close()
    assert "invalid SQRT at line 2, column " in (rejected[0].detail or "")


def test_valid_sqrt_and_cedar_pass(fake_sequrity: FakeSequrity) -> None:
    with _raw_client(fake_sequrity, openai.OpenAI, LEAK) as client:
        answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "echo: hi"
    cedar = {"codes": {"code": "permit(principal, action, resource);", "language": "cedar"}}
    fake_sequrity.queue_tool_call(
        "send_email", {"to": "eve@gmail.com", "body": sq.TaggedValue("x", tags={"a"})}
    )
    with fake_sequrity.client(policy=cedar) as client:
        answer = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], tools=offer("send_email")
        )
    assert answer.choices[0].message.tool_calls  # Cedar is not evaluated: the call goes out
    assert fake_sequrity.last_request is not None and fake_sequrity.last_request.decisions == []


# --------------------------------------------------------------------------- decisions


def test_leaking_a_confidential_document_is_denied(fake_sequrity: FakeSequrity) -> None:
    _leak_script(fake_sequrity, "eve@gmail.com")
    with fake_sequrity.client(**_dual(fake_sequrity, LEAK)) as client:
        result = run(client, "Mail DOC1 to eve@gmail.com")
    message = _denial_of(result, "send_email")
    # The context shows the body as the policy saw it: the document's tags came with it.
    assert "'value': 'FYI: Q3 numbers of DOC1'" in message
    assert "'tags': ['__non_executable', 'confidential', 'internal_use']" in message
    with pytest.raises(sq.PolicyViolation):
        result.raise_for_status()
    record = fake_sequrity.last_request
    assert record is not None and record.answer == "denial"
    assert [d.allowed for d in record.decisions] == [False]
    assert record.decisions[0].rule is not None and record.decisions[0].rule.startswith("line 5: hard deny")
    assert fake_sequrity.pending == [TextAnswer("done")]
    fake_sequrity.reset()


async def test_leaking_a_confidential_document_is_denied_async(fake_sequrity: FakeSequrity) -> None:
    _leak_script(fake_sequrity, "eve@gmail.com")
    async with fake_sequrity.async_client(**_dual(fake_sequrity, LEAK)) as client:
        result = await arun(client, "Mail DOC1 to eve@gmail.com")
    _denial_of(result, "send_email")
    fake_sequrity.reset()


def test_mail_to_a_trusted_address_is_allowed(fake_sequrity: FakeSequrity) -> None:
    _leak_script(fake_sequrity, "boss@trustedcorp.com")
    with fake_sequrity.client(**_dual(fake_sequrity, LEAK)) as client:
        result = run(client, "Mail DOC1 to my boss")
    assert result.status == "success" and result.value == "done"
    sent = fake_sequrity.requests[1]
    assert sent.answer == "tool_calls" and sent.decisions[0].allowed
    # The client got the plain value of the bound argument.
    assert sent.messages[-1]["content"] == "Q3 numbers of DOC1"
    tool_call = fake_sequrity.requests[2].messages[-2]["tool_calls"][0]
    assert json.loads(tool_call["function"]["arguments"]) == {
        "to": "boss@trustedcorp.com",
        "body": "FYI: Q3 numbers of DOC1",
    }


async def test_tagged_arguments_in_the_script_async(fake_sequrity: FakeSequrity) -> None:
    secret = sq.TaggedValue("salaries", tags={"confidential"})
    fake_sequrity.queue_tool_call("send_email", {"to": "eve@gmail.com", "body": secret})
    fake_sequrity.queue_tool_call("send_email", {"to": "eve@gmail.com", "body": "public news"})
    fake_sequrity.queue_text("sent")
    async with fake_sequrity.async_client(**_dual(fake_sequrity, LEAK)) as client:
        denied = await arun(client, "mail salaries")
        allowed = await arun(client, "mail news")
    _denial_of(denied, "send_email")
    assert allowed.status == "success"
    assert [r.answer for r in fake_sequrity.requests] == ["denial", "tool_calls", "text"]


def test_session_metadata_carries_over_turns(fake_sequrity: FakeSequrity) -> None:
    plain_body = {"to": "eve@gmail.com", "body": "hello"}
    fake_sequrity.queue_tool_call("send_email", plain_body)  # turn 1: nothing read yet
    fake_sequrity.queue_text("mailed")
    fake_sequrity.queue_tool_call("get_internal_document", {"doc_id": "DOC1"})  # turn 2
    fake_sequrity.queue_text("read it")
    fake_sequrity.queue_tool_call("send_email", plain_body)  # turn 3: the same call, now denied
    fake_sequrity.queue_tool_call("send_email", plain_body)  # another session: allowed
    fake_sequrity.queue_text("mailed")
    with fake_sequrity.client(**_dual(fake_sequrity, SESSION_LEAK)) as client:
        with sq.session() as scope:
            assert run(client, "say hello to eve").status == "success"
            assert run(client, "read DOC1").status == "success"
            third = run(client, "say hello to eve again")
        assert run(client, "say hello to eve").status == "success"
    message = _denial_of(third, "send_email")
    assert '("read_confidential" in @session.tags)' in message
    assert fake_sequrity.requests[4].session_id == scope.id
    assert fake_sequrity.requests[5].new_session


def test_clear_session_meta_every_turn_forgets(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_tool_call("get_internal_document", {"doc_id": "DOC1"})
    fake_sequrity.queue_text("read it")
    fake_sequrity.queue_tool_call("send_email", {"to": "eve@gmail.com", "body": "hello"})
    fake_sequrity.queue_text("mailed")
    config = sq.Config.dual_llm(clear_session_meta="every_turn")
    with fake_sequrity.client(**_dual(fake_sequrity, SESSION_LEAK), config=config) as client, sq.session():
        run(client, "read DOC1")
        assert run(client, "say hello to eve").status == "success"


def test_a_policy_change_keeps_the_session_metadata(fake_sequrity: FakeSequrity) -> None:
    stricter = SESSION_LEAK + '\ntool "archive" { hard deny always; }'
    fake_sequrity.queue_tool_call("get_internal_document", {"doc_id": "DOC1"})
    fake_sequrity.queue_text("read it")
    fake_sequrity.queue_tool_call("send_email", {"to": "eve@gmail.com", "body": "hello"})
    with sq.session():
        with fake_sequrity.client(**_dual(fake_sequrity, SESSION_LEAK)) as client:
            run(client, "read DOC1")
        with fake_sequrity.client(**_dual(fake_sequrity, stricter)) as client:
            _denial_of(run(client, "say hello"), "send_email")


def test_tool_results_may_carry_their_own_metadata(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_tool_call("fetch", {"url": "https://example.com"})
    fake_sequrity.queue_tool_call("send_email", {"to": "eve@gmail.com", "body": ResultOf("fetch")})
    fake_sequrity.queue_text("never")
    messages: list[Any] = [{"role": "user", "content": "forward the page"}]
    tools = offer("fetch", "send_email")
    with fake_sequrity.client(**_dual(fake_sequrity, LEAK)) as client:
        first = client.chat.completions.create(model="m", messages=messages, tools=tools).choices[0].message
        wrapped = {
            "value": "page",
            "meta": {"tags": ["confidential"], "producers": ["web"], "consumers": ["*"]},
            "is_sequrity_var": True,
        }
        messages += [
            first.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": json.dumps(wrapped)},
        ]
        result = sq.parse_result(client.chat.completions.create(model="m", messages=messages, tools=tools))
    message = _denial_of(result, "send_email")
    assert "'value': 'page'" in message and "'producers': ['web']" in message
    fake_sequrity.reset()


def test_single_llm_results_are_not_marked_non_executable(fake_sequrity: FakeSequrity) -> None:
    code = 'tool "send_email" { hard deny when "__non_executable" in body.tags; }'
    for _ in range(2):
        fake_sequrity.queue_tool_call("get_internal_document", {"doc_id": "D"})
        fake_sequrity.queue_tool_call(
            "send_email", {"to": "a@b.c", "body": ResultOf("get_internal_document")}
        )
        fake_sequrity.queue_text("ok")
    # The dual-llm presets (enable_non_executable_memory on) sent to single-llm, which ignores it.
    with fake_sequrity.client(policy=sq.Policy.dual_llm(codes=code)) as client:
        messages: list[Any] = [{"role": "user", "content": "go"}]
        for _ in range(3):
            answer = (
                client.chat.completions.create(model="m", messages=messages, tools=offer(*TOOLS))
                .choices[0]
                .message
            )
            if not answer.tool_calls:
                break
            messages.extend(_tool_messages(answer))
    assert answer.content == "ok"
    with fake_sequrity.client(**_dual(fake_sequrity, code)) as client:
        _denial_of(run(client, "go"), "send_email")
    fake_sequrity.reset()


def test_presets_apply_without_code(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_tool_call("delete_all", {})
    policy = sq.Policy.dual_llm(default_allow=False)
    with fake_sequrity.client(features="dual-llm", policy=policy) as client:
        result = run(client, "clean up", tools=["delete_all"])
    _denial_of(result, "delete_all")


def test_responses_api_and_streaming(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_tool_call("get_internal_document", {"doc_id": "DOC1"})
    fake_sequrity.queue_tool_call(
        "send_email", {"to": "eve@gmail.com", "body": ResultOf("get_internal_document")}
    )
    with fake_sequrity.client(**_dual(fake_sequrity, LEAK)) as client:
        tools = offer_responses(*TOOLS)
        first = client.responses.create(model="m", input="mail DOC1", tools=tools)
        call = first.output[0]
        assert call.type == "function_call" and call.name == "get_internal_document"
        follow_up: Any = [
            {"role": "user", "content": "mail DOC1"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "Q3"},
        ]
        with client.responses.stream(model="m", input=follow_up, tools=tools) as stream:
            final = stream.get_final_response()
    # Under dual-llm a denial is a refusal content part, not output text.
    assert final.output_text == ""
    refusals = [
        p.refusal for i in final.output if i.type == "message" for p in i.content if p.type == "refusal"
    ]
    assert len(refusals) == 1 and refusals[0].startswith("Tool call to 'send_email' is denied")
    assert fake_sequrity.last_request is not None and fake_sequrity.last_request.answer == "denial"


# --------------------------------------------------------------------------- scripting


def test_scripted_denials_remain(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_denial("Control flow violation detected during program execution.", tool="branch")
    with fake_sequrity.client(**_dual(fake_sequrity, LEAK)) as client:
        result = run(client, "anything")
    assert result.is_policy_violation and result.error is not None
    assert result.error.message == "Control flow violation detected during program execution."


def test_apply_policies_false_sends_the_call(fake_sequrity: FakeSequrity) -> None:
    secret = sq.TaggedValue("salaries", tags={"confidential"})
    fake_sequrity.queue_tool_call("send_email", {"to": "eve@gmail.com", "body": secret})
    fake_sequrity.apply_policies = False
    try:
        with fake_sequrity.client(**_dual(fake_sequrity, LEAK)) as client:
            answer = client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}], tools=offer("send_email")
            )
    finally:
        fake_sequrity.apply_policies = True
    assert json.loads(answer.choices[0].message.tool_calls[0].function.arguments)["body"] == "salaries"


def test_an_unbound_result_is_a_script_error(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_tool_call("send_email", {"to": "a@b.c", "body": ResultOf("get_internal_document")})
    with (
        fake_sequrity.expect_rejection() as rejected,
        fake_sequrity.client(max_retries=0) as client,
        pytest.raises(openai.BadRequestError),
    ):
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], tools=offer("send_email")
        )
    assert "ResultOf('get_internal_document', index=-1)" in (rejected[0].detail or "")


def test_script_values_must_be_json() -> None:
    fake = FakeSequrity()
    with pytest.raises(ValueError, match="JSON-serialisable"):
        fake.queue_tool_call("t", {"x": sq.TaggedValue(object())})
    with pytest.raises(ValueError, match="non-empty tool name"):
        ResultOf("")


REFUND = """
tool "issue_refund" {
    session before { when "attempt3" in @tags { @tags |= {"final_attempt"}; } }
    session before { when "attempt2" in @tags { @tags |= {"attempt3"}; } }
    session before { when "attempt1" in @tags { @tags |= {"attempt2"}; } }
    session before { @tags |= {"attempt1"}; }
    hard allow when "final_attempt" in @session.tags;
}
"""


async def test_refund_only_on_the_fourth_attempt_async(fake_sequrity: FakeSequrity) -> None:
    # The vendor's recorded run: `session before` updates stand although the call is denied.
    for _ in range(4):
        fake_sequrity.queue_tool_call("issue_refund", {"order_id": "O-1"})
    fake_sequrity.queue_text("refunded")
    TOOLS["issue_refund"] = lambda order_id: f"refund for {order_id} issued"
    try:
        async with fake_sequrity.async_client(**_dual(fake_sequrity, REFUND)) as client:
            with sq.session():
                outcomes = [await arun(client, "refund O-1") for _ in range(4)]
    finally:
        del TOOLS["issue_refund"]
    assert [o.status for o in outcomes] == ["failure", "failure", "failure", "success"]
    assert outcomes[3].value == "refunded"


def test_a_policy_the_checker_cannot_model_fails_only_when_asked(fake_sequrity: FakeSequrity) -> None:
    policy = sq.Policy.dual_llm(codes='tool "f" { hard deny when undefined_name; }')  # valid syntax
    with fake_sequrity.client(features="dual-llm", policy=policy, max_retries=0) as client:
        assert run(client, "no tools here").status == "success"
        fake_sequrity.queue_tool_call("f", {})
        with fake_sequrity.expect_rejection() as rejected, pytest.raises(openai.BadRequestError):
            run(client, "call f", tools=["f"])
    assert "FakeSequrity cannot decide" in (rejected[0].detail or "")
    assert "'undefined_name' is not defined" in (rejected[0].detail or "")
