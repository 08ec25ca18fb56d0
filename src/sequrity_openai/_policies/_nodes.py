"""Reading the service grammar's parse tree: node types, literals, numbers and ranges.

Lark is only imported for type checking: importing these modules must not import Lark
(``sq.PolicyChecker`` is exported from the package, and a client without policy code never
needs Lark).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeGuard

from .._exceptions import ConfigurationError
from ._domains import Range, parse_datetime, unescape

if TYPE_CHECKING:
    from lark import Token, Tree

    Node = Tree[Token] | Token

__all__ = [
    "Node",
    "datetime_of",
    "datetime_part",
    "error",
    "is_token",
    "is_tree",
    "number",
    "range_of",
    "regex",
    "string",
    "tree",
]


def is_token(node: object) -> TypeGuard[Token]:
    """Lark tokens are str subclasses; trees are not."""
    return isinstance(node, str)


def is_tree(node: object) -> TypeGuard[Tree[Token]]:
    return not isinstance(node, str)


def tree(node: Node) -> Tree[Token]:
    """``node`` as a tree (the grammar decides which children are trees)."""
    if not is_tree(node):  # pragma: no cover - a grammar change would have to put a token here
        raise error(node, f"unexpected {node!s}")
    return node


def error(node: Node, message: str) -> ConfigurationError:
    line = getattr(node, "line", None) or getattr(getattr(node, "meta", None), "line", None)
    where = f" (line {line})" if line else ""
    return ConfigurationError(f"policy: {message}{where}", setting="policy")


def string(token: Node, *, prefix: int = 0) -> str:
    return unescape(str(token)[prefix + 1 : -1], pattern=prefix > 0)


def regex(token: Node, node: Node) -> re.Pattern[str]:
    try:
        return re.compile(string(token, prefix=1))
    except re.error as exc:
        raise error(node, f"invalid regular expression {token!s}: {exc}") from None


def number(node: Node) -> float | int:
    node = tree(node)
    text = str(node.children[0])
    if node.data == "number_int":
        return int(text)
    if node.data == "number_inf":
        return -math.inf if text.startswith("-") else math.inf
    return float(text)


def datetime_of(token: Node, node: Node) -> Any:
    text = str(token)
    moment = parse_datetime(string(token, prefix=1 if text.startswith("d") else 0))
    if moment is None:
        raise error(node, f"invalid datetime {text}")
    return moment


def range_of(node: Node, convert: Callable[[Node], Any]) -> Range:
    node = tree(node)
    kind = str(node.data)
    parts = [convert(c) for c in node.children if not (is_token(c) and c.type.startswith("RANGE"))]
    if kind in ("exact_value", "datetime_exact", "datetime_string", "datetime_epoch"):
        return Range(parts[0], parts[0])
    if kind in ("range_to", "range_to_exclusive", "datetime_to", "datetime_to_exclusive"):
        return Range(None, parts[0], high_open=kind.endswith("exclusive"))
    if kind in ("range_from", "range_from_exclusive", "datetime_from", "datetime_from_exclusive"):
        return Range(parts[0], None, low_open=kind.endswith("exclusive"))
    low_open = kind.endswith(("exclusive_left", "exclusive_both"))
    high_open = kind.endswith(("exclusive_right", "exclusive_both")) or kind == "datetime_range_exclusive"
    return Range(parts[0], parts[1], low_open=low_open, high_open=high_open)


def datetime_part(node: Node) -> Any:
    if is_token(node):
        return datetime_of(node, node)
    moment = parse_datetime(number(node))  # epoch seconds
    if moment is None:
        raise error(node, "invalid epoch timestamp")
    return moment
