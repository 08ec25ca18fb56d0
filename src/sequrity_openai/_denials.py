"""The service's denial messages, and reading the tool name and context out of one.

The recorded wordings (PROTOCOL.md section 6):

- ``Tool call to 'send_email' is denied by argument checking policies. Context: {...}``
- ``Control flow violation detected during program execution.``

The context holds the denied call's arguments, which an injected prompt can shape (and make
a megabyte long), so the message is read with bounded ``str.find`` calls in one pass: linear
time, no regular expression that could backtrack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["CONTROL_FLOW_VIOLATION", "Denial", "read_denial", "tool_denial_message"]

CONTROL_FLOW_VIOLATION: Final = "Control flow violation detected during program execution."
_TOOL_PREFIX: Final = "Tool call to '"
_TOOL_SUFFIX: Final = "' is denied by argument checking policies."
_CONTEXT_MARK: Final = "Context:"
# Tool names are short identifiers (the OpenAI and Anthropic APIs cap them at 64 and 128
# characters); a longer "name" is not the service's wording.
_MAX_TOOL_NAME: Final = 256


@dataclass(frozen=True)
class Denial:
    """What a denial message says: its kind, the denied tool and the context, when present."""

    kind: Literal["tool_call", "control_flow"]
    tool_name: str | None = None
    context: str | None = None


def tool_denial_message(tool: str, context: str = "{}") -> str:
    """The service's wording for a denied tool call (what FakeSequrity scripts)."""
    return f"{_TOOL_PREFIX}{tool}{_TOOL_SUFFIX} {_CONTEXT_MARK} {context}"


def read_denial(message: str) -> Denial | None:
    """The denial ``message`` reports, or ``None`` when it is not one of the service's wordings."""
    start = message.find(_TOOL_PREFIX)
    if start >= 0:
        name_start = start + len(_TOOL_PREFIX)
        end = message.find(_TOOL_SUFFIX, name_start, name_start + _MAX_TOOL_NAME + len(_TOOL_SUFFIX))
        if end > name_start:
            rest = message[end + len(_TOOL_SUFFIX) :].lstrip()
            context = rest[len(_CONTEXT_MARK) :].strip() if rest.startswith(_CONTEXT_MARK) else None
            return Denial("tool_call", message[name_start:end], context or None)
    if CONTROL_FLOW_VIOLATION in message:
        return Denial("control_flow")
    return None
