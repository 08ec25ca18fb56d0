"""What requests to one Sequrity origin may carry: the guard's view of each origin.

A :class:`Target` holds, for one Sequrity origin (scheme, host, port) of an HTTP client, the
keys its factories were given and the ambient inputs of each SDK with a client there
(:class:`~sequrity_openai._ambient.Ambient`), and cleans a request to that origin of the
credentials and headers the SDK picked up from the environment by itself.
"""

from __future__ import annotations

import operator
import os
from dataclasses import dataclass, field
from typing import Any

from ._ambient import Ambient, custom_header_pairs
from ._exceptions import RedirectRefusedError

__all__ = ["Origin", "Target", "header_names", "header_value", "lower_name", "origin_of", "sent_headers"]

_ACCOUNT_HEADERS = (b"openai-organization", b"openai-project")
_ORGANIZATION, _PROJECT = _ACCOUNT_HEADERS
_AUTHORIZATION = b"authorization"
#: The lower-case name of a (name, lower-case name, value) header entry of httpx / httpx2.
lower_name = operator.itemgetter(1)

Origin = tuple[str, str, "int | None"]


def origin_of(url: Any) -> Origin:
    """(scheme, host, port) of an httpx / httpx2 URL; default ports are already normalised away."""
    return (url.scheme, url.host, url.port)


def sent_headers(headers: Any) -> dict[bytes, bytes]:
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


def header_names(headers: Any) -> tuple[list[tuple[bytes, bytes, bytes]], list[bytes]]:
    """The (name, lower-case name, value) entries of ``headers`` and their lower-case names.

    Per request the guard asks a few questions of some twenty headers. Listing the names in C
    and searching that list costs a fraction of a dict of them, which hashes every name (see
    benchmarks/)."""
    try:
        items: list[tuple[bytes, bytes, bytes]] = headers._list  # httpx / httpx2 internals
        return items, list(map(lower_name, items))
    except (AttributeError, TypeError):
        items = [(name, name.lower(), value) for name, value in headers.raw]
        return items, list(map(lower_name, items))


