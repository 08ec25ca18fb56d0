"""The same ordinary program, unchanged, under SEQURITY_FEATURES=single-llm and then dual-llm."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from sequrity_openai.testing import FakeSequrity

TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


class Forecast(BaseModel):
    city: str
    sky: str


def ordinary_program(client: openai.OpenAI) -> dict[str, Any]:
    """Code written for OpenAI: nothing in it knows about Sequrity or the architecture."""
    out: dict[str, Any] = {}
    chat = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Say hi"}])
    out["chat"] = chat.choices[0].message.content
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Count"}], stream=True
    )
    out["stream"] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    asked = client.chat.completions.create(model="m", messages=messages, tools=TOOLS)
    call = (asked.choices[0].message.tool_calls or [])[0]
    messages += [
        asked.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"sky": "sunny"})},
    ]
    answered = client.chat.completions.create(model="m", messages=messages, tools=TOOLS)
    out["tool"] = (call.function.name, json.loads(call.function.arguments))
    out["after_tool"] = answered.choices[0].message.content

    parsed = client.chat.completions.parse(
        model="m", messages=[{"role": "user", "content": "Forecast"}], response_format=Forecast
    )
    out["structured"] = parsed.choices[0].message.parsed
    return out


@pytest.mark.parametrize("arch", ["single-llm", "dual-llm"])
def test_same_program_same_results(
    fake_sequrity: FakeSequrity, monkeypatch: pytest.MonkeyPatch, arch: str
) -> None:
    monkeypatch.setenv("SEQURITY_FEATURES", arch)
    fake_sequrity.queue_text("hi there")
    fake_sequrity.queue_text("1 2 3")
    fake_sequrity.queue_tool_call("get_weather", {"city": "Paris"})
    fake_sequrity.queue_text("It is sunny in Paris.")
    forecast = {"city": "Paris", "sky": "sunny"}
    fake_sequrity.queue_text(json.dumps(forecast), value=forecast)
    with fake_sequrity.client() as client:
        results = ordinary_program(client)
    assert results == {
        "chat": "hi there",
        "stream": "1 2 3",
        "tool": ("get_weather", {"city": "Paris"}),
        "after_tool": "It is sunny in Paris.",
        "structured": Forecast(city="Paris", sky="sunny"),
    }
    assert {r.arch for r in fake_sequrity.api_requests} == {arch}
    fake_sequrity.check()
