"""FakeSequrity applies the request's X-Policy: SQRT syntax, and the scripted tool calls.

- ``check_policy_code``: invalid SQRT in ``X-Policy`` is refused with a 422 whose detail names
  the line and the column (the parser is the service's grammar, as in ``sq.check_policy``).
- ``PolicySessions``: one :class:`sequrity_openai.PolicyChecker` per fake session. Each scripted
  tool call is decided before it is sent: a denied call becomes the service's denial
  document, an allowed one the tool call. The client's tool results get the metadata the
  policy gives them (``decision.result``), and the session metadata carries from call to call
  and turn to turn, as on the service with ``clear_session_meta: "never"``.

Not locked: FakeSequrity calls it under its own lock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .._exceptions import ConfigurationError
from .._headers import Config, Policy, PolicyPresets
from .._policies._check import check_sqrt, grammar_available
from .._policies._checker import PolicyChecker, PolicyDecision
from .._policies._values import Metadata, TaggedValue
from ._policy_args import UnboundResult, bind_arguments
from ._request import Api, Arch, tool_results
from ._route_table import Rejection
from ._script import Answer, DenialAnswer, ToolCall, ToolCallAnswer

__all__ = ["PolicySessions", "check_policy_code"]

#: Status of a request whose X-Policy holds invalid SQRT. The service's documentation names no
#: status for it; 422 is what it (and FakeSequrity) answers for any other invalid header value.
INVALID_POLICY_STATUS = 422


def _sqrt_code(policy: Policy | None) -> str | None:
    """The SQRT code of a policy the fake can check (``None``: Cedar, or no grammar installed)."""
    if policy is None:
        return None
    codes = policy.codes
    if codes is not None and codes.language != "sqrt":
        return None  # Cedar passes through unchecked, as it does in the client
    return codes.code if codes is not None else ""


def check_policy_code(policy: Policy | None) -> None:
    """Refuse SQRT the service's parser refuses: 422, detail naming the line and the column."""
    code = _sqrt_code(policy)
    if not code or not code.strip() or not grammar_available():
        return
    try:
        check_sqrt(code, source="X-Policy")
    except ConfigurationError as exc:
        raise Rejection(INVALID_POLICY_STATUS, str(exc)) from None


