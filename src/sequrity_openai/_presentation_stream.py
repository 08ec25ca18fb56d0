"""Present dual-llm answers on the wire: rewrite response bodies as the SDK reads them.

The response hook wraps ``response.stream`` in a byte stream that rewrites what passes through;
the SDK then reads the rewritten bytes and builds its usual objects. Nothing is read ahead: a
plain JSON body is rewritten once it is complete (the SDK reads all of it anyway), a stream of
server-sent events event by event. In a chat stream only the content deltas of an answer that
starts like a document are held back until the document is complete (the service sends it
when the program has run); every other event goes through as it came, unparsed once the answer
is known not to be a document.
"""

from __future__ import annotations

import functools
import json
import sys
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

from ._exceptions import ConfigurationError
from ._presentation import (
    DOCUMENT_FIELD,
    is_responses,
    present_body,
    present_output_message,
    present_response,
    presents,
    unwrap,
)

__all__ = ["ChatEvents", "ResponseEvents", "attach", "aon_response", "on_response"]

_SEPARATORS: Final = (b"\n\n", b"\r\n\r\n")


def _split_event(buffer: bytes) -> int:
    """The end (separator included) of the first complete event in ``buffer``, or -1."""
    ends = [(i, len(s)) for s in _SEPARATORS if (i := buffer.find(s)) >= 0]
    if not ends:
        return -1
    index, size = min(ends)
    return index + size


