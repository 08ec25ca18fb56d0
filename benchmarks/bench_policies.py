"""SQRT checking and offline policy decisions: what they cost.

    python benchmarks/bench_policies.py            # prints the table, exits 1 if a target is missed
    python benchmarks/bench_policies.py --runs 15  # more fresh interpreters for the one-time cost

Targets (issues 13 and 14):
- the one-time cost of the first ``sq.check_policy`` in a process (Lark import, grammar load,
  Earley parser build, first parse) is under 100 ms;
- ``sq.create_client()`` without policy code imports neither Lark nor ``sequrity``;
- a decision on a 50-rule policy takes at most 1 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICY = r"""
let sensitive_docs = {"internal_use", "confidential"};
tool "get_internal_document" -> @tags |= sensitive_docs;
tool "send_email" {
    hard deny when (body.tags overlaps sensitive_docs) and (not to.value in {str matching r".*@trustedcorp\.com"});
}
"""

_FIRST_CHECK = r"""
import json, sys, time
import sequrity_openai as sq
t0 = time.perf_counter()
sq.create_client(api_key="k", base_url="http://127.0.0.1:9")
t1 = time.perf_counter()
untouched = not any(m in sys.modules for m in ("lark", "sequrity"))
sq.check_policy(sys.argv[1])
t2 = time.perf_counter()
sq.check_policy(sys.argv[1])
t3 = time.perf_counter()
print(json.dumps({"client_ms": (t1 - t0) * 1e3, "untouched": untouched, "first_ms": (t2 - t1) * 1e3,
                  "cached_us": (t3 - t2) * 1e6, "official_imported": "sequrity" in sys.modules}))
"""


def fifty_rules() -> str:
    """A 50-rule policy on one tool: hard and soft rules with set, value and domain tests."""
    rules = []
    for i in range(50):
        kind = i % 5
        if kind == 0:
            rules.append(f'hard deny when body.tags overlaps {{"secret_{i}", "pii_{i}"}};')
        elif kind == 1:
            rules.append(
                f'hard deny when to.value in {{"blocked_{i}@evil.com", str matching r".*@evil{i}\\.com"}};'
            )
        elif kind == 2:
            rules.append(
                f'soft deny when @args.producers superset of {{"untrusted_{i}"}} and not "ok" in @session.tags;'
            )
        elif kind == 3:
            rules.append(f"soft deny when count.value in {{int {1000 + i}..}};")
        else:
            rules.append(f'hard deny when body.consumers subset of {{"nobody_{i}"}};')
    body = "\n    ".join(rules)
    return f'tool "send_email" {{\n    priority 1;\n    {body}\n}}\ntool r"^send_" -> @tags |= {{"sent"}};\n'


def bench_decision(iterations: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "src"))
    import sequrity_openai as sq

    checker = sq.PolicyChecker(fifty_rules())
    body = sq.TaggedValue("hello", tags={"public"}, producers={"crm"})
    args = {"to": "alice@example.com", "subject": "hi", "body": body, "count": 3}
    decision = checker.call("send_email", args)
    assert decision.allowed, decision.reason
    samples = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        checker.call("send_email", args)
        samples.append(time.perf_counter() - t0)
    with_result = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        checker.call("send_email", args).result("sent")
        with_result.append(time.perf_counter() - t0)
    samples.sort()
    with_result.sort()
    return {
        "decision_median_us": statistics.median(samples) * 1e6,
        "decision_p99_us": samples[int(len(samples) * 0.99)] * 1e6,
        "decision_and_result_median_us": statistics.median(with_result) * 1e6,
    }


def bench_first_check(runs: int) -> dict[str, float | bool]:
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    rows = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _FIRST_CHECK, POLICY], capture_output=True, text=True, env=env, check=True
        )
        rows.append(json.loads(out.stdout))
    first = sorted(r["first_ms"] for r in rows)
    return {
        "first_check_min_ms": first[0],
        "first_check_median_ms": statistics.median(first),
        "first_check_max_ms": first[-1],
        "cached_check_median_us": statistics.median(r["cached_us"] for r in rows),
        "first_client_cold_ms": statistics.median(r["client_ms"] for r in rows),
        "client_imports_nothing": all(r["untouched"] for r in rows),
        "official_client_imported": any(r["official_imported"] for r in rows),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters for the one-time cost")
    parser.add_argument("--iterations", type=int, default=5000, help="decisions timed in-process")
    options = parser.parse_args()
    results: dict[str, float | bool] = {
        **bench_first_check(options.runs),
        **bench_decision(options.iterations),
    }
    for name, value in results.items():
        print(f"{name:34} {value:10.1f}" if isinstance(value, float) else f"{name:34} {value!s:>10}")
    missed = []
    if not results["first_check_median_ms"] < 100:  # type: ignore[operator]
        missed.append("first check >= 100 ms")
    if not results["client_imports_nothing"] or results["official_client_imported"]:
        missed.append("a client without policy code imported Lark or sequrity")
    if not results["decision_median_us"] <= 1000:  # type: ignore[operator]
        missed.append("a decision on 50 rules took more than 1 ms")
    print("targets:", "all met" if not missed else "MISSED: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
