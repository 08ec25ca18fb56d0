"""SQRT set elements that are not plain strings: regexes, wildcards and type domains.

A domain answers one question, ``contains(value)``; sets hold domains next to plain strings
and numbers (``{"a", str matching r"x.*", int 1..5}``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "BoolDomain",
    "DatetimeDomain",
    "Domain",
    "NumberDomain",
    "Range",
    "StrDomain",
    "parse_datetime",
    "unescape",
    "wildcard_regex",
]

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def unescape(body: str, *, pattern: bool) -> str:
    """The text between the quotes of a SQRT string.

    The grammar only says that a backslash escapes the next character. We undo the escapes a
    string needs to hold its own quote and backslash (``\\"``, ``\\\\``) and, in plain strings,
    ``\\n``, ``\\t``, ``\\r``; any other backslash sequence is kept as written, so regexes such as
    ``r".*@corp\\.com"`` and ``r"\\d+"`` mean what they say.
    """
    table = {'"': '"', "\\": "\\"} if pattern else _ESCAPES

    def replace(match: re.Match[str]) -> str:
        char = match.group(1)
        return table.get(char, match.group(0))

    return _ESCAPE.sub(replace, body)


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """``*`` is any run of characters, ``?`` one character; everything else is literal."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def parse_datetime(value: Any) -> datetime | None:
    """A tool argument or literal as an aware datetime (naive ones are taken as UTC)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        moment = datetime.fromtimestamp(value, tz=timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat has no "Z"
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Range:
    """``lo..hi`` with open or closed ends; ``None`` is unbounded."""

    low: Any = None
    high: Any = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: Any) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))


class Domain:
    """A set element that matches values by a rule instead of by equality."""

    def contains(self, value: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class StrDomain(Domain):
    """``str "x"``, ``str matching r"..."``, ``str like w"..."``, a bare ``r"..."`` or ``w"..."``.

    Patterns must match the whole string (see docs/policy-checker.md).
    """

    exact: str | None = None
    regex: re.Pattern[str] | None = None
    length: Range | None = None

    def contains(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if self.exact is not None and value != self.exact:
            return False
        if self.regex is not None and self.regex.fullmatch(value) is None:
            return False
        return self.length is None or len(value) in self.length


@dataclass(frozen=True)
class NumberDomain(Domain):
    """``int ...`` (integers only) or ``float ...`` (any number); booleans are neither."""

    range: Range
    integer: bool

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not isinstance(value, int):
            return False
        return value in self.range


@dataclass(frozen=True)
class BoolDomain(Domain):
    """``bool true`` / ``bool false``."""

    value: bool

    def contains(self, value: Any) -> bool:
        return isinstance(value, bool) and value is self.value


@dataclass(frozen=True)
class DatetimeDomain(Domain):
    """``datetime d"..."``, ranges of them, or epoch seconds; values may be ISO strings."""

    range: Range

    def contains(self, value: Any) -> bool:
        moment = parse_datetime(value)
        return moment is not None and moment in self.range
