"""What the recipes check on FakeSequrity, and what every library module shares.

A library that cannot be installed beside the openai of the environment is skipped with the
reason in ``WHY`` (the extras in pyproject.toml say the same).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

import sequrity_openai as sq
from sequrity_openai.testing import FakeSequrity, RecordedRequest

SQ_KEY = "sq-recipes-key-0123456789"
CHAT_PATH = "/control/chat/v1/chat/completions"
MODEL = "gpt-5-mini"
PARIS = {"name": "Paris", "country": "France"}
# Why a library's tests are skipped when it is missing (pytest prints the reason).
WHY = {
    "pydantic_ai": "needs the pydantic-ai extra: pip install 'sequrity-openai[pydantic-ai]'",
    "smolagents": "needs the smolagents extra: pip install 'sequrity-openai[smolagents]'",
    "langgraph": "needs the langgraph extra: pip install 'sequrity-openai[langgraph]'",
    "instructor": (
        "needs the instructor extra, which keeps openai at 3.3.0 or older: instructor 1.17 pins "
        "jiter<0.15 and openai 3.3.1+ needs jiter>=0.16 (CI runs it in a venv of its own)"
    ),
    "llama_index.llms.openai": (
        "needs the llama-index extra, which keeps openai below 3: llama-index-llms-openai 0.8.3 "
        "pins openai<3 (CI runs it in the openai 2.x venv)"
    ),
}


class City(BaseModel):
    name: str
    country: str


def through_sequrity(fake: FakeSequrity, arch: str, count: int) -> list[RecordedRequest]:
    """``count`` requests, each on the chat route with the Sequrity key and the architecture."""
    requests = fake.api_requests
    assert len(requests) == count, [r.path for r in requests]
    for request in requests:
        assert request.path == CHAT_PATH
        assert request.header("authorization") == f"Bearer {SQ_KEY}"
        assert request.features is not None and request.features.agent_arch == arch
    return requests


def one_session(requests: list[RecordedRequest], scope: sq.Session) -> None:
    """The first request opened the scope's session and every later one continued it."""
    first, *later = requests
    assert first.sent_session_id is None and first.new_session
    assert scope.id == first.session_id
    for request in later:
        assert not request.new_session and request.session_id == scope.id


def tool_round_trip(requests: list[RecordedRequest], result: str) -> None:
    """The second request carried the tool result under the id the first answer gave."""
    asked, answered = requests
    assert [t["function"]["name"] for t in asked.body["tools"]] == ["get_weather"]
    tool_message = answered.messages[-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == result
    assert tool_message["tool_call_id"].startswith(f"tc-{asked.session_id}-")


def schema_named(request: RecordedRequest, name: str) -> dict[str, Any]:
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["name"] == name
    schema: dict[str, Any] = response_format["json_schema"]["schema"]
    assert set(schema["required"]) == {"name", "country"}
    return schema


def weather(city: str) -> str:
    return f"sunny in {city}"
