"""Dual-llm answers as ordinary answers: the final value is the content, a denial is a refusal.

Pure functions over JSON bodies. ``_presentation_stream`` applies them to server-sent events
and hangs them on the HTTP client. The wire document stays on the object the SDK builds, under
:data:`DOCUMENT_FIELD` (the SDK's models keep fields they do not know), so
``sq.parse_result()`` reads exactly what the service sent.

Whether a response is rewritten is decided from the request alone, never from the content
(a single-llm model can be made to print a document): see :func:`presentation`.
"""

from __future__ import annotations

import functools
import json
import json.scanner
import re
from collections.abc import Callable, MutableMapping
from typing import Any, Final

from ._routes import ROUTE_MARK
from ._sessions import DOCUMENT_FIELD

__all__ = [
    "DOCUMENT_FIELD",
    "present_body",
    "present_chat_completion",
    "present_output_message",
    "present_response",
    "presentation",
    "unwrap",
]

_LANG_GRAPH: Final = f"{ROUTE_MARK}lang-graph/"
_RESPONSES: Final = "/responses"
# Inside a JSON body the document is a string, so its key appears with escaped quotes.
_DOCUMENT_MARK: Final = b'\\"status\\"'
# Built once: json.dumps with options builds a new encoder on every call.
_COMPACT: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_FIELD_KEY: Final = f'"{DOCUMENT_FIELD}"'.encode()
_CONTENT_KEY: Final = b'"content"'
_KEY_END: Final = b'content"'
assert _FIELD_KEY.endswith(_KEY_END)
# After the key: the colon and the opening quote of a string value, JSON blanks around it.
_STRING_VALUE: Final = re.compile(rb'[ \t\r\n]*:[ \t\r\n]*"')
_BLANK_RUN: Final = re.compile(r"[ \t\r\n]*")
# The json module's own scanners (C): one string token at an offset, one value at an offset.
# Called directly, they cost no Python frame (json.loads costs three) on the hot path.
_scanstring: Final[Callable[[str, int], tuple[str, int]]] = json.decoder.scanstring  # type: ignore[attr-defined]
_scan_value: Final[Callable[[str, int], tuple[Any, int]]] = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
_json_string: Final[Callable[[str], str]] = json.encoder.encode_basestring


#: What :func:`presentation` answers: not presented, a chat completion, a Responses answer.
NOT_PRESENTED: Final = 0
CHAT: Final = 1
RESPONSES: Final = 2


# One C-level lookup per request: a client sends the same few header values again and again.
@functools.lru_cache(maxsize=256)
def presentation(features: bytes | None, config: bytes | None, path: str) -> int:
    """How the answer to a request is presented (:data:`NOT_PRESENTED`, :data:`CHAT` or
    :data:`RESPONSES`), from the request's ``X-Features`` and ``X-Config`` values and its URL
    path (without the query): never from the answer's content.

    Presented when the request asked for dual-llm (``X-Features`` with ``agent_arch:
    dual-llm``, or the ``lang-graph`` endpoint, which is always dual-llm), unless its
    ``X-Config`` asks for ``strip_response_content`` (the content is then already the bare
    value). A request without ``X-Features`` runs whatever preset the server keeps for the key,
    which the client cannot know: its answers are left as they are.
    """
    if features is None:
        if _LANG_GRAPH not in path:
            return NOT_PRESENTED
    elif _member(features, "agent_arch") != "dual-llm":
        return NOT_PRESENTED
    if config is not None and b"strip_response_content" in config:
        response_format = _member(config, "response_format")
        if isinstance(response_format, dict) and response_format.get("strip_response_content") is True:
            return NOT_PRESENTED
    return RESPONSES if path.rstrip("/").endswith(_RESPONSES) else CHAT


def _member(raw: bytes, key: str) -> Any:
    """``key`` of the JSON object ``raw`` (a header value), or ``None``."""
    try:
        decoded = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return decoded.get(key) if isinstance(decoded, dict) else None


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else _COMPACT.encode(value)


def _final_value(document: dict[str, Any]) -> str:
    """A success document's final value as content: a string as it is, any other JSON value
    as compact JSON."""
    final = document.get("final_return_value")
    return _compact(final.get("value") if isinstance(final, dict) else None)


def _document(text: str) -> Any:
    """``json.loads(text)`` when ``text`` holds one JSON object (surrounding blanks allowed),
    else ``None``."""
    start = 0 if text[:1] == "{" else _BLANK_RUN.match(text).end()  # type: ignore[union-attr]
    if text[start : start + 1] != "{":
        return None
    try:
        document, end = _scan_value(text, start)
    except (StopIteration, ValueError, RecursionError):
        return None
    if end != len(text) and _BLANK_RUN.match(text, end).end() != len(text):  # type: ignore[union-attr]
        return None  # more after the object: not a document
    return document


