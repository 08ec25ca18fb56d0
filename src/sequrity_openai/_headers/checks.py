"""Header values the HTTP stack would refuse, caught when the client is built."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .._exceptions import ConfigurationError, HeaderTooLargeError

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "SESSION_ID_MAX",
    "check_header_size",
    "check_header_value",
    "check_session_id",
    "valid_session_id",
]

DEFAULT_MAX_HEADER_BYTES = 16 * 1024

_FORBIDDEN_CHARS = ("\r", "\n", "\x00")


def check_header_value(value: str, source: str) -> None:
    """Reject values the HTTP stack would only refuse at send time (after retries)."""
    if any(c in value for c in _FORBIDDEN_CHARS):
        raise ConfigurationError(
            f"{source} contains a CR, LF or NUL character, which cannot go in an HTTP header"
        )
    if not value.isascii():
        raise ConfigurationError(f"{source} contains non-ASCII characters, which cannot go in an HTTP header")


# A session id, from the caller or from the server, is printable ASCII without spaces and of
# bounded length (the service's are 36-character uuids): it is re-sent on every call of a scope.
SESSION_ID_MAX = 256
_SESSION_ID = re.compile(rf"[!-~]{{1,{SESSION_ID_MAX}}}")


def valid_session_id(value: object) -> bool:
    """The one rule for session ids, applied to arguments and to ids the server sends."""
    return isinstance(value, str) and _SESSION_ID.fullmatch(value) is not None


def check_session_id(value: object, source: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{source} must be a str, got {type(value).__name__}", setting="session_id", origin="argument"
        )
    if not valid_session_id(value):
        raise ConfigurationError(
            f"{source} must be 1 to {SESSION_ID_MAX} printable ASCII characters: no space, "
            "no CR, LF or NUL or other control character, nothing outside ASCII",
            setting="session_id",
            origin="argument",
        )
    return value


def check_header_size(values: Mapping[str, str], limit: int) -> None:
    total = sum(len(k) + len(v) + 4 for k, v in values.items())  # "Name: value\r\n"
    if total > limit:
        sizes = ", ".join(f"{k} {len(v)} B" for k, v in values.items() if k.lower().startswith("x-"))
        raise HeaderTooLargeError(
            f"the Sequrity headers take {total} bytes ({sizes}), over the limit of {limit} bytes that "
            "servers commonly accept for a request head; shorten the policy or config, or raise the "
            "limit with max_header_bytes= if your deployment accepts larger headers"
        )
