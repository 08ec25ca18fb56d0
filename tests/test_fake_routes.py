"""FakeSequrity: routes and request validation (PROTOCOL.md sections 1, 2, 8), over real HTTP."""

from __future__ import annotations

from typing import Any

import openai
import pytest

import sequrity_openai as sq
from sequrity_openai.testing import FakeSequrity

USER = [{"role": "user", "content": "hi"}]


def _http(fake: FakeSequrity) -> Any:
    return openai.DefaultHttpxClient(base_url=fake.url)


@pytest.mark.parametrize(
    ("endpoint_type", "provider"), [("chat", None), ("code", "openai"), ("chat", "sequrity_azure")]
)
def test_chat_and_responses_served_on_every_route(
    fake_sequrity: FakeSequrity, endpoint_type: str, provider: str | None
) -> None:
    with fake_sequrity.client(endpoint_type=endpoint_type, provider=provider, llm_api_key="") as client:
        chat = client.chat.completions.create(model="m", messages=USER)
        response = client.responses.create(model="m", input="hello")
    assert chat.choices[0].message.content == "echo: hi"
    assert response.output_text == "echo: hello"
    chat_rec, resp_rec = fake_sequrity.requests
    prefix = f"/control/{endpoint_type}/{provider}/v1" if provider else f"/control/{endpoint_type}/v1"
    assert chat_rec.path == f"{prefix}/chat/completions"
    assert resp_rec.path == f"{prefix}/responses"
    for rec in (chat_rec, resp_rec):
        assert (rec.endpoint_type, rec.provider, rec.status) == (endpoint_type, provider, 200)
    assert (chat_rec.api, resp_rec.api) == ("chat/completions", "responses")


def test_health_and_root(fake_sequrity: FakeSequrity) -> None:
    with _http(fake_sequrity) as http:
        health = http.get("/health")
        root = http.get("/")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert root.status_code == 200
    assert [r.path for r in fake_sequrity.requests] == ["/health", "/"]
    assert fake_sequrity.api_requests == []


