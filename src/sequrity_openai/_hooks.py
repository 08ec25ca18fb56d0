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

import os
from dataclasses import dataclass, field
from typing import Any

from . import _http, _presentation_stream, _scrub
from ._ambient import OPENAI, Ambient, custom_header_pairs
from ._exceptions import RedirectRefusedError
from ._headers import valid_session_id
from ._presentation import is_responses, present_body, presents
from ._routes import ROUTE_MARK
from ._sessions import TOOL_RESULT_IN_BODY, current_scope

_SESSION_HEADER = "x-session-id"
# What a response's body is read for (the sync and async hooks differ only in that read).
_NOTHING, _SURFACE, _PRESENT = 0, 1, 2
_ROUTE_MARK = ROUTE_MARK.encode()
_ACCOUNT_HEADERS = (b"openai-organization", b"openai-project")

Origin = tuple[str, str, "int | None"]


def origin_of(url: Any) -> Origin:
    """(scheme, host, port) of an httpx / httpx2 URL; default ports are already normalised away."""
    return (url.scheme, url.host, url.port)


def _sent(headers: Any) -> dict[bytes, bytes]:
    """Header values by lower-case name, in one pass (looking names up one by one costs a scan
    and, when absent, an exception each); repeated names are joined with ", " as httpx's own
    ``get`` does."""
    try:
        items = headers._list  # httpx / httpx2 internals: (name, lower-case name, value)
        found = {lower: value for _, lower, value in items}
    except (AttributeError, ValueError, TypeError):
        items = [(name, name.lower(), value) for name, value in headers.raw]
        found = {lower: value for _, lower, value in items}
    if len(found) != len(items):
        found = {}
        for _, lower, value in items:
            found[lower] = found[lower] + b", " + value if lower in found else value
    return found


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
        self._streams = _presentation_stream.stream_classes(module)
        #: Whether dual-llm answers are presented on this client (None: no OpenAI factory chose).
        self.presenting: bool | None = None
        # The last URL looked up and its target: an answer's request carries the URL object its
        # request hook saw, so the response hook finds the target without reading the URL again.
        self._last: tuple[Any, _Target | None] = (None, None)

    def _target(self, url: Any) -> _Target | None:
        last_url, target = self._last
        if url is not last_url:
            target = self.targets.get(origin_of(url))
            self._last = (url, target)  # one assignment: threads see an old pair or a new one
        return target

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
        self._last = (None, None)  # a URL looked up before may belong to this origin
        target.bearers.add(f"Bearer {api_key}".encode())
        target.account.update((name.lower().encode(), value.encode()) for name, value in account.items())
        target.secrets.update(k for k in (api_key, llm_api_key) if k)
        # The stock client copies its custom-headers variable into itself at construction:
        # those pairs stay refused even once the variable is gone.
        target.ambient.update(custom_header_pairs(os.environ.get(ambient.custom_headers_var) or ""))
        _scrub.KNOWN_SECRETS.update(target.secrets)

    # -- requests ------------------------------------------------------------------------------

    def on_request(self, request: Any) -> None:
        target = self._target(request.url)
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
        target, action = self._step(response, is_async=False)
        if target is not None and action:
            response.read()
            self._after_read(response, target, action)

    async def aon_response(self, response: Any) -> None:
        target, action = self._step(response, is_async=True)
        if target is not None and action:
            await response.aread()
            self._after_read(response, target, action)

    def _step(self, response: Any, *, is_async: bool) -> tuple[_Target | None, int]:
        """Everything before the body is read; the action says what the body is read for."""
        request = response.request
        target = self._target(request.url)
        if target is None:
            return None, _NOTHING
        status = response.status_code
        if status >= 400:
            return target, _SURFACE
        if status >= 300:
            _refuse_other_origin(response, target.redirect_error)
            return target, _NOTHING
        return target, _PRESENT if self._answer(response, request, target, is_async=is_async) else _NOTHING

    def _after_read(self, response: Any, target: _Target, action: int) -> None:
        if action == _SURFACE:
            self._surface(response, target)
        else:
            _present_read(response, response.request)

    def _answer(self, response: Any, request: Any, target: _Target, *, is_async: bool) -> bool:
        """Session capture, and the event-stream wrapper; True when a JSON body is to be read
        whole and presented (the caller reads it: sync or async)."""
        raw_path = request.url.raw_path
        if _ROUTE_MARK not in raw_path:
            return False
        sent = _sent(request.headers)  # each side's headers read once, in one pass
        got = _sent(response.headers)
        if target.sessions:
            _capture(got, sent)
        decoder = None
        present = self.presenting and presents(sent, raw_path)
        if present:
            decoder = _presentation_stream.decompressor(got.get(b"content-encoding", b""))
            present = decoder is not False
        if got.get(b"content-type", b"").startswith(b"text/event-stream"):
            rewriter = _presentation_stream.rewriter(raw_path) if present else None
            if not present:
                decoder = None
            elif decoder is not None:
                # The wrapper hands on decoded bytes, so the response must not be decoded again.
                del response.headers["content-encoding"]
            stream_cls = self._streams[1] if is_async else self._streams[0]
            response.stream = stream_cls(response.stream, _secrets(sent, target), rewriter, decoder)
            return False
        return bool(present)

    def _surface(self, response: Any, target: _Target) -> None:
        """Give the SDK a body to show that holds no key, is bounded and printable."""
        try:
            replaced = _scrub.error_body(
                response.content,
                response.encoding or "utf-8",
                _secrets(_sent(response.request.headers), target),
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


def _secrets(sent: dict[bytes, bytes], target: _Target) -> list[str]:
    # The keys given to factories, and whatever bearer / provider key this request carried.
    found = set(target.secrets)
    auth = sent.get(b"authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer ":
        found.add(auth[7:].strip())
    found.add(sent.get(b"x-api-key", b"").decode("latin-1"))
    return [s for s in found if len(s) >= 4]


def _present_read(response: Any, request: Any) -> None:
    # A dual-llm JSON answer, read whole (and decoded) by the caller: the value in its place.
    presented = present_body(response.content, responses=is_responses(request.url.raw_path))
    if presented is not None:
        response._content = presented  # what the SDK parses next (as for error bodies)
        response.__dict__.pop("_text", None)


def _carries_session(request: Any) -> bool:
    try:
        body = request.content
    except Exception:  # a streaming upload body cannot be inspected; assume not
        return False
    # Every id field the pattern looks for ends in _id": a plain search rules most bodies out.
    return bool(body) and b'_id"' in body and TOOL_RESULT_IN_BODY.search(body) is not None


def starts_session(request: Any) -> bool:
    """True when ``request`` to a Sequrity route names no session: without a scope id it would
    open a new one (the first-call gate of ``_first_call`` holds its siblings back)."""
    return (
        _SESSION_HEADER not in request.headers
        and _ROUTE_MARK in request.url.raw_path
        and not _carries_session(request)
    )


def _capture(got: dict[bytes, bytes], sent: dict[bytes, bytes]) -> None:
    scope = current_scope.get()
    if scope is None:
        return
    raw_id = got.get(b"x-session-id")
    if not raw_id:
        return
    new_id = raw_id.decode("latin-1")
    if new_id == scope.id:
        return
    # An id the caller could not pass to sq.session() is never adopted, so never re-sent.
    if not valid_session_id(new_id):
        return
    named = sent.get(b"x-session-id")
    # A call that named its own session explicitly does not move the scope.
    if named is not None and named.decode("latin-1") != scope.id:
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


def attach(
    http_client: Any,
    root: str,
    api_key: str,
    llm_api_key: str | None,
    account: dict[str, str],
    *,
    sessions: bool = True,
    ambient: Ambient = OPENAI,
    raw_dual_llm_content: bool | None = None,
) -> None:
    """Add the guard to ``http_client`` (once per client, keeping the user's own hooks) and
    register the Sequrity origin ``root`` with its keys (``sessions=False``: no session scope
    goes out or comes back, as for policy generation) and the ``ambient`` inputs of the SDK
    the client is for. ``raw_dual_llm_content`` is an OpenAI factory's choice: present dual-llm
    answers on this client (False) or not (True)."""
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
    if raw_dual_llm_content is not None:
        # Decided once per client, here, so no answer pays for a second hook.
        guard.presenting = _presentation_stream.choose(guard.presenting, raw=raw_dual_llm_content)
    guard.add(root, api_key, llm_api_key, account, sessions=sessions, ambient=ambient)
    _scrub.install_log_filter()
