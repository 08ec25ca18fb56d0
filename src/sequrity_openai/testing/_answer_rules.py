"""What a request allows FakeSequrity to answer: response formats, offered tools, tool choice.

A test double must not pass flows that cannot happen, so a scripted answer the request rules
out is refused with a 400 that says why (``fake.check()`` then reports it), and an unscripted
answer takes the shape the request asks for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._request import Api, last_user_text
from ._route_table import Rejection
from ._schema import SchemaError, instance, problem
from ._script import DenialAnswer, TextAnswer, ToolCall, ToolCallAnswer

__all__ = ["check_request", "shape_answer"]


def check_request(api: Api, body: Mapping[str, Any]) -> None:
    """Refuse what the fake does not model rather than answer it wrongly."""
    if api == "responses" and body.get("previous_response_id") is not None:
        raise Rejection(
            400,
            "previous_response_id: FakeSequrity does not store responses, and how Sequrity maps a "
            "previous response to its session is not documented; send the whole conversation in "
            "input and continue the session with sq.session() (X-Session-ID) instead",
        )


def _format(api: Api, body: Mapping[str, Any]) -> tuple[str, Any] | None:
    """``("json_schema", schema)``, ``("json_object", None)`` or ``None`` (plain text)."""
    if api == "chat/completions":
        spec = body.get("response_format")
        schema = spec.get("json_schema", {}).get("schema") if isinstance(spec, Mapping) else None
    else:
        text = body.get("text")
        spec = text.get("format") if isinstance(text, Mapping) else None
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
    kind = spec.get("type") if isinstance(spec, Mapping) else None
    if kind == "json_schema":
        return kind, schema if isinstance(schema, Mapping) else {}
    if kind == "json_object":
        return kind, None
    return None


def _tools(api: Api, body: Mapping[str, Any]) -> dict[str, Any]:
    """Offered function tools: name -> parameters schema."""
    offered: dict[str, Any] = {}
    tools = body.get("tools")
    # Anthropic Messages tools are {"name", "input_schema"} with type "custom" or none at all.
    kind, schema_key = ("custom", "input_schema") if api == "messages" else ("function", "parameters")
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, Mapping) or tool.get("type", kind) != kind:
            continue
        spec = tool.get("function") if api == "chat/completions" else tool
        if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
            offered[spec["name"]] = spec.get(schema_key) or {"type": "object"}
    return offered


def _forced(api: Api, body: Mapping[str, Any]) -> str | None:
    """``"none"``, ``"required"``, a forced tool's name, or ``None`` (the model chooses)."""
    choice = body.get("tool_choice")
    if api == "messages":  # {"type": "auto" | "any" | "tool" | "none", "name": ...}
        kind = choice.get("type") if isinstance(choice, Mapping) else None
        if kind == "tool" and isinstance(choice, Mapping) and isinstance(choice.get("name"), str):
            return f"function:{choice['name']}"
        return {"any": "required", "none": "none"}.get(kind) if isinstance(kind, str) else None
    if choice in ("none", "required"):
        return str(choice)
    if isinstance(choice, Mapping):
        spec = choice.get("function") if api == "chat/completions" else choice
        if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
            return f"function:{spec['name']}"
    return None


def _check_calls(answer: ToolCallAnswer, api: Api, body: Mapping[str, Any]) -> None:
    offered = _tools(api, body)
    forced = _forced(api, body)
    for call in answer.calls:
        if call.name not in offered:
            names = ", ".join(sorted(offered)) or "none"
            raise Rejection(
                400,
                f"FakeSequrity: scripted tool call {call.name!r}, but the request offered no such "
                f"tool (offered: {names})",
            )
        if forced == "none":
            raise Rejection(400, f"FakeSequrity: scripted tool call {call.name!r}, but tool_choice is 'none'")
        if forced is not None and forced.startswith("function:") and forced[9:] != call.name:
            raise Rejection(
                400, f"FakeSequrity: scripted tool call {call.name!r}, but tool_choice forces {forced[9:]!r}"
            )


def _forced_call(api: Api, body: Mapping[str, Any]) -> ToolCallAnswer | None:
    """The call a request forces (``tool_choice`` required or a named function), with made-up arguments."""
    forced = _forced(api, body)
    offered = _tools(api, body)
    if forced is None or forced == "none" or not offered:
        return None
    name = forced[9:] if forced.startswith("function:") else next(iter(offered))
    if name not in offered:
        raise Rejection(400, f"tool_choice names {name!r}, which the request does not offer")
    try:
        arguments = instance(offered[name])
    except SchemaError as exc:
        raise Rejection(400, f"FakeSequrity: tool {name!r}: {exc}") from None
    return ToolCallAnswer((ToolCall(name, json.dumps(arguments, ensure_ascii=False)),))


def _scripted_value(answer: TextAnswer, dual: bool) -> Any:
    """The JSON value a scripted answer stands for, for checking against a response format."""
    if dual and answer.has_value:
        return answer.value
    try:
        return json.loads(answer.text)
    except ValueError:
        if dual:  # the text is the value, as queue_text documents
            return answer.text
        raise Rejection(
            400,
            f"FakeSequrity: the request asks for JSON output, but the scripted answer {answer.text!r} "
            "is not JSON; script queue_text(json.dumps(value), value=value)",
        ) from None


def shape_answer(
    answer: TextAnswer | ToolCallAnswer | DenialAnswer | None,
    api: Api,
    body: Mapping[str, Any],
    *,
    dual: bool,
) -> TextAnswer | ToolCallAnswer | DenialAnswer | None:
    """The answer to send: checked against the request, or made to fit it when unscripted."""
    if isinstance(answer, ToolCallAnswer):
        _check_calls(answer, api, body)
        return answer
    if isinstance(answer, DenialAnswer):
        return answer
    forced = _forced(api, body)
    if answer is None:
        call = _forced_call(api, body)
        if call is not None:
            return call
    elif forced is not None and forced != "none":
        raise Rejection(400, f"FakeSequrity: scripted text, but tool_choice {forced!r} requires a tool call")
    fmt = _format(api, body)
    if fmt is None:
        return answer
    kind, schema = fmt
    if answer is None:
        try:
            value = {"echo": last_user_text(api, body)} if kind == "json_object" else instance(schema)
        except SchemaError as exc:
            raise Rejection(400, str(exc)) from None
        return TextAnswer(json.dumps(value, ensure_ascii=False), value=value, has_value=True)
    value = _scripted_value(answer, dual)
    found = (
        problem(value, schema)
        if kind == "json_schema"
        else (None if isinstance(value, dict) else "json_object asks for a JSON object")
    )
    if found is not None:
        raise Rejection(
            400, f"FakeSequrity: the scripted answer does not match the request's response_format: {found}"
        )
    return TextAnswer(json.dumps(value, ensure_ascii=False), value=value, has_value=True)
