"""Measure what sequrity_openai adds over the stock OpenAI SDK, side by side in one run.

Usage::

    python benchmarks/bench.py                   # full run: writes benchmarks/RESULTS.md and results.png
    python benchmarks/bench.py --quick           # CI smoke run (< 60 s): prints the tables only
    python benchmarks/bench.py --quick --write   # ... and writes the files anyway

A local keep-alive HTTP/1.1 server (``_server.py``) answers every request with a fixed chat
completion from a separate process, holding each answer a fixed time so that every client
waits for it. The variants of a group run in interleaved rounds (a fresh random order each
round), so drift of the machine hits them all alike; ratios are taken per round against the
stock client (a) and then summarised by their median.

Variants: (a) stock ``openai.OpenAI`` with the Sequrity headers set by hand, (b)
``sq.create_client`` with dual-llm features, policy and config, (c) the same inside
``sq.session()``, (d) the official ``sequrity`` client, (e) (b) with
``raw_dual_llm_content=True`` (the guard alone), (f) (e) inside ``sq.session()``. Groups: sync
requests, async requests (64 concurrent), streaming (time to the first chunk, to the first
content, whole stream), import time, client construction, the package's own per-request work
(its HTTP hooks, timed directly), and memory over many requests in one session scope
(tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import importlib
import importlib.metadata
import json
import logging
import os
import platform
import random
import ssl
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import timeit
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _server  # the fixed-answer server, run in its own process; imported for its settings
import openai
import sequrity  # type: ignore[import-untyped]
from sequrity.control import (  # type: ignore[import-untyped]
    ControlConfig,
    FeaturesHeader,
    FineGrainedConfigHeader,
    SecurityPolicyHeader,
)

import sequrity_openai as sq
from sequrity_openai import _hooks

HERE = Path(__file__).resolve().parent
SEQURITY_KEY = "sq-bench-key-0123456789abcdef"
PROVIDER_KEY = "sk-bench-provider-0123456789abcdef"
MODEL = "openai/gpt-5-mini"
MESSAGES: list[Any] = [{"role": "user", "content": "What is the capital of France?"}]
POLICY_CODE = 'tool "send_email" { hard deny when not (to.value in {"trusted@example.com"}); }'
CONCURRENCY = 64
TYPICAL_LLM_CALL_S = 1.0


@dataclass(frozen=True)
class Plan:
    """How much work each group does."""

    sync_rounds: int
    sync_per_round: int
    async_rounds: int
    async_per_worker: int
    stream_rounds: int
    stream_per_round: int
    import_reps: int
    construct_rounds: int
    construct_per_round: int
    memory_requests: int
    memory_window: int
    hook_calls: int
    profiled_requests: int


FULL = Plan(
    sync_rounds=1000,
    sync_per_round=5,
    async_rounds=250,
    async_per_worker=1,
    stream_rounds=100,
    stream_per_round=5,
    import_reps=20,
    construct_rounds=20,
    construct_per_round=20,
    memory_requests=20_000,
    memory_window=1_000,
    hook_calls=20_000,
    profiled_requests=300,
)
QUICK = Plan(
    sync_rounds=40,
    sync_per_round=5,
    async_rounds=6,
    async_per_worker=1,
    stream_rounds=10,
    stream_per_round=4,
    import_reps=2,
    construct_rounds=4,
    construct_per_round=4,
    memory_requests=400,
    memory_window=200,
    hook_calls=2_000,
    profiled_requests=60,
)


# --------------------------------------------------------------------------- statistics


def _p10_p90(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return cuts[0], cuts[-1]


@dataclass
class Variant:
    key: str
    label: str
    values: list[float] = field(default_factory=list)  # wall seconds per operation, one per round
    cpu: list[float] = field(default_factory=list)  # client-process CPU seconds per operation

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> tuple[float, float]:
        return _p10_p90(self.values)


@dataclass
class Group:
    """Variants measured in the same interleaved rounds; the first one is the baseline."""

    key: str
    title: str
    unit: str
    scale: float  # seconds -> unit
    variants: list[Variant]

    @property
    def baseline(self) -> Variant:
        return self.variants[0]

    def variant(self, key: str) -> Variant:
        return next(v for v in self.variants if v.key == key)

    def ratios(self, variant: Variant, *, cpu: bool = False) -> list[float]:
        # Paired per round: both numbers saw the same state of the machine.
        mine, base = (variant.cpu, self.baseline.cpu) if cpu else (variant.values, self.baseline.values)
        return [v / b for v, b in zip(mine, base, strict=True) if b > 0]

    def ratio(self, key: str, *, cpu: bool = False) -> float:
        return statistics.median(self.ratios(self.variant(key), cpu=cpu))

    def ratio_ci(self, key: str) -> tuple[float, float]:
        """95 % bootstrap interval of the median per-round ratio."""
        return _median_ci(self.ratios(self.variant(key)))

    def added(self, key: str, without: str) -> list[float]:
        """Per round, what ``key`` costs over ``without`` as a share of the baseline's time:
        ((key) - (without)) / (a), paired within the round."""
        mine, other, base = self.variant(key).values, self.variant(without).values, self.baseline.values
        return [(m - o) / b for m, o, b in zip(mine, other, base, strict=True) if b > 0]


def _median_ci(values: list[float], resamples: int = 1000) -> tuple[float, float]:
    rng = random.Random(7)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


Sample = float | tuple[float, float]  # wall, or (wall, cpu)


def _settle() -> None:
    # Move everything alive now out of the collector's reach: automatic collections stay cheap
    # and equal for all variants, and no full collection has to run between batches.
    gc.collect()
    gc.freeze()


def _orders(keys: list[str], rounds: int) -> list[list[str]]:
    """A fresh random order per round (fixed seed).

    A rotation (a b c d, b c d a, ...) would always run (a) right after (d): whatever (d)
    leaves behind in the CPU caches would be charged to (a) alone. Random orders give every
    variant every predecessor about equally often.
    """
    rng = random.Random(20240601)
    out = []
    for _ in range(rounds):
        order = list(keys)
        rng.shuffle(order)
        out.append(order)
    return out


def _run_rounds(group: Group, rounds: int, measure: dict[str, Callable[[], Sample]]) -> Group:
    keys = [v.key for v in group.variants]
    for key in keys:  # warm-up: connections, lazy imports, caches
        measure[key]()
    _settle()
    for order in _orders(keys, rounds):
        for key in order:
            sample = measure[key]()
            variant = group.variant(key)
            if isinstance(sample, tuple):
                variant.values.append(sample[0])
                variant.cpu.append(sample[1])
            else:
                variant.values.append(sample)
    return group


def _timed(n: int, run: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


# --------------------------------------------------------------------------- the server


class Server:
    """The fixed-answer server, in its own process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"benchmark server did not start: {line!r}")
        self.root = f"http://127.0.0.1:{int(line.split()[1])}"

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --------------------------------------------------------------------------- clients


