"""Many conversations at once, each in its own scope: zero cross-talk between session ids.

The server starts a new session for every request that names none, so any id leaking from one
conversation into another shows up as a request carrying a foreign id, or as a session whose
turn count is not exactly one conversation's.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

import sequrity_openai as sq
from helpers.servers import SessionServer
from helpers.threads import run_threads

ASYNC_CONVERSATIONS = 200
THREADS = 50


@pytest.fixture(scope="module")
def server() -> Iterator[SessionServer]:
    with SessionServer() as running:
        yield running


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def check_no_cross_talk(server: SessionServer, scopes: dict[str, sq.Session], turns: int) -> None:
    """Each conversation's later turns carry exactly its own id; each id has one conversation."""
    owners: dict[str, str] = {}
    for tag, scope in scopes.items():
        requests = server.by_text(f"<{tag}>")
        assert len(requests) == turns, (tag, requests)
        first, *later = requests
        assert first.sent_session is None
        assert first.how == "new"
        mine = first.session
        assert scope.id == mine
        for request in later:
            assert request.session == mine, (tag, request)
            if request.how == "tool":
                assert request.sent_session is None
            else:
                assert request.sent_session == mine, (tag, request)
        assert owners.setdefault(mine, tag) == tag, f"{mine} used by {owners[mine]} and {tag}"
        assert server.turns[mine] == turns, (tag, mine)
    assert len(owners) == len(scopes)


async def async_conversation(
    client: openai.AsyncOpenAI, tag: str, n: int, scopes: dict[str, sq.Session]
) -> None:
    """Three turns; odd conversations run a tool loop (the third turn names no session)."""

    async def turn(messages: list[dict[str, Any]]) -> Any:
        answer = await client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        await asyncio.sleep(0)  # let the other conversations interleave between turns
        return answer

    async def body(scope: sq.Session) -> None:
        scopes[tag] = scope
        first = await turn(user(f"<{tag}> hello"))
        assert sq.parse_result(first).value["session"] == scope.id
        if n % 2:
            asked = await turn(user(f"<{tag}> [tool] look up"))
            call = asked.choices[0].message.tool_calls[0]
            assert sq.session_id_of(call.id) == scope.id
            history = [
                *user(f"<{tag}> [tool] look up"),
                asked.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": "found"},
            ]
            last, how = await turn(history), "tool"
        else:
            await turn(user(f"<{tag}> again"))
            last, how = await turn(user(f"<{tag}> bye")), "header"
        value = sq.parse_result(last).value
        assert (value["session"], value["turn"], value["how"]) == (scope.id, 3, how)

    # Both ways of opening a scope inside a task.
    if n % 4 < 2:
        async with sq.session() as scope:
            await body(scope)
    else:
        with sq.session() as scope:
            await body(scope)
    assert sq.current_session() is None


async def test_concurrent_async_conversations_share_one_client(server: SessionServer) -> None:
    client = sq.create_async_client(api_key="sk-test", base_url=server.url, max_retries=0)
    scopes: dict[str, sq.Session] = {}
    tags = [uuid.uuid4().hex for _ in range(ASYNC_CONVERSATIONS)]
    async with client:
        await asyncio.gather(*(async_conversation(client, tag, n, scopes) for n, tag in enumerate(tags)))
    assert sq.current_session() is None
    check_no_cross_talk(server, scopes, turns=3)


@pytest.mark.parametrize("shared_client", [True, False], ids=["one-client", "client-per-thread"])
def test_concurrent_threads_with_sync_clients(server: SessionServer, shared_client: bool) -> None:
    shared = sq.create_client(api_key="sk-test", base_url=server.url, max_retries=0)
    scopes: dict[str, sq.Session] = {}
    tags = [uuid.uuid4().hex for _ in range(THREADS)]
    start = threading.Barrier(THREADS)

    def conversation(n: int) -> None:
        client = shared if shared_client else sq.create_client(api_key="sk-test", base_url=server.url)
        tag = tags[n]
        start.wait()  # every thread's first turn is in flight at the same time
        with sq.session() as scope:
            scopes[tag] = scope
            for turn in range(1, 4):
                answer = client.chat.completions.create(model="m", messages=user(f"<{tag}> turn {turn}"))
                assert sq.parse_result(answer).value["session"] == scope.id
                assert sq.parse_result(answer).value["turn"] == turn
        assert sq.current_session() is None

    run_threads(conversation, THREADS)
    check_no_cross_talk(server, scopes, turns=3)


def test_threads_and_tasks_inside_one_scope_share_it(server: SessionServer) -> None:
    """A scope opened in a thread reaches work that thread starts with copied context."""
    scopes: dict[str, sq.Session] = {}
    tags = [uuid.uuid4().hex for _ in range(10)]

    def thread_body(n: int) -> None:
        tag = tags[n]

        async def main() -> None:
            local = sq.create_async_client(api_key="sk-test", base_url=server.url, max_retries=0)
            async with local, sq.session() as scope:
                scopes[tag] = scope
                await local.chat.completions.create(model="m", messages=user(f"<{tag}> a"))  # type: ignore[arg-type]
                # Child tasks copy the context, so they continue the same conversation.
                await asyncio.gather(
                    *(
                        local.chat.completions.create(model="m", messages=user(f"<{tag}> b{i}"))  # type: ignore[arg-type]
                        for i in range(3)
                    )
                )

        asyncio.run(main())

    run_threads(thread_body, len(tags))
    check_no_cross_talk(server, scopes, turns=4)
