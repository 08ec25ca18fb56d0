"""Dual-llm answers as ordinary answers: the final value is the content, a denial is a refusal.

Pure functions over JSON bodies. ``_presentation_stream`` applies them to server-sent events
and hangs them on the HTTP client. The wire document stays on the object the SDK builds, under
:data:`DOCUMENT_FIELD` (the SDK's models keep fields they do not know), so
``sq.parse_result()`` reads exactly what the service sent.

Whether a response is rewritten is decided from the request alone, never from the content
(a single-llm model can be made to print a document): see :func:`presents`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Final

from ._routes import ROUTE_MARK
from ._sessions import DOCUMENT_FIELD

__all__ = [
    "DOCUMENT_FIELD",
    "present_body",
    "present_chat_completion",
    "present_output_message",
    "present_response",
    "presents",
    "unwrap",
]

_LANG_GRAPH: Final = f"{ROUTE_MARK}lang-graph/".encode()
_RESPONSES: Final = b"/responses"
# Inside a JSON body the document is a string, so its key appears with escaped quotes.
_DOCUMENT_MARK: Final = b'\\"status\\"'
# Built once: json.dumps with options builds a new encoder on every call.
_COMPACT: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_FIELD_KEY: Final = f'"{DOCUMENT_FIELD}"'.encode()
_CONTENT_KEY: Final = b'"content"'
_BLANKS: Final = (b" ", b"\t", b"\r", b"\n")
# The json module's own string scanner (C): decodes the one string token at an offset.
_scanstring: Final[Callable[[str, int], tuple[str, int]]] = json.decoder.scanstring  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=64)
def _features_say_dual(header: bytes) -> bool:
    try:
        features = json.loads(header)
    except ValueError:
        return False
    return isinstance(features, dict) and features.get("agent_arch") == "dual-llm"


@functools.lru_cache(maxsize=64)
def _config_strips(header: bytes) -> bool:
    try:
        config = json.loads(header)
    except ValueError:
        return False
    response_format = config.get("response_format") if isinstance(config, dict) else None
    return isinstance(response_format, dict) and response_format.get("strip_response_content") is True


def presents(sent: Mapping[bytes, bytes], raw_path: bytes) -> bool:
    """Whether the answer to a request is a dual-llm document this package presents, from the
    request's header values by lower-case name (``sent``) and its path.

    True when the request asked for dual-llm (``X-Features`` with ``agent_arch: dual-llm``,
    or the ``lang-graph`` endpoint, which is always dual-llm), unless its ``X-Config`` asks
    for ``strip_response_content`` (the content is then already the bare value). A request
    without ``X-Features`` runs whatever preset the server keeps for the key, which the client
    cannot know: its answers are left as they are.
    """
    features = sent.get(b"x-features")
    if features is None:
        if _LANG_GRAPH not in raw_path:
            return False
    elif not _features_say_dual(features):
        return False
    config = sent.get(b"x-config")
    return config is None or b"strip_response_content" not in config or not _config_strips(config)


def is_responses(raw_path: bytes) -> bool:
    return raw_path.rstrip(b"/").endswith(_RESPONSES)


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else _COMPACT.encode(value)


def unwrap(text: str) -> tuple[str | None, str | None] | None:
    """``(content, refusal)`` for a dual-llm document; ``None`` when ``text`` is not one.

    Success: the final value (a string as it is, any other JSON value as compact JSON).
    Failure: no content, and the service's explanation as the refusal.
    """
    if not text.lstrip().startswith("{"):
        return None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    status = document.get("status")
    if status == "success":
        final = document.get("final_return_value")
        return _compact(final.get("value") if isinstance(final, dict) else None), None
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
    one message (the other bodies go through :func:`present_chat_completion`).
    """
    key = raw.find(_CONTENT_KEY)
    if key < 0 or raw.find(_CONTENT_KEY, key + 1) >= 0 or _FIELD_KEY in raw:
        return None
    colon = key + len(_CONTENT_KEY)
    while raw[colon : colon + 1] in _BLANKS:
        colon += 1
    start = colon + 1
    while raw[start : start + 1] in _BLANKS:
        start += 1
    if raw[colon : colon + 1] != b":" or raw[start : start + 1] != b'"':
        return None
    try:
        text = raw.decode()
        # Character offsets equal byte offsets up to here only for ASCII; otherwise the general path.
        if len(text) != len(raw):
            return None
        document, end = _scanstring(text, start + 1)
    except (UnicodeDecodeError, ValueError):
        return None
    presented = unwrap(document)
    if presented is None or presented[1] is not None or presented[0] is None:
        return None
    value = json.dumps(presented[0], ensure_ascii=False).encode()
    return b"".join((raw[:start], value, b",", _FIELD_KEY, b":", raw[start:end], raw[end:]))


def present_body(raw: bytes, *, responses: bool) -> bytes | None:
    """The rewritten JSON body, or ``None`` when there is nothing to rewrite."""
    if _DOCUMENT_MARK not in raw:
        return None
    if not responses:
        # The usual answer: one message whose content is a success document. Its value is put
        # in place in the bytes as they came (decoding and re-encoding the whole body would
        # cost more than the rest of the presentation).
        spliced = _splice(raw)
        if spliced is not None:
            return spliced
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    changed = present_response(body) if responses else present_chat_completion(body)
    return _COMPACT.encode(body).encode() if changed else None
