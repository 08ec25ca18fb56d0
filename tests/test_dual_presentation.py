"""Dual-llm answers read like ordinary answers: the value is the content, a denial is a refusal."""

from __future__ import annotations

import gzip
import json
from typing import Any

import openai
import pytest
from pytest_httpserver import HTTPServer

import sequrity_openai as sq
from helpers.payloads import completion, offer
from sequrity_openai._stream_events import ChatEvents
from sequrity_openai.testing import FakeSequrity, default_denial

USER = [{"role": "user", "content": "go"}]
ROUTE = "/control/chat/v1/chat/completions"


def document(value: Any = None, *, error: str | None = None) -> str:
    if error is not None:
        return json.dumps(
            {"status": "failure", "final_return_value": None, "error": {"code": None, "message": error}}
        )
    return json.dumps(
        {
            "status": "success",
            "final_return_value": {"value": value, "meta": {}},
            "error": None,
            "program": "x",
        }
    )


@pytest.mark.parametrize(
    ("value", "content"),
    [("Paris", "Paris"), (97, "97"), ({"a": [1, "é"]}, '{"a":[1,"é"]}'), (None, "null"), ("", "")],
)
def test_success_value_is_the_content(fake_sequrity: FakeSequrity, value: Any, content: str) -> None:
    fake_sequrity.queue_text("t", value=value)
    with fake_sequrity.client(features="dual-llm") as client:
        answer = client.chat.completions.create(model="m", messages=USER)
    message = answer.choices[0].message
    assert message.content == content
    assert message.refusal is None
    result = sq.parse_result(answer)
    assert (result.status, result.value) == ("success", value)
    assert result.raw == message.sequrity_content
    assert json.loads(result.raw)["final_return_value"]["value"] == value


