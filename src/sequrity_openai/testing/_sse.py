"""Server-sent event streams for ``stream=true``: chat completion chunks and Responses events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import Any

from ._responses import (
    Reply,
    chat_usage,
    new_id,
    response_call_item,
    response_item_ids,
    response_message_item,
    response_object,
)

_PIECES = 3


def split(text: str, pieces: int = _PIECES) -> list[str]:
    """Cut ``text`` into a few non-empty fragments (one when it is short)."""
    if not text:
        return []
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _event(data: Mapping[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def chat_chunks(reply: Reply, *, model: str, include_usage: bool) -> Iterator[bytes]:
    """``chat.completion.chunk`` events ending with ``data: [DONE]``."""
    base = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        data: dict[str, Any] = {
            **base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
        if include_usage:
            data["usage"] = None
        return _event(data)

    yield chunk({"role": "assistant", "content": "" if reply.content is not None else None})
    for piece in split(reply.content or ""):
        yield chunk({"content": piece})
    for index, call in enumerate(reply.tool_calls):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
        )
        for piece in split(call.arguments):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, reply.finish_reason)
    if include_usage:
        yield _event({**base, "choices": [], "usage": chat_usage(reply)})
    yield b"data: [DONE]\n\n"


def response_events(reply: Reply, *, model: str, body: Mapping[str, Any]) -> Iterator[bytes]:
    """The Responses events the SDK's stream helpers understand, ending with ``response.completed``."""
    response_id = new_id("resp_")
    item_ids = response_item_ids(reply)
    sequence = 0

    def emit(kind: str, **fields: Any) -> bytes:
        nonlocal sequence
        data = {"type": kind, "sequence_number": sequence, **fields}
        sequence += 1
        return _event(data, kind)

    snapshot = response_object(
        reply, response_id=response_id, item_ids=item_ids, model=model, body=body, done=False
    )
    yield emit("response.created", response=snapshot)
    yield emit("response.in_progress", response=snapshot)
    index = 0
    if reply.content is not None:
        item_id = item_ids[0]
        text = reply.content
        part_empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        part_full = {**part_empty, "text": text}
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        yield emit(
            "response.output_item.added",
            output_index=index,
            item=response_message_item(item_id, "", done=False),
        )
        yield emit("response.content_part.added", part=part_empty, **where)
        for piece in split(text):
            yield emit("response.output_text.delta", delta=piece, logprobs=[], **where)
        yield emit("response.output_text.done", text=text, logprobs=[], **where)
        yield emit("response.content_part.done", part=part_full, **where)
        yield emit(
            "response.output_item.done",
            output_index=index,
            item=response_message_item(item_id, text, done=True),
        )
        index += 1
    for call in reply.tool_calls:
        item_id = item_ids[index]
        yield emit(
            "response.output_item.added",
            output_index=index,
            item=response_call_item(item_id, call, done=False),
        )
        for piece in split(call.arguments):
            yield emit(
                "response.function_call_arguments.delta", item_id=item_id, output_index=index, delta=piece
            )
        yield emit(
            "response.function_call_arguments.done",
            item_id=item_id,
            output_index=index,
            name=call.name,
            arguments=call.arguments,
        )
        yield emit(
            "response.output_item.done", output_index=index, item=response_call_item(item_id, call, done=True)
        )
        index += 1
    final = response_object(reply, response_id=response_id, item_ids=item_ids, model=model, body=body)
    yield emit("response.completed", response=final)