def header_value(items: list[tuple[bytes, bytes, bytes]], names: list[bytes], name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case), repeated values joined with ", " as httpx's
    own ``get`` does; None when absent."""
    count = names.count(name)
    if count == 1:
        return items[names.index(name)][2]
    return b", ".join(value for _, lower, value in items if lower == name) if count else None


@dataclass
class Target:
    """What requests to one Sequrity origin may carry."""

    # Keys never appear in a repr: a plan holding the target travels on the request.
    bearers: set[bytes] = field(default_factory=set, repr=False)  # b"Bearer <Sequrity key>"
    account: set[tuple[bytes, bytes]] = field(default_factory=set, repr=False)  # given organization / project
    secrets: set[str] = field(default_factory=set, repr=False)  # every key to redact from answers
    # OPENAI_CUSTOM_HEADERS at construction
    ambient: set[tuple[bytes, bytes]] = field(default_factory=set, repr=False)
    sessions: bool = True  # False for policy generation, which belongs to no session
    bearer_vars: tuple[str, ...] = ()  # of every SDK with a client on this origin
    custom_vars: tuple[str, ...] = ()
    custom_keys: tuple[Any, ...] = ()  # the same names as keys of os.environ's own mapping
    add_message: bool = False  # some SDK here shows only the body's message
    redirect_error: type[RedirectRefusedError] = RedirectRefusedError  # of the first SDK here

    def register(
        self, ambient: Ambient, api_key: str, llm_api_key: str | None, account: dict[str, str]
    ) -> None:
        """Add a factory's keys and account headers, and its SDK's ambient inputs."""
        if ambient.custom_headers_var not in self.custom_vars:
            self.bearer_vars = tuple(dict.fromkeys((*self.bearer_vars, *ambient.bearer_vars)))
            self.custom_vars = (*self.custom_vars, ambient.custom_headers_var)
            encodekey = getattr(os.environ, "encodekey", None)
            var = ambient.custom_headers_var
            self.custom_keys = (*self.custom_keys, var if encodekey is None else encodekey(var))
            # Repeating the detail in a whole-body message is harmless; missing it is not.
            self.add_message = self.add_message or not ambient.shows_whole_body
        self.bearers.add(f"Bearer {api_key}".encode())
        self.account.update((name.lower().encode(), value.encode()) for name, value in account.items())
        self.secrets.update(k for k in (api_key, llm_api_key) if k)
        # The stock client copies its custom-headers variable into itself at construction:
        # those pairs stay refused even once the variable is gone.
        self.ambient.update(custom_header_pairs(os.environ.get(ambient.custom_headers_var) or ""))

    def untouched(self, items: list[tuple[bytes, bytes, bytes]], names: list[bytes]) -> bool:
        """True when :meth:`clean` would change nothing in a request with these headers (from
        :func:`header_names`): no account header, no custom-headers pair, no bearer but ours.
        The common case, answered without hashing a header name (a repeated ``Authorization``
        is judged by its first value here and by the joined one in :meth:`clean`: neither
        cleans a repeated header, which the SDKs never send)."""
        if self.ambient or _ORGANIZATION in names or _PROJECT in names:
            return False
        # os.environ's own mapping when it has one: os.environ.get raises and catches a
        # KeyError for every variable that is not set.
        data = getattr(os.environ, "_data", None)
        if data is None:
            return False
        for key in self.custom_keys:
            if key in data:
                return False
        try:
            at = names.index(_AUTHORIZATION)
        except ValueError:
            return True
        return items[at][2] in self.bearers

    def clean(self, headers: Any, sent: dict[bytes, bytes]) -> None:
        """Replace an ambient bearer by the Sequrity key; drop account and custom headers that
        no factory was given. ``sent`` (from :func:`sent_headers`) is kept in step."""
        auth = sent.get(b"authorization")
        if auth is not None and auth not in self.bearers and self._is_ambient_bearer(auth):
            if len(self.bearers) == 1:
                headers["Authorization"] = next(iter(self.bearers)).decode()
            else:  # several Sequrity keys share this client: which one is not ours to guess
                _drop(headers, sent, b"authorization")
        for name in _ACCOUNT_HEADERS:
            value = sent.get(name)
            if value is not None and (name, value) not in self.account:
                _drop(headers, sent, name)
        if self.ambient:
            _drop_pairs(headers, sent, self.ambient)
        data = getattr(os.environ, "_data", None)
        if data is None or not data.keys().isdisjoint(self.custom_keys):
            for pairs in self._custom_pairs(data):
                _drop_pairs(headers, sent, pairs)

    def _is_ambient_bearer(self, auth: bytes) -> bool:
        environ = os.environ
        for var in self.bearer_vars:
            value = environ.get(var)
            if value and auth == f"Bearer {value}".encode("latin-1", "replace"):
                return True
        pair = (b"authorization", auth)
        return pair in self.ambient or any(
            pair in custom_header_pairs(environ.get(var) or "") for var in self.custom_vars
        )

    def _custom_pairs(self, data: Any) -> list[frozenset[tuple[bytes, bytes]]]:
        """The pairs of each custom-headers variable set now."""
        environ = os.environ
        found = []
        for var, key in zip(self.custom_vars, self.custom_keys, strict=True):
            value = environ.get(var) if data is None else data.get(key)
            if value:
                text = value if isinstance(value, str) else environ.decodevalue(value)
                found.append(custom_header_pairs(text))
        return found


def _drop_pairs(headers: Any, sent: dict[bytes, bytes], pairs: Any) -> None:
    for name, value in pairs:
        if name != b"authorization" and sent.get(name) == value:
            _drop(headers, sent, name)


def _drop(headers: Any, sent: dict[bytes, bytes], name: bytes) -> None:
    del headers[name.decode()]
    del sent[name]
