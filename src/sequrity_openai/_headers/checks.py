"""Header values the HTTP stack would refuse, caught when the client is built."""

from __future__ import annotations

from collections.abc import Mapping

from .._exceptions import ConfigurationError, HeaderTooLargeError

__all__ = ["DEFAULT_MAX_HEADER_BYTES", "check_header_size", "check_header_value"]

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


def check_header_size(values: Mapping[str, str], limit: int) -> None:
    total = sum(len(k) + len(v) + 4 for k, v in values.items())  # "Name: value\r\n"
    if total > limit:
        sizes = ", ".join(f"{k} {len(v)} B" for k, v in values.items() if k.lower().startswith("x-"))
        raise HeaderTooLargeError(
            f"the Sequrity headers take {total} bytes ({sizes}), over the limit of {limit} bytes that "
            "servers commonly accept for a request head; shorten the policy or config, or raise the "
            "limit with max_header_bytes= if your deployment accepts larger headers"
        )
