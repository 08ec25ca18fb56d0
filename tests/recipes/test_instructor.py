"""instructor: ``instructor.from_openai(sq.create_client())`` and the async twin."""

from __future__ import annotations

import json

import pytest

import sequrity_openai as sq
from recipes._recipes import MODEL, PARIS, WHY, City, one_session, schema_named, through_sequrity
from sequrity_openai.testing import FakeSequrity

instructor = pytest.importorskip("instructor", reason=WHY["instructor"])

QUESTION = [{"role": "user", "content": "Capital of France?"}]


def test_tools_mode_and_plain_chat(fake: FakeSequrity, arch: str) -> None:
    client = instructor.from_openai(sq.create_client())
    fake.queue_tool_call("City", PARIS)
    with sq.session() as scope:
        city = client.chat.completions.create(model=MODEL, response_model=City, messages=QUESTION)
        plain = client.chat.completions.create(
            model=MODEL, response_model=None, messages=[{"role": "user", "content": "hi"}]
        )
    # instructor answers with a subclass of City: compare the values.
    assert city.model_dump() == PARIS
    assert plain.choices[0].message.content == "echo: hi"
    requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    assert requests[0].body["tool_choice"] == {"type": "function", "function": {"name": "City"}}


async def test_json_schema_mode_async(fake: FakeSequrity, arch: str) -> None:
    client = instructor.from_openai(sq.create_async_client(), mode=instructor.Mode.JSON_SCHEMA)
    fake.queue_text(json.dumps(PARIS), value=PARIS)
    async with sq.session():
        city = await client.chat.completions.create(model=MODEL, response_model=City, messages=QUESTION)
    assert city.model_dump() == PARIS
    (request,) = through_sequrity(fake, arch, 1)
    schema_named(request, "City")
