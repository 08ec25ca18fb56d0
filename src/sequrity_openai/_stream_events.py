"""Dual-llm answers in server-sent events: rewrite the events of a stream as they come.

:class:`ChatEvents` and :class:`ResponseEvents` take the bytes of an event stream and give
back the events to pass on: unchanged, held back while the answer may be a dual-llm document,
or rewritten with its value once the document is complete. Pure and synchronous; the byte
stream wrapper of ``_presentation_stream`` feeds them.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ._presentation import DOCUMENT_FIELD, present_output_message, present_response, unwrap

__all__ = ["ChatEvents", "Events", "ResponseEvents"]


def _split_event(buffer: bytes, start: int) -> int:
    """The end (separator included) of the first complete event in ``buffer`` from ``start``,
    or -1. A CRLF separator is looked for only before the first LF one (the two never
    overlap), so a buffer holding many events is not searched to its end for each."""
    lf = buffer.find(b"\n\n", start)
    crlf = buffer.find(b"\r\n\r\n", start, len(buffer) if lf < 0 else lf + 4)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf + 4
    return lf + 2 if lf >= 0 else -1


def _data(event: bytes) -> bytes | None:
    if event.startswith(b"data:"):  # the usual event: one data line
        end = event.find(b"\n")
        if end < 0 or not event[end:].strip():
            return event[5 : len(event) if end < 0 else end].strip()
    lines = [line[5:].strip() for line in event.splitlines() if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


# An unescaped "content":" can only be a key with a string value (quotes inside strings are
# escaped): in a chat chunk, a delta's content.
_CONTENT_STRING: Final = b'"content":"'
_EMPTY_CONTENT: Final = b'"content":""'
# After the opening quote, what a document's first character could be (or its escaped form,
# or the closing quote of an empty content).
_MAYBE_DOCUMENT: Final = frozenset(b'{"\\ \t\r\n')


def _starts_plain_content(data: bytes) -> bool:
    """Whether the event ``data`` holds a content string that cannot begin a document."""
    at = data.find(_CONTENT_STRING)
    if at < 0:
        return False
    at += len(_CONTENT_STRING)
    return at < len(data) and data[at] not in _MAYBE_DOCUMENT


def _encode(payload: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


class Events:
    """Split bytes into server-sent events; subclasses rewrite events until they pass all."""

    def __init__(self) -> None:
        self._buffer = b""
        self.passing = False

    def feed(self, data: bytes) -> bytes:
        if self.passing:
            return data
        buffer = self._buffer + data if self._buffer else data
        out: list[bytes] = []
        start = 0
        while not self.passing and (end := _split_event(buffer, start)) >= 0:
            out.append(self._event(buffer[start:end]))
            start = end
        rest = buffer[start:] if start else buffer
        if self.passing:
            out.append(rest)
            rest = b""
        self._buffer = rest
        return b"".join(out)

    def close(self) -> bytes:
        tail, self._buffer = self._buffer, b""
        return self._flush() + tail

    def _event(self, event: bytes) -> bytes:
        raise NotImplementedError

    def _flush(self) -> bytes:
        return b""


class ChatEvents(Events):
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
        # An opening chunk held unparsed: parsed (in its place) only if the answer may be a
        # document, so a plain answer passes without a single event parsed.
        self._deferred: bytes | None = None
        # Whether the answer's first character that is not blank has come (a "{").
        self._begun = False

    def _event(self, event: bytes) -> bytes:
        data = _data(event)
        if data is None:
            return event
        if not self._text:
            if _starts_plain_content(data):
                # The first content of the answer starts with neither "{" nor a blank: not a
                # document, whatever else the event holds. Known without parsing it.
                self._held.append(event)
                return self._give_up()
            if self._deferred is None and not self._held and self._opening is None and _EMPTY_CONTENT in data:
                self._deferred = event
                return b""
        return self._replay() + self._process(event, data)

    def _replay(self) -> bytes:
        """The deferred opening chunk, processed now (before anything that came after it)."""
        deferred, self._deferred = self._deferred, None
        if deferred is None:
            return b""
        return self._process(deferred, _data(deferred) or b"")

    def _process(self, event: bytes, data: bytes) -> bytes:
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
            if not self._begun:
                # Only until the first character that is not blank: joining every delta so far
                # for each new one would make a long document quadratic.
                started = content.lstrip()
                if started:
                    if not started.startswith("{"):
                        return self._give_up()
                    self._begun = True
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
        if self._deferred is not None:  # the earliest of all: held only while nothing else is
            held.insert(0, self._deferred)
            self._deferred = None
        self.passing = True
        return b"".join(held)

    def _flush(self, finish_reason: str | None = None) -> bytes:
        if self._deferred is not None:
            return self._replay() + self._flush(finish_reason)
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


class ResponseEvents(Events):
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
