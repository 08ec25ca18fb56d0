"""SQRT expressions compiled to closures: predicates, set algebra, values and updates.

A policy is compiled once (per text) from the service grammar's parse tree; deciding a call
then only runs closures over an :class:`Env`, which keeps a decision on a 50-rule policy well
under a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ._domains import (
    BoolDomain,
    DatetimeDomain,
    Domain,
    NumberDomain,
    StrDomain,
    parse_datetime,
    wildcard_regex,
)
from ._nodes import (
    datetime_of,
    datetime_part,
    error,
    is_token,
    is_tree,
    number,
    range_of,
    regex,
    string,
    tree,
)
from ._values import Metadata, MetaSet, TaggedValue, combine

if TYPE_CHECKING:
    from lark import Token, Tree

    from ._nodes import Node

__all__ = ["Compiler", "Context", "Env", "Pred", "SetFn", "Update", "initial_result"]


#: Where an expression sits: it decides what ``@tags`` (the context shorthand) refers to.
Context = Literal["check", "result", "session"]


class Env:
    """The state one tool call's rules read and update."""

    __slots__ = ("args", "result", "result_value", "session")

    def __init__(self, args: dict[str, TaggedValue], session: Metadata, result: Metadata) -> None:
        self.args = args
        self.session = session
        #: Before the tool runs: the metadata its result starts with (from the arguments).
        self.result = result
        self.result_value: Any = None

    def arg_meta(self, name: str) -> Metadata:
        arg = self.args.get(name)
        return arg.meta if arg is not None else _PLAIN

    def args_meta(self) -> list[Metadata]:
        return [a.meta for a in self.args.values()]


_PLAIN = Metadata()
Pred = Callable[[Env], bool]
SetFn = Callable[[Env], MetaSet]
ValFn = Callable[[Env], Any]
Update = Callable[[Env], None]
_FIELDS = ("tags", "producers", "consumers")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, datetime) or isinstance(b, datetime):
        left, right = parse_datetime(a), parse_datetime(b)
        return left is not None and left == right
    try:
        return bool(a == b)
    except Exception:  # pragma: no cover - exotic __eq__
        return False


