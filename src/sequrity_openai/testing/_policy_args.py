"""Scripted tool-call arguments that carry metadata: ``sq.TaggedValue`` and ``ResultOf``.

A test scripts ``fake.queue_tool_call("send_email", {"to": "eve@x.com", "body": ResultOf(...)})``;
the values are bound when the answer is sent (a ``ResultOf`` names a result the client sends
back later than the script is written), then the policy sees their metadata and the client
sees their plain JSON values. This module knows nothing of the server, so ``_script`` can use it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._policies._values import TaggedValue

__all__ = ["ResultOf", "bind_arguments", "late_bound"]


@dataclass(frozen=True)
class ResultOf:
    """In a scripted tool call's arguments: the result of an earlier call of ``tool``.

    FakeSequrity binds it, when it sends the call, to what the client sent back for the latest
    call of ``tool`` in the same session (``index`` picks another: 0 the first, -2 the one
    before the latest), as a ``sq.TaggedValue`` with the metadata the request's X-Policy gave
    that result. ``derive`` computes the argument from the result's value and keeps the
    result's metadata, as the program's data flow would: ``ResultOf("get_doc", lambda d: "FYI " + d)``.
    """

    tool: str
    derive: Callable[[Any], Any] | None = None
    index: int = -1

    def __post_init__(self) -> None:
        if not isinstance(self.tool, str) or not self.tool:
            raise ValueError("ResultOf(tool): tool must be a non-empty tool name")
        if self.derive is not None and not callable(self.derive):
            raise ValueError("ResultOf(derive=...): derive must be callable")


#: Finds the ``index``-th recorded result of a tool in the session, or ``None``.
ResultLookup = Callable[[str, int], TaggedValue | None]


def _json_text(value: Any, where: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: the value must be JSON-serialisable: {exc}") from None


def late_bound(arguments: Mapping[str, Any]) -> bool:
    """Whether scripted arguments hold a TaggedValue or a ResultOf (checked JSON-serialisable now)."""
    found = False
    for name, value in arguments.items():
        if isinstance(value, TaggedValue):
            _json_text(value.value, f"argument {name!r}")
            found = True
        elif isinstance(value, ResultOf):
            found = True
    return found


class UnboundResult(LookupError):
    """A ResultOf names a result the session does not have."""


def bind_arguments(arguments: Mapping[str, Any], lookup: ResultLookup) -> tuple[dict[str, Any], str]:
    """The arguments as the policy sees them (TaggedValues where given) and their JSON text."""
    bound: dict[str, Any] = {}
    for name, value in arguments.items():
        if isinstance(value, ResultOf):
            source = lookup(value.tool, value.index)
            if source is None:
                raise UnboundResult(
                    f"argument {name!r}: ResultOf({value.tool!r}, index={value.index}): the session "
                    f"holds no such result of {value.tool!r} (did the client send it back?)"
                )
            if value.derive is not None:
                source = TaggedValue.derived(value.derive(source.value), source)
            value = source
        bound[name] = value
    plain = {name: v.value if isinstance(v, TaggedValue) else v for name, v in bound.items()}
    return bound, _json_text(plain, "scripted tool call arguments")
