"""HTTP event hooks: the guard on every request to Sequrity, and the session scope in and out.

One :class:`Guard` lives on each HTTP client (``with_options`` / ``copy`` share the client, so
they share its guard). It knows the Sequrity origins (scheme, host, port) the client was made
for and their keys (a :class:`~sequrity_openai._targets.Target` each), and acts only on
requests to those origins:

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

import contextlib
import functools
from collections.abc import Awaitable, Generator
from typing import Any, Final

from . import _http, _presentation_stream, _scrub
from ._ambient import OPENAI, Ambient
from ._exceptions import RedirectRefusedError
from ._headers import valid_session_id
from ._presentation import CHAT, NOT_PRESENTED, RESPONSES, present_body, presentation
from ._routes import ROUTE_MARK
from ._sessions import TOOL_RESULT_IN_BODY, Session, current_scope
from ._targets import Origin, Target, header_names, header_value, lower_name, origin_of, sent_headers

_SESSION_HEADER = b"x-session-id"
_ENCODING = b"content-encoding"
_CONTENT_TYPE = b"content-type"
# What a response's body is read for (the sync and async hooks differ only in that read):
# presenting a chat completion or a Responses answer, or surfacing an error body.
_NOTHING, _PRESENT_CHAT, _PRESENT_RESPONSES, _SURFACE = NOT_PRESENTED, CHAT, RESPONSES, 3
# What the request hook decided, kept in the request's extensions for the response hook:
# (target, whether the path is a Sequrity route, the presentation action, the X-Session-ID the
# caller named).
_PLAN = "_sequrity_plan"


class _Done:
    """An awaitable that is already done (what an async hook returns when it has no I/O)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]  # an iterator is all await needs


_DONE: Final = _Done()


class Guard:
    """The hooks of one HTTP client; see the module docstring."""

    def __init__(self, module: Any, *, is_async: bool) -> None:
        self.targets: dict[Origin, Target] = {}
        self._module = module  # httpx2 or httpx: URLs and byte streams of the client's own kind
        self._stream = _presentation_stream.stream_classes(module)[1 if is_async else 0]
        #: Whether dual-llm answers are presented on this client (None: no OpenAI factory chose).
        self.presenting: bool | None = None
        # The same targets by the URL's parsed (scheme, userinfo, host, port) as the URL keeps
        # them: read without the URL's properties, which normalise on every call. A hit is the
        # same origin; a miss (another spelling of a port, say) goes the normalised way.
        self._parsed: dict[tuple[Any, ...], Target] = {}

    def _target(self, url: Any) -> Target | None:
        try:
            target = self._parsed.get(url._uri_reference[:4])
        except (AttributeError, TypeError):  # not the httpx / httpx2 URL this was written for
            target = None
        return target if target is not None else self.targets.get(origin_of(url))

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
        url = self._module.URL(root)
        target = self.targets.setdefault(
            origin_of(url), Target(sessions=sessions, redirect_error=ambient.redirect_error)
        )
        target.register(ambient, api_key, llm_api_key, account)
        with contextlib.suppress(AttributeError, TypeError):
            self._parsed[url._uri_reference[:4]] = target
        _scrub.KNOWN_SECRETS.update(target.secrets)

    # -- requests ------------------------------------------------------------------------------

    def on_request(self, request: Any) -> Awaitable[None]:
        # The hook of sync and async clients alike: httpx ignores what a sync hook returns and
        # awaits what an async one does, and an awaitable that is already done spares a
        # coroutine per request.
        #
        # The path of every request. In a real request cycle each Python call and each hashed
        # header here costs several times what it does alone, so the common case is written
        # out in one frame: C-level searches of the header names (see benchmarks/).
        url = request.url
        headers = request.headers
        try:
            reference = url._uri_reference
            target = self._parsed.get(reference[:4])
            path = reference.path
            items = headers._list  # httpx / httpx2 internals: (name, lower-case name, value)
            names = list(map(lower_name, items))
        except (AttributeError, TypeError):  # not the httpx / httpx2 this was written for
            target = None
            path = _path(url)
            items, names = header_names(headers)
        if target is None:
            target = self.targets.get(origin_of(url))
            if target is None:
                # A plan copied from a Sequrity request to a redirect is not this request's.
                request.extensions.pop(_PLAN, None)
                return _DONE
        if not target.untouched(items, names):
            target.clean(headers, sent_headers(headers))
            items, names = header_names(headers)
        routed = ROUTE_MARK in path
        named = header_value(items, names, _SESSION_HEADER) if _SESSION_HEADER in names else None
        present = _NOTHING
        if routed:
            if named is None and target.sessions:
                scope = current_scope.get()
                if scope is not None and scope.id is not None and not _carries_session(request):
                    _add_session_header(headers, scope.id)
            if self.presenting:
                present = presentation(
                    header_value(items, names, b"x-features"), header_value(items, names, b"x-config"), path
                )
        # On the request's extensions, which httpx keeps per request (a redirect gets a copy):
        # the response hook finds it there.
        request.extensions[_PLAN] = (target, routed, present, named)
        return _DONE

    # -- responses -----------------------------------------------------------------------------

    def on_response(self, response: Any) -> None:
        action = self._step(response)
        if action:
            response.read()
            self._after_read(response, action)

    def aon_response(self, response: Any) -> Awaitable[None]:
        action = self._step(response)
        return self._aread_then(response, action) if action else _DONE

    async def _aread_then(self, response: Any, action: int) -> None:
        await response.aread()
        self._after_read(response, action)

    def _plan(self, request: Any) -> tuple[Target, bool, int, bytes | None] | None:
        """The plan for a request the request hook did not see (nothing presented, since its
        headers were not checked), or None when it is not to a Sequrity origin."""
        target = self._target(request.url)
        if target is None:
            return None
        items, names = header_names(request.headers)
        plan = (
            target,
            ROUTE_MARK in _path(request.url),
            _NOTHING,
            header_value(items, names, _SESSION_HEADER),
        )
        request.extensions[_PLAN] = plan
        return plan

    def _step(self, response: Any) -> int:
        """Everything before the body is read; the action says what the body is read for."""
        request = response.request
        plan = request.extensions.get(_PLAN) or self._plan(request)
        if plan is None:
            return _NOTHING
        target, routed, present, named = plan
        status = response.status_code
        if status >= 400:
            return _SURFACE
        if status >= 300:
            _refuse_other_origin(response, target.redirect_error)
            return _NOTHING
        if not routed:
            return _NOTHING
        headers = response.headers
        try:  # header_names, written out here as in on_request: this runs on every answer
            items = headers._list
            names = list(map(lower_name, items))
        except (AttributeError, TypeError):
            items, names = header_names(headers)
        if target.sessions:
            scope = current_scope.get()
            if scope is not None and _SESSION_HEADER in names:
                _capture(scope, header_value(items, names, _SESSION_HEADER), named)
        try:
            # The first value decides, as it would for the joined value httpx's get gives.
            content_type = items[names.index(_CONTENT_TYPE)][2]
        except ValueError:
            content_type = b""
        if content_type.startswith(b"text/event-stream"):
            self._wrap_stream(response, target, present, header_value(items, names, _ENCODING))
            return _NOTHING
        if (
            present
            and _ENCODING in names
            and _presentation_stream.decompressor(header_value(items, names, _ENCODING) or b"") is False
        ):
            return _NOTHING  # an encoding this package cannot undo: left as it came
        return present

    def _after_read(self, response: Any, action: int) -> None:
        if action == _SURFACE:
            self._surface(response, response.request.extensions[_PLAN][0])
            return
        # A dual-llm JSON answer, read whole (and decoded): the value in its place.
        presented = present_body(response.content, responses=action == _PRESENT_RESPONSES)
        if presented is not None:
            response._content = presented  # what the SDK parses next (as for error bodies)
            response.__dict__.pop("_text", None)

    def _wrap_stream(self, response: Any, target: Target, present: int, encoding: bytes | None) -> None:
        """Event streams pass one wrapper: cleaned, and rewritten while presented."""
        decoder = rewriter = None
        if present:
            decoder = _presentation_stream.decompressor(encoding or b"")
            if decoder is False:
                decoder = None
            else:
                rewriter = _presentation_stream.rewriter(present == _PRESENT_RESPONSES)
                if decoder is not None:
                    # The wrapper hands on decoded bytes, so the response must not be decoded again.
                    del response.headers["content-encoding"]
        # The keys to redact are gathered only if an error event comes: most streams have none.
        secrets = functools.partial(_secrets, response.request, target)
        response.stream = self._stream(response.stream, secrets, rewriter, decoder)

    def _surface(self, response: Any, target: Target) -> None:
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


