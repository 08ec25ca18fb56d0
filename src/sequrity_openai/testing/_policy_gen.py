"""Policy generation as FakeSequrity answers it: a valid SQRT policy naming the given tools."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from .._routes import Provider
from ._responses import count_tokens
from ._route_table import Rejection

__all__ = ["generate_answer", "tool_names"]

# Which request types each policy-gen route accepts (the official client's mapping).
_TYPES: Final[Mapping[Provider | None, frozenset[str]]] = {
    None: frozenset({"openrouter_chat_completion"}),
    "openrouter": frozenset({"openrouter_chat_completion"}),
    "openai": frozenset({"oai_chat_completion"}),
    "anthropic": frozenset({"anthropic_messages"}),
    "sequrity_azure": frozenset({"sequrity_azure_chat_completion", "sequrity_azure_responses"}),
}
_INTERNAL_TOOLS: Final = frozenset({"parse_with_ai", "verify_hypothesis", "set_policy", "complete_turn"})


def tool_names(tools: list[Any]) -> list[str]:
    """The names of tools in OpenAI (``function.name``) or Anthropic (``name``) format."""
    names: list[str] = []
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        function = tool.get("function")
        name = function.get("name") if isinstance(function, Mapping) else tool.get("name")
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


def _policy(names: list[str]) -> str:
    # One allow-always rule per tool: valid SQRT that names each tool (json.dumps gives a
    # double-quoted string literal with escapes).
    return "".join(f"tool {json.dumps(name)} {{\n    hard allow always;\n}}\n" for name in names)


def generate_answer(
    provider: Provider | None, body: Mapping[str, Any], *, scripted: str | None = None
) -> dict[str, Any]:
    """Validate a policy-gen body (422 naming the field) and answer ``{"policies", "usage"}``.

    The policies are ``scripted`` (``fake.queue_text(...)``) or one allow rule per tool.
    """
    kind = body.get("type")
    if kind not in _TYPES[provider]:
        allowed = ", ".join(sorted(_TYPES[provider]))
        raise Rejection(422, f"body.type: expected {allowed} on this route, got {kind!r}")
    description = body.get("description")
    if not isinstance(description, str) or not description.strip():
        raise Rejection(422, "body.description: a non-empty description is required")
    tools = body.get("tools", [])
    if not isinstance(tools, list):
        raise Rejection(422, "body.tools: a list is required")
    retries = body.get("n_retries", 3)
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise Rejection(422, "body.n_retries: an integer >= 0 is required")
    internal = body.get("internal_tool_names", [])
    if not isinstance(internal, list) or not set(internal) <= _INTERNAL_TOOLS:
        raise Rejection(422, f"body.internal_tool_names: a subset of {', '.join(sorted(_INTERNAL_TOOLS))}")
    if body.get("policy_lang", "sqrt") != "sqrt":
        raise Rejection(422, "body.policy_lang: only 'sqrt' is supported")
    policies = scripted if scripted is not None else _policy(tool_names(tools) + list(internal))
    prompt = count_tokens(description + json.dumps(tools))
    completion = count_tokens(policies)
    return {
        "policies": policies,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