@dataclass
class Setup:
    root: str
    features: sq.Features = field(default_factory=sq.Features.dual_llm)
    policy: sq.Policy = field(default_factory=lambda: sq.Policy.dual_llm(codes=POLICY_CODE))
    config: sq.Config = field(default_factory=sq.Config.dual_llm)

    @property
    def route(self) -> str:
        return f"{self.root}/control/chat/v1"

    def hand_headers(self) -> dict[str, str]:
        # Built once, outside any timed path: (a) then runs the pure stock SDK.
        return {
            "X-Api-Key": PROVIDER_KEY,
            "X-Features": self.features.to_header(),
            "X-Policy": self.policy.to_header(),
            "X-Config": self.config.to_header(),
        }

    def stock(self) -> openai.OpenAI:
        return openai.OpenAI(
            api_key=SEQURITY_KEY, base_url=self.route, default_headers=self.hand_headers(), max_retries=0
        )

    def stock_async(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=SEQURITY_KEY, base_url=self.route, default_headers=self.hand_headers(), max_retries=0
        )

    def sq_args(self) -> dict[str, Any]:
        return {
            "api_key": SEQURITY_KEY,
            "llm_api_key": PROVIDER_KEY,
            "base_url": self.root,
            "features": self.features,
            "policy": self.policy,
            "config": self.config,
            "max_retries": 0,
        }

    def adapter(self, *, raw: bool = False) -> openai.OpenAI:
        return sq.create_client(**self.sq_args(), raw_dual_llm_content=raw)

    def adapter_async(self, *, raw: bool = False) -> openai.AsyncOpenAI:
        return sq.create_async_client(**self.sq_args(), raw_dual_llm_content=raw)

    def _control(self) -> ControlConfig:
        return ControlConfig(
            llm_api_key=PROVIDER_KEY,
            features=FeaturesHeader.dual_llm(),
            security_policy=SecurityPolicyHeader.dual_llm(codes=POLICY_CODE),
            fine_grained_config=FineGrainedConfigHeader.dual_llm(),
        )

    def official(self) -> sequrity.SequrityClient:
        return sequrity.SequrityClient(SEQURITY_KEY, base_url=self.root, control=self._control())

    def official_async(self) -> sequrity.AsyncSequrityClient:
        return sequrity.AsyncSequrityClient(SEQURITY_KEY, base_url=self.root, control=self._control())


REQUEST_VARIANTS = [
    ("a", "(a) stock openai.OpenAI, headers by hand"),
    ("b", "(b) sq.create_client, dual-llm"),
    ("c", "(c) sq.create_client in sq.session()"),
    ("d", "(d) official sequrity client"),
    ("e", "(e) sq.create_client, raw_dual_llm_content=True: the guard alone"),
    ("f", "(f) (e) in sq.session()"),
]
# (b) and (c) present the dual-llm value (issue 12) on top of the guard (issue 9); (e) and (f)
# are the same clients keeping the raw document, so the guard's cost and the presentation's
# are each read off one run: (e) / (a) and ((b) - (e)) / (a).


# --------------------------------------------------------------------------- sync requests


def _request_group(key: str, title: str) -> Group:
    """A group of the request variants (a)-(f), in microseconds."""
    return Group(key, title, "us", 1e6, [Variant(k, t) for k, t in REQUEST_VARIANTS])


def bench_sync(setup: Setup, plan: Plan) -> Group:
    stock, adapter, official = setup.stock(), setup.adapter(), setup.official()
    guard_only = setup.adapter(raw=True)
    scope, guard_scope = sq.session(), sq.session()  # one conversation each, kept across rounds
    n = plan.sync_per_round

    def loop(call: Callable[[], object]) -> Callable[[], Sample]:
        def run() -> None:
            for _ in range(n):
                call()

        def measure() -> Sample:
            call()  # untimed: the batch starts warm, whichever variant ran before
            return _timed(n, run)

        return measure

    def in_session(client: openai.OpenAI, scope: sq.Session) -> Callable[[], Sample]:
        def measure() -> Sample:
            with scope:
                return loop(lambda: client.chat.completions.create(model=MODEL, messages=MESSAGES))()

        return measure

    group = _request_group("sync", "Sync chat completion, per request")
    _run_rounds(
        group,
        plan.sync_rounds,
        {
            "a": loop(lambda: stock.chat.completions.create(model=MODEL, messages=MESSAGES)),
            "b": loop(lambda: adapter.chat.completions.create(model=MODEL, messages=MESSAGES)),
            "c": in_session(adapter, scope),
            "d": loop(lambda: official.control.chat.create(messages=MESSAGES, model=MODEL)),
            "e": loop(lambda: guard_only.chat.completions.create(model=MODEL, messages=MESSAGES)),
            "f": in_session(guard_only, guard_scope),
        },
    )
    assert scope.id is not None and guard_scope.id is not None, "a session scope never picked up X-Session-ID"
    for client in (stock, adapter, official, guard_only):
        client.close()
    return group


