"""FakeSequrity: lifecycle, records and assertion helpers, check(), reset() and concurrency."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import openai
import pytest

import sequrity_openai as sq
from sequrity_openai.testing import FakeSequrity, RecordedRequest, TextAnswer

USER: Any = [{"role": "user", "content": "hi"}]


def _ask(client: openai.OpenAI, text: str = "hi") -> Any:
    return client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])


# ---------------------------------------------------------------------------- lifecycle


def test_context_manager_serves_on_an_ephemeral_loopback_port() -> None:
    with FakeSequrity() as fake:
        assert fake.url.startswith("http://127.0.0.1:")
        assert fake.port > 0
        assert fake.running
        with fake.client() as client:
            assert _ask(client).choices[0].message.content == "echo: hi"
        url = fake.url
    assert not fake.running
    with pytest.raises(RuntimeError, match="not started"):
        _ = fake.url
    with (
        sq.create_client(api_key="k", base_url=url, max_retries=0) as client,
        pytest.raises(openai.APIConnectionError),
    ):
        _ask(client)


def test_start_and_stop_are_idempotent_and_restartable() -> None:
    fake = FakeSequrity()
    assert fake.start() is fake
    assert fake.start() is fake
    fake.stop()
    fake.stop()
    with fake, fake.client() as client:
        _ask(client)
    assert len(fake.requests) == 1
    assert repr(fake) == "FakeSequrity(not started)"


def test_busy_port_raises_oserror_not_systemexit() -> None:
    with FakeSequrity() as first:
        second = FakeSequrity(port=first.port)
        with pytest.raises(OSError, match="in use"):
            second.start()
        assert not second.running
        with first.client() as client:
            _ask(client)


def test_environ_points_the_factory_at_the_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSequrity(api_key="sq-env-key") as fake:
        for name, value in fake.environ.items():
            monkeypatch.setenv(name, value)
        with sq.create_client() as client:
            _ask(client)
        fake.assert_header("Authorization", "Bearer sq-env-key")


def test_serve_forever_in_the_foreground_until_stop() -> None:
    fake = FakeSequrity()
    ready = threading.Event()
    urls: list[str] = []

    def on_ready(url: str) -> None:
        urls.append(url)
        ready.set()

    runner = threading.Thread(target=fake.serve_forever, kwargs={"on_ready": on_ready})
    runner.start()
    assert ready.wait(5)
    assert not fake.running  # no background thread: this one serves
    with sq.create_client(api_key="k", base_url=urls[0]) as client:
        assert _ask(client).choices[0].message.content == "echo: hi"
    fake.stop()
    runner.join(5)
    assert not runner.is_alive()


def test_serve_forever_after_start_blocks_until_stop() -> None:
    fake = FakeSequrity().start()
    runner = threading.Thread(target=fake.serve_forever)
    runner.start()
    runner.join(0.2)
    assert runner.is_alive()
    fake.stop()
    runner.join(5)
    assert not runner.is_alive()


def test_log_requests_logs_one_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="werkzeug")
    with FakeSequrity(log_requests=True) as fake, fake.client() as client:
        _ask(client)
    assert "POST /control/chat/v1/chat/completions" in caplog.text
    caplog.clear()
    with FakeSequrity() as quiet, quiet.client() as client:
        _ask(client)
    assert "POST" not in caplog.text


# ---------------------------------------------------------------------------- records


def test_record_of_a_request(fake_sequrity: FakeSequrity) -> None:
    policy = sq.Policy.single_llm(codes='tool "f" { hard deny when true; }')
    with fake_sequrity.client(provider="openai", llm_api_key="sk-provider-key", policy=policy) as client:
        _ask(client, "record me")
    (rec,) = fake_sequrity.requests
    assert isinstance(rec, RecordedRequest)
    assert (rec.method, rec.path) == ("POST", "/control/chat/openai/v1/chat/completions")
    assert (rec.endpoint_type, rec.provider, rec.api, rec.status) == (
        "chat",
        "openai",
        "chat/completions",
        200,
    )
    assert rec.body == {"model": "m", "messages": [{"role": "user", "content": "record me"}]}
    assert rec.messages == [{"role": "user", "content": "record me"}]
    assert rec.policy == policy
    assert (rec.features, rec.config) == (None, None)
    assert rec.headers["x-api-key"] == "sk-provider-key"
    assert rec.header("X-API-KEY") == "sk-provider-key"
    assert rec.headers["authorization"] == "Bearer sq-test-key"
    assert rec.arch == "single-llm"
    assert not rec.stream
    assert rec.session_id is not None and rec.new_session
    assert fake_sequrity.last_request is rec


def test_assertion_helpers_pass_and_fail(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    with pytest.raises(AssertionError, match="no request"):
        fake_sequrity.assert_header("Authorization")
    _ask(sequrity_client)
    fake_sequrity.assert_request_count(1)
    fake_sequrity.assert_request_count(1, api="chat/completions")
    fake_sequrity.assert_request_count(0, api="responses")
    with pytest.raises(AssertionError, match="expected 2 request"):
        fake_sequrity.assert_request_count(2)
    fake_sequrity.assert_header("authorization", "Bearer sq-test-key")
    with pytest.raises(AssertionError, match="expected 'Bearer other'"):
        fake_sequrity.assert_header("Authorization", "Bearer other")
    with pytest.raises(AssertionError, match="carried no X-Policy"):
        fake_sequrity.assert_header("X-Policy")
    fake_sequrity.assert_no_header("X-Session-ID")
    with pytest.raises(AssertionError, match="carried Authorization"):
        fake_sequrity.assert_no_header("Authorization")
    first = fake_sequrity.assert_new_session()
    with pytest.raises(AssertionError, match="expected a continued session"):
        fake_sequrity.assert_session_continued()
    with sq.session(first):
        _ask(sequrity_client)
    fake_sequrity.assert_session_continued(first)
    with pytest.raises(AssertionError, match="expected a new session"):
        fake_sequrity.assert_new_session()
    with pytest.raises(AssertionError, match="expected session 'other'"):
        fake_sequrity.assert_session_continued("other")
    fake_sequrity.assert_new_session(request=fake_sequrity.requests[0])


# ---------------------------------------------------------------------------- check, reset


def test_check_reports_unconsumed_answers() -> None:
    with FakeSequrity() as fake:
        fake.queue_text("never asked")
        fake.queue_delay(1)
        fake.queue_error(500)
        with pytest.raises(AssertionError, match="3 scripted answer") as raised:
            fake.check()
        message = str(raised.value)
        assert "text 'never asked'" in message and "delay 1s" in message and "error 500" in message
        fake.reset()
        fake.check()


def test_check_reports_unexpected_rejections() -> None:
    with FakeSequrity() as fake, fake.client() as client:
        with pytest.raises(openai.UnprocessableEntityError):
            client.chat.completions.create(model="", messages=USER)
        with pytest.raises(AssertionError, match=r"unexpected rejection: POST .* -> 422: body.model"):
            fake.check()


def test_expect_rejection_marks_and_returns_rejections(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.client(max_retries=0) as client:
        with fake_sequrity.expect_rejection(at_least=2) as rejected:
            for _ in range(2):
                with pytest.raises(openai.UnprocessableEntityError):
                    client.chat.completions.create(model="", messages=USER)
            _ask(client)
        assert [r.status for r in rejected] == [422, 422]
        assert all(r.expected and r.rejected for r in rejected)
        with (
            pytest.raises(AssertionError, match="at least 1 rejected request"),
            fake_sequrity.expect_rejection(),
        ):
            _ask(client)
        with fake_sequrity.expect_rejection(at_least=0) as none:
            _ask(client)
        assert none == []


def test_expect_rejection_lets_errors_through(fake_sequrity: FakeSequrity) -> None:
    with pytest.raises(KeyError), fake_sequrity.expect_rejection():
        raise KeyError("from the test body")


def test_reset_forgets_queue_records_and_sessions(
    fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI
) -> None:
    _ask(sequrity_client)
    session_id = fake_sequrity.requests[0].session_id
    fake_sequrity.queue_text("left over")
    fake_sequrity.reset()
    assert (fake_sequrity.requests, fake_sequrity.pending, fake_sequrity.sessions) == ([], [], {})
    assert _ask(sequrity_client).choices[0].message.content == "echo: hi"
    with (
        sq.session(session_id),
        fake_sequrity.expect_rejection(),
        pytest.raises(openai.BadRequestError, match="unknown session"),
    ):
        _ask(sequrity_client)


def test_requests_in_flight_during_reset_are_not_recorded(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_delay(0.5)
    with fake_sequrity.client(timeout=5) as client:
        worker = threading.Thread(target=_ask, args=(client,))
        worker.start()
        time.sleep(0.2)
        fake_sequrity.reset()
        worker.join()
    assert fake_sequrity.requests == []


def test_queue_accepts_script_items(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    fake_sequrity.queue(TextAnswer("direct"))
    assert _ask(sequrity_client).choices[0].message.content == "direct"


# ---------------------------------------------------------------------------- concurrency


async def test_250_concurrent_connections(fake_sequrity: FakeSequrity) -> None:
    count = 250
    for i in range(count):
        fake_sequrity.queue_delay(0.3)
        fake_sequrity.queue_text(f"answer {i}")
    client = fake_sequrity.async_client(max_retries=0, timeout=30)
    started = time.monotonic()
    try:
        answers = await asyncio.gather(
            *(client.chat.completions.create(model="m", messages=USER) for _ in range(count))
        )
    finally:
        await client.close()
    elapsed = time.monotonic() - started
    assert sorted(a.choices[0].message.content for a in answers) == sorted(
        f"answer {i}" for i in range(count)
    )
    # Served one at a time this would take count * 0.3 s.
    assert elapsed < count * 0.3 / 5
    assert len(fake_sequrity.requests) == count
    assert len({r.session_id for r in fake_sequrity.requests}) == count


def test_threads_share_one_client(fake_sequrity: FakeSequrity, sequrity_client: openai.OpenAI) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        text = _ask(sequrity_client, f"thread {n}").choices[0].message.content
        with lock:
            results.append(text)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == sorted(f"echo: thread {n}" for n in range(40))