def _path(url: Any) -> str:
    """The URL's path as sent (percent-encoded), without the query."""
    return str(url.raw_path.decode("ascii").partition("?")[0])


def _secrets(request: Any, target: Target) -> list[str]:
    # The keys given to factories, and whatever bearer / provider key this request carried.
    sent = sent_headers(request.headers)
    found = set(target.secrets)
    auth = sent.get(b"authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer ":
        found.add(auth[7:].strip())
    found.add(sent.get(b"x-api-key", b"").decode("latin-1"))
    return [s for s in found if len(s) >= 4]


def _add_session_header(headers: Any, session_id: str) -> None:
    # Known to be absent, and a valid id is printable ASCII: appended to the header list as
    # httpx / httpx2 keep it, without Headers.__setitem__'s search for an existing one (an id
    # set on the scope by hand takes the general way, as before).
    try:
        headers._list.append((b"X-Session-ID", b"x-session-id", session_id.encode("ascii")))
    except (AttributeError, UnicodeEncodeError):
        headers["X-Session-ID"] = session_id


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
        "x-session-id" not in request.headers
        and ROUTE_MARK in _path(request.url)
        and not _carries_session(request)
    )


def _capture(scope: Session, raw_id: bytes | None, named: bytes | None) -> None:
    """Adopt the session id a 2xx answer named (``raw_id``) in ``scope``, unless the call
    named its own session (``named``)."""
    if not raw_id:
        return
    new_id = raw_id.decode("latin-1")
    if new_id == scope.id:
        return
    # An id the caller could not pass to sq.session() is never adopted, so never re-sent.
    if not valid_session_id(new_id):
        return
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
        # Asked of the client's own library: another SDK may run on another one (anthropic on
        # httpx2 while openai 2.x is on httpx).
        is_async = isinstance(http_client, module.AsyncClient)
        guard = Guard(module, is_async=is_async)
        hooks["request"].append(guard.on_request)
        hooks["response"].append(guard.aon_response if is_async else guard.on_response)
    if raw_dual_llm_content is not None:
        # Decided once per client, here, so no answer pays for a second hook.
        guard.presenting = _presentation_stream.choose(guard.presenting, raw=raw_dual_llm_content)
    guard.add(root, api_key, llm_api_key, account, sessions=sessions, ambient=ambient)
    _scrub.install_log_filter()
