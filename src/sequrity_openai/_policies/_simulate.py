"""``sequrity-openai check-policy FILE... [--simulate calls.json]``, as a plain function.

Each FILE is SQRT code, or an X-Policy JSON object (``{"codes": {...}, "presets": {...}}``,
recognised by its leading ``{``). Files are checked with the service's grammar. With
``simulate``, every call of the JSON list is decided by a fresh ``PolicyChecker`` per file, in
order, so session metadata and results flow from one call to the next::

    [{"tool": "get_internal_document", "args": {"doc_id": "DOC1"}, "result": "Q3 numbers"},
     {"tool": "send_email",
      "args": {"to": "eve@gmail.com", "body": {"from": "get_internal_document"}},
      "expect": "denied"}]

An argument (or a ``result``) is a plain JSON value, or an object whose keys are among
``value``, ``tags``, ``producers``, ``consumers`` and ``from`` (with ``value`` or ``from``): a
value with metadata; ``from`` names a tool (or a list of tools) whose latest result the value
is computed from, and whose metadata it inherits. To pass a plain object that looks like this
form, wrap it: ``{"value": {...}}``. ``expect`` (``"allowed"``, the default, or ``"denied"``)
states the outcome a call should have.

Exit codes: 0 every file valid and every call decided as expected; 1 a call decided otherwise;
2 a file that is invalid, unreadable or not understood (the calls file included).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from .._exceptions import ConfigurationError
from .._headers import Policy, coerce
from ._check import check_sqrt
from ._checker import PolicyChecker
from ._values import TaggedValue

__all__ = [
    "EXIT_INVALID",
    "EXIT_MISMATCH",
    "EXIT_OK",
    "PolicyReport",
    "check_policy_files",
    "run_check_policy",
]

EXIT_OK: Final = 0
EXIT_MISMATCH: Final = 1
EXIT_INVALID: Final = 2

_TAGGED_KEYS: Final = frozenset({"value", "tags", "producers", "consumers", "from"})
_CALL_KEYS: Final = frozenset({"tool", "args", "result", "expect"})
_EXPECT: Final = ("allowed", "denied")


@dataclass
class PolicyReport:
    """What ``check-policy`` prints: ``lines`` on stdout, ``errors`` on stderr, and its exit code."""

    exit_code: int = EXIT_OK
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def _fail(self, code: int, message: str) -> None:
        self.exit_code = max(self.exit_code, code)
        self.errors.extend(message.splitlines())


class _CallsError(ValueError):
    """The calls file is not understood; the message names the call and the field."""


@dataclass(frozen=True)
class _Call:
    tool: str
    args: Mapping[str, Any]
    result: Any
    has_result: bool
    expect: str


def _load_policy(path: str) -> Policy:
    """The policy in ``path``, its SQRT checked; ConfigurationError or OSError otherwise."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):  # SQRT never starts with "{": an X-Policy JSON object
        return coerce(Policy, text, path)
    check_sqrt(text, source=path)
    return Policy(codes={"code": text, "language": "sqrt"})  # type: ignore[arg-type]


def _load_calls(path: str) -> list[_Call]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise _CallsError(f"--simulate {path}: cannot read it: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise _CallsError(f"--simulate {path}: invalid JSON: {exc}") from None
    if not isinstance(data, list):
        raise _CallsError(f"--simulate {path}: expected a JSON list of calls")
    calls = []
    for index, item in enumerate(data, 1):
        where = f"--simulate {path}: call {index}"
        if not isinstance(item, dict):
            raise _CallsError(f"{where}: expected an object with 'tool' and 'args'")
        unknown = sorted(set(item) - _CALL_KEYS)
        if unknown:
            raise _CallsError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
        tool, args, expect = item.get("tool"), item.get("args", {}), item.get("expect", "allowed")
        if not isinstance(tool, str) or not tool:
            raise _CallsError(f"{where}: 'tool' must be a non-empty tool name")
        if not isinstance(args, dict):
            raise _CallsError(f"{where}: 'args' must map argument names to values")
        if expect not in _EXPECT:
            raise _CallsError(f"{where}: 'expect' must be 'allowed' or 'denied', got {expect!r}")
        calls.append(_Call(tool, args, item.get("result"), "result" in item, expect))
    return calls


def _is_tagged(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and set(value) <= _TAGGED_KEYS
        and bool({"value", "from"} & set(value))
    )


def _bind(value: Any, results: Mapping[str, list[TaggedValue]], where: str) -> Any:
    """A call's argument (or result) as the checker takes it: plain, or a TaggedValue."""
    if not _is_tagged(value):
        return value
    sources_named = value.get("from", [])
    names = [sources_named] if isinstance(sources_named, str) else sources_named
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _CallsError(f"{where}: 'from' must name a tool or a list of tools")
    sources: list[Any] = []
    for name in names:
        if not results.get(name):
            raise _CallsError(f"{where}: 'from': no earlier allowed call of {name!r} to take a result from")
        sources.append(results[name][-1])
    if "value" in value:
        plain = value["value"]
    elif len(sources) == 1:
        plain = sources[0].value
    else:
        raise _CallsError(f"{where}: give 'value' when 'from' names several tools")
    try:
        own = TaggedValue(
            plain,
            tags=value.get("tags", ()),
            producers=value.get("producers", ()),
            consumers=value.get("consumers", ("*",)),
        )
    except ConfigurationError as exc:
        raise _CallsError(f"{where}: {exc}") from None
    return TaggedValue.derived(plain, own, *sources) if sources else own


def _describe_meta(value: TaggedValue) -> str:
    meta = value.meta.to_dict()
    return ", ".join(f"{key} {json.dumps(names)}" for key, names in meta.items())


def _simulate(label: str, policy: Policy, calls: list[_Call], report: PolicyReport) -> None:
    checker = PolicyChecker(policy)
    results: dict[str, list[TaggedValue]] = {}
    for index, call in enumerate(calls, 1):
        where = f"call {index} ({call.tool})"
        args = {name: _bind(v, results, f"{where}: argument {name!r}") for name, v in call.args.items()}
        decision = checker.call(call.tool, args)
        verdict = "allowed" if decision.allowed else "denied"
        line = f"{label}: [{index}] {call.tool}: {verdict}"
        if decision.rule:
            line += f" by {decision.rule}"
        if verdict != call.expect:
            line += f"  <-- expected {call.expect}"
            report.exit_code = max(report.exit_code, EXIT_MISMATCH)
        report.lines.append(line)
        if not decision.allowed:
            report.lines.append(f"    {decision.reason}")
            continue
        # An allowed call runs: its result (None when not listed) gets the policy's metadata.
        output = _bind(call.result, results, f"{where}: result") if call.has_result else None
        value = decision.result(output)
        results.setdefault(call.tool, []).append(value)
        if call.has_result:
            report.lines.append(f"    result: {_describe_meta(value)}")


def check_policy_files(
    files: Sequence[str | os.PathLike[str]], *, simulate: str | os.PathLike[str] | None = None
) -> PolicyReport:
    """Check each policy file; with ``simulate``, decide the listed calls under each valid one."""
    report = PolicyReport()
    calls: list[_Call] | None = None
    if simulate is not None:
        try:
            calls = _load_calls(os.fspath(simulate))
        except _CallsError as exc:
            report._fail(EXIT_INVALID, str(exc))
    for file in files:
        path = os.fspath(file)
        try:
            policy = _load_policy(path)
        except OSError as exc:
            report._fail(EXIT_INVALID, f"{path}: cannot read it: {exc.strerror or exc}")
            continue
        except ConfigurationError as exc:
            report._fail(EXIT_INVALID, str(exc))
            continue
        if policy.codes is not None and policy.codes.language != "sqrt":
            report.lines.append(f"{path}: {policy.codes.language} policy, not checked")
            continue
        report.lines.append(f"{path}: valid SQRT")
        if calls is None:
            continue
        try:
            _simulate(path, policy, calls, report)
        except (_CallsError, ConfigurationError) as exc:
            report._fail(EXIT_INVALID, f"{path}: --simulate: {exc}")
    return report


def run_check_policy(
    files: Sequence[str | os.PathLike[str]],
    *,
    simulate: str | os.PathLike[str] | None = None,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Print the report of :func:`check_policy_files` and return its exit code (for the CLI)."""
    report = check_policy_files(files, simulate=simulate)
    for line in report.lines:
        print(line, file=stdout)
    for line in report.errors:
        print(line, file=stderr)
    return report.exit_code
