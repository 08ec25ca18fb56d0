"""One session per scope, even when its first calls run at once.

The first request of a scope that has no session id yet goes out alone (the *leader*); the
scope's other requests wait until it has answered, then go out with the id it brought back.
If the leader fails, is cancelled or brings back no id, the waiters wake and the next one to
run becomes the leader. Threads wait on a ``threading.Event``, asyncio tasks on a future of
their own loop, so one scope can be shared by both.

Once the scope knows its id nothing waits: the gate costs a context variable read and an
attribute check. Waiting happens around ``http_client.send``, before the HTTP hooks run, so the
session hook then sees the id and sends it like on any later call.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Final

from ._hooks import starts_session
from ._sessions import Session, current_scope

__all__ = ["install", "waiting"]

_MARK: Final = "_sequrity_first_call"


class _Gate:
    """The leader of one scope's first call and who waits for it."""

    __slots__ = ("thread", "waiters")

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.waiters: list[Any] = []  # threading.Event or (loop, future)


# One entry per scope whose first call is in flight, removed when that call ends; keyed by
# id(scope) (a Session keeps no weak references), which is safe because the leader holds the
# scope alive for as long as the entry exists.
_gates: dict[int, _Gate] = {}
_lock = threading.Lock()


def waiting() -> int:
    """How many calls wait for a first call right now (for tests: no leaked waiters)."""
    with _lock:
        return sum(len(g.waiters) for g in _gates.values())


def _wake(waiter: Any) -> None:
    if isinstance(waiter, threading.Event):
        waiter.set()
        return
    loop, future = waiter
    with contextlib.suppress(RuntimeError):  # its loop is closed: nobody is left to wake
        loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _release(scope: Session, gate: _Gate) -> None:
    with _lock:
        if _gates.get(id(scope)) is gate:
            del _gates[id(scope)]
        waiters, gate.waiters = gate.waiters, []
    for waiter in waiters:
        _wake(waiter)


def _claim(scope: Session, make_waiter: Callable[[], Any], *, blocking: bool) -> tuple[_Gate | None, Any]:
    """``(gate, None)``: lead; ``(None, waiter)``: wait on it; ``(None, None)``: go ahead."""
    with _lock:
        if scope.id is not None:
            return None, None
        gate = _gates.get(id(scope))
        if gate is None:
            gate = _gates[id(scope)] = _Gate()
            return gate, None
        if blocking and gate.thread == threading.get_ident():
            # A blocking wait on the thread that leads (a sync call made from a coroutine whose
            # loop runs the first call) would never end: such a call goes ahead without waiting.
            return None, None
        entry = make_waiter()
        gate.waiters.append(entry)
        return None, entry


def _gated_sync(send: Callable[..., Any]) -> Callable[..., Any]:
    def send_in_turn(request: Any, **kwargs: Any) -> Any:
        scope = current_scope.get()
        if scope is None or scope.id is not None or not starts_session(request):
            return send(request, **kwargs)
        while True:
            lead, event = _claim(scope, threading.Event, blocking=True)
            if lead is not None:
                try:
                    return send(request, **kwargs)
                finally:
                    _release(scope, lead)
            if event is None:
                return send(request, **kwargs)
            event.wait()

    return send_in_turn


def _gated_async(send: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    # A plain function returning the awaitable: without a gate to pass, the caller awaits the
    # client's own send directly (no coroutine of ours in between).
    def send_in_turn(request: Any, **kwargs: Any) -> Awaitable[Any]:
        scope = current_scope.get()
        if scope is None or scope.id is not None or not starts_session(request):
            return send(request, **kwargs)
        return _send_in_turn(send, scope, request, kwargs)

    return send_in_turn


async def _send_in_turn(
    send: Callable[..., Awaitable[Any]], scope: Session, request: Any, kwargs: dict[str, Any]
) -> Any:
    loop = asyncio.get_running_loop()
    while True:
        lead, entry = _claim(scope, lambda: (loop, loop.create_future()), blocking=False)
        if lead is not None:
            try:
                return await send(request, **kwargs)
            finally:
                _release(scope, lead)
        if entry is None:
            return await send(request, **kwargs)
        try:
            await entry[1]
        except BaseException:
            with _lock:
                for gate in _gates.values():
                    if entry in gate.waiters:
                        gate.waiters.remove(entry)
            raise


def install(http_client: Any, *, is_async: bool) -> None:
    """Make ``http_client.send`` hold a scope's concurrent first calls behind the first one (once)."""
    send = http_client.send
    if getattr(send, _MARK, False):
        return
    gated = _gated_async(send) if is_async else _gated_sync(send)
    setattr(gated, _MARK, True)
    http_client.send = gated