def _data(event: bytes) -> bytes | None:
    lines = [line[5:].strip() for line in event.splitlines() if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


def _encode(payload: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


class _Events:
    """Split bytes into server-sent events; subclasses rewrite events until they pass all."""

    def __init__(self) -> None:
        self._buffer = b""
        self.passing = False

    def feed(self, data: bytes) -> bytes:
        if self.passing:
            return data
        self._buffer += data
        out: list[bytes] = []
        while not self.passing and (end := _split_event(self._buffer)) >= 0:
            event, self._buffer = self._buffer[:end], self._buffer[end:]
            out.append(self._event(event))
        if self.passing:
            out.append(self._buffer)
            self._buffer = b""
        return b"".join(out)

    def close(self) -> bytes:
        tail, self._buffer = self._buffer, b""
        return self._flush() + tail

    def _event(self, event: bytes) -> bytes:
        raise NotImplementedError

    def _flush(self) -> bytes:
        return b""


class ChatEvents(_Events):
    """``chat.completion.chunk`` events: a document's content deltas become one value delta.

    Handles the one-choice streams the service sends; a chunk for another choice makes the
    rest of the stream pass as it is.
    """

    def __init__(self) -> None:
        super().__init__()
        self._held: list[bytes] = []
        self._text: list[str] = []
        self._template: dict[str, Any] | None = None
        # The opening chunk ({"role": "assistant", "content": ""}) waits for the answer too: a
        # refusal must not open with an empty content delta.
        self._opening: dict[str, Any] | None = None

    def _event(self, event: bytes) -> bytes:
        data = _data(event)
        if data is None:
            return event
        if data == b"[DONE]":
            return self._flush() + event
        try:
            chunk = json.loads(data)
            choices = chunk["choices"]
        except (ValueError, KeyError, TypeError):
            return self._flush() + event
        if not choices:  # the usage chunk comes after the last choice chunk
            return self._flush() + event
        if len(choices) != 1 or not isinstance(choices[0], dict) or choices[0].get("index", 0) != 0:
            return self._give_up() + event
        choice = choices[0]
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if delta.get("tool_calls") or delta.get("refusal"):
            return self._give_up() + event
        if isinstance(content, str) and content:
            self._text.append(content)
            self._held.append(event)
            self._template = chunk
            started = "".join(self._text).lstrip()
            if started and not started.startswith("{"):
                return self._give_up()
            if choice.get("finish_reason") is None:
                return b""
            # The last content delta also carries the finish reason: the value takes its place.
            return self._flush(finish_reason=choice.get("finish_reason"))
        if choice.get("finish_reason") is not None:
            return self._flush() + event
        if not self._held and "role" in delta and self._opening is None:
            self._opening = chunk
        self._held.append(event)
        return b""

    def _give_up(self) -> bytes:
        held, self._held = self._held, []
        self.passing = True
        return b"".join(held)

    def _flush(self, finish_reason: str | None = None) -> bytes:
        if self.passing:
            return b""
        if not self._text or self._template is None:
            return self._give_up()
        presented = unwrap("".join(self._text))
        if presented is None:
            return self._give_up()
        content, refusal = presented
        delta: dict[str, Any] = {"content": content, DOCUMENT_FIELD: "".join(self._text)}
        opening = b""
        if self._opening is not None:
            if refusal is not None:
                first = self._opening["choices"][0]
                self._opening["choices"] = [{**first, "delta": {**first["delta"], "content": None}}]
                opening = _encode(self._opening)
            else:
                opening = self._held[0]
        if refusal is not None:
            delta["refusal"] = refusal
        choice = {**self._template["choices"][0], "delta": delta, "finish_reason": finish_reason}
        self._held = []
        self.passing = True
        return opening + _encode({**self._template, "choices": [choice]})


class ResponseEvents(_Events):
    """Responses events: a message item whose text is a document is re-emitted with the value."""

    def __init__(self) -> None:
        super().__init__()
        self._item_id: str | None = None
        self._held: list[tuple[bytes, dict[str, Any]]] = []

    def _event(self, event: bytes) -> bytes:
        data = _data(event)
        if data is None or data == b"[DONE]":
            return event
        try:
            payload = json.loads(data)
            kind = payload["type"]
        except (ValueError, KeyError, TypeError):
            return event
        if kind == "response.output_item.added":
            item = payload.get("item")
            if self._item_id is None and isinstance(item, dict) and item.get("type") == "message":
                self._item_id = item.get("id")
            return event
        if self._item_id is not None and payload.get("item_id") == self._item_id:
            self._held.append((event, payload))
            return b""
        if kind == "response.output_item.done" and self._is_held_item(payload):
            return self._release(event, payload)
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            response = payload.get("response")
            if isinstance(response, dict) and present_response(response):
                return _encode(payload, kind)
        return event

    def _is_held_item(self, payload: dict[str, Any]) -> bool:
        item = payload.get("item")
        return self._item_id is not None and isinstance(item, dict) and item.get("id") == self._item_id

    def _release(self, event: bytes, payload: dict[str, Any]) -> bytes:
        held, self._held, self._item_id = self._held, [], None
        item = dict(payload["item"])
        item["content"] = [dict(p) if isinstance(p, dict) else p for p in item.get("content") or []]
        if not present_output_message(item):
            return b"".join(e for e, _ in held) + event
        numbers = iter([p.get("sequence_number") for _, p in held] + [payload.get("sequence_number")])
        where = {"item_id": item["id"], "output_index": payload.get("output_index", 0), "content_index": 0}
        part = item["content"][0]
        refusal = part.get("type") == "refusal"
        empty = {**part, "refusal": ""} if refusal else {**part, "text": ""}
        text = part["refusal"] if refusal else part["text"]
        kind = "response.refusal" if refusal else "response.output_text"
        delta: dict[str, Any] = {"delta": text} if refusal else {"delta": text, "logprobs": []}
        done: dict[str, Any] = {"refusal": text} if refusal else {"text": text, "logprobs": []}
        events = [
            ("response.content_part.added", {"part": empty, **where}),
            (f"{kind}.delta", {**delta, **where}),
            (f"{kind}.done", {**done, **where}),
            ("response.content_part.done", {"part": part, **where}),
        ]
        out = [
            _encode({"type": name, "sequence_number": next(numbers, None), **fields}, name)
            for name, fields in events
        ]
        payload = {**payload, "item": item}
        out.append(_encode(payload, payload["type"]))
        return b"".join(out)

    def _flush(self) -> bytes:
        held, self._held = self._held, []
        return b"".join(e for e, _ in held)


class _Body:
    """A complete JSON body: rewritten once all of it has arrived."""

    def __init__(self, responses: bool) -> None:
        self._parts: list[bytes] = []
        self._responses = responses
        self.passing = False

    def feed(self, data: bytes) -> bytes:
        self._parts.append(data)
        return b""

    def close(self) -> bytes:
        raw = b"".join(self._parts)
        return present_body(raw, responses=self._responses) or raw


def _decompressor(encoding: str) -> Any:
    # wbits 47: zlib detects the gzip or zlib header itself (HTTP deflate is zlib-wrapped).
    return zlib.decompressobj(47) if encoding in ("gzip", "x-gzip", "deflate") else None


@functools.lru_cache(maxsize=4)
def _stream_classes(module: Any) -> tuple[type[Any], type[Any]]:
    """Byte stream wrappers subclassing the HTTP library's own base classes (httpx or httpx2)."""

    class Sync(module.SyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any, rewriter: Any, decoder: Any) -> None:
            self._inner, self._rewriter, self._decoder = inner, rewriter, decoder

        def __iter__(self) -> Iterator[bytes]:
            for data in self._inner:
                out = self._rewriter.feed(self._decoder.decompress(data) if self._decoder else data)
                if out:
                    yield out
            tail = self._rewriter.close()
            if tail:
                yield tail

        def close(self) -> None:
            self._inner.close()

    class Async(module.AsyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any, rewriter: Any, decoder: Any) -> None:
            self._inner, self._rewriter, self._decoder = inner, rewriter, decoder

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for data in self._inner:
                out = self._rewriter.feed(self._decoder.decompress(data) if self._decoder else data)
                if out:
                    yield out
            tail = self._rewriter.close()
            if tail:
                yield tail

        async def aclose(self) -> None:
            await self._inner.aclose()

    return Sync, Async


def _wrap(response: Any, *, is_async: bool) -> None:
    if response.status_code >= 300 or not presents(response.request):
        return
    headers = response.headers
    encoding = headers.get("content-encoding", "identity").strip().lower()
    decoder = None
    if encoding not in ("", "identity"):
        decoder = _decompressor(encoding)
        if decoder is None:  # br, zstd: left as they came (see docs/architectures.md)
            return
    responses = is_responses(response.request)
    if "text/event-stream" in headers.get("content-type", ""):
        rewriter: Any = ResponseEvents() if responses else ChatEvents()
    else:
        rewriter = _Body(responses)
    if decoder is not None:
        # The wrapper hands on decoded bytes, so the response must not be decoded again.
        del headers["content-encoding"]
    sync_cls, async_cls = _stream_classes(_http_module(response))
    response.stream = (async_cls if is_async else sync_cls)(response.stream, rewriter, decoder)


def _http_module(response: Any) -> Any:
    return sys.modules[type(response).__module__.split(".")[0]]


def on_response(response: Any) -> None:
    _wrap(response, is_async=False)


async def aon_response(response: Any) -> None:
    _wrap(response, is_async=True)


def attach(http_client: Any, *, is_async: bool, raw: bool) -> None:
    """Present dual-llm answers on ``http_client`` (once), unless ``raw`` keeps the wire document.

    An HTTP client shared between factories serves one choice: a second factory that wants the
    other one is refused rather than silently given the first one's.
    """
    hooks = http_client.event_hooks
    hook = aon_response if is_async else on_response
    if raw:
        if hook in hooks["response"]:
            raise ConfigurationError(
                "raw_dual_llm_content=True, but http_client is shared with a client that presents "
                "dual-llm values; give this client its own http_client",
                setting="raw_dual_llm_content",
            )
        http_client._sequrity_raw_content = True
        http_client.event_hooks = hooks
        return
    if getattr(http_client, "_sequrity_raw_content", False):
        raise ConfigurationError(
            "http_client is shared with a client made with raw_dual_llm_content=True; "
            "give this client its own http_client",
            setting="raw_dual_llm_content",
        )
    if hook not in hooks["response"]:
        hooks["response"].append(hook)
    http_client.event_hooks = hooks