def unwrap(text: str) -> tuple[str | None, str | None] | None:
    """``(content, refusal)`` for a dual-llm document; ``None`` when ``text`` is not one.

    Success: the final value (a string as it is, any other JSON value as compact JSON).
    Failure: no content, and the service's explanation as the refusal.
    """
    document = _document(text)
    if document is None:
        return None
    status = document.get("status")
    if status == "success":
        return _final_value(document), None
    if status == "failure":
        # Denials are rare: the result reader loads with the first one (or with sq.parse_result).
        from ._results import parse_result

        return None, parse_result(document).explanation
    return None


def present_message(message: MutableMapping[str, Any]) -> bool:
    """Rewrite a chat ``message`` dict in place; True when it held a document."""
    content = message.get("content")
    if not isinstance(content, str):
        return False
    presented = unwrap(content)
    if presented is None:
        return False
    message["content"], refusal = presented
    if refusal is not None:
        message["refusal"] = refusal
    message[DOCUMENT_FIELD] = content
    return True


def present_chat_completion(body: MutableMapping[str, Any]) -> bool:
    """Rewrite every choice of a ``chat.completion`` dict in place; True when one changed."""
    changed = False
    choices = body.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and present_message(message):
            changed = True
    return changed


def present_output_message(item: MutableMapping[str, Any]) -> bool:
    """Rewrite a Responses ``message`` output item in place; True when its text was a document."""
    parts = item.get("content")
    if item.get("type") != "message" or not isinstance(parts, list):
        return False
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("type") != "output_text":
            continue
        text = part.get("text")
        presented = unwrap(text) if isinstance(text, str) else None
        if presented is None:
            continue
        content, refusal = presented
        if refusal is None:
            part["text"] = content
        else:
            parts[index] = {"type": "refusal", "refusal": refusal}
        item[DOCUMENT_FIELD] = text
        return True
    return False


def present_response(body: MutableMapping[str, Any]) -> bool:
    """Rewrite the message items of a Responses ``response`` dict in place."""
    changed = False
    output = body.get("output")
    for item in output if isinstance(output, list) else ():
        if isinstance(item, dict) and present_output_message(item):
            changed = True
    return changed


def _splice(raw: bytes) -> bytes | None:
    """``raw`` with its one message content, a success document, replaced by the value and the
    document kept beside it under :data:`DOCUMENT_FIELD`, without decoding or re-encoding the
    rest of the body; ``None`` when the body is not in the plain shape this relies on.

    Inside a JSON text every quote within a string is escaped, so an unescaped ``"content"``
    can only be a key: when it occurs exactly once, its string value is the content of the
    one message (the other bodies go through :func:`present_chat_completion`). This runs on
    every dual-llm answer, so it is written flat, with C scanners only.
    """
    key = raw.find(_CONTENT_KEY)
    if key < 0:
        return None
    start = key + len(_CONTENT_KEY) + 1  # the opening quote, in a compact body
    if raw[start - 1 : start + 1] != b':"':
        value = _STRING_VALUE.match(raw, key + len(_CONTENT_KEY))
        if value is None:
            return None
        start = value.end() - 1
    try:
        # ASCII, so that character offsets are byte offsets; otherwise the general path.
        document, end = _scanstring(raw.decode("ascii"), start + 1)
    except (UnicodeDecodeError, ValueError):
        return None
    # No other "content" key and no DOCUMENT_FIELD key: both end in content" (found in no
    # string, whose quotes are escaped), so one count covers both (a rarer key or value that
    # ends so, say "reasoning_content", only sends the body the general way).
    if raw.count(_KEY_END) != 1:
        return None
    parsed = _document(document)
    if parsed is None or parsed.get("status") != "success":
        return None  # not a document, or a denial: the general path
    content = _json_string(_final_value(parsed)).encode()
    return b"".join((raw[:start], content, b",", _FIELD_KEY, b":", raw[start:end], raw[end:]))


def present_body(raw: bytes, *, responses: bool) -> bytes | None:
    """The rewritten JSON body, or ``None`` when there is nothing to rewrite."""
    if not responses:
        # The usual answer: one message whose content is a success document. Its value is put
        # in place in the bytes as they came (decoding and re-encoding the whole body would
        # cost more than the rest of the presentation).
        spliced = _splice(raw)
        if spliced is not None:
            return spliced
    if _DOCUMENT_MARK not in raw:
        return None
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    changed = present_response(body) if responses else present_chat_completion(body)
    return _COMPACT.encode(body).encode() if changed else None