class Compiler:
    """Compiles expression nodes; ``let`` bindings are expanded where they are used."""

    def __init__(self, lets: dict[str, Tree[Token]]) -> None:
        self._lets = lets
        self._active: list[str] = []

    # ------------------------------------------------------------------ lets

    def _let(self, name_token: Node, kind: str, ctx: Context, node: Node) -> Any:
        name = str(name_token)
        body = self._lets.get(name)
        if body is None:
            raise error(node, f"{name!r} is not defined by a let")
        if name in self._active:
            raise error(node, f"let {name!r} refers to itself")
        self._active.append(name)
        try:
            if kind == "pred":
                return self.pred(body, ctx)
            return self.set(body, ctx)
        finally:
            self._active.pop()

    # ------------------------------------------------------------------ predicates

    def pred(self, node: Node, ctx: Context) -> Pred:
        node = tree(node)
        kind = str(node.data)
        ch = node.children
        if kind == "pred_or":
            a, b = self.pred(ch[0], ctx), self.pred(ch[1], ctx)
            return lambda env: a(env) or b(env)
        if kind == "pred_and":
            a, b = self.pred(ch[0], ctx), self.pred(ch[1], ctx)
            return lambda env: a(env) and b(env)
        if kind == "pred_not":
            a = self.pred(ch[0], ctx)
            return lambda env: not a(env)
        if kind in ("pred_ref", "set_ref"):  # `let a = b;` parses either way
            pred: Pred = self._let(ch[0], "pred", ctx, node)
            return pred
        if kind == "value_in_set":
            v, s = self.value(ch[0], ctx), self.set(ch[1], ctx)
            return lambda env: s(env).contains(v(env))
        if kind == "value_equals":
            v, w = self.value(ch[0], ctx), self.value(ch[1], ctx)
            return lambda env: _equal(v(env), w(env))
        if kind.startswith("set_") and kind[4:] in _SET_TESTS:
            test = _SET_TESTS[kind[4:]]
            left = self.set(ch[0], ctx)
            if len(ch) == 1:
                return lambda env: test(left(env), left(env))
            right = self.set(ch[1], ctx)
            return lambda env: test(left(env), right(env))
        raise error(node, f"{kind} is not a predicate")

    # ------------------------------------------------------------------ sets

    def set(self, node: Node, ctx: Context) -> SetFn:
        node = tree(node)
        kind = str(node.data)
        ch = node.children
        if kind in _BINARY:
            op = _BINARY[kind]
            a, b = self.set(ch[0], ctx), self.set(ch[2], ctx)
            return lambda env: op(a(env), b(env))
        if kind in ("set_with", "set_without"):
            a = self.set(ch[0], ctx)
            one = self._literal_set([ch[1]])
            if kind == "set_with":
                return lambda env: a(env) | one
            return lambda env: a(env) - one
        if kind == "empty_set":
            empty = MetaSet()
            return lambda env: empty
        if kind == "non_empty_set":
            fixed = self._literal_set(tree(ch[0]).children)
            return lambda env: fixed
        if kind in ("set_ref", "pred_ref"):
            found: SetFn = self._let(ch[0], "set", ctx, node)
            return found
        if kind in _DOMAINS:
            fixed = MetaSet(patterns=[self.domain(node)])
            return lambda env: fixed
        meta = self.meta(node, ctx)
        field = _FIELDS.index(self._field(node))
        return lambda env: meta(env)[field]

    def _literal_set(self, elements: list[Node]) -> MetaSet:
        items: list[Any] = []
        patterns: list[Domain] = []
        for element in elements:
            assert is_tree(element)
            kind = str(element.data)
            if kind == "string_const":
                items.append(string(element.children[0]))
            elif kind.startswith("number_"):
                items.append(number(element))
            else:
                patterns.append(self.domain(element))
        return MetaSet(items, patterns=patterns)

    def _field(self, node: Node) -> str:
        node = tree(node)
        return next(str(c) for c in node.children if is_token(c) and c.type == "META_FIELD")

    def meta(self, node: Node, ctx: Context) -> Callable[[Env], tuple[MetaSet, MetaSet, MetaSet]]:
        """The metadata an accessor reads, as (tags, producers, consumers)."""
        node = tree(node)
        kind = str(node.data)
        if kind == "arg_meta_access":
            name = str(node.children[0])
            return lambda env: _triple(env.arg_meta(name))
        if kind == "result_meta_access" or (kind == "context_meta_access" and ctx == "result"):
            return lambda env: _triple(env.result)
        if kind in ("session_meta_access", "context_meta_access"):
            return lambda env: _triple(env.session)
        if kind in ("args_meta_access", "aggregation"):
            ops = [c for c in node.children if is_tree(c)]
            intersect = bool(ops) and ops[0].data == "agg_intersect"
            return (
                (lambda env: _intersect_all(env)) if intersect else (lambda env: _triple(combine_union(env)))
            )
        raise error(node, f"{kind} is not a set")

    # ------------------------------------------------------------------ elements and values

    def domain(self, node: Node) -> Domain:
        node = tree(node)
        kind = str(node.data)
        ch = node.children
        if kind == "string_regex":
            return StrDomain(regex=regex(ch[0], node))
        if kind == "string_wildcard":
            return StrDomain(regex=wildcard_regex(string(ch[0], prefix=1)))
        if kind == "bool_domain":
            return BoolDomain(str(ch[0]) == "true")
        if kind in ("int_domain", "float_domain"):
            return NumberDomain(range_of(ch[0], number), integer=kind == "int_domain")
        if kind == "datetime_domain":
            return DatetimeDomain(range_of(ch[0], datetime_part))
        if kind == "str_domain":
            pattern = tree(ch[0])
            length = range_of(tree(ch[1]).children[0], number) if len(ch) > 1 else None
            token = pattern.children[0]
            assert is_token(token)
            if pattern.data == "str_exact":
                return StrDomain(exact=string(token), length=length)
            if pattern.data == "str_matching":
                return StrDomain(regex=regex(token, node), length=length)
            return StrDomain(regex=wildcard_regex(string(token, prefix=1)), length=length)
        raise error(node, f"{kind} is not a set element")

    def value(self, node: Node, ctx: Context) -> ValFn:
        node = tree(node)
        kind = str(node.data)
        ch = node.children
        if kind == "arg_value_access":
            name = str(ch[0])
            return lambda env: a.value if (a := env.args.get(name)) is not None else None
        if kind == "result_value_access":
            return lambda env: env.result_value
        if kind == "session_value_access":  # a session has metadata, no value
            return lambda env: None
        if kind == "literal_string":
            fixed: Any = string(ch[0])
        elif kind == "literal_datetime":
            fixed = datetime_of(ch[0], node)
        elif kind == "literal_number":
            fixed = number(ch[0])
        elif kind == "literal_bool":
            fixed = str(ch[0]) == "true"
        else:
            raise error(node, f"{kind} is not a value")
        return lambda env: fixed

    # ------------------------------------------------------------------ updates

    def update(self, node: Node, ctx: Context) -> Update:
        """``target = set`` or ``target op= set`` (block statements and shorthands)."""
        node = tree(node)
        kind = str(node.data)
        ch = node.children
        target = ch[0]
        if is_token(target):  # shorthand: `@tags op expr`, context by its target
            where, name, field = ("result" if ctx == "result" else "session"), "", str(target)
        else:
            where, name, field = self._target(target, ctx)
        value = self.set(ch[-1], ctx)
        op = _AUGMENTED[str(tree(ch[1]).data)] if kind.endswith("augmented") else None
        index = _FIELDS.index(field)

        def apply(env: Env) -> None:
            if where == "arg":
                current = env.arg_meta(name)
            else:
                current = env.result if where == "result" else env.session
            new = value(env)
            if op is not None:
                new = op(_triple(current)[index], new)
            updated = current.replace(field, new)
            if where == "arg":
                arg = env.args.get(name)
                env.args[name] = TaggedValue._with_meta(arg.value if arg else None, updated)
            elif where == "result":
                env.result = updated
            else:
                env.session = updated

        return apply

    def _target(self, node: Node, ctx: Context) -> tuple[str, str, str]:
        node = tree(node)
        kind = str(node.data)
        field = str(node.children[-1])
        if kind == "context_field":
            return ("result" if ctx == "result" else "session"), "", field
        if kind == "result_field":
            return "result", "", field
        if kind == "session_field":
            return "session", "", field
        return "arg", str(node.children[0]), field