# --------------------------------------------------------------------------- async requests


def bench_async(setup: Setup, plan: Plan) -> Group:
    labels = [
        ("a", "(a) stock openai.AsyncOpenAI, headers by hand"),
        ("b", "(b) sq.create_async_client, dual-llm"),
        ("c", "(c) ... one sq.session() per task"),
        ("d", "(d) official AsyncSequrityClient"),
        ("e", "(e) sq.create_async_client, raw_dual_llm_content=True: the guard alone"),
        ("f", "(f) (e), one sq.session() per task"),
    ]
    group = Group(
        "async",
        f"Async chat completion, {CONCURRENCY} concurrent, per request",
        "us",
        1e6,
        [Variant(k, t) for k, t in labels],
    )

    async def main() -> None:
        stock, adapter, official = setup.stock_async(), setup.adapter_async(), setup.official_async()
        guard_only = setup.adapter_async(raw=True)
        # One conversation per worker and client, kept across rounds (as a chat server would).
        scopes = {client: [sq.session() for _ in range(CONCURRENCY)] for client in ("c", "f")}
        k = plan.async_per_worker

        async def batch(call: Callable[[], Any], scoped: str | None) -> tuple[float, float]:
            async def worker(i: int) -> None:
                if scoped:
                    async with scopes[scoped][i]:
                        for _ in range(k):
                            await call()
                else:
                    for _ in range(k):
                        await call()

            await call()  # untimed: the batch starts warm, whichever variant ran before
            wall, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
            done = CONCURRENCY * k
            return (time.perf_counter() - wall) / done, (time.process_time() - cpu) / done

        calls: dict[str, tuple[Callable[[], Any], str | None]] = {
            "a": (lambda: stock.chat.completions.create(model=MODEL, messages=MESSAGES), None),
            "b": (lambda: adapter.chat.completions.create(model=MODEL, messages=MESSAGES), None),
            "c": (lambda: adapter.chat.completions.create(model=MODEL, messages=MESSAGES), "c"),
            "d": (lambda: official.control.chat.create(messages=MESSAGES, model=MODEL), None),
            "e": (lambda: guard_only.chat.completions.create(model=MODEL, messages=MESSAGES), None),
            "f": (lambda: guard_only.chat.completions.create(model=MODEL, messages=MESSAGES), "f"),
        }
        keys = [v.key for v in group.variants]
        for key in keys:
            await batch(*calls[key])
        _settle()
        for order in _orders(keys, plan.async_rounds):
            for key in order:
                wall, cpu = await batch(*calls[key])
                group.variant(key).values.append(wall)
                group.variant(key).cpu.append(cpu)
        assert all(s.id is not None for group in scopes.values() for s in group), "a scope never got its id"
        for client in (stock, adapter, official, guard_only):
            await client.close()

    asyncio.run(main())
    return group


# --------------------------------------------------------------------------- streaming


def _has_content(chunk: Any) -> bool:
    choices = getattr(chunk, "choices", None)
    return bool(choices) and bool(getattr(choices[0].delta, "content", None))


def bench_stream(setup: Setup, plan: Plan) -> tuple[Group, Group, Group]:
    stock, adapter, official = setup.stock(), setup.adapter(), setup.official()
    guard_only = setup.adapter(raw=True)
    scope, guard_scope = sq.session(), sq.session()
    first = _request_group("ttfc", "Streaming: time to first chunk")
    # The first chunk with text: what a reader sees first. A presenting client releases the
    # opening chunk (role, empty content) together with it, since a refusal must not open with
    # an empty content; its time to the first chunk is then its time to the first content.
    first_text = _request_group("ttft", "Streaming: time to first content")
    full = _request_group("stream", "Streaming: whole stream (20 chunks)")

    def consume(open_stream: Callable[[], Any]) -> tuple[float, float, float]:
        start = time.perf_counter()
        ttfc = ttft = 0.0
        with open_stream() as stream:
            for i, chunk in enumerate(stream):
                if i == 0:
                    ttfc = time.perf_counter() - start
                if not ttft and _has_content(chunk):
                    ttft = time.perf_counter() - start
        return ttfc, ttft, time.perf_counter() - start

    def with_scope(client: openai.OpenAI, scope: sq.Session) -> Callable[[], tuple[float, float, float]]:
        def run() -> tuple[float, float, float]:
            with scope:
                return consume(
                    lambda: client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
                )

        return run

    runners: dict[str, Callable[[], tuple[float, float, float]]] = {
        "a": lambda: consume(
            lambda: stock.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        ),
        "b": lambda: consume(
            lambda: adapter.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        ),
        "c": with_scope(adapter, scope),
        "d": lambda: consume(
            lambda: official.control.chat.create(messages=MESSAGES, model=MODEL, stream=True)
        ),
        "e": lambda: consume(
            lambda: guard_only.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        ),
        "f": with_scope(guard_only, guard_scope),
    }
    keys = list(runners)
    for key in keys:
        runners[key]()
    _settle()
    for order in _orders(keys, plan.stream_rounds):
        for key in order:
            runners[key]()  # untimed: the batch starts warm, whichever variant ran before
            samples = [runners[key]() for _ in range(plan.stream_per_round)]
            first.variant(key).values.append(statistics.median(s[0] for s in samples))
            first_text.variant(key).values.append(statistics.median(s[1] for s in samples))
            full.variant(key).values.append(statistics.median(s[2] for s in samples))
    for client in (stock, adapter, official, guard_only):
        client.close()
    return first, first_text, full


