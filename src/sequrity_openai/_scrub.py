"""What the server says, made fit to show: keys redacted, size bounded, characters printable.

Used on error bodies, on error events inside event streams, and on log records of the SDK and
its HTTP stack. Pure functions over values; the hooks decide when to call them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from ._settings import redact

#: At most this many characters of the server's text reach a message or a body (before
#: escaping), however large the answer; the cut says so.
TEXT_BUDGET: Final = 4000
#: Deeper JSON is cut: nothing a person reads is nested that deep.
MAX_DEPTH: Final = 16
_KEY_BUDGET: Final = 200
_NOT_JSON: Final = object()


class _Budget:
    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


def printable(text: str) -> str:
    """``text`` with control characters, format characters and lone surrogates escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _text(text: str, secrets: Iterable[str], budget: _Budget) -> str:
    # Redact before cutting, so a cut never leaves the start of a key visible.
    text = redact(text, secrets)
    if len(text) > budget.left:
        cut = len(text) - budget.left
        text = f"{text[: budget.left]}... [{cut} more characters cut]"
    budget.left = max(0, budget.left - len(text))
    return printable(text)


def _clean(value: Any, secrets: Iterable[str], budget: _Budget, depth: int) -> Any:
    if isinstance(value, str):
        return _text(value, secrets, budget)
    if not isinstance(value, (dict, list)):
        return value  # numbers, booleans, null
    if depth >= MAX_DEPTH:
        return f"[nested deeper than {MAX_DEPTH} levels, cut]"
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            if budget.left <= 0:
                out.append("[more items cut]")
                break
            budget.left -= 1
            out.append(_clean(item, secrets, budget, depth + 1))
        return out
    obj: dict[str, Any] = {}
    for key, item in value.items():
        if budget.left <= 0:
            obj["..."] = "[more fields cut]"
            break
        budget.left -= 1
        name = _text(str(key), secrets, _Budget(_KEY_BUDGET))  # names first: they say what a value is
        obj[name] = _clean(item, secrets, budget, depth + 1)
    return obj


def clean_json(value: Any, secrets: Iterable[str]) -> Any:
    """A decoded JSON value, redacted, bounded and printable."""
    return _clean(value, list(secrets), _Budget(TEXT_BUDGET), 0)


def clean_text(text: str, secrets: Iterable[str]) -> str:
    return _text(text, list(secrets), _Budget(TEXT_BUDGET))


def _detail_text(detail: object) -> str | None:
    if isinstance(detail, str):
        return detail or None
    if isinstance(detail, list):
        # FastAPI validation errors: [{"loc": [...], "msg": "...", ...}, ...]; loc may be
        # anything in a hostile answer, so every shape is read without assumptions.
        parts = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                loc = item.get("loc")
                path = loc if isinstance(loc, list) else ([] if loc is None else [loc])
                where = ".".join(str(p) for p in path if p != "body")
                parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
            else:
                parts.append(item if isinstance(item, str) else json.dumps(item))
        return "; ".join(parts) or None
    if detail is None:
        return None
    return json.dumps(detail)


def error_body(content: bytes, encoding: str, secrets: Iterable[str], *, add_message: bool) -> bytes | None:
    """The body to give the SDK instead of ``content``, or ``None`` to leave it as it is.

    JSON is cleaned value by value; with ``add_message`` a body without a ``message`` gets
    one from Sequrity's ``detail`` (openai 3.x shows only the message). Anything else is
    cleaned as text.
    """
    text = content.decode(encoding, errors="replace")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        body = _NOT_JSON
    if body is _NOT_JSON:
        shown_text = clean_text(text, secrets)
        return None if shown_text == text else shown_text.encode(encoding, errors="backslashreplace")
    shown = clean_json(body, secrets)
    if add_message and isinstance(shown, dict):
        target = shown["error"] if isinstance(shown.get("error"), dict) else shown
        message = target.get("message")
        if not (isinstance(message, str) and message):
            detail = _detail_text(shown.get("detail"))
            if detail is not None:
                target["message"] = clean_text(detail, ())
    if shown == body:
        return None
    return json.dumps(shown).encode()


