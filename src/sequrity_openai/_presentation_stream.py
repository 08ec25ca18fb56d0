"""Present dual-llm answers on the wire: rewrite answers as the SDK reads them.

The guard's response hook (``_hooks``) decides, once per answer, from the request alone
(``_presentation.presentation``), and uses what is here: a JSON body is read and rewritten whole
(the SDK reads all of it anyway; ``_presentation.present_body``); an event stream passes one
byte stream wrapper (:func:`stream_classes`) that also cleans it, rewritten event by event
(``_stream_events``). In a chat stream only the content deltas of an answer that starts like a
document are held back until the document is complete (the service sends it when the program
has run); every other event goes through as it came, unparsed once the answer is known not to
be a document.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from . import _scrub
from ._exceptions import ConfigurationError
from ._stream_events import ChatEvents, Events, ResponseEvents

_ERROR_MARK = _scrub.ERROR_MARK

__all__ = ["choose", "decompressor", "rewriter", "stream_classes"]


def decompressor(encoding: bytes) -> Any:
    """A decoder for a ``Content-Encoding`` this module can undo (``None``: identity), or
    ``False`` for one it cannot (br, zstd: such answers are left as they came, see
    docs/architectures.md)."""
    encoding = encoding.strip().lower()
    if encoding in (b"", b"identity"):
        return None
    # wbits 47: zlib detects the gzip or zlib header itself (HTTP deflate is zlib-wrapped).
    return zlib.decompressobj(47) if encoding in (b"gzip", b"x-gzip", b"deflate") else False


def rewriter(responses: bool) -> ChatEvents | ResponseEvents:
    """The event rewriter for a presented event stream of the Responses API or of chat."""
    return ResponseEvents() if responses else ChatEvents()


@functools.lru_cache(maxsize=4)
def stream_classes(module: Any) -> tuple[type[Any], type[Any]]:
    """Byte streams of ``module`` (httpx or httpx2) for event-stream answers from Sequrity.

    One wrapper does everything a chunk needs, so a chunk passes one generator: decoded (when
    presenting a compressed stream), cleaned by complete lines (error events made fit to show,
    keys redacted in them: an error event may straddle two chunks, so an incomplete line waits
    for the next), then, while a dual-llm answer is presented, rewritten event by event. Once
    the rewriter knows the answer is not a document it is dropped, and a chunk costs one
    search.
    """

    class Sync(module.SyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any, secrets: Callable[[], list[str]], rewriter: Any, decoder: Any) -> None:
            self._inner, self._pipe = inner, _Pipe(secrets, rewriter, decoder)

        def __iter__(self) -> Iterator[bytes]:
            pipe = self._pipe
            for data in self._inner:
                done = pipe.feed(data)
                if done:
                    yield done
            tail = pipe.tail()
            if tail:
                yield tail

        def close(self) -> None:
            self._inner.close()

    class Async(module.AsyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any, secrets: Callable[[], list[str]], rewriter: Any, decoder: Any) -> None:
            self._inner, self._pipe = inner, _Pipe(secrets, rewriter, decoder)

        async def __aiter__(self) -> AsyncIterator[bytes]:
            pipe = self._pipe
            async for data in self._inner:
                done = pipe.feed(data)
                if done:
                    yield done
            tail = pipe.tail()
            if tail:
                yield tail

        async def aclose(self) -> None:
            await self._inner.aclose()

    return Sync, Async


class _Pipe:
    """What every chunk of a Sequrity event stream goes through, sync or async alike."""

    __slots__ = ("_decoder", "_pending", "_rewriter", "_secrets")

    def __init__(self, secrets: Callable[[], list[str]], rewriter: Events | None, decoder: Any) -> None:
        # ``secrets`` gives the keys to redact, asked for only when an error event comes.
        self._secrets, self._rewriter, self._decoder = secrets, rewriter, decoder
        self._pending = b""

    def feed(self, data: bytes) -> bytes:
        if self._decoder is not None:
            data = self._decoder.decompress(data)
        if self._pending:
            data, self._pending = self._pending + data, b""
        if not data.endswith(b"\n"):  # servers send whole events: this is rare
            cut = data.rfind(b"\n") + 1
            data, self._pending = data[:cut], data[cut:]
            if not data:
                return b""
        if _ERROR_MARK in data:  # one search per chunk, the only work on most of them
            data = _scrub.clean_event_lines(data, self._secrets())
        rewriter = self._rewriter
        if rewriter is not None:
            data = rewriter.feed(data)
            if rewriter.passing:
                self._rewriter = None  # it holds nothing more: see Events.feed
        return data

    def tail(self) -> bytes:
        # What is left after the last line break: cleaned, then given to the rewriter to finish.
        pending = self._pending
        out = _scrub.clean_event_chunk(pending, self._secrets) if pending else b""
        if self._rewriter is None:
            return out
        return (self._rewriter.feed(out) if out else b"") + self._rewriter.close()


def choose(current: bool | None, *, raw: bool) -> bool:
    """Whether an HTTP client presents dual-llm answers, given its earlier choice (``None``:
    none yet) and a new factory's ``raw_dual_llm_content``. An HTTP client shared between
    factories serves one choice: a second factory that wants the other one is refused rather
    than silently given the first one's."""
    if current is None or current is not raw:
        return not raw
    if raw:
        raise ConfigurationError(
            "raw_dual_llm_content=True, but http_client is shared with a client that presents "
            "dual-llm values; give this client its own http_client",
            setting="raw_dual_llm_content",
        )
    raise ConfigurationError(
        "http_client is shared with a client made with raw_dual_llm_content=True; "
        "give this client its own http_client",
        setting="raw_dual_llm_content",
    )
