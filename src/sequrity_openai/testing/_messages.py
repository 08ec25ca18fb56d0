"""Answers in the Anthropic Messages format: the ``message`` object and its event stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ._responses import Reply, ReplyToolCall, new_id
from ._sse import split

__all__ = ["message_events", "message_object"]


def _input(call: ReplyToolCall) -> Any:
    # Scripted arguments are JSON text; a tool_use block carries the decoded object.
    try:
        value = json.loads(call.arguments)
    except ValueError:
        return {"arguments": call.arguments}
    return value if isinstance(value, dict) else {"value": value}


def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.tool_calls else "end_turn"


def _usage(reply: Reply, *, output_tokens: int | None = None) -> dict[str, int]:
    done = reply.completion_tokens if output_tokens is None else output_tokens
    return {"input_tokens": reply.prompt_tokens, "output_tokens": done}


def message_object(reply: Reply, *, model: str, message_id: str | None = None) -> dict[str, Any]:
    """The ``message`` a Messages call answers: a text block, then one ``tool_use`` block per call."""
    content: list[dict[str, Any]] = []
    if reply.content is not None:
        content.append({"type": "text", "text": reply.content})
    content.extend(
        {"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c)} for c in reply.tool_calls
    )
    return {
        "id": message_id or new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": _usage(reply),
    }


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data}, ensure_ascii=False)}\n\n".encode()


def message_events(reply: Reply, *, model: str) -> Iterator[bytes]:
    """The Messages event stream: ``message_start``, the blocks with their deltas, ``message_stop``."""
    start = message_object(reply, model=model)
    start.update(content=[], stop_reason=None, usage=_usage(reply, output_tokens=0))
    yield _event("message_start", {"message": start})
    index = 0
    if reply.content is not None:
        yield _event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
        for piece in split(reply.content):
            yield _event(
                "content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": piece}}
            )
        yield _event("content_block_stop", {"index": index})
        index += 1
    for call in reply.tool_calls:
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        yield _event("content_block_start", {"index": index, "content_block": block})
        for piece in split(json.dumps(_input(call), ensure_ascii=False)):
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield _event("content_block_delta", {"index": index, "delta": delta})
        yield _event("content_block_stop", {"index": index})
        index += 1
    yield _event(
        "message_delta",
        {
            "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
            "usage": {"output_tokens": reply.completion_tokens},
        },
    )
    yield _event("message_stop", {})