def clean_event_line(line: bytes, secrets: list[str]) -> bytes:
    """One line of an event stream: an error event cleaned as an error body, any other line
    only redacted. Keys never contain a line break, so line by line misses none."""
    if line.startswith(b"data:") and b'"error"' in line:
        try:
            data = json.loads(line[5:])
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            end = b"\r\n" if line.endswith(b"\r\n") else b"\n" if line.endswith(b"\n") else b""
            return b"data: " + json.dumps(clean_json(data, secrets)).encode() + end
    for secret in sorted(secrets, key=len, reverse=True):
        line = line.replace(secret.encode(), b"****")
    return line


#: What makes a chunk of an event stream worth a closer look: an error event (openai's
#: ``data: {"error": ...}``, anthropic's ``"type": "error"``, a Responses ``response.failed``)
#: holds it. Only error events are redacted, as only error bodies are: a successful answer
#: passes as the service sent it, streamed or not.
ERROR_MARK: Final = b'"error"'


def clean_event_lines(chunk: bytes, secrets: list[str]) -> bytes:
    """Complete lines of an event stream, each cleaned (see :func:`clean_event_line`)."""
    return b"".join(clean_event_line(line, secrets) for line in chunk.splitlines(keepends=True))


def clean_event_chunk(chunk: bytes, secrets: Callable[[], list[str]]) -> bytes:
    """Complete lines of an event stream; only chunks with an error event are touched, and
    only for them are the keys to redact asked for (``secrets()``)."""
    if ERROR_MARK not in chunk:
        return chunk
    return clean_event_lines(chunk, secrets())


# --------------------------------------------------------------------------- logs

#: Keys given to factories in this process: no log record of the SDK or its HTTP stack shows them.
KNOWN_SECRETS: set[str] = set()
# Header values the SDK's own log filter leaves alone (it redacts only authorization, api-key
# and x-amz-security-token), in a "Request options" dict or its text.
_SENSITIVE_HEADERS: Final = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization"})
_HEADER_TEXT = re.compile(
    r"""(['"](?:authorization|x-api-key|api-key|proxy-authorization)['"]\s*:\s*['"])[^'"]*""", re.IGNORECASE
)
LOGGER_ROOTS: Final = ("openai", "anthropic", "httpx", "httpx2", "httpcore", "httpcore2")


def _scrub_headers(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: ("****" if isinstance(k, str) and k.lower() in _SENSITIVE_HEADERS else _scrub_headers(v))
            for k, v in value.items()
        }
    return value


class KeyFilter(logging.Filter):
    """Redacts keys in records of the SDK's and the HTTP stack's loggers.

    A logger runs its filters only for records it is enabled for, so with DEBUG off this
    costs nothing per request.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.args, Mapping):
                record.args = _scrub_headers(record.args)
            message = record.getMessage()
            cleaned = _HEADER_TEXT.sub(r"\1****", redact(message, KNOWN_SECRETS))
            if cleaned != message:
                record.msg, record.args = cleaned, None
        except Exception:  # a record that cannot be formatted is left to logging's own handling
            pass
        return True


_FILTER: Final = KeyFilter()
_seen_loggers = -1


def install_log_filter() -> None:
    """Put the filter on every logger of the SDK and its HTTP stack (children included, since
    logger filters are not inherited); checked again whenever new loggers have appeared."""
    global _seen_loggers
    manager = logging.Logger.manager
    if len(manager.loggerDict) == _seen_loggers:
        return
    for root in LOGGER_ROOTS:
        logging.getLogger(root)
    for name, logger in list(manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger) or name.split(".", 1)[0] not in LOGGER_ROOTS:
            continue
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    _seen_loggers = len(manager.loggerDict)