def _as_output(text: str) -> Any:
    """A tool result as the policy sees it; the documented wrapper brings its own metadata."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not (isinstance(data, Mapping) and data.get("is_sequrity_var") is True and "value" in data):
        return text
    meta = data.get("meta")
    if data.get("combine_meta") == "ignore" or not isinstance(meta, Mapping):
        return data["value"]
    # "merge" (the default) and "replace" both merge here: merging keeps every tag and producer
    # and narrows consumers, the stricter reading of "replace" (which the checker cannot model).
    try:
        return TaggedValue(
            data["value"],
            tags=meta.get("tags", ()),
            producers=meta.get("producers", ()),
            consumers=meta.get("consumers", ("*",)),
        )
    except ConfigurationError as exc:
        raise Rejection(422, f"tool result: invalid Sequrity metadata wrapper: {exc}") from None


#: An allowed call waiting for its result: the tool, and the decision and checker (``None``
#: when the call went out without a policy).
_Pending = tuple[str, PolicyDecision | None, PolicyChecker | None]


@dataclass
class _Session:
    #: The session metadata as it stands (one source of truth: checkers are built per request).
    meta: Metadata = field(default_factory=Metadata)
    pending: dict[str, _Pending] = field(default_factory=dict)
    #: Results the client sent back, per tool, in order.
    results: dict[str, list[TaggedValue]] = field(default_factory=dict)

    def lookup(self, tool: str, index: int) -> TaggedValue | None:
        found = self.results.get(tool, [])
        try:
            return found[index]
        except IndexError:
            return None


def _effective(policy: Policy, arch: Arch) -> Policy:
    if arch == "dual-llm":
        return policy
    # Single-llm has no program memory: the service ignores enable_non_executable_memory there.
    presets = (policy.presets or PolicyPresets()).model_copy(update={"enable_non_executable_memory": False})
    return policy.model_copy(update={"presets": presets})


def _cannot(what: str, exc: ConfigurationError) -> Rejection:
    return Rejection(
        400,
        f"FakeSequrity cannot decide {what} under this X-Policy: {exc}; script the outcome "
        "with queue_denial() or turn policy decisions off with FakeSequrity(apply_policies=False)",
    )


class PolicySessions:
    """Policy state per fake session: its metadata, the calls sent, the results received."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}

    def clear(self) -> None:
        self._sessions.clear()

    def apply(
        self,
        answer: Answer | None,
        *,
        session_id: str,
        api: Api,
        body: Mapping[str, Any],
        policy: Policy | None,
        arch: Arch,
        config: Config | None,
        new_turn: bool,
        decisions: list[PolicyDecision],
    ) -> Answer | None:
        """The answer to send: the scripted one, or the denial of its first denied tool call."""
        state = self._sessions.setdefault(session_id, _Session())
        fsm = config.fsm if config is not None else None
        if new_turn and fsm is not None and fsm.clear_session_meta in ("every_turn", "every_attempt"):
            # The fake makes one attempt per turn, so both settings clear at a new turn.
            state.meta = Metadata()
        self._receive(state, api, body)
        if not isinstance(answer, ToolCallAnswer):
            return answer
        checker: PolicyChecker | None = None
        if policy is not None and _sqrt_code(policy) is not None and grammar_available():
            # Built only when a call needs deciding, so a policy the checker cannot model
            # (an undefined name, say) fails only the tests that ask it for a decision.
            try:
                checker = PolicyChecker(_effective(policy, arch), session=state.meta)
            except ConfigurationError as exc:
                raise _cannot("the scripted tool calls", exc) from None
        sent: list[ToolCall] = []
        waiting: dict[str, _Pending] = {}
        try:
            for call in answer.calls:
                try:
                    args, text = _arguments(call, state)
                except UnboundResult as exc:
                    raise Rejection(400, f"FakeSequrity script: tool call {call.name!r}: {exc}") from None
                decision = None
                if checker is not None:
                    try:
                        decision = checker.call(call.name, args)
                    except ConfigurationError as exc:
                        raise _cannot(repr(call.name), exc) from None
                    decisions.append(decision)
                    if not decision.allowed:
                        # The program stops at the denied call: no tool call of this step is sent.
                        return DenialAnswer(decision.reason or "", call.name)
                call_id = call.call_id or str(uuid.uuid4())
                sent.append(replace(call, arguments=text, call_id=call_id, args=None))
                waiting[f"tc-{session_id}-{call_id}"] = (call.name, decision, checker)
        finally:
            if checker is not None:  # `session before` updates stand even when a call is denied
                state.meta = checker.session
        state.pending.update(waiting)
        return ToolCallAnswer(tuple(sent))

    def _receive(self, state: _Session, api: Api, body: Mapping[str, Any]) -> None:
        """Tool results sent back for calls this session made get their metadata, once."""
        if not state.pending:
            return
        for call_id, text in tool_results(api, body):
            waiting = state.pending.pop(call_id, None)
            if waiting is None:
                continue
            tool, decision, checker = waiting
            output = _as_output(text)
            if decision is not None and checker is not None:
                try:
                    value = decision.result(output)  # also runs the tool's `session after` updates
                except ConfigurationError as exc:
                    raise _cannot(f"the result of {tool!r}", exc) from None
                state.meta = checker.session
            elif isinstance(output, TaggedValue):
                value = output
            else:
                value = TaggedValue(output)
            state.results.setdefault(tool, []).append(value)


def _arguments(call: ToolCall, state: _Session) -> tuple[dict[str, Any], str]:
    """The call's arguments as the policy sees them, and the JSON text the client receives."""
    if call.args is not None:
        return bind_arguments(call.args, state.lookup)
    try:
        parsed = json.loads(call.arguments)
    except ValueError:
        parsed = None
    # Arguments scripted as text that is not a JSON object reach the policy as no arguments.
    return (dict(parsed) if isinstance(parsed, dict) else {}), call.arguments
