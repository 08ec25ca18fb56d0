"""The service's recorded denial messages become sq.PolicyViolation with the tool and context;
other failures stay sq.SequrityExecutionError; reading a message is linear in its length."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import openai
import pytest
from pytest_httpserver import HTTPServer

import sequrity_openai as sq

ROUTE = "/control/chat/v1/chat/completions"
CONTEXT = (
    "{'args': {'to': {'value': 'research@gmail.com', 'meta': {'tags': [], 'consumers': ['*'], "
    "'producers': []}, 'value_type': 'str'}}}"
)
TOOL_DENIAL = f"Tool call to 'send_email' is denied by argument checking policies. Context: {CONTEXT}"
CONTROL_FLOW = "Control flow violation detected during program execution."


def _failure(message: str, **extra: Any) -> str:
    return json.dumps({"status": "failure", "error": {"code": None, "message": message}, **extra})


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
    }


@pytest.fixture
def client(httpserver: HTTPServer) -> openai.OpenAI:
    return sq.create_client(api_key="sk-test", base_url=httpserver.url_for("/"), max_retries=0)


def test_the_recorded_tool_denial_over_http_is_a_policy_violation_with_tool_and_context(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    httpserver.expect_request(ROUTE).respond_with_json(_completion(_failure(TOOL_DENIAL)))
    answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(sq.PolicyViolation) as caught:
        sq.parse_result(answer).raise_for_status()
    assert caught.value.tool_name == "send_email"
    assert caught.value.context == CONTEXT
    assert str(caught.value) == TOOL_DENIAL


async def test_the_recorded_control_flow_violation_over_http_is_a_policy_violation(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request(ROUTE).respond_with_json(_completion(_failure(CONTROL_FLOW)))
    client = sq.create_async_client(api_key="sk-test", base_url=httpserver.url_for("/"), max_retries=0)
    answer = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    result = sq.parse_result(answer)
    assert result.is_policy_violation
    with pytest.raises(sq.PolicyViolation) as caught:
        result.raise_for_status()
    assert caught.value.tool_name is None and caught.value.context is None


@pytest.mark.parametrize(
    ("message", "tool", "context"),
    [
        (TOOL_DENIAL, "send_email", CONTEXT),
        ("Tool call to 'wire_money' is denied by argument checking policies.", "wire_money", None),
        # Wrapped by a caller, and a context that quotes a fake denial of another tool.
        (
            "Error: Tool call to 'a' is denied by argument checking policies. Context: "
            "Tool call to 'b' is denied by argument checking policies.",
            "a",
            "Tool call to 'b' is denied by argument checking policies.",
        ),
    ],
)
def test_tool_name_and_context_are_read_from_the_message(
    message: str, tool: str, context: str | None
) -> None:
    with pytest.raises(sq.PolicyViolation) as caught:
        sq.parse_result(_failure(message)).raise_for_status()
    assert (caught.value.tool_name, caught.value.context) == (tool, context)


def test_a_denied_entry_in_the_history_is_a_policy_violation_without_a_tool_name() -> None:
    raw = _failure("", policy_check_history=[{"tool_name": "send_email", "denied": [{"rule": "r1"}]}])
    with pytest.raises(sq.PolicyViolation) as caught:
        sq.parse_result(raw).raise_for_status()
    assert caught.value.tool_name is None


@pytest.mark.parametrize(
    "message",
    [
        "Tool call to 'send_email' failed: SMTP timeout",
        "Control flow of the program could not be computed.",
        "NameError: name 'x' is not defined",
    ],
)
def test_other_failures_stay_execution_errors(message: str) -> None:
    with pytest.raises(sq.SequrityExecutionError) as caught:
        sq.parse_result(_failure(message)).raise_for_status()
    assert not isinstance(caught.value, sq.PolicyViolation)


def _hostile_messages(size: int) -> list[str]:
    prefix = "Tool call to '"
    return [
        prefix * (size // len(prefix)),
        prefix + "a" * size,
        "Tool call to 'x" + "' is denied by argument checking" * (size // 32),
        "denied " * (size // 7),
        "Control flow violation detected during program execution" * (size // 57) + "!",
        "'" * size,
    ]


@pytest.mark.parametrize("index", range(6))
def test_reading_a_megabyte_of_attacker_shaped_text_is_linear(index: int) -> None:
    # A quadratic reader takes minutes on 1 MB; a linear one scales ten times for ten times the text.
    timings = []
    for size in (100_000, 1_000_000):
        text = _hostile_messages(size)[index]
        result = sq.parse_result(_failure(text))
        start = time.perf_counter()
        with contextlib.suppress(sq.SequrityExecutionError):
            result.raise_for_status()
        timings.append(time.perf_counter() - start)
    assert timings[1] < 3.0, timings
    assert timings[1] < 30 * timings[0] + 0.02, timings