async def test_async_success_and_denial(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_text("t", value={"n": 1})
    fake_sequrity.queue_denial()
    async with fake_sequrity.async_client(features="dual-llm") as client:
        ok = await client.chat.completions.create(model="m", messages=USER)
        denied = await client.chat.completions.create(model="m", messages=USER)
    assert ok.choices[0].message.content == '{"n":1}'
    assert denied.choices[0].message.content is None
    assert denied.choices[0].message.refusal == default_denial("send_email")
    with pytest.raises(sq.PolicyViolation):
        sq.parse_result(denied).raise_for_status()


def test_denial_is_a_refusal_and_finish_reason_is_untouched(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_denial("Tool call wire_money denied by argument checking policies. Too much.")
    with fake_sequrity.client(features="dual-llm") as client:
        answer = client.chat.completions.create(model="m", messages=USER)
    choice = answer.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.content is None
    assert choice.message.refusal == "Tool call wire_money denied by argument checking policies. Too much."
    result = sq.parse_result(answer)
    assert result.status == "failure" and result.is_policy_violation
    with pytest.raises(sq.PolicyViolation, match="wire_money denied"):
        result.raise_for_status()


def test_failure_without_message_gets_a_stand_in_refusal(httpserver: HTTPServer) -> None:
    raw = json.dumps({"status": "failure", "error": {"code": "execution_error", "message": ""}})
    httpserver.expect_request(ROUTE).respond_with_json(completion(raw))
    client = sq.create_client(api_key="k", base_url=httpserver.url_for("/"), features="dual-llm")
    message = client.chat.completions.create(model="m", messages=USER).choices[0].message
    assert (message.content, message.refusal) == (None, "dual-llm execution failed (execution_error)")
    with pytest.raises(sq.SequrityExecutionError, match=r"execution failed \(execution_error\)"):
        sq.parse_result(message).raise_for_status()


@pytest.mark.parametrize("features", ["single-llm", None])
def test_single_llm_and_unknown_architecture_are_never_rewritten(
    fake_sequrity: FakeSequrity, features: str | None
) -> None:
    # A model can be made to print a document; without dual-llm on the request it stays text.
    looks_like_one = document("injected")
    fake_sequrity.queue_text(looks_like_one)
    with fake_sequrity.client(features=features) as client:
        answer = client.chat.completions.create(model="m", messages=USER)
    assert answer.choices[0].message.content == looks_like_one
    assert answer.choices[0].message.model_extra == {}


def test_a_per_call_single_llm_header_wins(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_text(document("x"))
    with fake_sequrity.client(features="dual-llm") as client:
        answer = client.chat.completions.create(
            model="m", messages=USER, extra_headers=sq.headers(features="single-llm")
        )
    assert answer.choices[0].message.content == document("x")


def test_lang_graph_endpoint_is_dual_llm_without_features(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/control/lang-graph/v1/chat/completions").respond_with_json(
        completion(document(3))
    )
    client = sq.create_client(api_key="k", base_url=httpserver.url_for("/"), endpoint_type="lang-graph")
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content == "3"


def test_strip_response_content_is_left_as_sent(httpserver: HTTPServer) -> None:
    # The service already sent the bare value; even one shaped like a document is not unwrapped.
    httpserver.expect_request(ROUTE).respond_with_json(completion(document("inner")))
    client = sq.create_client(
        api_key="k",
        base_url=httpserver.url_for("/"),
        features="dual-llm",
        config=sq.Config.dual_llm(strip_response_content=True),
    )
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content == document(
        "inner"
    )


def test_opt_out_by_argument_and_environment(
    fake_sequrity: FakeSequrity, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_sequrity.queue_text("t", value=5)
    fake_sequrity.queue_text("t", value=6)
    with fake_sequrity.client(features="dual-llm", raw_dual_llm_content=True) as client:
        raw = client.chat.completions.create(model="m", messages=USER).choices[0].message.content
    assert json.loads(raw or "")["final_return_value"]["value"] == 5
    monkeypatch.setenv("SEQURITY_RAW_DUAL_LLM_CONTENT", "1")
    with fake_sequrity.client(features="dual-llm") as client:
        raw = client.chat.completions.create(model="m", messages=USER).choices[0].message.content
    assert sq.parse_result(raw).value == 6
    monkeypatch.setenv("SEQURITY_RAW_DUAL_LLM_CONTENT", "maybe")
    with pytest.raises(sq.ConfigurationError, match="SEQURITY_RAW_DUAL_LLM_CONTENT") as caught:
        fake_sequrity.client(features="dual-llm")
    assert (caught.value.env_var, caught.value.origin) == ("SEQURITY_RAW_DUAL_LLM_CONTENT", "environment")
    with pytest.raises(sq.ConfigurationError, match="argument raw_dual_llm_content: must be True or False"):
        fake_sequrity.client(raw_dual_llm_content="yes")  # type: ignore[arg-type]


def test_a_shared_http_client_serves_one_choice(fake_sequrity: FakeSequrity) -> None:
    http_client = openai.DefaultHttpxClient()
    fake_sequrity.client(http_client=http_client)
    fake_sequrity.client(http_client=http_client)  # the same choice twice is fine
    with pytest.raises(sq.ConfigurationError, match="shared"):
        fake_sequrity.client(http_client=http_client, raw_dual_llm_content=True)
    other = openai.DefaultHttpxClient()
    fake_sequrity.client(http_client=other, raw_dual_llm_content=True)
    with pytest.raises(sq.ConfigurationError, match="shared"):
        fake_sequrity.client(http_client=other)


def test_tool_calls_pass_unchanged(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_tool_call("get_weather", {"city": "Oslo"})
    fake_sequrity.queue_tool_call("get_weather", {"city": "Oslo"})
    with fake_sequrity.client(features="dual-llm") as client:
        answer = client.chat.completions.create(model="m", messages=USER, tools=offer("get_weather"))
        streamed = sq.collect_stream(
            client.chat.completions.create(model="m", messages=USER, tools=offer("get_weather"), stream=True)
        )
    assert answer.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert streamed.text == "" and streamed.tool_calls[0]["function"]["name"] == "get_weather"


def test_stream_value_and_refusal(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_text("t", value=[1, 2])
    fake_sequrity.queue_denial()
    with fake_sequrity.client(features="dual-llm") as client:
        collected = sq.collect_stream(client.chat.completions.create(model="m", messages=USER, stream=True))
        with client.chat.completions.stream(model="m", messages=USER) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_completion()
    assert collected.text == "[1,2]" and collected.finish_reason == "stop"
    assert collected.result().value == [1, 2] and sq.parse_result(collected).value == [1, 2]
    assert "refusal.done" in kinds and "content.delta" not in kinds
    assert final.choices[0].message.refusal == default_denial("send_email")
    assert final.choices[0].message.content is None
    assert sq.parse_result(final).status == "failure"


async def test_async_stream_value(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_text("t", value={"k": "v"})
    async with fake_sequrity.async_client(features="dual-llm") as client:
        stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
        collected = await sq.acollect_stream(stream)
    assert collected.text == '{"k":"v"}' and collected.result().value == {"k": "v"}


def test_plain_text_streams_through_unheld(httpserver: HTTPServer) -> None:
    events = ChatEvents()
    role = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
    text = b'data: {"choices":[{"index":0,"delta":{"content":"hello"}}]}\n\n'
    assert events.feed(role) == b""  # the opening waits for the first content
    assert events.feed(text) == role + text  # not a document: passed at once, then unparsed
    assert events.passing
    assert events.feed(b"anything") == b"anything"


@pytest.mark.parametrize("cut", [1, 7, 40, 1000])
def test_stream_rewriting_does_not_depend_on_how_bytes_arrive(cut: int) -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
        return f"data: {json.dumps(body)}\r\n\r\n".encode()

    raw = document({"x": 1})
    wire = chunk({"role": "assistant", "content": ""}) + b"".join(
        chunk({"content": raw[i : i + 5]}) for i in range(0, len(raw), 5)
    )
    wire += chunk({}, "stop") + b"data: [DONE]\n\n"
    events = ChatEvents()
    out = b"".join(events.feed(wire[i : i + cut]) for i in range(0, len(wire), cut)) + events.close()
    datas = [e[6:] for e in out.replace(b"\r\n", b"\n").split(b"\n\n") if e.startswith(b"data: ")]
    chunks = [json.loads(d) for d in datas if d != b"[DONE]"]
    contents = [c["choices"][0]["delta"].get("content") for c in chunks]
    assert contents == ["", '{"x":1}', None]
    assert chunks[1]["choices"][0]["delta"]["sequrity_content"] == raw
    assert datas[-1] == b"[DONE]"


def test_gzip_encoded_answers_are_presented(httpserver: HTTPServer) -> None:
    body = gzip.compress(json.dumps(completion(document("zipped"))).encode())
    httpserver.expect_request(ROUTE).respond_with_data(
        body, headers={"Content-Encoding": "gzip"}, content_type="application/json"
    )
    client = sq.create_client(api_key="k", base_url=httpserver.url_for("/"), features="dual-llm")
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content == "zipped"


def test_responses_value_refusal_and_stream(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_text("t", value={"a": 1})
    fake_sequrity.queue_denial()
    fake_sequrity.queue_text("t", value="streamed")
    fake_sequrity.queue_denial()
    with fake_sequrity.client(features="dual-llm") as client:
        ok = client.responses.create(model="m", input="x")
        denied = client.responses.create(model="m", input="x")
        with client.responses.stream(model="m", input="x") as stream:
            deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
            streamed = stream.get_final_response()
        with client.responses.stream(model="m", input="x") as stream:
            kinds = [e.type for e in stream]
            refused = stream.get_final_response()
    assert ok.output_text == '{"a":1}' and sq.parse_result(ok).value == {"a": 1}
    assert denied.output[0].content[0].type == "refusal"
    assert denied.output[0].content[0].refusal == default_denial("send_email")
    assert sq.parse_result(denied).status == "failure"
    assert deltas == ["streamed"] and streamed.output_text == "streamed"
    assert sq.parse_result(streamed).value == "streamed"
    assert "response.refusal.done" in kinds and "response.output_text.delta" not in kinds
    assert refused.output[0].content[0].type == "refusal"


def _compact_chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    # Compact JSON, as the service sends it: the opening chunk is then held unparsed.
    body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


_OPENING = _compact_chunk({"role": "assistant", "content": ""})
_DONE = b"data: [DONE]\n\n"
_PASS_THROUGH = {
    "plain text": [_OPENING, _compact_chunk({"content": "hello"}), _compact_chunk({}, "stop"), _DONE],
    "tool call": [
        _OPENING,
        _compact_chunk({"tool_calls": [{"index": 0, "id": "t", "function": {"name": "f", "arguments": ""}}]}),
        _compact_chunk({}, "tool_calls"),
        _DONE,
    ],
    "empty answer, finished in the opening chunk": [
        _compact_chunk({"role": "assistant", "content": ""}, "stop"),
        _DONE,
    ],
    "a comment before the first content": [
        _OPENING,
        b": keep-alive\n\n",
        _compact_chunk({"content": "hi"}),
        _DONE,
    ],
}


@pytest.mark.parametrize("cut", [1, 13, 10_000])
@pytest.mark.parametrize("name", sorted(_PASS_THROUGH))
def test_streams_that_are_not_documents_pass_unchanged(name: str, cut: int) -> None:
    events = _PASS_THROUGH[name]
    wire = b"".join(events)
    rewriter = ChatEvents()
    out = b"".join(rewriter.feed(wire[i : i + cut]) for i in range(0, len(wire), cut)) + rewriter.close()
    # The same events; a comment may overtake the held opening chunk, nothing else moves.
    assert sorted(out.split(b"\n\n")) == sorted(wire.split(b"\n\n"))
    if name != "a comment before the first content":
        assert out == wire


@pytest.mark.parametrize("cut", [1, 13, 10_000])
@pytest.mark.parametrize(
    ("raw", "content", "refusal"), [(document("Paris"), "Paris", None), (document(error="no"), None, "no")]
)
def test_compact_document_streams_are_presented(
    raw: str, content: str | None, refusal: str | None, cut: int
) -> None:
    wire = _OPENING + b"".join(_compact_chunk({"content": raw[i : i + 7]}) for i in range(0, len(raw), 7))
    wire += _compact_chunk({}, "stop") + _DONE
    rewriter = ChatEvents()
    out = b"".join(rewriter.feed(wire[i : i + cut]) for i in range(0, len(wire), cut)) + rewriter.close()
    chunks = [json.loads(e[6:]) for e in out.split(b"\n\n") if e.startswith(b"data: {")]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    # A refusal does not open with an empty content delta.
    assert deltas[0] == {"role": "assistant", "content": "" if refusal is None else None}
    assert deltas[1]["content"] == content and deltas[1].get("refusal") == refusal
    assert deltas[1]["sequrity_content"] == raw
    assert len(deltas) == 3 and deltas[2] == {}


@pytest.mark.parametrize(("answer", "presented"), [(document("Paris"), True), ("Paris, of course", False)])
def test_blank_deltas_before_the_first_character_do_not_decide(answer: str, presented: bool) -> None:
    # The answer starts like a document only if its first character that is not blank is "{",
    # whichever delta brings it.
    wire = _OPENING + _compact_chunk({"content": " "}) + _compact_chunk({"content": "\n "})
    wire += b"".join(_compact_chunk({"content": answer[i : i + 3]}) for i in range(0, len(answer), 3))
    wire += _compact_chunk({}, "stop") + _DONE
    rewriter = ChatEvents()
    out = b"".join(rewriter.feed(wire[i : i + 40]) for i in range(0, len(wire), 40)) + rewriter.close()
    if not presented:
        assert out == wire
        return
    chunks = [json.loads(e[6:]) for e in out.split(b"\n\n") if e.startswith(b"data: {")]
    delta = chunks[1]["choices"][0]["delta"]
    assert delta["content"] == "Paris" and delta["sequrity_content"] == " \n " + answer
