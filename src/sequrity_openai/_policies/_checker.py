"""Offline policy decisions: may this tool call run, and what metadata does its result get?

The semantics are written down, rule by rule, in docs/policy-checker.md. ``decide_call`` is a
pure function of (compiled policy, presets, session metadata, tool, tagged arguments);
``PolicyChecker`` adds the session state that carries from one call to the next.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._exceptions import ConfigurationError, SequrityError
from .._headers import Policy, PolicyPresets, coerce
from ._eval import Env, initial_result
from ._program import Plan, Program, Rule, compile_sqrt
from ._values import Metadata, MetaSet, TaggedValue, combine, meta_of, tag_args

__all__ = [
    "CONTROL_FLOW_VIOLATION",
    "PolicyChecker",
    "PolicyDecision",
    "Presets",
    "decide_call",
    "denial_message",
]

CONTROL_FLOW_VIOLATION = "Control flow violation detected during program execution."
LLM_BLOCKED_TAG = "__llm_blocked"
NON_EXECUTABLE_TAG = "__non_executable"
#: Tools whose arguments reach the quarantined LLM; ``enable_llm_blocked_tag`` guards them.
QLLM_TOOLS = frozenset({"parse_with_ai", "verify_hypothesis"})


def denial_message(tool: str, context: Mapping[str, Any]) -> str:
    """The service's wording for a denied tool call."""
    return f"Tool call to '{tool}' is denied by argument checking policies. Context: {dict(context)!r}"


@dataclass(frozen=True)
class Presets:
    """The X-Policy presets as the checker applies them."""

    default_allow: bool = True
    default_hard: bool = False
    non_executable: bool = True
    llm_blocked: bool = True
    llm_blocked_hard: bool = True
    #: (mode, tags, producers, consumers), or None where the service does not apply it.
    branching: tuple[str, MetaSet, MetaSet, MetaSet] | None = None

    @classmethod
    def of(cls, policy: Policy) -> Presets:
        p = policy.presets or PolicyPresets()
        b = p.branching_meta_policy
        # The service documents branching_meta_policy as taking effect in custom mode; strict
        # mode's extra constraints are undocumented, so it gets at least the same check.
        applies = policy.mode in ("custom", "strict")
        return cls(
            default_allow=p.default_allow,
            default_hard=p.default_allow_enforcement_level == "hard",
            non_executable=p.enable_non_executable_memory,
            llm_blocked=p.enable_llm_blocked_tag,
            llm_blocked_hard=p.llm_blocked_tag_enforcement_level == "hard",
            branching=(b.mode, MetaSet(b.tags), MetaSet(b.producers), MetaSet(b.consumers))
            if applies
            else None,
        )


def _context(args: Mapping[str, TaggedValue], rule: str) -> dict[str, Any]:
    shown = {
        name: {"value": a.value, "meta": a.meta.to_dict(), "value_type": type(a.value).__name__}
        for name, a in args.items()
    }
    return {"args": shown, "rule": rule}


class PolicyDecision:
    """The outcome of one tool call (or branch) under a policy.

    ``allowed``; ``reason`` (the service-style denial message, ``None`` when allowed); ``rule``
    (the rule that decided, when one did); ``args`` (the arguments as the policy saw them).
    """

    __slots__ = ("_finish", "allowed", "args", "reason", "rule", "tool")

    def __init__(
        self,
        *,
        allowed: bool,
        tool: str | None,
        args: Mapping[str, TaggedValue],
        rule: str | None,
        reason: str | None,
        finish: Callable[[Any], TaggedValue] | None = None,
    ) -> None:
        self.allowed = allowed
        self.tool = tool
        self.args = args
        self.rule = rule
        self.reason = reason
        self._finish = finish

    def result(self, output: Any) -> TaggedValue:
        """The tool's output as a TaggedValue with the metadata the policy gives it.

        Runs the tool's ``result`` updates and then its ``session after`` updates (which change
        the checker's session), so call it once per allowed call. A TaggedValue ``output``
        brings its own metadata, merged with the arguments' (the service's ``merge``).
        """
        if not self.allowed:
            raise SequrityError(f"a denied call has no result: {self.reason}")
        if self._finish is None:
            raise SequrityError("result() was already called for this call (or it is not a tool call)")
        finish, self._finish = self._finish, None
        return finish(output)

    def __repr__(self) -> str:
        verdict = "allowed" if self.allowed else "denied"
        return f"<PolicyDecision {verdict} tool={self.tool!r} rule={self.rule!r}>"


def _verdict(plan: Plan, presets: Presets, tool: str, env: Env) -> tuple[bool, str | None]:
    """Allowed?, and the rule that decided (see docs/policy-checker.md, "Deciding a call")."""
    blocked = (
        presets.llm_blocked
        and tool in QLLM_TOOLS
        and any(LLM_BLOCKED_TAG in a.meta.tags for a in env.args.values())
    )
    preset_rule = f"enable_llm_blocked_tag: an argument of {tool} carries {LLM_BLOCKED_TAG!r}"
    if blocked and presets.llm_blocked_hard:
        return False, preset_rule
    for rule in plan.hard_deny:
        if rule.fires(env):
            return False, rule.describe()
    for rule in plan.hard_allow:
        if rule.fires(env):
            return True, rule.describe()
    if not presets.default_allow and presets.default_hard:
        return False, "default_allow is false with enforcement level hard (only a hard allow lifts it)"
    soft: list[Rule | None]
    if blocked:  # soft: overridable only by soft rules of a higher priority
        soft = [r for r in plan.soft if r.priority > 0]
        soft.append(None)
        soft.extend(r for r in plan.soft if r.priority <= 0)
    else:
        soft = list(plan.soft)
    for candidate in soft:
        if candidate is None:
            return False, preset_rule
        if candidate.fires(env):
            return candidate.allow, candidate.describe()
    if plan.has_allow:
        return False, f"no allow rule for {tool} matched the call"
    if presets.default_allow:
        return True, None
    return False, "default_allow is false and no rule allowed the call"