# --------------------------------------------------------------------------- import time

_TIMED_IMPORT = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"
_IMPORT_VARIANTS = [
    ("a", "import openai", _TIMED_IMPORT.format(mod="openai")),
    ("b", "import sequrity_openai (total)", _TIMED_IMPORT.format(mod="sequrity_openai")),
    (
        "c",
        "import sequrity_openai after openai (increment)",
        "import openai; " + _TIMED_IMPORT.format(mod="sequrity_openai"),
    ),
    ("d", "import sequrity (official, total)", _TIMED_IMPORT.format(mod="sequrity")),
]


# Every package is imported from bytecode, as after `pip install` (which compiles it): run from a
# source checkout with PYTHONDONTWRITEBYTECODE set (or from a read-only tree), this package's
# source would otherwise be compiled on every import while openai loads its .pyc files. The
# bytecode of every module goes to one temporary directory, written by a warm-up import.
_PYCACHE = tempfile.mkdtemp(prefix="bench-pycache-")
_IMPORT_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPYCACHEPREFIX": _PYCACHE,
}


def _run_python(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(HERE),
        env=_IMPORT_ENV,
    )


def _compile_once() -> None:
    _run_python("import openai, sequrity_openai, sequrity")


def bench_import(plan: Plan) -> Group:
    group = Group(
        "import", "Import, fresh interpreter", "ms", 1e3, [Variant(k, t) for k, t, _ in _IMPORT_VARIANTS]
    )

    def timer(code: str) -> Callable[[], Sample]:
        return lambda: float(_run_python(code).stdout.strip())

    _compile_once()
    return _run_rounds(group, plan.import_reps, {k: timer(c) for k, _, c in _IMPORT_VARIANTS})


def import_breakdown(top: int = 8) -> list[tuple[str, float, float]]:
    """Modules ``import sequrity_openai`` loads beyond ``import openai``: (name, self ms, cumulative ms)."""
    _compile_once()
    proc = _run_python("import openai; import sequrity_openai", "-X", "importtime")
    rows: list[tuple[str, float, float]] = []
    seen_openai = False
    for line in proc.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        if not seen_openai:
            seen_openai = parts[2] == "openai"
            continue
        rows.append((parts[2], int(parts[0]) / 1e3, int(parts[1]) / 1e3))
    rows.sort(key=lambda r: -r[1])
    return rows[:top]


# --------------------------------------------------------------------------- construction


def bench_construct(setup: Setup, plan: Plan) -> Group:
    own_ctx = ssl.create_default_context()
    makers: dict[str, Callable[[], Any]] = {
        "a": lambda: openai.OpenAI(api_key=SEQURITY_KEY, base_url=setup.route),
        "b": lambda: sq.create_client(api_key=SEQURITY_KEY, base_url=setup.root),
        "c": lambda: sq.create_client(**setup.sq_args()),
        "d": setup.official,
        "e": lambda: openai.OpenAI(
            api_key=SEQURITY_KEY, base_url=setup.route, http_client=openai.DefaultHttpxClient(verify=own_ctx)
        ),
    }
    labels = [
        ("a", "(a) openai.OpenAI()"),
        ("b", "(b) sq.create_client(), minimal"),
        ("c", "(c) sq.create_client(), dual-llm features/policy/config"),
        ("d", "(d) official SequrityClient()"),
        ("e", "(e) openai.OpenAI(http_client=...) reusing one SSLContext"),
    ]
    group = Group("construct", "Client construction", "ms", 1e3, [Variant(k, t) for k, t in labels])
    n = plan.construct_per_round

    def measure(make: Callable[[], Any]) -> Callable[[], Sample]:
        def run() -> Sample:
            times = []
            for _ in range(n):
                start = time.perf_counter()
                client = make()
                times.append(time.perf_counter() - start)
                client.close()
            return statistics.median(times)

        return run

    return _run_rounds(group, plan.construct_rounds, {k: measure(m) for k, m in makers.items()})


# --------------------------------------------------------------------------- the package's own work


def bench_hooks(setup: Setup, plan: Plan) -> list[tuple[str, float]]:
    """Per-call cost of the HTTP hooks, the only code of the package that runs per request."""
    http = importlib.import_module(openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])
    headers = {"Authorization": f"Bearer {SEQURITY_KEY}", **setup.hand_headers()}
    body = {"model": MODEL, "messages": MESSAGES}
    request = http.Request("POST", f"{setup.route}/chat/completions", headers=headers, json=body)
    sid = "0b6f1c51-8d5e-4c55-9a53-4a1f4bb0a0b1"
    response = http.Response(
        200, headers={"x-session-id": sid, "content-type": "application/json"}, request=request
    )
    scoped_request = http.Request(
        "POST", f"{setup.route}/chat/completions", headers={**headers, "X-Session-ID": sid}, json=body
    )
    scoped_response = http.Response(200, headers={"x-session-id": sid}, request=scoped_request)
    fresh_headers = request.headers.copy()

    # The hooks are methods of the guard a factory attached to its HTTP client.
    client = sq.create_client(api_key=SEQURITY_KEY, base_url=setup.route.split("/control/")[0])
    guard = client._client.event_hooks["request"][0].__self__
    assert isinstance(guard, _hooks.Guard)
    sdk_log = logging.getLogger("openai._base_client")  # what the SDK logs per request

    def scoped_on_request() -> None:
        request.headers = fresh_headers.copy()  # without the header the hook adds
        guard.on_request(request)

    def copy_only() -> None:
        request.headers = fresh_headers.copy()

    def per_call(fn: Callable[[], object]) -> float:
        runs = timeit.repeat(fn, number=plan.hook_calls, repeat=5)
        return min(runs) / plan.hook_calls

    rows = [
        ("on_request, no session scope", per_call(lambda: guard.on_request(request))),
        ("on_response (200), no session scope", per_call(lambda: guard.on_response(response))),
        (
            "an SDK debug log call, DEBUG off, key filter installed",
            per_call(lambda: sdk_log.debug("Request options: %s", headers)),
        ),
    ]
    with sq.session(sid):
        cost = per_call(scoped_on_request) - per_call(copy_only)
        rows.append(("on_request in a scope (adds X-Session-ID)", max(cost, 0.0)))
        rows.append(("on_response (200) in a scope", per_call(lambda: guard.on_response(scoped_response))))
    return rows


