"""check-policy FILE... [--simulate calls.json] as a function (issues 13 and 14), and the
pytest helpers' module importing without werkzeug."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sequrity_openai._policies._check import grammar_available
from sequrity_openai._policies._simulate import (
    EXIT_INVALID,
    EXIT_MISMATCH,
    EXIT_OK,
    check_policy_files,
    run_check_policy,
)

pytestmark = pytest.mark.skipif(not grammar_available(), reason="needs the [sqrt] extra (official grammar)")

LEAK = r"""let sensitive_docs = {"internal_use", "confidential"};
tool "get_internal_document" -> @tags |= sensitive_docs;
tool "send_email" {
    hard deny when (body.tags overlaps sensitive_docs)
        and (not to.value in {str matching r".*@trustedcorp\.com"});
}
"""

REFUND = """tool "issue_refund" {
    session before { when "attempt3" in @tags { @tags |= {"final_attempt"}; } }
    session before { when "attempt2" in @tags { @tags |= {"attempt3"}; } }
    session before { when "attempt1" in @tags { @tags |= {"attempt2"}; } }
    session before { @tags |= {"attempt1"}; }
    hard allow when "final_attempt" in @session.tags;
}
"""

LEAK_CALLS: list[dict[str, Any]] = [
    {"tool": "get_internal_document", "args": {"doc_id": "DOC1"}, "result": "Q3 numbers"},
    {
        "tool": "send_email",
        "args": {"to": "eve@gmail.com", "body": {"value": "FYI: Q3", "from": "get_internal_document"}},
        "expect": "denied",
    },
    {"tool": "send_email", "args": {"to": "boss@trustedcorp.com", "body": {"from": "get_internal_document"}}},
]


def _write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def test_valid_and_invalid_files(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.sqrt", LEAK)
    bad = _write(tmp_path, "bad.sqrt", 'let x = {"a"};\ntool "send_email" { hard deny; }\n')
    report = check_policy_files([good, bad, tmp_path / "missing.sqrt"])
    assert report.exit_code == EXIT_INVALID
    assert report.lines == [f"{good}: valid SQRT"]
    assert report.errors[0].startswith(f"{bad}: invalid SQRT at line 2, column 30: unexpected character ';'")
    assert report.errors[1:3] == ['    tool "send_email" { hard deny; }', " " * 33 + "^"]
    assert report.errors[3] == f"{tmp_path / 'missing.sqrt'}: cannot read it: No such file or directory"
    assert check_policy_files([good]).exit_code == EXIT_OK


def test_x_policy_json_files_and_cedar(tmp_path: Path) -> None:
    closed = _write(tmp_path, "closed.json", {"codes": {"code": LEAK}, "presets": {"default_allow": False}})
    cedar = _write(tmp_path, "cedar.json", {"codes": {"code": "permit(a, b, c);", "language": "cedar"}})
    typo = _write(tmp_path, "typo.json", {"codes": {"code": LEAK}, "presets": {"default_alow": False}})
    calls = _write(tmp_path, "calls.json", [{"tool": "delete_all", "args": {}}])
    report = check_policy_files([closed, cedar], simulate=calls)
    assert report.lines == [
        f"{closed}: valid SQRT",
        f"{closed}: [1] delete_all: denied by default_allow is false and no rule allowed the call  <-- expected allowed",
        report.lines[2],
        f"{cedar}: cedar policy, not checked",
    ]
    assert report.lines[2].startswith(
        "    Tool call to 'delete_all' is denied by argument checking policies."
    )
    assert report.exit_code == EXIT_MISMATCH
    invalid = check_policy_files([typo])
    assert invalid.exit_code == EXIT_INVALID and "presets.default_alow" in invalid.errors[0]


def test_simulating_the_leaked_document(tmp_path: Path) -> None:
    policy = _write(tmp_path, "leak.sqrt", LEAK)
    report = check_policy_files([policy], simulate=_write(tmp_path, "calls.json", LEAK_CALLS))
    assert report.exit_code == EXIT_OK, report
    assert report.errors == []
    lines = [line.replace(policy, "P") for line in report.lines]
    assert lines[:3] == [
        "P: valid SQRT",
        "P: [1] get_internal_document: allowed",
        '    result: tags ["__non_executable", "confidential", "internal_use"], consumers ["*"], producers []',
    ]
    assert lines[3].startswith("P: [2] send_email: denied by line 4: hard deny when (body.tags overlaps")
    assert "'body': {'value': 'FYI: Q3', 'meta': {'tags': ['__non_executable', 'confidential'" in lines[4]
    assert lines[5:] == ["P: [3] send_email: allowed"]


def test_a_decision_other_than_listed_exits_1(tmp_path: Path) -> None:
    calls = [dict(call) for call in LEAK_CALLS]
    calls[1]["expect"] = "allowed"
    calls[2]["expect"] = "denied"
    report = check_policy_files(
        [_write(tmp_path, "p.sqrt", LEAK)], simulate=_write(tmp_path, "c.json", calls)
    )
    assert report.exit_code == EXIT_MISMATCH
    assert sum("<-- expected" in line for line in report.lines) == 2


def test_session_metadata_flows_from_call_to_call(tmp_path: Path) -> None:
    calls = [{"tool": "issue_refund", "args": {"order_id": "O-1"}, "expect": "denied"}] * 3
    calls.append({"tool": "issue_refund", "args": {"order_id": "O-1"}})
    refund, other = _write(tmp_path, "refund.sqrt", REFUND), _write(tmp_path, "other.sqrt", LEAK)
    report = check_policy_files([refund, other], simulate=_write(tmp_path, "c.json", calls))
    verdicts = [
        line.split("] issue_refund: ")[1].split()[0] for line in report.lines if "] issue_refund: " in line
    ]
    # Each file gets its own checker: the second starts with an empty session.
    assert verdicts == ["denied"] * 3 + ["allowed"] * 5
    assert report.exit_code == EXIT_MISMATCH  # under the other policy the first three are allowed


def test_tagged_arguments_and_results(tmp_path: Path) -> None:
    code = 'tool "send" { hard deny when "pii" in data.tags or "crm" in data.producers; }'
    calls = [
        {"tool": "send", "args": {"data": {"value": "x", "tags": ["pii"]}}, "expect": "denied"},
        {"tool": "lookup", "args": {}, "result": {"value": {"name": "Ann"}, "producers": ["crm"]}},
        {"tool": "send", "args": {"data": {"from": "lookup"}}, "expect": "denied"},
        {"tool": "send", "args": {"data": {"value": {"plain": "dict"}}}},
    ]
    report = check_policy_files(
        [_write(tmp_path, "p.sqrt", code)], simulate=_write(tmp_path, "c.json", calls)
    )
    assert report.exit_code == EXIT_OK, report
    assert any('producers ["crm"]' in line for line in report.lines)


@pytest.mark.parametrize(
    ("calls", "message"),
    [
        ({"tool": "t"}, "expected a JSON list of calls"),
        ([{"tool": "t", "arg": {}}], "call 1: unknown key(s) 'arg'"),
        ([{"tool": ""}], "call 1: 'tool' must be a non-empty tool name"),
        ([{"tool": "t", "args": []}], "call 1: 'args' must map argument names to values"),
        ([{"tool": "t", "expect": "deny"}], "call 1: 'expect' must be 'allowed' or 'denied', got 'deny'"),
        ([{"tool": "t", "args": {"a": {"from": "nothing"}}}], "no earlier allowed call of 'nothing'"),
        ([{"tool": "t", "args": {"a": {"value": 1, "tags": "pii"}}}], "tags: expected a set of names"),
        ("[not json", "invalid JSON"),
    ],
)
def test_a_calls_file_not_understood_exits_2(tmp_path: Path, calls: Any, message: str) -> None:
    report = check_policy_files(
        [_write(tmp_path, "p.sqrt", LEAK)], simulate=_write(tmp_path, "c.json", calls)
    )
    assert report.exit_code == EXIT_INVALID
    assert message in "\n".join(report.errors)


def test_run_check_policy_prints_and_returns_the_exit_code(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.sqrt", LEAK)
    bad = _write(tmp_path, "bad.sqrt", 'tool "t" { soft allow; }')
    out, err = io.StringIO(), io.StringIO()
    code = run_check_policy(
        [good, bad], simulate=_write(tmp_path, "c.json", LEAK_CALLS), stdout=out, stderr=err
    )
    assert code == EXIT_INVALID
    assert out.getvalue().splitlines()[0] == f"{good}: valid SQRT"
    assert "[2] send_email: denied" in out.getvalue()
    assert err.getvalue().startswith(f"{bad}: invalid SQRT at line 1, column 22")
    out, err = io.StringIO(), io.StringIO()
    assert run_check_policy([good], stdout=out, stderr=err) == EXIT_OK
    assert err.getvalue() == ""


def test_policy_helpers_import_without_werkzeug() -> None:
    code = (
        "import sys\n"
        "sys.modules['werkzeug'] = None  # as if the testing extra were not installed\n"
        "from sequrity_openai.testing.policies import assert_allowed, assert_denied\n"
        "import sequrity_openai as sq\n"
        "assert_denied(sq.PolicyChecker('tool \"t\" { hard deny always; }').call('t'), tool='t')\n"
        "print(sorted(m for m in sys.modules if m.startswith('werkzeug') and sys.modules[m] is not None))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
