"""Dual-llm answers: parse the JSON document in ``message.content`` and collect streams."""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._denials import read_denial
from ._exceptions import PolicyViolation, SequrityExecutionError
from ._sessions import DOCUMENT_FIELD, field_of, session_id_of

if TYPE_CHECKING:
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

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
        if read_denial(self.error.message) is not None:  # the service's recorded wordings
            return True
        # Without an explanation, a check in the history that denied something is the cause.
        return not self.error.message.strip() and _history_denied(self.policy_check_history)

    @property
    def explanation(self) -> str | None:
        """Why a failed run failed: the service's message word for word, else a short stand-in."""
        if self.status != "failure":
            return None
        if self.error and self.error.message.strip():
            return self.error.message
        code = self.error.code if self.error else None
        return f"dual-llm execution failed ({code})" if code else "dual-llm execution failed"

    def raise_for_status(self) -> DualLlmResult:
        """Return self on success; raise ``PolicyViolation`` or ``SequrityExecutionError`` on failure.

        An ``"unknown"`` status (plain content) does not raise.
        """
        message = self.explanation
        if message is None:
            return self
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


def _kept_document(obj: object) -> str | None:
    """The service's content kept beside a presented value (message, Responses output), if any."""
    kept = field_of(obj, DOCUMENT_FIELD)
    if isinstance(kept, str):
        return kept
    output = field_of(obj, "output")  # a Responses API Response: its message item keeps it
    for item in output if isinstance(output, list) else ():
        kept = field_of(item, DOCUMENT_FIELD)
        if isinstance(kept, str):
            return kept
    return None


def _content_of(obj: object) -> str | None:
    """The text of a ChatCompletion, a message (object or dict), a string, bytes or a collected stream."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj).decode("utf-8", errors="replace")
    if isinstance(obj, CollectedStream):
        return obj.document if obj.document is not None else obj.text
    choices = field_of(obj, "choices")
    if isinstance(choices, list):
        if not choices:
            return None
        obj = field_of(choices[0], "message")
    kept = _kept_document(obj)
    if kept is not None:
        return kept
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
    """What a chat completion stream said, put back together by the SDK's own stream state.

    The chunks go through ``openai.lib.streaming.chat.ChatCompletionStreamState`` (what the
    SDK's ``chat.completions.stream()`` uses); the fields below read its first choice.
    """

    text: str = ""
    session_id: str | None = None
    # What the service sent when the value was presented as ``text`` (see docs/architectures.md):
    # the streamed ``sequrity_content`` delta field, which the SDK's state accumulates like any
    # other delta string (openai 2.x and 3.x; tests/test_fake_streaming.py checks it).
    document: str | None = None
    refusal: str | None = None
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    usage: Any = None
    chunks: int = 0
    completion: ChatCompletion | None = None
    """The SDK's snapshot of the whole stream (``None`` for an empty stream or one built by
    hand): a ``ChatCompletion`` that ``parse_result`` and ``session_id_of`` accept."""

    def result(self) -> DualLlmResult:
        """The collected answer parsed with :func:`parse_result` (the kept document, else the text)."""
        return parse_result(self)


def _new_state() -> ChatCompletionStreamState[Any]:
    # Imported on first use: the SDK's streaming helpers are not part of ``import openai``.
    from openai.lib.streaming.chat import ChatCompletionStreamState

    return ChatCompletionStreamState()


def _collected(state: ChatCompletionStreamState[Any], chunks: int, stream: object) -> CollectedStream:
    found = session_id_of(getattr(stream, "response", None)) if hasattr(stream, "response") else None
    if chunks == 0:
        return CollectedStream(session_id=found)
    completion = state.current_completion_snapshot
    choice = next((c for c in completion.choices if c.index == 0), None)
    message = choice.message if choice is not None else None
    tool_calls = [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.function.name or "", "arguments": call.function.arguments or ""},
        }
        for call in (message.tool_calls if message is not None else None) or []
        if call.type == "function"
    ]
    kept = getattr(message, DOCUMENT_FIELD, None)
    return CollectedStream(
        text=(message.content if message is not None else None) or "",
        document=kept if isinstance(kept, str) else None,
        refusal=message.refusal if message is not None else None,
        session_id=found if found is not None else session_id_of(completion),
        finish_reason=choice.finish_reason if choice is not None else None,
        tool_calls=tool_calls,
        model=completion.model or None,
        usage=completion.usage,
        chunks=chunks,
        completion=completion,
    )


def collect_stream(stream: Iterable[ChatCompletionChunk]) -> CollectedStream:
    """Consume a ``stream=True`` chat completion; return its text, tool calls and session id."""
    state = _new_state()
    chunks = 0
    for chunk in stream:
        state.handle_chunk(chunk)
        chunks += 1
    return _collected(state, chunks, stream)


async def acollect_stream(stream: AsyncIterable[ChatCompletionChunk]) -> CollectedStream:
    """The async twin of :func:`collect_stream`."""
    state = _new_state()
    chunks = 0
    async for chunk in stream:
        state.handle_chunk(chunk)
        chunks += 1
    return _collected(state, chunks, stream)
