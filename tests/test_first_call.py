"""One session per scope even when its first calls run at once (threads and asyncio tasks)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import openai
import pytest

import sequrity_openai as sq
from helpers.threads import run_threads
from sequrity_openai import _first_call
from sequrity_openai.testing import FakeSequrity

CALLS = 50


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def check_one_session(fake: FakeSequrity, scope: sq.Session, *, answered: int) -> None:
    """Exactly one answered request opened the scope's session; every other one continued it."""
    ok = [r for r in fake.api_requests if r.status == 200]
    assert len(ok) == answered
    opened = [r for r in ok if r.new_session]
    assert len(opened) == 1, [r.session_id for r in opened]
    assert opened[0].sent_session_id is None
    assert scope.id == opened[0].session_id
    for request in ok:
        if request is not opened[0]:
            assert request.sent_session_id == scope.id
    assert fake.sessions[scope.id] == answered
    assert _first_call.waiting() == 0


async def test_fifty_concurrent_first_calls_in_tasks_share_one_session(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_delay(0.2)  # the first call is slow: the others pile up behind it
    client = fake_sequrity.async_client(max_retries=0)
    async with client, sq.session() as scope:
        answers = await asyncio.gather(
            *(client.chat.completions.create(model="m", messages=user(f"q{i}")) for i in range(CALLS))
        )
    assert len(answers) == CALLS
    check_one_session(fake_sequrity, scope, answered=CALLS)


def test_fifty_concurrent_first_calls_in_threads_share_one_session(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_delay(0.2)
    client = fake_sequrity.client(max_retries=0)
    scope = sq.session()
    start = threading.Barrier(CALLS)

    def call(i: int) -> None:
        with scope:
            start.wait()
            client.chat.completions.create(model="m", messages=user(f"t{i}"))

    try:
        run_threads(call, CALLS)  # raises the first error of any thread
    finally:
        client.close()
    check_one_session(fake_sequrity, scope, answered=CALLS)


async def test_threads_and_tasks_share_one_scope(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_delay(0.2)
    sync_client = fake_sequrity.client(max_retries=0)
    async_client = fake_sequrity.async_client(max_retries=0)
    scope = sq.session()

    def in_thread(i: int) -> None:
        with scope:
            sync_client.chat.completions.create(model="m", messages=user(f"thread {i}"))

    async with scope:
        await asyncio.gather(
            *(async_client.chat.completions.create(model="m", messages=user(f"task {i}")) for i in range(10)),
            *(asyncio.to_thread(in_thread, i) for i in range(10)),
        )
    sync_client.close()
    await async_client.close()
    check_one_session(fake_sequrity, scope, answered=20)


async def test_first_call_failing_hands_over_to_the_next(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_delay(0.2)
    fake_sequrity.queue_error(400, "the first call is refused")
    client = fake_sequrity.async_client(max_retries=0)
    async with client, sq.session() as scope:
        results = await asyncio.gather(
            *(client.chat.completions.create(model="m", messages=user(f"q{i}")) for i in range(10)),
            return_exceptions=True,
        )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], openai.BadRequestError)
    check_one_session(fake_sequrity, scope, answered=9)


def test_first_call_failing_in_a_thread_hands_over(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_delay(0.2)
    fake_sequrity.queue_error(400, "the first call is refused")
    client = fake_sequrity.client(max_retries=0)
    scope = sq.session()
    outcomes: list[object] = []

    def call(i: int) -> None:
        with scope:
            try:
                outcomes.append(client.chat.completions.create(model="m", messages=user(f"t{i}")))
            except openai.BadRequestError as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    client.close()
    assert sum(isinstance(o, openai.BadRequestError) for o in outcomes) == 1
    check_one_session(fake_sequrity, scope, answered=9)


async def test_first_call_cancelled_hands_over_and_leaves_no_waiter(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_delay(0.5)
    client = fake_sequrity.async_client(max_retries=0)
    async with client, sq.session() as scope:
        first = asyncio.create_task(client.chat.completions.create(model="m", messages=user("first")))
        await asyncio.sleep(0.1)  # the first call is on the wire
        others = [
            asyncio.create_task(client.chat.completions.create(model="m", messages=user(f"q{i}")))
            for i in range(10)
        ]
        await asyncio.sleep(0.05)
        assert _first_call.waiting() == 10
        first.cancel()
        await asyncio.gather(*others)
        with pytest.raises(asyncio.CancelledError):
            await first
    # The cancelled call still reached the server, which opened a session the client never heard of.
    answered = [r for r in fake_sequrity.api_requests if r.body["messages"][0]["content"] != "first"]
    opened = [r for r in answered if r.new_session]
    assert len(opened) == 1 and scope.id == opened[0].session_id
    assert all(r.sent_session_id == scope.id for r in answered if r is not opened[0])
    assert _first_call.waiting() == 0


async def test_a_cancelled_waiter_leaves_nothing_behind(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_delay(0.3)
    client = fake_sequrity.async_client(max_retries=0)
    async with client, sq.session() as scope:
        first = asyncio.create_task(client.chat.completions.create(model="m", messages=user("first")))
        await asyncio.sleep(0.05)
        waiter = asyncio.create_task(client.chat.completions.create(model="m", messages=user("waiter")))
        await asyncio.sleep(0.05)
        assert _first_call.waiting() == 1
        waiter.cancel()
        await asyncio.sleep(0)
        assert _first_call.waiting() == 0
        await first
    assert scope.id is not None
    assert [r.body["messages"][0]["content"] for r in fake_sequrity.api_requests] == ["first"]


async def test_no_wait_once_the_id_is_known(fake_sequrity: FakeSequrity) -> None:
    client = fake_sequrity.async_client(max_retries=0)
    async with client, sq.session() as scope:
        await client.chat.completions.create(model="m", messages=user("first"))
        fake_sequrity.queue_delay(0.3)
        slow = asyncio.create_task(client.chat.completions.create(model="m", messages=user("slow")))
        await asyncio.sleep(0.05)
        # The slow call holds nothing: a call made meanwhile neither waits nor is waited for.
        fast = await asyncio.wait_for(client.chat.completions.create(model="m", messages=user("fast")), 0.25)
        assert _first_call.waiting() == 0
        await slow
    assert fast.choices[0].message.content == "echo: fast"
    check_one_session(fake_sequrity, scope, answered=3)


async def test_a_sync_call_on_the_leading_loop_does_not_deadlock(fake_sequrity: FakeSequrity) -> None:
    fake_sequrity.queue_delay(0.2)
    async_client = fake_sequrity.async_client(max_retries=0)
    sync_client = fake_sequrity.client(max_retries=0)
    async with async_client, sq.session():
        leader = asyncio.create_task(async_client.chat.completions.create(model="m", messages=user("a")))
        await asyncio.sleep(0.05)
        # A blocking call on the loop that runs the first call cannot wait for it: it goes ahead.
        sync_client.chat.completions.create(model="m", messages=user("b"))
        await leader
    sync_client.close()
    assert _first_call.waiting() == 0


def test_calls_outside_a_scope_and_explicit_sessions_never_wait(fake_sequrity: FakeSequrity) -> None:
    with fake_sequrity.client() as client:
        client.chat.completions.create(model="m", messages=user("no scope"))
        fake_sequrity.assert_new_session()
        with sq.session():
            known = fake_sequrity.requests[-1].session_id
            assert known is not None
            client.chat.completions.create(
                model="m", messages=user("pinned"), extra_headers={"X-Session-ID": known}
            )
        fake_sequrity.assert_session_continued(known)
    assert _first_call.waiting() == 0
