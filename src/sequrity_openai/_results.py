"""Dual-llm answers: parse the JSON document in ``message.content`` and collect streams."""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._exceptions import PolicyViolation, SequrityExecutionError
from ._sessions import field_of, session_id_of

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

# What the service says when a policy stops a run: "Tool call send_email denied by argument
# checking policies. ...", "The program violated control flow policies and cannot continue ...".
# Errors that merely mention a policy (a policy that fails to parse, whose text may well say
# "deny") are not denials, so the verb must be a past-tense outcome tied to "policy/policies":
# "policy" starting at most 80 characters after the verb, in the same sentence. The text can be
# shaped by an injected prompt, so the test is one pass over the words that matter (linear
# time), never a pattern that backtracks over unbounded runs.
# The words that matter, in order: a verb, a policy word, or a sentence end.
_TOKENS = re.compile(r"(\b(?:denied|violated|blocked|rejected)\b)|\bpolic(?:y|ies)\b|[.\n]", re.IGNORECASE)
_POLICY_NOUN = re.compile(r"\bpolicy (?:violation|denial)s?\b", re.IGNORECASE)
_VERB_REACH = 80
# Error codes: a run of letters, "_", "-" or spaces naming both a policy and a violation/denial.
_CODE_RUN = re.compile(r"[a-z_ -]+", re.IGNORECASE)


def _is_denial_code(code: str) -> bool:
    for run in _CODE_RUN.findall(code):
        run = run.lower()
        if "polic" in run and ("violat" in run or "den" in run):
            return True
    return False


def _is_denial_message(text: str) -> bool:
    if _POLICY_NOUN.search(text):
        return True
    verb_end = -1  # end of the latest verb in the current sentence; the nearest one decides
    for token in _TOKENS.finditer(text):
        if token.group(1):
            verb_end = token.end()
        elif token.group() in ".\n":
            verb_end = -1
        elif verb_end >= 0 and token.start() - verb_end <= _VERB_REACH:
            return True
    return False


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 2000


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
        if _is_denial_code(self.error.code or "") or _is_denial_message(self.error.message):
            return True
        # Without an explanation, a check in the history that denied something is the cause.
        return not self.error.message.strip() and _history_denied(self.policy_check_history)

    def raise_for_status(self) -> DualLlmResult:
        """Return self on success; raise ``PolicyViolation`` or ``SequrityExecutionError`` on failure.

        An ``"unknown"`` status (plain content) does not raise.
        """
        if self.status != "failure":
            return self
        message = self.error.message if self.error and self.error.message.strip() else ""
        if not message:
            code = self.error.code if self.error else None
            message = f"dual-llm execution failed ({code})" if code else "dual-llm execution failed"
        if self.is_policy_violation:
            raise PolicyViolation(message, result=self)
        raise SequrityExecutionError(message, result=self)


def _history_denied(history: list[Any] | None) -> bool:
    """A check in ``policy_check_history`` denied something (a ``denied`` list or a deny verdict)."""
    for check in history or []:
        if not isinstance(check, Mapping):
            continue
        denied = check.get("denied")
        if isinstance(denied, list) and denied:
            return True
        for key in ("final_verdict", "decision"):
            verdict = check.get(key)
            if isinstance(verdict, str) and ("denied" in verdict.lower() or verdict.lower() == "deny"):
                return True
    return False


def _text(value: object) -> str:
    # reprlib bounds the depth, so a pathologically nested value cannot hit the recursion limit.
    return value if isinstance(value, str) else _SHORT.repr(value)


def _strings(value: object) -> tuple[str, ...]:
    # Producers, consumers and tags are sets of names; anything else in them is malformed and
    # stays visible only in ``raw`` / ``document``.
    if isinstance(value, (list, tuple)):
        return tuple(_text(v) for v in value if isinstance(v, (str, int, float)))
    return ()


def _content_of(obj: object) -> str | None:
    """The text of a ChatCompletion, a message (object or dict), a string, bytes or a collected stream."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj).decode("utf-8", errors="replace")
    if isinstance(obj, CollectedStream):
        return obj.text
    choices = field_of(obj, "choices")
    if isinstance(choices, list):
        if not choices:
            return None
        obj = field_of(choices[0], "message")
    content = field_of(obj, "content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": "..."}]
        texts = [field_of(part, "text") for part in content]
        return "".join(t for t in texts if isinstance(t, str))
    output_text = field_of(obj, "output_text")  # a Responses API Response
    return output_text if isinstance(output_text, str) else None


def parse_result(obj: object) -> DualLlmResult:
    """Parse a dual-llm answer from a ChatCompletion, a message, a string or a collected stream.

    An already decoded document (a dict with a ``status``) is accepted too. Never raises:
    content that is not the dual-llm JSON document gives status ``"unknown"`` with ``raw`` kept.
    """
    if isinstance(obj, Mapping) and "status" in obj and "choices" not in obj and "role" not in obj:
        try:
            raw = json.dumps(obj)
        except (TypeError, ValueError, RecursionError):
            return DualLlmResult(status="unknown", raw="")
        return _parse(raw, dict(obj))
    try:
        content = _content_of(obj)
    except Exception:
        content = None
    raw = content if content is not None else ""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return DualLlmResult(status="unknown", raw=raw)
    return _parse(raw, document)


def _parse(raw: str, document: object) -> DualLlmResult:
    if not isinstance(document, dict) or document.get("status") not in ("success", "failure"):
        return DualLlmResult(status="unknown", raw=raw)
    try:
        return _fields(raw, document)
    except Exception:  # a shape no one anticipated: keep the status, the text and the document
        return DualLlmResult(status=document["status"], raw=raw, document=document)


def _fields(raw: str, document: dict[str, Any]) -> DualLlmResult:
    final = document.get("final_return_value")
    final = final if isinstance(final, dict) else {}
    meta = final.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    error = document.get("error")
    parsed_error: ResultError | None = None
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        parsed_error = ResultError(
            code=None if code is None else _text(code), message="" if message is None else _text(message)
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