def test_unknown_api_is_404_with_detail(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    with fake_sequrity.expect_rejection(at_least=2) as rejected:
        with pytest.raises(openai.NotFoundError) as embeddings:
            sequrity_client.embeddings.create(model="m", input="x")
        with pytest.raises(openai.NotFoundError):
            sequrity_client.models.list()
    assert "not a Sequrity Control route" in embeddings.value.message
    assert embeddings.value.body is not None
    assert [r.status for r in rejected] == [404, 404]
    assert rejected[0].path == "/control/chat/v1/embeddings"


@pytest.mark.parametrize(
    "path",
    [
        "/control/chat/unknown/v1/chat/completions",
        "/control/search/v1/chat/completions",
        "/control/chat/v2/chat/completions",
        "/control/chat/openai/v1/messages",
        "/control/chat/anthropic/v1/chat/completions",
        "/control/agent/v1/chat/completions",
        "/control/lang-graph/v1/responses",
        "/control/chat/llama/v1/chat/completions",
        "/v1/chat/completions",
    ],
)
def test_unknown_paths_are_404(fake_sequrity: FakeSequrity, path: str) -> None:
    with fake_sequrity.expect_rejection(), _http(fake_sequrity) as http:
        answer = http.post(path, json={"model": "m", "messages": USER}, headers={"Authorization": "Bearer k"})
    assert answer.status_code == 404
    assert "detail" in answer.json()


def test_wrong_method_is_405(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.expect_rejection(), _http(fake_sequrity) as http:
        answer = http.get("/control/chat/v1/chat/completions")
    assert answer.status_code == 405
    assert "POST" in answer.json()["detail"]


def test_empty_bearer_is_401(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    with fake_sequrity.expect_rejection() as rejected, pytest.raises(openai.AuthenticationError) as err:
        sequrity_client.chat.completions.create(
            model="m", messages=USER, extra_headers={"Authorization": "Bearer"}
        )
    assert "bearer" in err.value.message.lower()
    assert rejected[0].status == 401


def test_missing_authorization_is_401(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.expect_rejection(), _http(fake_sequrity) as http:
        answer = http.post("/control/chat/v1/chat/completions", json={"model": "m", "messages": USER})
    assert answer.status_code == 401
    assert "bearer" in answer.json()["detail"].lower()


def test_any_bearer_passes_unless_keys_are_checked(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.client(api_key="whatever-key") as client:
        assert (
            client.chat.completions.create(model="m", messages=USER).choices[0].message.content == "echo: hi"
        )


def test_check_api_key() -> None:
    with FakeSequrity(api_key="sq-right-key-0000", check_api_key=True) as fake:
        with fake.client() as good:
            good.chat.completions.create(model="m", messages=USER)
        with (
            fake.client(api_key="sq-wrong-key-0000") as bad,
            fake.expect_rejection(),
            pytest.raises(openai.AuthenticationError) as err,
        ):
            bad.chat.completions.create(model="m", messages=USER)
        assert "sq-wrong-key-0000" not in str(err.value)
        assert [r.status for r in fake.requests] == [200, 401]
        fake.check()


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        (
            "X-Policy",
            '{"presets":{"default_allow":"maybe"}}',
            "X-Policy: presets.default_allow: Input should be",
        ),
        ("X-Features", '{"agent_arch":"triple-llm"}', "X-Features: agent_arch: Input should be"),
        ("X-Config", '{"fsm":{"max_n_turns":0}}', "X-Config: fsm.max_n_turns: Input should be greater than"),
        (
            "X-Config",
            '{"fsm":{"no_such_field":1}}',
            "X-Config: fsm.no_such_field: Extra inputs are not permitted",
        ),
        ("X-Features", "{not json", "X-Features: (root): Invalid JSON"),
        ("X-Policy", "[1,2]", "X-Policy: (root): Input should be"),
    ],
)
def test_invalid_headers_are_422_naming_header_and_field(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI, header: str, value: str, expected: str
) -> None:
    with fake_sequrity.expect_rejection() as rejected, pytest.raises(openai.UnprocessableEntityError) as err:
        sequrity_client.chat.completions.create(model="m", messages=USER, extra_headers={header: value})
    assert expected in err.value.message
    assert rejected[0].detail is not None
    assert rejected[0].detail.startswith(expected)


def test_valid_headers_are_parsed_into_models(fake_sequrity: FakeSequrity) -> None:
    features = sq.Features.dual_llm(pii_redaction=True)
    policy = sq.Policy.dual_llm(codes='tool "send_email" { hard deny when true; }')
    config = sq.Config.dual_llm(max_n_turns=3, include_program=True)
    with fake_sequrity.client(features=features, policy=policy, config=config) as client:
        client.chat.completions.create(model="m", messages=USER)
    rec = fake_sequrity.last_request
    assert rec is not None
    assert (rec.features, rec.policy, rec.config) == (features, policy, config)
    assert rec.arch == "dual-llm"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"messages": USER}, "body.model"),
        ({"model": "", "messages": USER}, "body.model"),
        ({"model": 3, "messages": USER}, "body.model"),
        ({"model": "m"}, "body.messages"),
    ],
)
def test_invalid_bodies_are_422(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI, body: dict[str, Any], expected: str
) -> None:
    with fake_sequrity.expect_rejection(), pytest.raises(openai.UnprocessableEntityError) as err:
        sequrity_client.post("/chat/completions", body=body, cast_to=object)
    assert expected in err.value.message


def test_body_that_is_not_json_is_422(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.expect_rejection(), _http(fake_sequrity) as http:
        answer = http.post(
            "/control/chat/v1/chat/completions", content=b"{oops", headers={"Authorization": "Bearer k"}
        )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("body: invalid JSON")


def test_responses_needs_only_a_model(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    with fake_sequrity.expect_rejection(), pytest.raises(openai.UnprocessableEntityError):
        sequrity_client.post("/responses", body={"input": "x"}, cast_to=object)
    assert sequrity_client.responses.create(model="m").output_text == "echo: "
