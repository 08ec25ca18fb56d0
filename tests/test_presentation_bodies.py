"""A dual-llm JSON answer is presented the same whatever the shape of its bytes.

The usual answer (one message, a success document, ASCII, compact) has its value put in place
in the bytes as they came; every other shape goes through the general path (decode, rewrite,
encode). Both must give the SDK the same objects, so each shape is served as raw bytes by a
real server and read through the stock client, sync and async.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

import sequrity_openai as sq

USER = [{"role": "user", "content": "go"}]
ROUTE = "/control/chat/v1/chat/completions"
KEY = "sk-sequrity-presentation-key"


def _document(value: Any) -> str:
    final = {"value": value, "meta": {"producers": ["user"]}}
    return json.dumps({"status": "success", "final_return_value": final, "program": "x = 1"})


def _completion(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    choices = [{"index": i, "message": m, "finish_reason": "stop"} for i, m in enumerate(messages)]
    return {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": choices, **extra}


def _message(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "refusal": None}


DOC = _document("Paris")
SHAPES: dict[str, tuple[bytes, list[str | None]]] = {
    "compact": (json.dumps(_completion([_message(DOC)]), separators=(",", ":")).encode(), ["Paris"]),
    "spaced": (json.dumps(_completion([_message(DOC)]), indent=2).encode(), ["Paris"]),
    "non-ascii value, raw utf-8": (
        json.dumps(_completion([_message(_document("Pärïs"))]), ensure_ascii=False).encode(),
        ["Pärïs"],
    ),
    "two choices": (
        json.dumps(_completion([_message(DOC), _message(_document(2))])).encode(),
        ["Paris", "2"],
    ),
    # logprobs holds its own "content" key: the message's is not the only one.
    "second content key": (
        json.dumps({**_completion([_message(DOC)]), "logprobs_extra": {"content": "x"}}).encode(),
        ["Paris"],
    ),
    # Another key ending in content" (some providers send reasoning_content).
    "reasoning_content beside the content": (
        json.dumps(_completion([{**_message(DOC), "reasoning_content": "thought"}])).encode(),
        ["Paris"],
    ),
    "object value": (
        json.dumps(_completion([_message(_document({"a": [1, "é"]}))])).encode(),
        ['{"a":[1,"é"]}'],
    ),
}


def _serve(httpserver: HTTPServer, body: bytes) -> None:
    httpserver.expect_request(ROUTE, method="POST").respond_with_data(body, content_type="application/json")


def _args(httpserver: HTTPServer) -> dict[str, Any]:
    return {
        "api_key": KEY,
        "base_url": httpserver.url_for("/").rstrip("/"),
        "features": "dual-llm",
        "max_retries": 0,
    }


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_body_shape_presents_the_value(httpserver: HTTPServer, shape: str) -> None:
    body, expected = SHAPES[shape]
    _serve(httpserver, body)
    with sq.create_client(**_args(httpserver)) as client:
        answer = client.chat.completions.create(model="m", messages=USER)
    wire = json.loads(body)["choices"]
    assert [c.message.content for c in answer.choices] == expected
    # The document is kept word for word beside the value, and reads back as the same result.
    assert [c.message.sequrity_content for c in answer.choices] == [c["message"]["content"] for c in wire]
    assert [c.message.refusal for c in answer.choices] == [None] * len(expected)
    assert sq.parse_result(answer).status == "success"


@pytest.mark.parametrize("shape", ["compact", "second content key"])
async def test_every_body_shape_presents_the_value_async(httpserver: HTTPServer, shape: str) -> None:
    body, expected = SHAPES[shape]
    _serve(httpserver, body)
    async with sq.create_async_client(**_args(httpserver)) as client:
        answer = await client.chat.completions.create(model="m", messages=USER)
    assert [c.message.content for c in answer.choices] == expected
    assert answer.choices[0].message.sequrity_content == json.loads(body)["choices"][0]["message"]["content"]


def test_a_body_already_carrying_the_document_field_is_not_spliced(httpserver: HTTPServer) -> None:
    # A second "sequrity_content" key would leave the SDK to pick one of two: the general path
    # rewrites the parsed body instead, so the field holds the document the content came from.
    message = {**_message(DOC), "sequrity_content": "not the document"}
    _serve(httpserver, json.dumps(_completion([message]), separators=(",", ":")).encode())
    with sq.create_client(**_args(httpserver)) as client:
        answer = client.chat.completions.create(model="m", messages=USER)
    assert answer.choices[0].message.content == "Paris"
    assert answer.choices[0].message.sequrity_content == DOC
