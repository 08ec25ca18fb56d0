"""What each SDK picks up from the environment by itself, for the guard of ``_hooks``.

The stock clients read credentials and headers from their own variables: openai sends
``OPENAI_API_KEY`` (``OPENAI_ADMIN_KEY`` on admin endpoints) as the bearer and merges
``OPENAI_CUSTOM_HEADERS``; anthropic sends ``ANTHROPIC_API_KEY`` or ``ANTHROPIC_AUTH_TOKEN``
as the bearer and merges ``ANTHROPIC_CUSTOM_HEADERS``; both again in every copy. The guard
registers, per Sequrity origin, the :class:`Ambient` of each SDK with a client there.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

import openai

from ._exceptions import RedirectRefusedError

__all__ = ["OPENAI", "Ambient", "custom_header_pairs"]

# openai 3.x puts only body["message"] (or body["error"]["message"]) in str(exc); 2.x puts
# the whole body there, detail included, so adding a message would only repeat it.
_SDK_SHOWS_WHOLE_BODY = int(openai.__version__.split(".", 1)[0]) < 3


@dataclass(frozen=True)
class Ambient:
    """Where one SDK picks up credentials and headers from the environment by itself."""

    bearer_vars: tuple[str, ...]
    """Variables the SDK may send as ``Bearer <value>``."""
    custom_headers_var: str
    """``Name: value`` lines the SDK adds to its default headers."""
    shows_whole_body: bool
    """``str(exc)`` holds the whole error body (no message to add)."""
    redirect_error: type[RedirectRefusedError] = RedirectRefusedError
    """Raised for a redirect to another origin: a subclass of the SDK's own APIStatusError,
    which the SDK passes through (it wraps other exceptions of the transport as connection
    errors)."""


OPENAI: Final = Ambient(
    ("OPENAI_API_KEY", "OPENAI_ADMIN_KEY"), "OPENAI_CUSTOM_HEADERS", _SDK_SHOWS_WHOLE_BODY
)


@functools.lru_cache(maxsize=8)
def custom_header_pairs(raw: str) -> frozenset[tuple[bytes, bytes]]:
    """The SDKs' own parsing of a custom-headers variable: "Name: value" lines (names in lower
    case)."""
    pairs = set()
    for line in raw.split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            pairs.add(
                (
                    name.strip().lower().encode("latin-1", "replace"),
                    value.strip().encode("latin-1", "replace"),
                )
            )
    return frozenset(pairs)