@dataclass
class CallDiff:
    label: str
    calls: float  # function calls per request
    extra: list[tuple[str, float]]  # (function, extra calls per request vs (a)), largest first


def bench_calls(setup: Setup, requests: int) -> list[CallDiff]:
    """Function calls per request under cProfile: a deterministic, noise-free comparison."""
    import cProfile
    import pstats

    stock, adapter = setup.stock(), setup.adapter()
    scope = sq.session()

    def profile(run: Callable[[], object]) -> dict[str, int]:
        for _ in range(20):
            run()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(requests):
            run()
        prof.disable()
        stats: dict[Any, Any] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        return {f"{Path(f).name}:{fn}" if f != "~" else fn: v[1] for (f, _, fn), v in stats.items()}

    runs = {
        "a": profile(lambda: stock.chat.completions.create(model=MODEL, messages=MESSAGES)),
        "b": profile(lambda: adapter.chat.completions.create(model=MODEL, messages=MESSAGES)),
    }
    with scope:  # entered once, as a conversation would be
        runs["c"] = profile(lambda: adapter.chat.completions.create(model=MODEL, messages=MESSAGES))
    assert scope.id is not None
    stock.close()
    adapter.close()
    out = []
    for key, label in REQUEST_VARIANTS[:3]:
        counts = runs[key]
        extra = [
            (name, (counts.get(name, 0) - runs["a"].get(name, 0)) / requests)
            for name in set(counts) | set(runs["a"])
            if counts.get(name, 0) != runs["a"].get(name, 0)
        ]
        extra.sort(key=lambda item: (-abs(item[1]), item[0]))
        out.append(CallDiff(label, sum(counts.values()) / requests, extra))
    return out


# --------------------------------------------------------------------------- memory


@dataclass
class MemoryResult:
    label: str
    requests: int
    window: int
    samples: list[tuple[int, int, int]]  # (requests done, traced bytes, bytes allocated in sequrity_openai)
    peak: int

    @property
    def growth(self) -> int:
        return self.samples[-1][1] - self.samples[0][1]

    @property
    def own_growth(self) -> int:
        return self.samples[-1][2] - self.samples[0][2]

    @property
    def per_request(self) -> float:
        done = self.samples[-1][0] - self.samples[0][0]
        return self.growth / done if done else 0.0


_OWN_CODE = tracemalloc.Filter(True, str(Path(sq.__file__).parent / "*"))


def _memory_run(label: str, client: openai.OpenAI, plan: Plan) -> MemoryResult:
    gc.unfreeze()
    for _ in range(200):  # warm caches (validators, the connection, SDK lazies) before tracing
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    gc.collect()
    tracemalloc.start()
    samples: list[tuple[int, int, int]] = []
    done = 0
    while done < plan.memory_requests:
        for _ in range(plan.memory_window):
            client.chat.completions.create(model=MODEL, messages=MESSAGES)
        done += plan.memory_window
        gc.collect()
        own = sum(
            s.size for s in tracemalloc.take_snapshot().filter_traces([_OWN_CODE]).statistics("filename")
        )
        samples.append((done, tracemalloc.get_traced_memory()[0], own))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    client.close()
    return MemoryResult(label, plan.memory_requests, plan.memory_window, samples, peak)


def bench_memory(setup: Setup, plan: Plan) -> tuple[MemoryResult, MemoryResult]:
    with sq.session() as scope:
        ours = _memory_run("(c) sq.create_client in one sq.session()", setup.adapter(), plan)
        assert scope.id is not None
    stock = _memory_run("(a) stock openai.OpenAI, for reference", setup.stock(), plan)
    return ours, stock


