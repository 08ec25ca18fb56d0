"""``fake-server --script FILE``: a JSON list of answers queued on FakeSequrity, in order.

Each item is an object with one key saying what the next request gets::

    {"text": "Paris."}                                   a final answer
    {"text": "97", "value": 97}                          a dual-llm answer with its value
    {"tool_call": {"name": "f", "arguments": {...}}}     the model asks for one tool
    {"tool_calls": [{"name": "f", "arguments": {}}, ...]} or for several at once
    {"denial": {"tool": "send_email", "message": "..."}} a policy denial (message optional)
    {"error": {"status": 503, "detail": "...", "headers": {...}}}  an HTTP error
    {"delay": 2.5}                                       hold the next answer back

Once the script is used up, requests get the usual echo.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ._output import CommandError

if TYPE_CHECKING:
    from ..testing import FakeSequrity

__all__ = ["load_script"]

_KINDS = ("text", "tool_call", "tool_calls", "denial", "error", "delay")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _ToolCall(_Strict):
    name: str = Field(min_length=1)
    """The tool the model asks for."""
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    """Its arguments: an object, or the JSON text the model would send."""


class _Denial(_Strict):
    tool: str = "send_email"
    """The tool the denied plan tried to call."""
    message: str | None = None
    """The denial text; the service's usual wording when left out."""


class _Error(_Strict):
    status: int = Field(ge=400, le=599)
    """The HTTP status."""
    detail: Any = "scripted error"
    """Sent as ``{"detail": detail}``."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra response headers, e.g. ``Retry-After``."""


class _Item(_Strict):
    text: str | None = None
    value: Any = None
    tool_call: _ToolCall | None = None
    tool_calls: list[_ToolCall] | None = Field(default=None, min_length=1)
    denial: _Denial | None = None
    error: _Error | None = None
    delay: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_kind(self) -> _Item:
        kinds = [k for k in _KINDS if k in self.model_fields_set]
        if len(kinds) != 1:
            raise ValueError(f"give exactly one of {', '.join(_KINDS)}; got {', '.join(kinds) or 'none'}")
        if "value" in self.model_fields_set and kinds != ["text"]:
            raise ValueError("value goes with text only")
        return self

    def queue_on(self, fake: FakeSequrity) -> None:
        if self.text is not None:
            if "value" in self.model_fields_set:
                fake.queue_text(self.text, value=self.value)
            else:
                fake.queue_text(self.text)
        elif self.tool_call is not None:
            fake.queue_tool_call(self.tool_call.name, self.tool_call.arguments)
        elif self.tool_calls is not None:
            fake.queue_tool_calls([(call.name, call.arguments) for call in self.tool_calls])
        elif self.denial is not None:
            fake.queue_denial(self.denial.message, tool=self.denial.tool)
        elif self.error is not None:
            fake.queue_error(self.error.status, self.error.detail, headers=self.error.headers)
        elif self.delay is not None:
            fake.queue_delay(self.delay)


def _problems(index: int, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"])
        out.append(f"item {index}{' ' + where if where else ''}: {err['msg']}")
    return out


def load_script(path: str) -> list[_Item]:
    """Read and check the whole script before the server starts: a mistake is a usage error."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise CommandError(f"--script: cannot read {path!r}: {reason}") from None
    except json.JSONDecodeError as exc:
        raise CommandError(f"--script {path!r}: not JSON: {exc}") from None
    if not isinstance(raw, list):
        raise CommandError(f"--script {path!r}: expected a JSON list of answers, got {type(raw).__name__}")
    items, problems = [], []
    for index, entry in enumerate(raw):
        try:
            items.append(_Item.model_validate(entry))
        except ValidationError as exc:
            problems += _problems(index, exc)
    if problems:
        raise CommandError(f"--script {path!r}: " + "; ".join(problems))
    return items