def _triple(meta: Metadata) -> tuple[MetaSet, MetaSet, MetaSet]:
    return meta.tags, meta.producers, meta.consumers


def combine_union(env: Env) -> Metadata:
    """``@args.X`` (union by default): tags, producers and consumers each united."""
    tags, producers, consumers = MetaSet(), MetaSet(), MetaSet()
    for meta in env.args_meta():
        tags, producers, consumers = tags | meta.tags, producers | meta.producers, consumers | meta.consumers
    return Metadata(tags, producers, consumers)


def _intersect_all(env: Env) -> tuple[MetaSet, MetaSet, MetaSet]:
    # The intersection over no arguments is everything (the empty intersection).
    result = [MetaSet(universal=True)] * 3
    for meta in env.args_meta():
        result = [r & m for r, m in zip(result, _triple(meta), strict=True)]
    return result[0], result[1], result[2]


def initial_result(args: dict[str, TaggedValue]) -> Metadata:
    """A result starts with its arguments' metadata, merged by the propagation rules."""
    return combine(a.meta for a in args.values())


_SET_TESTS: dict[str, Callable[[MetaSet, MetaSet], bool]] = {
    "overlaps": MetaSet.overlaps,
    "subset_of": MetaSet.issubset,
    "superset_of": MetaSet.issuperset,
    "equals": MetaSet.same,
    "is_empty": lambda a, _b: a.is_empty,
    "is_universal": lambda a, _b: a.is_universal,
}
_BINARY: dict[str, Callable[[MetaSet, MetaSet], MetaSet]] = {
    "set_binary_union": MetaSet.__or__,
    "set_binary_intersect": MetaSet.__and__,
    "set_binary_minus": MetaSet.__sub__,
    "set_binary_xor": MetaSet.__xor__,
}
_AUGMENTED = {
    "aug_union": MetaSet.__or__,
    "aug_intersect": MetaSet.__and__,
    "aug_minus": MetaSet.__sub__,
    "aug_xor": MetaSet.__xor__,
}
_DOMAINS = ("bool_domain", "int_domain", "float_domain", "str_domain", "datetime_domain")
