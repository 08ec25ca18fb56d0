"""Answer bodies: what a scripted (or echoed) answer looks like on each API and architecture."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._headers import Config
from ._request import Api, Arch, input_items, last_user_text, tools_that_ran
from ._script import DenialAnswer, TextAnswer, ToolCallAnswer

ECHO_PREFIX = "echo: "
POLICY_DENIAL_CODE = "policy_violation"


@dataclass(frozen=True)
class ReplyToolCall:
    id: str
    name: str
    arguments: str


@dataclass
class Reply:
    """An answer before it is dressed as a chat completion or a Responses object."""

    content: str | None
    tool_calls: list[ReplyToolCall] = field(default_factory=list)
    prompt_tokens: int = 1
    completion_tokens: int = 1

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def count_tokens(text: str) -> int:
    # Deterministic stand-in for a tokenizer: about four characters a token.
    return max(1, (len(text) + 3) // 4)


def _format_flags(config: Config | None) -> tuple[bool, bool, bool, bool]:
    rf = config.response_format if config is not None else None
    if rf is None:
        return False, False, False, False
    return (
        bool(rf.strip_response_content),
        bool(rf.include_program),
        bool(rf.include_policy_check_history),
        bool(rf.include_namespace_snapshot),
    )


def dual_llm_content(
    answer: TextAnswer | DenialAnswer, *, config: Config | None, tools_ran: list[str]
) -> str:
    """The section-6 JSON document (or the bare value with ``strip_response_content``)."""
    strip, with_program, with_history, with_snapshot = _format_flags(config)
    history: list[dict[str, Any]] = [
        {"tool_name": t, "decision": "allow", "message": None} for t in tools_ran
    ]
    if isinstance(answer, DenialAnswer):
        if strip:
            return answer.message
        document: dict[str, Any] = {
            "status": "failure",
            "final_return_value": None,
            "error": {"code": POLICY_DENIAL_CODE, "message": answer.message},
        }
        program = f"result = {answer.tool}(...)  # denied by policy\nfinal_return_value = result"
        history.append({"tool_name": answer.tool, "decision": "deny", "message": answer.message})
        snapshot: dict[str, Any] = {}
    else:
        value = answer.final_value
        if strip:
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        document = {
            "status": "success",
            "final_return_value": {
                "value": value,
                "meta": {"producers": tools_ran, "consumers": ["*"], "tags": []},
            },
            "error": None,
        }
        program = f"final_return_value = {json.dumps(value, ensure_ascii=False)}"
        snapshot = {"final_return_value": value}
    if with_program:
        document["program"] = program
    if with_history:
        document["policy_check_history"] = history
    if with_snapshot:
        document["namespace_snapshot"] = snapshot
    return json.dumps(document, ensure_ascii=False)


def make_reply(
    answer: TextAnswer | ToolCallAnswer | DenialAnswer | None,
    *,
    api: Api,
    body: Mapping[str, Any],
    arch: Arch,
    config: Config | None,
    session_id: str,
) -> Reply:
    """Turn a scripted answer (``None``: the echo) into content or tool calls."""
    if answer is None:
        answer = TextAnswer(ECHO_PREFIX + last_user_text(api, body))
    tool_calls: list[ReplyToolCall] = []
    content: str | None
    if isinstance(answer, ToolCallAnswer):
        content = None
        tool_calls = [
            ReplyToolCall(
                id=f"tc-{session_id}-{c.call_id or uuid.uuid4()}", name=c.name, arguments=c.arguments
            )
            for c in answer.calls
        ]
    elif isinstance(answer, DenialAnswer):
        # A denial is a dual-llm notion; it reads the same whatever the architecture asked for.
        content = dual_llm_content(answer, config=config, tools_ran=tools_that_ran(api, body))
    elif arch == "dual-llm":
        content = dual_llm_content(answer, config=config, tools_ran=tools_that_ran(api, body))
    else:
        content = answer.text
    prompt = json.dumps([dict(i) for i in input_items(body, api)], sort_keys=True, default=str)
    produced = content if content is not None else "".join(c.name + c.arguments for c in tool_calls)
    return Reply(
        content=content,
        tool_calls=tool_calls,
        prompt_tokens=count_tokens(prompt),
        completion_tokens=count_tokens(produced),
    )


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def chat_usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.total_tokens,
    }


def chat_completion(reply: Reply, *, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}],
        "usage": chat_usage(reply),
    }


def response_message_item(item_id: str, text: str, *, done: bool) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if done else []
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": "completed" if done else "in_progress",
        "content": content,
    }


def response_call_item(item_id: str, call: ReplyToolCall, *, done: bool) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments if done else "",
        "status": "completed" if done else "in_progress",
    }


def response_object(
    reply: Reply,
    *,
    response_id: str,
    item_ids: list[str],
    model: str,
    body: Mapping[str, Any],
    done: bool = True,
) -> dict[str, Any]:
    """A minimal ``response`` object; ``item_ids`` names the message (if any), then each call."""
    output: list[dict[str, Any]] = []
    if done:
        ids = iter(item_ids)
        if reply.content is not None:
            output.append(response_message_item(next(ids), reply.content, done=True))
        output.extend(response_call_item(next(ids), call, done=True) for call in reply.tool_calls)
    tools = body.get("tools")
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed" if done else "in_progress",
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": tools if isinstance(tools, list) else [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "text": {"format": {"type": "text"}},
        "usage": (
            {
                "input_tokens": reply.prompt_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": reply.completion_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": reply.total_tokens,
            }
            if done
            else None
        ),
    }


def response_item_ids(reply: Reply) -> list[str]:
    count = (reply.content is not None) + len(reply.tool_calls)
    return [new_id("msg_" if i == 0 and reply.content is not None else "fc_") for i in range(count)]