# --------------------------------------------------------------------------- report


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=str(HERE), check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    http = openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0]
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    return {
        "CPU": f"{cpu}, {os.cpu_count()} logical cores",
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "openai": f"{openai.__version__} (on {http} {importlib.metadata.version(http)})",
        "sequrity (official)": f"{importlib.metadata.version('sequrity')} (on httpx {importlib.metadata.version('httpx')})",
        "sequrity-openai": f"{sq.__version__} (git {commit})",
        "pydantic": importlib.metadata.version("pydantic"),
        "load average at the end (1, 5, 15 min)": load,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _fmt(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"


def group_table(group: Group) -> str:
    unit = group.unit
    has_cpu = bool(group.baseline.cpu)
    head = f"| variant | median {unit} | p10-p90 {unit} | ratio vs (a) per round: median [p10-p90] | delta vs (a) {unit} |"
    rule = "|---|---:|---:|---:|---:|"
    if has_cpu:
        head += " client CPU ratio vs (a) |"
        rule += "---:|"
    lines = [f"**{group.title}** ({unit}; {len(group.baseline.values)} interleaved rounds)", "", head, rule]
    base = group.baseline.median * group.scale
    for v in group.variants:
        lo, hi = v.spread
        med = v.median * group.scale
        if v is group.baseline:
            cells = ["1 (baseline)", "-"] + (["1"] if has_cpu else [])
        else:
            rlo, rhi = _p10_p90(group.ratios(v))
            cells = [f"{group.ratio(v.key):.3f} [{rlo:.3f}-{rhi:.3f}]", f"{med - base:+,.1f}"]
            if has_cpu:
                cells.append(f"{group.ratio(v.key, cpu=True):.3f}")
        spread = f"{_fmt(lo * group.scale)}-{_fmt(hi * group.scale)}"
        lines.append(f"| {v.label} | {_fmt(med)} | {spread} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    met: bool


_PER_REQUEST = (
    ("sync", "sync"),
    ("async", f"async, {CONCURRENCY} concurrent"),
    ("ttfc", "streaming, time to first chunk"),
    ("ttft", "streaming, time to first content"),
    ("stream", "streaming, whole stream"),
)
_REQUEST_GROUPS = tuple(key for key, _ in _PER_REQUEST)
# Presenting holds the opening chunk until the first content (see bench_stream): its cost to
# a reader is read at the first content, and per chunk over the whole stream.
_PRESENTED = tuple(item for item in _PER_REQUEST if item[0] != "ttfc")


def targets(groups: dict[str, Group], memory: tuple[MemoryResult, MemoryResult]) -> list[Target]:
    ours, stock = memory
    out = []

    def ratio_row(g: Group, key: str, title: str, goal: str, limit: float) -> Target:
        r = g.ratio(key)
        lo, hi = g.ratio_ci(key)
        cpu = f"; client CPU {g.ratio(key, cpu=True):.3f}" if g.baseline.cpu else ""
        return Target(f"{title}: {key} / a", goal, f"{r:.3f} (95 % CI {lo:.3f}-{hi:.3f}{cpu})", r <= limit)

    # Issue 9: the guard alone, with and without a session scope.
    for key, title in _PER_REQUEST:
        for v in ("e", "f"):
            out.append(ratio_row(groups[key], v, f"the guard, {title}", "<= 1.02", 1.02))
    # Issue 12: what presenting the value adds, as a share of the stock client's time.
    for key, title in _PRESENTED:
        g = groups[key]
        for with_it, without in (("b", "e"), ("c", "f")):
            added = g.added(with_it, without)
            share = statistics.median(added)
            lo, hi = _median_ci(added)
            out.append(
                Target(
                    f"presenting the dual-llm value, {title}: ({with_it} - {without}) / a",
                    "<= 2 %",
                    f"{share * 100:+.1f} % (95 % CI {lo * 100:+.1f} to {hi * 100:+.1f} %)",
                    share <= 0.02,
                )
            )
    # Both together: the dual-llm default, against the two budgets added up.
    for key, title in _PRESENTED:
        for v in ("b", "c"):
            out.append(ratio_row(groups[key], v, f"guard and presentation, {title}", "<= 1.04 (both)", 1.04))
    imp = groups["import"]
    base, inc = imp.baseline.median, imp.variant("c").median
    out.append(
        Target(
            "import sequrity_openai, increment over import openai",
            "<= 5 %",
            f"{inc / base * 100:.1f} % ({inc * 1e3:.1f} ms of {base * 1e3:.0f} ms)",
            inc / base <= 0.05,
        )
    )
    # Growth the adapter causes: no live block allocated by the package's code accumulates, and
    # the whole process grows by less than 1 byte per request more than the stock client does
    # (a retained object is at least 16 bytes). The stock client's own slight growth comes from
    # interpreter free lists and caches and is reported next to it.
    extra = (ours.growth - stock.growth) / ours.requests
    out.append(
        Target(
            f"memory growth over {ours.requests:,} requests in one session scope",
            "none attributable to the adapter",
            f"package's own live blocks {ours.own_growth:+,} B; process {ours.growth:+,} B vs stock "
            f"{stock.growth:+,} B ({extra:+.3f} B/request)",
            ours.own_growth <= 0 and extra < 1.0,
        )
    )
    con = groups["construct"]
    for key in ("b", "c"):
        v = con.variant(key)
        out.append(
            Target(
                f"construction, {v.label[4:]}",
                "<= 1 ms median",
                f"{v.median * 1e3:.3f} ms (openai.OpenAI(): {con.baseline.median * 1e3:.1f} ms)",
                v.median <= 1e-3,
            )
        )
    return out


def official_note(groups: dict[str, Group]) -> str:
    lines = [
        "The official client is faster per request on loopback because it does less client-side "
        "work: it skips the OpenAI SDK's request transformation and typed response models and "
        "runs on httpx rather than httpx2. The adapter (b) does exactly the stock SDK's work (a) "
        "plus its hooks (see the call counts above), so the difference below is the price of "
        "the stock SDK, stated in absolute terms:",
        "",
    ]
    for key in _REQUEST_GROUPS:
        g = groups[key]
        a, b, d = g.baseline.median, g.variant("b").median, g.variant("d").median
        lines.append(
            f"- {g.title}: official (d) {d * 1e6:,.0f} us, adapter (b) {b * 1e6:,.0f} us, stock (a) "
            f"{a * 1e6:,.0f} us. (b) - (d) = {(b - d) * 1e6:+,.0f} us, "
            f"{(b - d) / TYPICAL_LLM_CALL_S * 100:+.2f} % of a typical {TYPICAL_LLM_CALL_S:.0f} s LLM call."
        )
    return "\n".join(lines)


def _extra_calls(diff: CallDiff, shown: int = 8) -> str:
    if not diff.extra:
        return "none"
    own = [
        (n, d)
        for n, d in diff.extra
        if n.startswith(("_hooks.py", "_sessions.py", "_presentation", "_first_call.py"))
    ]
    rest = [(n, d) for n, d in diff.extra if (n, d) not in own]
    parts = [f"`{n}` {d:+g}" for n, d in (own + rest)[:shown]]
    if len(diff.extra) > shown:
        parts.append(f"and {len(diff.extra) - shown} more (sum {sum(d for _, d in diff.extra[shown:]):+g})")
    return ", ".join(parts)


def render(
    groups: dict[str, Group],
    hooks: list[tuple[str, float]],
    calls: list[CallDiff],
    memory: tuple[MemoryResult, MemoryResult],
    breakdown: list[tuple[str, float, float]],
    plan: Plan,
    quick: bool,
    elapsed: float,
) -> str:
    ours, stock = memory
    out = ["# Benchmark results", ""]
    out.append(
        f"Produced by `python benchmarks/bench.py{' --quick' if quick else ''}` in {elapsed:.0f} s; all figures "
        "come from that one run. Variants of a group ran in interleaved rounds against a keep-alive "
        "HTTP/1.1 server on 127.0.0.1 in a separate process (`benchmarks/_server.py`), which holds "
        f"every answer {_server.HOLD_SECONDS * 1e6:.0f} us so that every client waits for it. Ratios are "
        "median per-round ratios against (a); p10-p90 show the spread across rounds. See "
        "`benchmarks/README.md` for method and caveats."
    )
    out += ["", "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in machine().items()]
    out += ["", "## Targets", "", "| target | goal | measured | met |", "|---|---|---|---|"]
    out += [
        f"| {t.name} | {t.goal} | {t.measured} | {'yes' if t.met else '**NO**'} |"
        for t in targets(groups, memory)
    ]
    ttfc, ttft = groups["ttfc"], groups["ttft"]
    out += [
        "",
        "The guard (issue 9) is (e) and (f); what presenting adds (issue 12) is read per round as "
        "((b) - (e)) / (a) and ((c) - (f)) / (a). A presenting client holds a stream's opening "
        "chunk (role, empty content) until the first content arrives, since a refusal must not "
        "open with an empty content: its first chunk is its first content, so its presentation "
        "cost to a reader is taken at the first content and over the whole stream. At the first "
        f"chunk, (b) / (a) is {ttfc.ratio('b'):.3f} against {ttft.ratio('b'):.3f} at the first "
        "content: on this server the second event is already there, so the difference is the "
        "SDK reading it, which (a) does right after its first chunk.",
    ]
    out += ["", "![results](results.png)", "", "## Per-request groups", ""]
    for key in _REQUEST_GROUPS:
        out += [group_table(groups[key]), ""]
    out += [
        "## What the package itself does per request",
        "",
        "The only package code on the request path is one request hook and one response hook per "
        "HTTP client (the guard of `_hooks.py`: ambient credentials, redirects, the session scope, "
        "error bodies, and the dual-llm presentation, chosen once per client), a check around "
        "`send` that costs a context variable read once a scope knows its id (`_first_call.py`), "
        "and, for event streams only, one wrapper that searches each chunk for an error event "
        "(keys are redacted in those; in the streaming groups above). A dual-llm JSON answer is rewritten in the "
        "response hook (its value spliced into the body; the groups above measure it, since the "
        "server answers documents). Timed "
        "directly on real request/response objects (best of 5 x "
        f"{plan.hook_calls:,} calls):",
        "",
        "| hook | us per call |",
        "|---|---:|",
    ]
    out += [f"| {name} | {cost * 1e6:.2f} |" for name, cost in hooks]
    total_scoped = sum(c for n, c in hooks if "in a scope" in n)
    total_plain = sum(c for n, c in hooks if "no session" in n)
    base_us = groups["sync"].baseline.median * 1e6
    out += [
        "",
        f"Per request: {total_plain * 1e6:.2f} us without a scope, {total_scoped * 1e6:.2f} us inside "
        f"`sq.session()`, against {base_us:,.0f} us for a stock request on loopback "
        f"({total_plain * 1e6 / base_us * 100:.3f} % and {total_scoped * 1e6 / base_us * 100:.3f} %).",
        "",
        "Function calls per request under cProfile (deterministic; the SDK's own work is identical "
        "in all three, so any difference is the package's):",
        "",
        "| variant | calls per request | extra calls vs (a) |",
        "|---|---:|---|",
        *(f"| {c.label} | {c.calls:,.1f} | {_extra_calls(c)} |" for c in calls),
        "",
        "## Client construction and import",
        "",
        group_table(groups["construct"]),
        "",
        group_table(groups["import"]),
        "",
        "What `import sequrity_openai` loads after `import openai` (`python -X importtime`, one run):",
        "",
        "| module | self ms | cumulative ms |",
        "|---|---:|---:|",
    ]
    out += [f"| `{n}` | {s:.2f} | {c:.2f} |" for n, s, c in breakdown]
    out += ["", "## The official client (d)", "", official_note(groups), ""]
    out += [
        "## Memory",
        "",
        f"{ours.requests:,} requests per client, traced with tracemalloc after a 200-request warm-up; "
        f'traced bytes after `gc.collect()` every {ours.window:,} requests. "own" counts live '
        "blocks allocated by code in `sequrity_openai/`.",
        "",
        "| requests done | (c) traced bytes | (c) own bytes | (a) traced bytes |",
        "|---:|---:|---:|---:|",
    ]
    rows = list(zip(ours.samples, stock.samples, strict=True))
    for (n, b, own), (_, sb, _) in rows if len(rows) <= 8 else rows[:4] + rows[-4:]:
        out.append(f"| {n:,} | {b:,} | {own:,} | {sb:,} |")
    out += [
        "",
        f"First to last window: (c) {ours.growth:+,} B ({ours.per_request:+.4f} B/request, own code "
        f"{ours.own_growth:+,} B, peak {ours.peak:,} B); (a) {stock.growth:+,} B "
        f"({stock.per_request:+.4f} B/request, peak {stock.peak:,} B).",
        "",
        "## Work per group",
        "",
        f"sync: {plan.sync_rounds} rounds x {plan.sync_per_round} requests per variant; async: "
        f"{plan.async_rounds} rounds x {CONCURRENCY} tasks x {plan.async_per_worker} requests; streaming: "
        f"{plan.stream_rounds} rounds x {plan.stream_per_round} streams (median per round); import: "
        f"{plan.import_reps} fresh interpreters per variant; construction: {plan.construct_rounds} rounds "
        f"x {plan.construct_per_round} clients (median per round).",
        "",
    ]
    return "\n".join(out)


def chart(groups: dict[str, Group], memory: tuple[MemoryResult, MemoryResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [*_REQUEST_GROUPS, "construct", "import"]
    fig, axes = plt.subplots(5, 2, figsize=(15, 23))
    colors = {"a": "#7f7f7f", "b": "#1f77b4", "c": "#2ca02c", "d": "#ff7f0e", "e": "#9467bd", "f": "#8c564b"}
    for ax, key in zip(axes.flat, keys, strict=False):
        g = groups[key]
        meds = [v.median * g.scale for v in g.variants]
        low = [m - v.spread[0] * g.scale for m, v in zip(meds, g.variants, strict=True)]
        high = [v.spread[1] * g.scale - m for m, v in zip(meds, g.variants, strict=True)]
        ys = list(range(len(g.variants)))
        ax.barh(ys, meds, xerr=[low, high], color=[colors[v.key] for v in g.variants], capsize=3)
        ax.set_yticks(ys, [textwrap.fill(v.label, 34) for v in g.variants], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{g.title} (median, p10-p90)", fontsize=9)
        ax.set_xlabel(g.unit.replace("us", "µs"))
    ratio_ax = axes.flat[7]
    labels, values, low_err, high_err = [], [], [], []
    for key in _REQUEST_GROUPS:
        g = groups[key]
        for v in g.variants[1:]:
            med = g.ratio(v.key)
            lo, hi = _p10_p90(g.ratios(v))
            labels.append(f"{key} {v.key}")
            values.append(med)
            low_err.append(med - lo)
            high_err.append(hi - med)
    ys = list(range(len(values)))
    ratio_ax.barh(ys, values, xerr=[low_err, high_err], color=[colors[lbl[-1]] for lbl in labels], capsize=2)
    ratio_ax.axvline(1.0, color="black", linewidth=0.8)
    ratio_ax.axvline(1.02, color="red", linestyle="--", linewidth=0.8, label="target 1.02 (the guard: e, f)")
    ratio_ax.set_yticks(ys, labels, fontsize=8)
    ratio_ax.invert_yaxis()
    ratio_ax.set_title("Per-round time ratio vs (a) (median, p10-p90)", fontsize=9)
    ratio_ax.legend(fontsize=8)
    mem_ax = axes.flat[8]
    axes.flat[9].axis("off")
    for result, color in zip(memory, ("#2ca02c", "#7f7f7f"), strict=True):
        mem_ax.plot(
            [n for n, _, _ in result.samples],
            [b / 1024 for _, b, _ in result.samples],
            marker="o",
            color=color,
            label=result.label,
        )
    mem_ax.set_title("tracemalloc: traced memory after gc, per window", fontsize=9)
    mem_ax.set_xlabel("requests")
    mem_ax.set_ylabel("KiB")
    mem_ax.set_ylim(bottom=0)
    mem_ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark sequrity_openai against the stock OpenAI SDK.")
    parser.add_argument(
        "--quick", action="store_true", help="short CI smoke run (< 60 s); prints the tables only"
    )
    parser.add_argument(
        "--write", action="store_true", help="write RESULTS.md and results.png even with --quick"
    )
    parser.add_argument("--out", type=Path, default=HERE, help="directory for RESULTS.md and results.png")
    parser.add_argument("--json", type=Path, help="also dump the raw per-round samples as JSON")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()

    def step(name: str, run: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        result = run()
        print(f"[{name}: {time.perf_counter() - t:.1f} s]", file=sys.stderr, flush=True)
        return result

    server = Server()
    try:
        setup = Setup(server.root)
        groups: dict[str, Group] = {}
        groups["sync"] = step("sync", lambda: bench_sync(setup, plan))
        groups["async"] = step("async", lambda: bench_async(setup, plan))
        groups["ttfc"], groups["ttft"], groups["stream"] = step(
            "streaming", lambda: bench_stream(setup, plan)
        )
        groups["construct"] = step("construction", lambda: bench_construct(setup, plan))
        hooks = step("hooks", lambda: bench_hooks(setup, plan))
        calls = step("call counts", lambda: bench_calls(setup, plan.profiled_requests))
        memory = step("memory", lambda: bench_memory(setup, plan))
    finally:
        server.close()
    groups["import"] = step("import", lambda: bench_import(plan))
    breakdown = import_breakdown()
    report = render(groups, hooks, calls, memory, breakdown, plan, args.quick, time.perf_counter() - started)
    print(report)
    if args.json:
        raw = {k: {v.key: {"wall": v.values, "cpu": v.cpu} for v in g.variants} for k, g in groups.items()}
        mem = {m.label: m.samples for m in memory}
        args.json.write_text(json.dumps({"groups": raw, "hooks": hooks, "memory": mem}, indent=1))
    if args.write or not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "RESULTS.md").write_text(report + "\n")
        chart(groups, memory, args.out / "results.png")
        print(f"wrote {args.out / 'RESULTS.md'} and {args.out / 'results.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
