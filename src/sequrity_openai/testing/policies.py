"""pytest helpers for policy decisions (``sq.PolicyChecker``).

``assert_allowed(checker.call("send_email", {...}))`` and
``assert_denied(decision, tool="send_email", match="overlaps")`` fail with the decision's
reason and rule, so a failing policy test says which rule decided. This module imports no
server code (no werkzeug) of its own.
"""

from __future__ import annotations

import re

from .._policies._checker import PolicyDecision

__all__ = ["assert_allowed", "assert_denied"]


def _explain(decision: PolicyDecision) -> str:
    return f"tool={decision.tool!r}, rule={decision.rule!r}, reason={decision.reason!r}"


def assert_allowed(decision: PolicyDecision) -> PolicyDecision:
    """Fail unless the policy allowed the call (or branch); returns the decision."""
    __tracebackhide__ = True
    if not isinstance(decision, PolicyDecision):
        raise TypeError(f"expected a PolicyDecision, got {type(decision).__name__}")
    if not decision.allowed:
        raise AssertionError(
            f"expected the policy to allow the call, but it was denied: {_explain(decision)}"
        )
    return decision


def assert_denied(
    decision: PolicyDecision, *, tool: str | None = None, match: str | None = None
) -> PolicyDecision:
    """Fail unless the policy denied the call; optionally check the tool and search the reason
    and rule for the regular expression ``match``. Returns the decision."""
    __tracebackhide__ = True
    if not isinstance(decision, PolicyDecision):
        raise TypeError(f"expected a PolicyDecision, got {type(decision).__name__}")
    if decision.allowed:
        raise AssertionError(
            f"expected the policy to deny the call, but it was allowed: {_explain(decision)}"
        )
    if tool is not None and decision.tool != tool:
        raise AssertionError(f"expected a denial of {tool!r}, got one of {decision.tool!r}")
    if tool is not None and not (decision.reason or "").startswith(f"Tool call to '{tool}' is denied"):
        raise AssertionError(f"the reason does not name {tool!r}: {decision.reason!r}")
    text = f"{decision.rule or ''}\n{decision.reason or ''}"
    if match is not None and re.search(match, text) is None:
        raise AssertionError(f"{match!r} not found in the denial: {_explain(decision)}")
    return decision
