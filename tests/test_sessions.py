"""Session scopes over real HTTP: which X-Session-ID each call carries and what the scope keeps."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion

import sequrity_openai as sq
from helpers.servers import Recorded, SessionServer
from helpers.threads import run_threads


@pytest.fixture(scope="module")
def server() -> Iterator[SessionServer]:
    with SessionServer() as running:
        yield running


def new_tag() -> str:
    return f"conv-{uuid.uuid4().hex[:12]}"


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


class Chat:
    """One face for a sync or an async factory-made client, so each test runs against both."""

    def __init__(self, client: openai.OpenAI | openai.AsyncOpenAI) -> None:
        self.client = client
        self.is_async = isinstance(client, openai.AsyncOpenAI)

    async def __call__(self, messages: str | list[dict[str, Any]], **kwargs: Any) -> Any:
        if isinstance(messages, str):
            messages = user(messages)
        result = self.client.chat.completions.create(model="m", messages=messages, **kwargs)  # type: ignore[call-overload]
        return await result if inspect.isawaitable(result) else result

    async def collect(self, text: str) -> sq.CollectedStream:
        stream = await self(text, stream=True)
        if self.is_async:
            return await sq.acollect_stream(stream)
        return sq.collect_stream(stream)


def make(server: SessionServer, kind: str, **kwargs: Any) -> Chat:
    factory = sq.create_async_client if kind == "async" else sq.create_client
    kwargs.setdefault("max_retries", 0)
    return Chat(factory(api_key="sk-test", base_url=server.url, **kwargs))


@pytest.fixture(params=["sync", "async"])
def chat(request: pytest.FixtureRequest, server: SessionServer) -> Chat:
    return make(server, request.param)


def only(server: SessionServer, text: str) -> Recorded:
    found = server.by_text(text)
    assert len(found) == 1, found
    return found[0]


def value(completion: ChatCompletion) -> dict[str, Any]:
    return sq.parse_result(completion).raise_for_status().value  # type: ignore[no-any-return]


# -- multi-turn conversations ---------------------------------------------------------------


async def test_second_turn_carries_the_first_turns_session(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    with sq.session() as s:
        assert s.id is None
        first = await chat(f"{tag} turn 1")
        assert s.id is not None
        second = await chat(f"{tag} turn 2")
        third = await chat(f"{tag} turn 3")
    turn1, turn2, turn3 = (only(server, f"{tag} turn {n}") for n in (1, 2, 3))
    assert turn1.sent_session is None
    assert turn1.how == "new"
    assert s.id == turn1.session == value(first)["session"]
    assert (turn2.sent_session, turn3.sent_session) == (s.id, s.id)
    assert [value(r)["turn"] for r in (first, second, third)] == [1, 2, 3]
    assert sq.current_session() is None


async def test_async_with_scope(server: SessionServer) -> None:
    chat = make(server, "async")
    tag = new_tag()
    async with sq.session() as s:
        assert sq.current_session() is s
        await chat(f"{tag} a")
        await chat(f"{tag} b")
    assert sq.current_session() is None
    assert only(server, f"{tag} b").sent_session == s.id == only(server, f"{tag} a").session


async def test_tool_loop_continues_through_tool_call_ids_without_header(
    chat: Chat, server: SessionServer
) -> None:
    tag = new_tag()
    with sq.session() as s:
        await chat(f"{tag} hello")
        first_id = s.id
        asked = await chat(f"{tag} [tool] look it up")
        call = asked.choices[0].message.tool_calls[0]
        assert sq.session_id_of(call.id) == first_id
        history = [
            *user(f"{tag} [tool] look it up"),
            asked.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "42"},
        ]
        answered = await chat(history)
        after = await chat(f"{tag} thanks")
    requests = server.by_text(tag)
    assert [r.how for r in requests] == ["new", "header", "tool", "header"]
    tool_result = requests[2]
    assert tool_result.sent_session is None, "a request carrying tc- tool results must not send X-Session-ID"
    assert "x-session-id" not in {k.lower() for k in tool_result.headers}
    assert value(answered)["session"] == first_id
    assert requests[3].sent_session == first_id == s.id
    assert value(after)["turn"] == 4


async def test_scope_picks_up_the_session_a_headerless_tool_result_continues(
    chat: Chat, server: SessionServer
) -> None:
    tag = new_tag()
    # A tool call made in some earlier conversation; its id names that conversation's session.
    asked = await chat(f"{tag} [tool] earlier")
    call_id = asked.choices[0].message.tool_calls[0].id
    earlier = sq.session_id_of(call_id)
    stored = str(uuid.uuid4())
    with sq.session(session_id=stored) as s:
        history = [
            *user(f"{tag} [tool] earlier"),
            asked.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call_id, "content": "ok"},
        ]
        await chat(history)
        assert s.id == earlier
        await chat(f"{tag} next")
    requests = server.by_text(tag)
    assert requests[1].sent_session is None
    assert requests[1].session == earlier
    assert requests[2].sent_session == earlier


async def test_tool_results_with_foreign_ids_do_not_suppress_the_header(
    chat: Chat, server: SessionServer
) -> None:
    tag = new_tag()
    with sq.session() as s:
        await chat(f"{tag} one")
        history = [
            *user(f"{tag} two"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_abc", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_abc", "content": "tc-not-a-session-id"},
        ]
        await chat(history)
    assert server.by_text(tag)[1].sent_session == s.id


# -- outside a scope and pinned clients ------------------------------------------------------


async def test_calls_outside_any_scope_send_no_session(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    await chat(f"{tag} before")
    with sq.session():
        await chat(f"{tag} inside")
    await chat(f"{tag} after")
    before, inside, after = server.by_text(tag)
    assert before.sent_session is None
    assert after.sent_session is None
    assert "x-session-id" not in {k.lower() for k in after.headers}
    assert len({before.session, inside.session, after.session}) == 3


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_client_pinned_to_a_session_sends_it_everywhere(kind: str, server: SessionServer) -> None:
    pinned = str(uuid.uuid4())
    chat = make(server, kind, session_id=pinned)
    tag = new_tag()
    await chat(f"{tag} outside")
    with sq.session() as s:
        await chat(f"{tag} inside")
    assert [r.sent_session for r in server.by_text(tag)] == [pinned, pinned]
    # The pinned client names its session explicitly; the scope is not moved by it.
    assert s.id is None


# -- rotation, explicit override, resume -----------------------------------------------------


async def test_rotation_by_the_server_updates_the_scope(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    with sq.session() as s:
        await chat(f"{tag} one")
        original = s.id
        rotated = await chat(f"{tag} [rotate] two")
        assert s.id != original
        assert s.id == value(rotated)["session"]
        await chat(f"{tag} three")
    _, two, three = server.by_text(tag)
    assert two.sent_session == original
    assert three.sent_session == s.id == two.session


async def test_explicit_header_wins_for_one_call_only(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    other = str(uuid.uuid4())
    with sq.session() as s:
        await chat(f"{tag} one")
        mine = s.id
        answered = await chat(f"{tag} two", extra_headers={"X-Session-ID": other})
        assert value(answered)["session"] == other
        assert s.id == mine
        await chat(f"{tag} three")
    assert [r.sent_session for r in server.by_text(tag)] == [None, other, mine]


async def test_explicit_header_on_the_first_call_leaves_the_scope_empty(
    chat: Chat, server: SessionServer
) -> None:
    tag = new_tag()
    other = str(uuid.uuid4())
    with sq.session() as s:
        await chat(f"{tag} one", extra_headers={"x-session-id": other})
        assert s.id is None
        await chat(f"{tag} two")
    one, two = server.by_text(tag)
    assert one.sent_session == other
    assert two.sent_session is None
    assert s.id == two.session != other


async def test_resume_by_id_sends_it_on_the_first_call(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    stored = str(uuid.uuid4())
    with sq.session(session_id=stored) as s:
        assert s.id == stored
        await chat(f"{tag} one")
        await chat(f"{tag} two")
    assert [r.sent_session for r in server.by_text(tag)] == [stored, stored]
    assert s.id == stored


def test_resume_rejects_ids_that_cannot_be_a_header() -> None:
    with pytest.raises(sq.ConfigurationError, match="session_id"):
        sq.session(session_id="abc\r\nX-Evil: 1")
    with pytest.raises(sq.ConfigurationError, match="session_id"):
        sq.session(session_id="")
    assert sq.current_session() is None


# -- nesting and exceptions ------------------------------------------------------------------


async def test_nested_scopes_inner_wins_and_outer_is_restored(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    with sq.session() as outer:
        await chat(f"{tag} outer 1")
        outer_id = outer.id
        with sq.session() as inner:
            assert sq.current_session() is inner
            await chat(f"{tag} inner 1")
            await chat(f"{tag} inner 2 [rotate]")
            await chat(f"{tag} inner 3")
        assert sq.current_session() is outer
        assert outer.id == outer_id
        await chat(f"{tag} outer 2")
        resumed = str(uuid.uuid4())
        with sq.session(session_id=resumed):
            await chat(f"{tag} resumed")
        await chat(f"{tag} outer 3")
    requests = {r.user_text.removeprefix(f"{tag} "): r for r in server.by_text(tag)}
    assert requests["inner 1"].sent_session is None
    assert requests["inner 2 [rotate]"].sent_session == requests["inner 1"].session
    assert requests["inner 3"].sent_session == inner.id == requests["inner 2 [rotate]"].session
    assert inner.id != outer_id
    assert requests["outer 2"].sent_session == outer_id
    assert requests["resumed"].sent_session == resumed
    assert requests["outer 3"].sent_session == outer_id
    assert sq.current_session() is None


async def test_reentering_the_same_session_object(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    s = sq.session()
    with s:
        await chat(f"{tag} one")
        with s:
            await chat(f"{tag} two")
        assert sq.current_session() is s
    with s:
        await chat(f"{tag} three")
    assert sq.current_session() is None
    assert [r.sent_session for r in server.by_text(tag)] == [None, s.id, s.id]


async def test_one_session_object_entered_by_concurrent_tasks(server: SessionServer) -> None:
    chat = make(server, "async")
    tag = new_tag()
    shared = sq.session(session_id=str(uuid.uuid4()))
    gate = asyncio.Event()

    async def use(n: int, delay: float) -> None:
        async with shared:
            await gate.wait()
            await asyncio.sleep(delay)
            await chat(f"{tag} task {n}")
        assert sq.current_session() is None

    tasks = [asyncio.create_task(use(n, 0.01 * n)) for n in range(3)]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert {r.sent_session for r in server.by_text(tag)} == {shared.id}
    assert sq.current_session() is None


async def test_scope_exit_after_an_exception_restores_the_context(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    inner = sq.session()

    async def fail_inside() -> None:
        with inner:
            await chat(f"{tag} inner")
            raise RuntimeError("boom")

    async def server_error_inside() -> None:
        with sq.session():
            await chat(f"{tag} [status:500]")

    with sq.session() as outer:
        await chat(f"{tag} outer")
        with pytest.raises(RuntimeError, match="boom"):
            await fail_inside()
        assert sq.current_session() is outer
        assert inner.id is not None
        assert inner.id != outer.id
        with pytest.raises(openai.InternalServerError, match="scripted failure") as caught:
            await server_error_inside()
        assert "sk-test" not in str(caught.value)
        assert sq.current_session() is outer
        await chat(f"{tag} outer again")
    assert sq.current_session() is None
    assert server.by_text(f"{tag} outer again")[0].sent_session == outer.id


async def test_async_scope_exit_after_an_exception(server: SessionServer) -> None:
    chat = make(server, "async")
    tag = new_tag()

    async def conversation() -> None:
        async with sq.session():
            await chat(f"{tag} ok")
            await chat(f"{tag} [status:400]")

    with pytest.raises(openai.BadRequestError, match="scripted failure"):
        await conversation()
    assert sq.current_session() is None
    await chat(f"{tag} after")
    assert server.by_text(f"{tag} after")[0].sent_session is None


async def test_error_answers_do_not_move_the_scope(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    with sq.session() as s:
        await chat(f"{tag} one")
        mine = s.id
        with pytest.raises(openai.BadRequestError, match="scripted failure"):
            await chat(f"{tag} [status:400]")
        assert s.id == mine
        await chat(f"{tag} two")
    assert [r.sent_session for r in server.by_text(tag)] == [None, mine, mine]


async def test_other_services_on_a_shared_http_client_are_left_alone(server: SessionServer) -> None:
    http_client = openai.DefaultHttpxClient()
    sequrity = Chat(sq.create_client(api_key="sk-test", base_url=server.url, http_client=http_client))
    # A stock client on the same http_client, talking to a service that is not Sequrity Control.
    other = Chat(openai.OpenAI(api_key="sk-other", base_url=f"{server.url}/v1", http_client=http_client))
    tag = new_tag()
    with sq.session() as s:
        await sequrity(f"{tag} one")
        mine = s.id
        await other(f"{tag} elsewhere")
        assert s.id == mine
        await sequrity(f"{tag} two")
    _, elsewhere, two = server.by_text(tag)
    assert elsewhere.path == "/v1/chat/completions"
    assert elsewhere.sent_session is None
    assert elsewhere.session != mine
    assert two.sent_session == mine


def test_sync_scope_in_plain_threads_code(server: SessionServer) -> None:
    client = sq.create_client(api_key="sk-test", base_url=server.url, max_retries=0)
    tag = new_tag()
    with sq.session() as s:
        client.chat.completions.create(model="m", messages=user(f"{tag} 1"))
        client.chat.completions.create(model="m", messages=user(f"{tag} 2"))
    one, two = server.by_text(tag)
    assert (one.sent_session, two.sent_session) == (None, s.id)
    assert s.id == one.session


# -- streaming, retries, user http clients ---------------------------------------------------


async def test_streaming_inside_a_scope(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    with sq.session() as s:
        collected = await chat.collect(f"{tag} streamed one")
        assert s.id is not None
        assert collected.session_id == s.id
        assert collected.finish_reason == "stop"
        result = sq.parse_result(collected)
        assert result.status == "success"
        assert result.value["session"] == s.id
        assert result.value["echo"] == f"{tag} streamed one"
        assert collected.result() == result
        again = await chat.collect(f"{tag} streamed two")
        assert sq.parse_result(again).value["turn"] == 2
    one, two = server.by_text(tag)
    assert one.sent_session is None
    assert two.sent_session == s.id == one.session


async def test_stream_id_is_captured_before_the_body_is_read(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    with sq.session() as s:
        stream = await chat(f"{tag} streamed", stream=True)
        assert s.id is not None
        assert sq.session_id_of(stream) == s.id
        if chat.is_async:
            await stream.close()
        else:
            stream.close()


async def test_streamed_tool_call_carries_the_session(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    with sq.session() as s:
        collected = await chat.collect(f"{tag} [tool] streamed")
    assert collected.finish_reason == "tool_calls"
    assert collected.text == ""
    assert len(collected.tool_calls) == 1
    call = collected.tool_calls[0]
    assert call["function"]["name"] == "lookup"
    assert json.loads(call["function"]["arguments"]) == {"q": f"{tag} [tool] streamed"}
    assert sq.session_id_of(call["id"]) == s.id == collected.session_id
    assert sq.parse_result(collected).status == "unknown"


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_retry_inside_a_scope_keeps_the_header(kind: str, server: SessionServer) -> None:
    chat = make(server, kind, max_retries=2)
    tag = new_tag()
    with sq.session() as s:
        await chat(f"{tag} first [fail-once:{tag}-a]")
        first_id = s.id
        answered = await chat(f"{tag} second [fail-once:{tag}-b]")
    requests = server.by_text(tag)
    assert [(r.how, r.sent_session) for r in requests] == [
        ("error", None),
        ("new", None),
        ("error", first_id),
        ("header", first_id),
    ]
    assert s.id == first_id == requests[1].session == value(answered)["session"]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_streaming_retry_inside_a_scope(kind: str, server: SessionServer) -> None:
    chat = make(server, kind, max_retries=1)
    tag = new_tag()
    with sq.session() as s:
        await chat(f"{tag} first")
        collected = await chat.collect(f"{tag} second [fail-once:{tag}]")
    requests = server.by_text(tag)
    assert [r.sent_session for r in requests] == [None, s.id, s.id]
    assert collected.session_id == s.id


async def test_user_http_client_keeps_its_hooks_sync(server: SessionServer) -> None:
    seen: list[str] = []

    def on_request(request: Any) -> None:
        seen.append(f"request {request.url.path}")

    def on_response(response: Any) -> None:
        seen.append(f"response {response.status_code}")

    http_client = openai.DefaultHttpxClient(event_hooks={"request": [on_request], "response": [on_response]})
    chat = Chat(
        sq.create_client(api_key="sk-test", base_url=server.url, http_client=http_client, max_retries=0)
    )
    assert chat.client._client is http_client
    tag = new_tag()
    with sq.session() as s:
        await chat(f"{tag} one")
        await chat(f"{tag} two")
    assert [r.sent_session for r in server.by_text(tag)] == [None, s.id]
    assert seen == ["request /control/chat/v1/chat/completions", "response 200"] * 2
    # Making a second client on the same http_client does not attach the hooks twice.
    sq.create_client(api_key="sk-test", base_url=server.url, http_client=http_client)
    assert http_client.event_hooks["request"].count(on_request) == 1
    assert len(http_client.event_hooks["request"]) == 2


async def test_user_http_client_keeps_its_hooks_async(server: SessionServer) -> None:
    seen: list[str] = []

    async def on_request(request: Any) -> None:
        seen.append(f"request {request.url.path}")

    async def on_response(response: Any) -> None:
        seen.append(f"response {response.status_code}")

    http_client = openai.DefaultAsyncHttpxClient(
        event_hooks={"request": [on_request], "response": [on_response]}
    )
    chat = Chat(
        sq.create_async_client(api_key="sk-test", base_url=server.url, http_client=http_client, max_retries=0)
    )
    tag = new_tag()
    with sq.session() as s:
        await chat(f"{tag} one")
        collected = await chat.collect(f"{tag} two")
    assert [r.sent_session for r in server.by_text(tag)] == [None, s.id]
    assert collected.session_id == s.id
    assert seen == ["request /control/chat/v1/chat/completions", "response 200"] * 2


async def test_user_hook_may_set_the_session_itself(server: SessionServer) -> None:
    chosen = str(uuid.uuid4())

    def choose(request: Any) -> None:
        request.headers["X-Session-ID"] = chosen

    http_client = openai.DefaultHttpxClient(event_hooks={"request": [choose]})
    chat = Chat(
        sq.create_client(api_key="sk-test", base_url=server.url, http_client=http_client, max_retries=0)
    )
    tag = new_tag()
    with sq.session() as s:
        await chat(f"{tag} one")
    assert only(server, tag).sent_session == chosen
    assert s.id is None


# -- session_id_of ---------------------------------------------------------------------------


async def test_session_id_of_everything_that_carries_one(chat: Chat, server: SessionServer) -> None:
    tag = new_tag()
    with sq.session() as s:
        asked = await chat(f"{tag} [tool] q")
        sid = s.id
        assert sid is not None
        call = asked.choices[0].message.tool_calls[0]
        assert sq.session_id_of(asked) == sid
        assert sq.session_id_of(asked.choices[0].message) == sid
        assert sq.session_id_of(call.id) == sid
        assert sq.session_id_of(call) == sid
        assert sq.session_id_of(asked.choices[0].message.model_dump()) == sid
        assert sq.session_id_of(asked.model_dump()) == sid

        raw = chat.client.chat.completions.with_raw_response.create(model="m", messages=user(f"{tag} raw"))
        if inspect.isawaitable(raw):
            raw = await raw
        assert sq.session_id_of(raw) == sid
        assert sq.session_id_of(raw.http_response) == sid
        parsed = raw.parse()
        if inspect.isawaitable(parsed):
            parsed = await parsed
        assert value(parsed)["session"] == sid

        stream = await chat(f"{tag} streamed", stream=True)
        assert sq.session_id_of(stream) == sid
        if chat.is_async:
            collected = await sq.acollect_stream(stream)
        else:
            collected = sq.collect_stream(stream)
        assert sq.session_id_of(collected) == sid
        assert sq.session_id_of(s) == sid

        plain = await chat(f"{tag} plain")
    assert sq.session_id_of(plain) is None
    assert sq.session_id_of(plain.choices[0].message) is None


@pytest.mark.parametrize(
    "thing",
    [
        None,
        42,
        "",
        "hello",
        "tc-too-short-x",
        "tc-9653dc47-fb18-11f0-b0ee-7d965b6bbd63",  # no call id after the session
        "call_9653dc47-fb18-11f0-b0ee-7d965b6bbd63-9aa3fb07",
        b"tc-9653dc47-fb18-11f0-b0ee-7d965b6bbd63-9aa3fb07",
        {"role": "assistant", "content": "hi"},
        {"tool_calls": "nonsense"},
        [],
        object(),
        sq.CollectedStream(),
        sq.session(),
    ],
)
def test_session_id_of_things_without_one(thing: object) -> None:
    assert sq.session_id_of(thing) is None


def test_session_id_of_documented_tool_call_id() -> None:
    example = "tc-9653dc47-fb18-11f0-b0ee-7d965b6bbd63-9aa3fb07-fb18-11f0-b66c-7d965b6bbd63"
    assert sq.session_id_of(example) == "9653dc47-fb18-11f0-b0ee-7d965b6bbd63"


# --------------------------------------------------------------------------- one scope, several contexts


def test_one_session_entered_from_two_threads_may_be_left_in_any_order() -> None:
    # A stored conversation resumed from two places: each thread sees the scope while inside
    # and its own outer scope after, whichever leaves first.
    shared = sq.session(session_id="sess-shared-0123456789")
    zero_in, one_in, zero_out = threading.Event(), threading.Event(), threading.Event()

    def use(n: int) -> None:
        with sq.session(session_id=f"sess-outer-{n}") as outer:
            if n == 1:
                assert zero_in.wait(10)
            with shared:
                if n == 0:  # entered first, leaves first: its token is not the newest
                    zero_in.set()
                    assert one_in.wait(10)
                else:
                    one_in.set()
                    assert zero_out.wait(10)
                assert sq.current_session() is shared
            if n == 0:
                zero_out.set()
            assert sq.current_session() is outer
        assert sq.current_session() is None

    run_threads(use, 2)


async def test_one_session_entered_from_two_tasks_may_be_left_in_any_order() -> None:
    shared = sq.session(session_id="sess-shared-0123456789")
    both_in = asyncio.Event()
    inside = 0

    async def use(leave_first: bool) -> None:
        nonlocal inside
        async with shared:
            inside += 1
            if inside == 2:
                both_in.set()
            await both_in.wait()
            if not leave_first:
                await asyncio.sleep(0.01)
            assert sq.current_session() is shared
        assert sq.current_session() is None

    # The task that entered first leaves first: its token is not the newest.
    await asyncio.gather(use(leave_first=True), use(leave_first=False))
    assert sq.current_session() is None


def test_a_scope_left_from_another_thread_raises_and_stays_open_where_it_was_entered() -> None:
    scope = sq.session()
    scope.__enter__()
    try:

        def leave_here(_: int) -> None:
            with pytest.raises(RuntimeError, match="different context"):
                scope.__exit__(None, None, None)

        run_threads(leave_here, 1)
        assert sq.current_session() is scope
    finally:
        scope.__exit__(None, None, None)
    assert sq.current_session() is None
