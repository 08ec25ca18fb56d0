"""Dual-llm answers: parse the JSON document in ``message.content`` and collect streams."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import PolicyViolation, SequrityExecutionError
from .sessions import session_id_of

__all__ = [
    "CollectedStream",
    "DualLlmResult",
    "ResultError",
    "ValueMeta",
    "acollect_stream",
    "collect_stream",
    "parse_result",
]

Status = Literal["success", "failure", "unknown"]

# "Tool call send_email denied by argument checking policies. ..." and its relatives.
_DENIAL = re.compile(r"\bden(?:ied|y)\b.*\bpolic|\bpolicy\b.*\b(?:violat|den)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ValueMeta:
    """Provenance of a value: who produced it, who may consume it, its tags."""

    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResultError:
    """The ``error`` object of a failed dual-llm run."""

    code: str | None
    message: str


@dataclass(frozen=True)
class DualLlmResult:
    """A dual-llm answer. ``status`` is ``"unknown"`` when the content was not that JSON."""

    status: Status
    raw: str
    value: Any = None
    meta: ValueMeta = field(default_factory=ValueMeta)
    error: ResultError | None = None
    program: str | None = None
    policy_check_history: list[Any] | None = None
    namespace_snapshot: Any = None
    session_meta: Any = None
    message_history_mismatch_detected: bool | None = None
    document: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def is_policy_violation(self) -> bool:
        if self.status != "failure" or self.error is None:
            return False
        code = (self.error.code or "").lower()
        return "polic" in code or bool(_DENIAL.search(self.error.message))

    def raise_for_status(self) -> DualLlmResult:
        """Return self on success; raise ``PolicyViolation`` or ``SequrityExecutionError`` on failure.

        An ``"unknown"`` status (plain content) does not raise.
        """
        if self.status != "failure":
            return self
        message = self.error.message if self.error else "dual-llm execution failed"
        if self.is_policy_violation:
            raise PolicyViolation(message, result=self)
        raise SequrityExecutionError(message, result=self)


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(str(v) for v in value)
    return ()


def _content_of(obj: object) -> str | None:
    if obj is None:
        return None
    if isinstance(obj, str):
        return obj
    if isinstance(obj, CollectedStream):
        return obj.text
    if isinstance(obj, Mapping):
        content = obj.get("content")
        return content if isinstance(content, str) else None
    choices = getattr(obj, "choices", None)
    if isinstance(choices, list):
        if not choices:
            return None
        obj = getattr(choices[0], "message", None)
    content = getattr(obj, "content", None)
    if isinstance(content, str):
        return content
    output_text = getattr(obj, "output_text", None)  # a Responses API Response
    return output_text if isinstance(output_text, str) else None


def parse_result(obj: object) -> DualLlmResult:
    """Parse a dual-llm answer from a ChatCompletion, a message, a string or a collected stream.

    Never raises: content that is not the dual-llm JSON document gives status ``"unknown"``
    with ``raw`` kept.
    """
    try:
        content = _content_of(obj)
    except Exception:
        content = None
    raw = content if content is not None else ""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return DualLlmResult(status="unknown", raw=raw)
    if not isinstance(document, dict) or document.get("status") not in ("success", "failure"):
        return DualLlmResult(status="unknown", raw=raw)
    final = document.get("final_return_value")
    final = final if isinstance(final, dict) else {}
    meta = final.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    error = document.get("error")
    parsed_error: ResultError | None = None
    if isinstance(error, dict):
        code = error.get("code")
        parsed_error = ResultError(
            code=None if code is None else str(code), message=str(error.get("message") or "")
        )
    elif isinstance(error, str) and error:
        parsed_error = ResultError(code=None, message=error)
    program = document.get("program")
    history = document.get("policy_check_history")
    mismatch = document.get("message_history_mismatch_detected")
    return DualLlmResult(
        status=document["status"],
        raw=raw,
        value=final.get("value"),
        meta=ValueMeta(
            producers=_strings(meta.get("producers")),
            consumers=_strings(meta.get("consumers")),
            tags=_strings(meta.get("tags")),
        ),
        error=parsed_error,
        program=program if isinstance(program, str) else None,
        policy_check_history=history if isinstance(history, list) else None,
        namespace_snapshot=document.get("namespace_snapshot"),
        session_meta=document.get("session_meta"),
        message_history_mismatch_detected=mismatch if isinstance(mismatch, bool) else None,
        document=document,
    )


@dataclass
class CollectedStream:
    """What a chat completion stream said, put back together."""

    text: str = ""
    session_id: str | None = None
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    usage: Any = None
    chunks: int = 0

    def _add(self, chunk: Any) -> None:
        self.chunks += 1
        self.model = getattr(chunk, "model", None) or self.model
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage
        for choice in getattr(chunk, "choices", None) or []:
            if getattr(choice, "index", 0) != 0:
                continue
            delta = choice.delta
            if delta.content:
                self.text += delta.content
            for call in delta.tool_calls or []:
                while len(self.tool_calls) <= call.index:
                    self.tool_calls.append(
                        {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
                    )
                slot = self.tool_calls[call.index]
                if call.id:
                    slot["id"] = call.id
                if call.function is not None:
                    slot["function"]["name"] += call.function.name or ""
                    slot["function"]["arguments"] += call.function.arguments or ""
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason

    def _finish(self, stream: object) -> CollectedStream:
        found = session_id_of(getattr(stream, "response", None)) if hasattr(stream, "response") else None
        if found is None:
            for call in self.tool_calls:
                found = session_id_of(call["id"] or "")
                if found:
                    break
        self.session_id = found
        return self

    def result(self) -> DualLlmResult:
        """The collected text parsed with :func:`parse_result`."""
        return parse_result(self.text)


def collect_stream(stream: Iterable[Any]) -> CollectedStream:
    """Consume a ``stream=True`` chat completion; return its text, tool calls and session id."""
    collected = CollectedStream()
    for chunk in stream:
        collected._add(chunk)
    return collected._finish(stream)


async def acollect_stream(stream: AsyncIterable[Any]) -> CollectedStream:
    """The async twin of :func:`collect_stream`."""
    collected = CollectedStream()
    async for chunk in stream:
        collected._add(chunk)
    return collected._finish(stream)