def decide_call(
    program: Program,
    presets: Presets,
    session: Metadata,
    tool: str,
    args: Mapping[str, Any],
    on_session: Callable[[Metadata], None],
) -> PolicyDecision:
    """Decide one call; ``on_session`` receives the session metadata each time it changes.

    ``session before`` updates apply first and stand even when the call is denied.
    """
    tagged = tag_args(args)
    plan = program.plan(tool)
    env = Env(dict(tagged), session, initial_result(tagged))
    for update in plan.before:
        update(env)
    if plan.before:
        on_session(env.session)
    session_seen = env.session
    allowed, rule = _verdict(plan, presets, tool, env)
    if not allowed:
        reason = denial_message(tool, _context(env.args, rule or ""))
        return PolicyDecision(allowed=False, tool=tool, args=env.args, rule=rule, reason=reason)

    def finish(output: Any) -> TaggedValue:
        if isinstance(output, TaggedValue):  # a tool that returns its own metadata: merge
            env.result = combine([env.result, output.meta])
            output = output.value
        env.result_value = output
        for update in plan.result:
            update(env)
        if presets.non_executable:  # added last: a policy cannot strip it
            env.result = env.result.replace("tags", env.result.tags | MetaSet([NON_EXECUTABLE_TAG]))
        for update in plan.after:
            update(env)
        if env.session is not session_seen:  # session after, or a result block's @session update
            on_session(env.session)
        return TaggedValue._with_meta(output, env.result)

    return PolicyDecision(allowed=True, tool=tool, args=env.args, rule=rule, reason=None, finish=finish)


def _policy(policy: Policy | Mapping[str, Any] | str) -> Policy:
    if isinstance(policy, str):
        return Policy(codes={"code": policy, "language": "sqrt"})  # type: ignore[arg-type]
    if isinstance(policy, (Policy, Mapping)):
        return coerce(Policy, policy, "PolicyChecker(policy)")
    raise ConfigurationError(
        f"PolicyChecker(policy): expected sq.Policy, a dict or SQRT text, got {type(policy).__name__}",
        setting="policy",
    )


class PolicyChecker:
    """Decide tool calls offline the way Sequrity Control does, from an X-Policy.

    ``PolicyChecker(policy)`` takes a :class:`sequrity_openai.Policy`, its dict, or SQRT text
    (with the default presets). Invalid SQRT raises :class:`sequrity_openai.ConfigurationError`;
    so does a Cedar policy, which the checker does not model.
    """

    def __init__(self, policy: Policy | Mapping[str, Any] | str, *, session: Metadata | None = None) -> None:
        model = _policy(policy)
        codes = model.codes
        if codes is not None and codes.language != "sqrt":
            raise ConfigurationError(
                "PolicyChecker models SQRT policies only; Cedar policies are sent unchecked",
                setting="policy",
            )
        self.policy = model
        self._program = compile_sqrt(codes.code if codes else "")
        self._presets = Presets.of(model)
        self._session = session if session is not None else Metadata()

    @property
    def session(self) -> Metadata:
        """The session's metadata (tags, producers, consumers) as it stands."""
        return self._session

    def _set_session(self, meta: Metadata) -> None:
        self._session = meta

    def call(self, tool: str, args: Mapping[str, Any] | None = None) -> PolicyDecision:
        """Decide a call of ``tool`` with ``args`` (plain values or TaggedValues)."""
        if not isinstance(tool, str) or not tool:
            raise ConfigurationError("PolicyChecker.call: tool must be a non-empty tool name", setting="tool")
        if args is None:
            args = {}
        if not isinstance(args, Mapping) or not all(isinstance(k, str) for k in args):
            raise ConfigurationError(
                "PolicyChecker.call: args must map argument names to values", setting="args"
            )
        return decide_call(self._program, self._presets, self._session, tool, args, self._set_session)

    def branch(self, value: Any) -> PolicyDecision:
        """May the program branch (``if``/``while``) on ``value``? (``branching_meta_policy``)."""
        meta = meta_of(value)
        args = tag_args({"condition": value})
        if self._presets.branching is not None:
            mode, tags, producers, consumers = self._presets.branching
            pairs = ((meta.tags, tags), (meta.producers, producers), (meta.consumers, consumers))
            if mode == "deny":
                denied = any(mine.overlaps(listed) for mine, listed in pairs)
            else:
                denied = not all(mine.issubset(listed) for mine, listed in pairs)
            if denied:
                rule = f"branching_meta_policy (mode {mode!r})"
                return PolicyDecision(
                    allowed=False, tool=None, args=args, rule=rule, reason=CONTROL_FLOW_VIOLATION
                )
        return PolicyDecision(allowed=True, tool=None, args=args, rule=None, reason=None)
