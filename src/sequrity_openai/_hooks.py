"""HTTP event hooks: the guard on every request to Sequrity, and the session scope in and out.

One :class:`Guard` lives on each HTTP client (``with_options`` / ``copy`` share the client, so
they share its guard). It knows the Sequrity origins (scheme, host, port) the client was made
for and their keys, and acts only on requests to those origins:

- no ambient credential of the SDK that made the client reaches Sequrity (each target knows
  its SDKs' :class:`Ambient` variables): a bearer taken from the environment
  (``OPENAI_API_KEY``, ``OPENAI_ADMIN_KEY``; ``ANTHROPIC_API_KEY``, ``ANTHROPIC_AUTH_TOKEN``;
  an ``Authorization`` line of ``OPENAI_CUSTOM_HEADERS`` / ``ANTHROPIC_CUSTOM_HEADERS``,
  picked up by the stock client or by a copy that re-read the environment) is replaced by the
  Sequrity key, and ``OpenAI-Organization`` / ``OpenAI-Project`` and custom-header headers are
  dropped unless they were given to the factory. A bearer the caller set explicitly on a call
  is the caller's to choose;
- a redirect to another origin is refused (:class:`RedirectRefusedError`) before anything is
  sent there; same-origin redirects are followed;
- the session scope's id goes out, and a valid id from a 2xx answer comes back in;
- error bodies and error events are redacted, bounded and made printable (``_scrub``).

The hooks never raise anything of their own, except the redirect refusal.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import _http, _scrub
from ._ambient import OPENAI, Ambient, custom_header_pairs
from ._exceptions import RedirectRefusedError
from ._headers import valid_session_id
from ._routes import ROUTE_MARK
from ._sessions import TOOL_RESULT_IN_BODY, current_scope

_SESSION_HEADER = "x-session-id"
_ROUTE_MARK = ROUTE_MARK.encode()
_ACCOUNT_HEADERS = (b"openai-organization", b"openai-project")

Origin = tuple[str, str, "int | None"]


def origin_of(url: Any) -> Origin:
    """(scheme, host, port) of an httpx / httpx2 URL; default ports are already normalised away."""
    return (url.scheme, url.host, url.port)


def _sent(headers: Any) -> dict[bytes, bytes]:
    """Header values by lower-case name, in one pass (looking names up one by one costs a scan
    and, when absent, an exception each)."""
    try:
        return {lower: value for _, lower, value in headers._list}  # httpx / httpx2 internals
    except (AttributeError, ValueError, TypeError):
        return {name.lower(): value for name, value in headers.raw}


@dataclass
class _Target:
    """What requests to one Sequrity origin may carry."""

    bearers: set[bytes] = field(default_factory=set)  # b"Bearer <Sequrity key>"
    account: set[tuple[bytes, bytes]] = field(default_factory=set)  # given organization / project
    secrets: set[str] = field(default_factory=set)  # every key to redact from answers
    ambient: set[tuple[bytes, bytes]] = field(default_factory=set)  # OPENAI_CUSTOM_HEADERS at construction
    sessions: bool = True  # False for policy generation, which belongs to no session
    bearer_vars: tuple[str, ...] = ()  # of every SDK with a client on this origin
    custom_vars: tuple[str, ...] = ()
    add_message: bool = False  # some SDK here shows only the body's message
    redirect_error: type[RedirectRefusedError] = RedirectRefusedError  # of the first SDK here


def _is_ambient_bearer(auth: bytes, target: _Target) -> bool:
    environ = os.environ
    for var in target.bearer_vars:
        value = environ.get(var)
        if value and auth == f"Bearer {value}".encode("latin-1", "replace"):
            return True
    pair = (b"authorization", auth)
    return pair in target.ambient or any(
        pair in custom_header_pairs(environ.get(var) or "") for var in target.custom_vars
    )


class Guard:
    """The hooks of one HTTP client; see the module docstring."""

    def __init__(self, module: Any) -> None:
        self.targets: dict[Origin, _Target] = {}
        self._module = module  # httpx2 or httpx: URLs and byte streams of the client's own kind
        self._streams = _stream_classes(module)

    def add(
        self,
        root: str,
        api_key: str,
        llm_api_key: str | None,
        account: dict[str, str],
        *,
        sessions: bool,
        ambient: Ambient = OPENAI,
    ) -> None:
        target = self.targets.setdefault(
            origin_of(self._module.URL(root)),
            _Target(sessions=sessions, redirect_error=ambient.redirect_error),
        )
        if ambient.custom_headers_var not in target.custom_vars:
            target.bearer_vars = tuple(dict.fromkeys((*target.bearer_vars, *ambient.bearer_vars)))
            target.custom_vars = (*target.custom_vars, ambient.custom_headers_var)
            # Repeating the detail in a whole-body message is harmless; missing it is not.
            target.add_message = target.add_message or not ambient.shows_whole_body
        target.bearers.add(f"Bearer {api_key}".encode())
        target.account.update((name.lower().encode(), value.encode()) for name, value in account.items())
        target.secrets.update(k for k in (api_key, llm_api_key) if k)
        # The stock client copies its custom-headers variable into itself at construction:
        # those pairs stay refused even once the variable is gone.
        target.ambient.update(custom_header_pairs(os.environ.get(ambient.custom_headers_var) or ""))
        _scrub.KNOWN_SECRETS.update(target.secrets)

    # -- requests ------------------------------------------------------------------------------

    def on_request(self, request: Any) -> None:
        target = self.targets.get(origin_of(request.url))
        if target is None:
            return
        headers = request.headers
        sent = _sent(headers)
        auth = sent.get(b"authorization")
        if auth is not None and auth not in target.bearers and _is_ambient_bearer(auth, target):
            if len(target.bearers) == 1:
                headers["Authorization"] = next(iter(target.bearers)).decode()
            else:  # several Sequrity keys share this client: which one is not ours to guess
                _drop(headers, sent, b"authorization")
        for name in _ACCOUNT_HEADERS:
            value = sent.get(name)
            if value is not None and (name, value) not in target.account:
                _drop(headers, sent, name)
        _drop_pairs(headers, sent, target.ambient)
        for var in target.custom_vars:
            custom = os.environ.get(var)
            if custom:
                _drop_pairs(headers, sent, custom_header_pairs(custom))
        scope = current_scope.get()
        if scope is None or scope.id is None or b"x-session-id" in sent or not target.sessions:
            return
        if _ROUTE_MARK not in request.url.raw_path or _carries_session(request):
            return
        headers["X-Session-ID"] = scope.id

    async def aon_request(self, request: Any) -> None:
        self.on_request(request)

    # -- responses -----------------------------------------------------------------------------

    def on_response(self, response: Any) -> None:
        target = self.targets.get(origin_of(response.request.url))
        if target is None:
            return
        status = response.status_code
        if status >= 400:
            response.read()
            self._surface(response, target)
        elif status >= 300:
            _refuse_other_origin(response, target.redirect_error)
        else:
            self._answer(response, target)

    async def aon_response(self, response: Any) -> None:
        target = self.targets.get(origin_of(response.request.url))
        if target is None:
            return
        status = response.status_code
        if status >= 400:
            await response.aread()
            self._surface(response, target)
        elif status >= 300:
            _refuse_other_origin(response, target.redirect_error)
        else:
            self._answer(response, target)

    def _answer(self, response: Any, target: _Target) -> None:
        if _ROUTE_MARK not in response.request.url.raw_path:
            return
        if target.sessions:
            _capture(response)
        if _sent(response.headers).get(b"content-type", b"").startswith(b"text/event-stream"):
            stream_cls = self._streams[1] if hasattr(response.stream, "__aiter__") else self._streams[0]
            response.stream = stream_cls(response.stream, _secrets(response.request, target))

    def _surface(self, response: Any, target: _Target) -> None:
        """Give the SDK a body to show that holds no key, is bounded and printable."""
        try:
            replaced = _scrub.error_body(
                response.content,
                response.encoding or "utf-8",
                _secrets(response.request, target),
                add_message=target.add_message,
            )
        except Exception:  # never let a hostile body raise from here; never show it unread
            replaced = b'{"message": "the error body could not be read safely and is not shown"}'
        if replaced is not None:
            # The SDK reads the body again after the hooks; replacing the cached content is the
            # only way to change what it parses without touching the SDK.
            response._content = replaced
            response.__dict__.pop("_text", None)


def _drop_pairs(headers: Any, sent: dict[bytes, bytes], pairs: Any) -> None:
    for name, value in pairs:
        if name != b"authorization" and sent.get(name) == value:
            _drop(headers, sent, name)


def _drop(headers: Any, sent: dict[bytes, bytes], name: bytes) -> None:
    del headers[name.decode()]
    del sent[name]


def _secrets(request: Any, target: _Target) -> list[str]:
    # The keys given to factories, and whatever bearer / provider key this request carried.
    found = set(target.secrets)
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        found.add(auth[7:].strip())
    found.add(request.headers.get("x-api-key", ""))
    return [s for s in found if len(s) >= 4]


def _carries_session(request: Any) -> bool:
    try:
        body = request.content
    except Exception:  # a streaming upload body cannot be inspected; assume not
        return False
    return bool(body) and TOOL_RESULT_IN_BODY.search(body) is not None


def starts_session(request: Any) -> bool:
    """True when ``request`` to a Sequrity route names no session: without a scope id it would
    open a new one (the first-call gate of ``_first_call`` holds its siblings back)."""
    return (
        _SESSION_HEADER not in request.headers
        and _ROUTE_MARK in request.url.raw_path
        and not _carries_session(request)
    )


def _capture(response: Any) -> None:
    scope = current_scope.get()
    if scope is None:
        return
    new_id = response.headers.get(_SESSION_HEADER)
    # An id the caller could not pass to sq.session() is never adopted, so never re-sent.
    if not new_id or not valid_session_id(new_id):
        return
    sent = response.request.headers.get(_SESSION_HEADER)
    # A call that named its own session explicitly does not move the scope.
    if sent is not None and sent != scope.id:
        return
    scope.id = new_id


def _refuse_other_origin(response: Any, error: type[RedirectRefusedError]) -> None:
    location = response.headers.get("location")
    if location is None:
        return
    request_url = response.request.url
    try:
        target = request_url.join(location)
        same = origin_of(target) == origin_of(request_url)
        shown = f"{target.scheme}://{target.netloc.decode('ascii', 'replace')}"
    except Exception:
        same, shown = False, "an unreadable location"
    if same:
        return
    shown = _scrub.printable(shown[:200])
    raise error(
        f"Sequrity answered {response.status_code} with a redirect to {shown}, another origin; "
        "it is not followed, since the Sequrity key, the provider key, the policy, the session "
        "and the request would go there (only same-origin redirects are followed)",
        response=response,
        target_origin=shown,
    )


@functools.lru_cache(maxsize=4)
def _stream_classes(module: Any) -> tuple[Any, Any]:
    """Byte streams of ``module`` (httpx or httpx2) that clean event-stream lines as they pass."""

    class Clean(module.SyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any, secrets: list[str]) -> None:
            self._inner, self._secrets = inner, secrets
            self._needles = _scrub.event_needles(secrets)

        def __iter__(self) -> Iterator[bytes]:
            pending = b""
            for chunk in self._inner:
                done, pending = _split(pending, chunk)
                if done:
                    yield _scrub.clean_event_chunk(done, self._secrets, self._needles)
            if pending:
                yield _scrub.clean_event_chunk(pending, self._secrets, self._needles)

        def close(self) -> None:
            self._inner.close()

    class AsyncClean(module.AsyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any, secrets: list[str]) -> None:
            self._inner, self._secrets = inner, secrets
            self._needles = _scrub.event_needles(secrets)

        async def __aiter__(self) -> AsyncIterator[bytes]:
            pending = b""
            async for chunk in self._inner:
                done, pending = _split(pending, chunk)
                if done:
                    yield _scrub.clean_event_chunk(done, self._secrets, self._needles)
            if pending:
                yield _scrub.clean_event_chunk(pending, self._secrets, self._needles)

        async def aclose(self) -> None:
            await self._inner.aclose()

    return Clean, AsyncClean


def _split(pending: bytes, chunk: bytes) -> tuple[bytes, bytes]:
    # Complete lines, and the rest (kept for the next chunk: a key may straddle two chunks).
    # Servers send whole events, so the usual chunk is passed on without a copy.
    if pending:
        chunk = pending + chunk
    if chunk.endswith(b"\n"):
        return chunk, b""
    cut = chunk.rfind(b"\n") + 1
    return chunk[:cut], chunk[cut:]


def attach(
    http_client: Any,
    root: str,
    api_key: str,
    llm_api_key: str | None,
    account: dict[str, str],
    *,
    sessions: bool = True,
    ambient: Ambient = OPENAI,
) -> None:
    """Add the guard to ``http_client`` (once per client, keeping the user's own hooks) and
    register the Sequrity origin ``root`` with its keys (``sessions=False``: no session scope
    goes out or comes back, as for policy generation) and the ``ambient`` inputs of the SDK
    the client is for."""
    hooks = http_client.event_hooks  # the client's own lists: appending is enough
    guard = next(
        (h.__self__ for h in hooks["request"] if isinstance(getattr(h, "__self__", None), Guard)), None
    )
    if guard is None:
        module = _http.module_of(http_client)
        guard = Guard(module)
        # Asked of the client's own library: another SDK may run on another one (anthropic on
        # httpx2 while openai 2.x is on httpx).
        is_async = isinstance(http_client, module.AsyncClient)
        hooks["request"].append(guard.aon_request if is_async else guard.on_request)
        hooks["response"].append(guard.aon_response if is_async else guard.on_response)
    guard.add(root, api_key, llm_api_key, account, sessions=sessions, ambient=ambient)
    _scrub.install_log_filter()
