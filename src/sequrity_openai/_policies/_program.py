"""A SQRT program compiled from the service grammar's parse tree: the rules that apply to a tool.

``compile_sqrt(code)`` is cached per policy text; ``Program.plan(tool)`` is cached per tool
name, so a decision only evaluates the rules of that tool, already in their order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from .._exceptions import ConfigurationError
from ._check import parse_sqrt
from ._domains import unescape
from ._eval import Compiler, Context, Env, Pred, Update
from ._nodes import is_token, is_tree, tree

if TYPE_CHECKING:
    from lark import Token, Tree

__all__ = ["Plan", "Program", "Rule", "compile_sqrt"]


@dataclass(frozen=True)
class Rule:
    """One check rule: ``hard deny when ...;``."""

    hard: bool
    allow: bool
    when: Pred | None  # None: ``always``
    text: str
    line: int
    priority: int
    seq: int

    def fires(self, env: Env) -> bool:
        return self.when is None or self.when(env)

    def describe(self) -> str:
        return f"line {self.line}: {self.text}" if self.line else self.text


@dataclass
class _Tool:
    seq: int
    exact: str | None
    regex: re.Pattern[str] | None
    priority: int = 0
    rules: list[Rule] = field(default_factory=list)
    result: list[Update] = field(default_factory=list)
    before: list[Update] = field(default_factory=list)
    after: list[Update] = field(default_factory=list)

    def matches(self, name: str) -> bool:
        if self.exact is not None:
            return name == self.exact
        assert self.regex is not None
        return self.regex.search(name) is not None


@dataclass(frozen=True)
class Plan:
    """What the policy does for one tool, in evaluation order."""

    hard_deny: tuple[Rule, ...]
    hard_allow: tuple[Rule, ...]
    soft: tuple[Rule, ...]  # highest priority first, then as written
    has_allow: bool
    before: tuple[Update, ...]  # updates: lowest priority first, so the highest has the last word
    result: tuple[Update, ...]
    after: tuple[Update, ...]


class Program:
    """The compiled declarations of one policy text."""

    def __init__(self, tools: list[_Tool]) -> None:
        self._tools = tools
        self._plans: dict[str, Plan] = {}

    def plan(self, tool: str) -> Plan:
        found = self._plans.get(tool)
        if found is None:
            found = self._build(tool)
            if len(self._plans) < 4096:  # tool names come from calls: keep the cache bounded
                self._plans[tool] = found
        return found

    def _build(self, tool: str) -> Plan:
        matching = [t for t in self._tools if t.matches(tool)]
        rules = sorted((r for t in matching for r in t.rules), key=lambda r: (-r.priority, r.seq))
        updates = sorted(matching, key=lambda t: (t.priority, t.seq))
        return Plan(
            hard_deny=tuple(r for r in rules if r.hard and not r.allow),
            hard_allow=tuple(r for r in rules if r.hard and r.allow),
            soft=tuple(r for r in rules if not r.hard),
            has_allow=any(r.allow for r in rules),
            before=tuple(u for t in updates for u in t.before),
            result=tuple(u for t in updates for u in t.result),
            after=tuple(u for t in updates for u in t.after),
        )


def _text(code: str, node: Tree[Token]) -> str:
    meta = node.meta
    if getattr(meta, "empty", True):  # pragma: no cover - propagate_positions always sets them
        return ""
    return " ".join(code[meta.start_pos : meta.end_pos].split())


def _members(node: Tree[Token]) -> list[Tree[Token]]:
    """Children that are not doc comments (``///`` lines only document)."""
    return [c for c in node.children if is_tree(c) and c.data != "doc_comments"]


class _Builder:
    def __init__(self, code: str, parsed: Tree[Token]) -> None:
        self.code = code
        self.seq = 0
        lets: dict[str, Tree[Token]] = {}
        self.decls: list[Tree[Token]] = []
        for decl in parsed.children:
            assert is_tree(decl)
            body = _members(decl)[0]
            if decl.data == "let_declaration":
                name, expression = body.children
                lets[str(name)] = tree(expression)
            else:
                self.decls.append(body)
        self.compiler = Compiler(lets)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def tool(self, id_node: Tree[Token]) -> _Tool:
        token = id_node.children[0]
        assert is_token(token)
        if id_node.data == "tool_id_string":
            return _Tool(self.next_seq(), unescape(str(token)[1:-1], pattern=False), None)
        try:
            regex = re.compile(unescape(str(token)[2:-1], pattern=True))
        except re.error as exc:
            raise ConfigurationError(
                f"policy: invalid tool regex {token} (line {token.line}): {exc}", setting="policy"
            ) from None
        return _Tool(self.next_seq(), None, regex)

    def build(self) -> Program:
        tools = [self.declaration(d) if d.data == "tool_decl" else self.shorthand(d) for d in self.decls]
        return Program(tools)

    def declaration(self, node: Tree[Token]) -> _Tool:
        id_node, *members = node.children
        assert is_tree(id_node)
        tool = self.tool(id_node)
        for member in members:
            assert is_tree(member)
            item = _members(member)[0]
            if member.data == "priority_member":
                tool.priority = int(str(item.children[0]))
            elif member.data == "check_member":
                tool.rules.append(self.rule(item))
            elif member.data == "result_member":
                tool.result.extend(self.block(item.children, "result"))
            else:
                timing, *stmts = item.children
                target = tool.before if tree(timing).data == "timing_before" else tool.after
                target.extend(self.block(stmts, "session"))
        # The priority applies to every rule of the block, wherever `priority N;` stands.
        tool.rules = [Rule(r.hard, r.allow, r.when, r.text, r.line, tool.priority, r.seq) for r in tool.rules]
        return tool

    def rule(self, node: Tree[Token]) -> Rule:
        enforcement, outcome, condition = node.children
        assert is_tree(condition)
        when = (
            None
            if condition.data == "condition_always"
            else self.compiler.pred(condition.children[0], "check")
        )
        return Rule(
            hard=tree(enforcement).data == "enforcement_must",
            allow=tree(outcome).data == "outcome_allow",
            when=when,
            text=_text(self.code, node),
            line=node.meta.line,
            priority=0,
            seq=self.next_seq(),
        )

    def block(self, statements: list[Tree[Token] | Token], ctx: Context) -> list[Update]:
        updates: list[Update] = []
        for stmt in statements:
            assert is_tree(stmt)
            item = _members(stmt)[0]
            if item.data.endswith("_conditional"):
                condition, *inner = item.children
                updates.append(
                    _conditional(
                        self.compiler.pred(condition, ctx),
                        [self.compiler.update(tree(i).children[0], ctx) for i in inner],
                    )
                )
            else:
                updates.append(self.compiler.update(item, ctx))
        return updates

    def shorthand(self, node: Tree[Token]) -> _Tool:
        id_node, *rest = node.children
        assert is_tree(id_node)
        tool = self.tool(id_node)
        body = rest[-1]
        assert is_tree(body)
        if len(rest) == 2:
            tool.priority = int(str(tree(rest[0]).children[0]))
        parts = [c for c in body.children if is_tree(c)]
        target = "shorthand_result"
        if parts[0].data.startswith("shorthand_") and not parts[0].data.startswith("shorthand_update"):
            target = str(parts.pop(0).data)
        ctx: Context = "result" if target == "shorthand_result" else "session"
        update = self.compiler.update(parts[0], ctx)
        if len(parts) > 1:  # `when <predicate>`
            update = _conditional(self.compiler.pred(parts[1].children[0], ctx), [update])
        {"shorthand_result": tool.result, "shorthand_session_before": tool.before}.get(
            target, tool.after
        ).append(update)
        return tool


def _conditional(condition: Pred, updates: list[Update]) -> Update:
    def apply(env: Env) -> None:
        if condition(env):
            for update in updates:
                update(env)

    return apply


@lru_cache(maxsize=128)
def compile_sqrt(code: str) -> Program:
    """Parse (with the service grammar) and compile SQRT code; cached per text."""
    return _Builder(code, parse_sqrt(code)).build()
