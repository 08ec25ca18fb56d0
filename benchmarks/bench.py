"""Measure what sequrity_openai adds over the stock OpenAI SDK, side by side in one run.

Usage::

    python benchmarks/bench.py            # full run, writes benchmarks/RESULTS.md and results.png
    python benchmarks/bench.py --quick    # CI smoke run (< 60 s), prints the table only
    python benchmarks/bench.py --quick --write   # ... and writes the files anyway

A local keep-alive HTTP/1.1 server (``_server.py``) answers every request with a fixed chat
completion from a separate process. The variants of each group run in interleaved rounds
(A, B, C, D, then B, C, D, A, ...), so drift of the machine hits them all alike; ratios are
taken per round against the stock client (a) and then summarised.

Variants: (a) stock ``openai.OpenAI`` with the Sequrity headers set by hand, (b)
``sq.create_client`` with dual-llm features, policy and config, (c) the same inside
``sq.session()``, (d) the official ``sequrity`` client. Groups: sync requests, async requests
(64 concurrent), streaming (time to first chunk, full stream), import time, client
construction, and memory over many requests in one session scope (tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import ssl
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import sequrity
from sequrity.control import ControlConfig, FeaturesHeader, FineGrainedConfigHeader, SecurityPolicyHeader

import sequrity_openai as sq

HERE = Path(__file__).resolve().parent
SEQURITY_KEY = "sq-bench-key-0123456789abcdef"
PROVIDER_KEY = "sk-bench-provider-0123456789abcdef"
MODEL = "openai/gpt-5-mini"
MESSAGES: list[Any] = [{"role": "user", "content": "What is the capital of France?"}]
POLICY_CODE = 'tool "send_email" { hard deny when to.value not in {"trusted@example.com"}; }'
CONCURRENCY = 64


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


FULL = Plan(40, 150, 20, 4, 30, 40, 30, 30, 20, 20_000, 1_000)
QUICK = Plan(8, 25, 4, 1, 6, 8, 5, 6, 4, 2_000, 250)


# --------------------------------------------------------------------------- statistics


def _quantiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return cuts[0], cuts[-1]


@dataclass
class Variant:
    key: str
    label: str
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> tuple[float, float]:
        return _quantiles(self.values)


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

    def ratios(self, variant: Variant) -> list[float]:
        # Paired per round: both numbers saw the same state of the machine.
        return [v / b for v, b in zip(variant.values, self.baseline.values) if b > 0]


# --------------------------------------------------------------------------- the server


class Server:
    """The fixed-answer server in its own process."""

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

    def _sq_args(self) -> dict[str, Any]:
        return {
            "api_key": SEQURITY_KEY,
            "llm_api_key": PROVIDER_KEY,
            "base_url": self.root,
            "features": self.features,
            "policy": self.policy,
            "config": self.config,
            "max_retries": 0,
        }

    def adapter(self) -> openai.OpenAI:
        return sq.create_client(**self._sq_args())

    def adapter_async(self) -> openai.AsyncOpenAI:
        return sq.create_async_client(**self._sq_args())

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


def _interleave(order: list[str], round_no: int) -> list[str]:
    shift = round_no % len(order)
    return order[shift:] + order[:shift]


def _run_rounds(
    group: Group, rounds: int, measure: dict[str, Callable[[], float]], *, warmup: int = 1
) -> Group:
    keys = [v.key for v in group.variants]
    by_key = {v.key: v for v in group.variants}
    for _ in range(warmup):
        for key in keys:
            measure[key]()
    for r in range(rounds):
        for key in _interleave(keys, r):
            gc.collect()
            by_key[key].values.append(measure[key]())
    return group


# --------------------------------------------------------------------------- (a)-(d) sync


def bench_sync(setup: Setup, plan: Plan) -> Group:
    stock, adapter, official = setup.stock(), setup.adapter(), setup.official()
    scope = sq.session()
    n = plan.sync_per_round

    def loop(call: Callable[[], object]) -> float:
        start = time.perf_counter()
        for _ in range(n):
            call()
        return (time.perf_counter() - start) / n

    def in_session() -> float:
        with scope:
            return loop(lambda: adapter.chat.completions.create(model=MODEL, messages=MESSAGES))

    group = Group(
        "sync",
        "Sync chat completion, per request",
        "µs",
        1e6,
        [
            Variant("a", "(a) stock openai.OpenAI, headers by hand"),
            Variant("b", "(b) sq.create_client, dual-llm"),
            Variant("c", "(c) sq.create_client in sq.session()"),
            Variant("d", "(d) official sequrity client"),
        ],
    )
    _run_rounds(
        group,
        plan.sync_rounds,
        {
            "a": lambda: loop(lambda: stock.chat.completions.create(model=MODEL, messages=MESSAGES)),
            "b": lambda: loop(lambda: adapter.chat.completions.create(model=MODEL, messages=MESSAGES)),
            "c": in_session,
            "d": lambda: loop(lambda: official.control.chat.create(messages=MESSAGES, model=MODEL)),
        },
    )
    assert scope.id is not None, "the session scope never picked up X-Session-ID"
    stock.close()
    adapter.close()
    official.close()
    return group


# --------------------------------------------------------------------------- (e) async


def bench_async(setup: Setup, plan: Plan) -> Group:
    group = Group(
        "async",
        f"Async chat completion, {CONCURRENCY} concurrent, per request",
        "µs",
        1e6,
        [
            Variant("a", "(a) stock openai.AsyncOpenAI, headers by hand"),
            Variant("b", "(b) sq.create_async_client, dual-llm"),
            Variant("c", "(c) ... one sq.session() per task"),
            Variant("d", "(d) official AsyncSequrityClient"),
        ],
    )

    async def main() -> None:
        stock, adapter, official = setup.stock_async(), setup.adapter_async(), setup.official_async()
        # One conversation per worker, kept across rounds (as a chat server would).
        scopes = [sq.session() for _ in range(CONCURRENCY)]
        k = plan.async_per_worker

        async def batch(call: Callable[[], Any], scoped: bool) -> float:
            async def worker(i: int) -> None:
                if scoped:
                    async with scopes[i]:
                        for _ in range(k):
                            await call()
                else:
                    for _ in range(k):
                        await call()

            start = time.perf_counter()
            await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
            return (time.perf_counter() - start) / (CONCURRENCY * k)

        calls: dict[str, tuple[Callable[[], Any], bool]] = {
            "a": (lambda: stock.chat.completions.create(model=MODEL, messages=MESSAGES), False),
            "b": (lambda: adapter.chat.completions.create(model=MODEL, messages=MESSAGES), False),
            "c": (lambda: adapter.chat.completions.create(model=MODEL, messages=MESSAGES), True),
            "d": (lambda: official.control.chat.create(messages=MESSAGES, model=MODEL), False),
        }
        keys = [v.key for v in group.variants]
        by_key = {v.key: v for v in group.variants}
        for key in keys:
            await batch(*calls[key])
        for r in range(plan.async_rounds):
            for key in _interleave(keys, r):
                gc.collect()
                by_key[key].values.append(await batch(*calls[key]))
        assert all(s.id is not None for s in scopes), "a task's session scope never picked up its id"
        await stock.close()
        await adapter.close()
        await official.close()

    asyncio.run(main())
    return group


# --------------------------------------------------------------------------- (f) streaming


def bench_stream(setup: Setup, plan: Plan) -> tuple[Group, Group]:
    stock, adapter, official = setup.stock(), setup.adapter(), setup.official()
    scope = sq.session()
    labels = [
        ("a", "(a) stock openai.OpenAI, headers by hand"),
        ("b", "(b) sq.create_client, dual-llm"),
        ("c", "(c) sq.create_client in sq.session()"),
        ("d", "(d) official sequrity client"),
    ]
    first = Group("ttfc", "Streaming: time to first chunk", "µs", 1e6, [Variant(k, t) for k, t in labels])
    full = Group("stream", "Streaming: full stream (20 chunks)", "µs", 1e6, [Variant(k, t) for k, t in labels])

    def openai_stream(client: openai.OpenAI) -> tuple[float, float]:
        start = time.perf_counter()
        ttfc = 0.0
        with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
            for i, _ in enumerate(stream):
                if i == 0:
                    ttfc = time.perf_counter() - start
        return ttfc, time.perf_counter() - start

    def official_stream() -> tuple[float, float]:
        start = time.perf_counter()
        ttfc = 0.0
        with official.control.chat.create(messages=MESSAGES, model=MODEL, stream=True) as stream:
            for i, _ in enumerate(stream):
                if i == 0:
                    ttfc = time.perf_counter() - start
        return ttfc, time.perf_counter() - start

    def in_session() -> tuple[float, float]:
        with scope:
            return openai_stream(adapter)

    runners: dict[str, Callable[[], tuple[float, float]]] = {
        "a": lambda: openai_stream(stock),
        "b": lambda: openai_stream(adapter),
        "c": in_session,
        "d": official_stream,
    }
    keys = [k for k, _ in labels]
    for key in keys:
        runners[key]()
    for r in range(plan.stream_rounds):
        for key in _interleave(keys, r):
            gc.collect()
            samples = [runners[key]() for _ in range(plan.stream_per_round)]
            next(v for v in first.variants if v.key == key).values.append(statistics.median(s[0] for s in samples))
            next(v for v in full.variants if v.key == key).values.append(statistics.median(s[1] for s in samples))
    stock.close()
    adapter.close()
    official.close()
    return first, full


# --------------------------------------------------------------------------- (g) import time

_TIMED_IMPORT = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"
_IMPORT_VARIANTS = [
    ("a", "import openai", _TIMED_IMPORT.format(mod="openai")),
    ("b", "import sequrity_openai (total)", _TIMED_IMPORT.format(mod="sequrity_openai")),
    ("c", "import sequrity_openai after openai (increment)", "import openai; " + _TIMED_IMPORT.format(mod="sequrity_openai")),
    ("d", "import sequrity (official, total)", _TIMED_IMPORT.format(mod="sequrity")),
]


def _run_python(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code], capture_output=True, text=True, check=True, cwd=str(HERE)
    )


def bench_import(plan: Plan) -> Group:
    group = Group("import", "Import, fresh interpreter", "ms", 1e3, [Variant(k, t) for k, t, _ in _IMPORT_VARIANTS])
    codes = {k: c for k, _, c in _IMPORT_VARIANTS}
    _run_rounds(
        group,
        plan.import_reps,
        {k: (lambda c=c: float(_run_python(c).stdout.strip())) for k, c in codes.items()},  # type: ignore[misc]
    )
    return group


def import_breakdown(top: int = 8) -> list[tuple[str, float, float]]:
    """Modules that ``import sequrity_openai`` loads beyond ``import openai``: (name, self ms, cumulative ms)."""
    proc = _run_python("import openai; import sequrity_openai", "-X", "importtime")
    rows: list[tuple[str, float, float]] = []
    seen_openai = False
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line[len("import time:") :].split("|")]
        if not parts[0].isdigit():
            continue
        name = parts[2]
        if not seen_openai:
            seen_openai = name.strip() == "openai"
            continue
        rows.append((name, int(parts[0]) / 1e3, int(parts[1]) / 1e3))
    rows.sort(key=lambda r: -r[1])
    return rows[:top]


# --------------------------------------------------------------------------- (h) construction


def bench_construct(setup: Setup, plan: Plan) -> Group:
    own_ctx = ssl.create_default_context()
    makers: dict[str, Callable[[], Any]] = {
        "a": lambda: openai.OpenAI(api_key=SEQURITY_KEY, base_url=setup.route),
        "b": lambda: sq.create_client(api_key=SEQURITY_KEY, base_url=setup.root),
        "c": lambda: sq.create_client(**setup._sq_args()),
        "d": lambda: setup.official(),
        "e": lambda: openai.OpenAI(
            api_key=SEQURITY_KEY, base_url=setup.route, http_client=openai.DefaultHttpxClient(verify=own_ctx)
        ),
    }
    group = Group(
        "construct",
        "Client construction",
        "ms",
        1e3,
        [
            Variant("a", "(a) openai.OpenAI()"),
            Variant("b", "(b) sq.create_client(), minimal"),
            Variant("c", "(c) sq.create_client(), dual-llm features/policy/config"),
            Variant("d", "(d) official SequrityClient()"),
            Variant("e", "(e) openai.OpenAI(http_client=...) reusing one SSLContext"),
        ],
    )
    n = plan.construct_per_round

    def measure(make: Callable[[], Any]) -> float:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            client = make()
            times.append(time.perf_counter() - start)
            client.close()
        return statistics.median(times)

    return _run_rounds(group, plan.construct_rounds, {k: (lambda m=m: measure(m)) for k, m in makers.items()})  # type: ignore[misc]


# --------------------------------------------------------------------------- memory


@dataclass
class MemoryResult:
    requests: int
    window: int
    samples: list[tuple[int, int]]  # (requests done, traced bytes after gc)
    peak: int

    @property
    def growth(self) -> int:
        return self.samples[-1][1] - self.samples[0][1]

    @property
    def per_request(self) -> float:
        done = self.samples[-1][0] - self.samples[0][0]
        return self.growth / done if done else 0.0


def bench_memory(setup: Setup, plan: Plan) -> MemoryResult:
    client = setup.adapter()
    with sq.session() as scope:
        # Warm caches (pydantic validators, connection, SDK lazies) before tracing starts.
        for _ in range(200):
            client.chat.completions.create(model=MODEL, messages=MESSAGES)
        gc.collect()
        tracemalloc.start()
        samples: list[tuple[int, int]] = []
        done = 0
        while done < plan.memory_requests:
            for _ in range(plan.memory_window):
                client.chat.completions.create(model=MODEL, messages=MESSAGES)
            done += plan.memory_window
            gc.collect()
            samples.append((done, tracemalloc.get_traced_memory()[0]))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert scope.id is not None
    client.close()
    return MemoryResult(plan.memory_requests, plan.memory_window, samples, peak)


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
    return {
        "CPU": f"{cpu}, {os.cpu_count()} logical cores",
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "openai": openai.__version__,
        "HTTP stack of openai": f"{http} {importlib.metadata.version(http)}",
        "sequrity (official)": f"{importlib.metadata.version('sequrity')} (on httpx {importlib.metadata.version('httpx')})",
        "sequrity-openai": f"{sq.__version__} (git {commit})",
        "pydantic": importlib.metadata.version("pydantic"),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def group_table(group: Group) -> str:
    lines = [
        f"**{group.title}** ({group.unit}; median of {len(group.baseline.values)} interleaved rounds)",
        "",
        f"| variant | median {group.unit} | p10–p90 {group.unit} | ratio vs (a), per round: median [p10–p90] "
        f"| Δ vs (a) {group.unit} |",
        "|---|---:|---:|---:|---:|",
    ]
    base = group.baseline.median * group.scale
    for v in group.variants:
        lo, hi = v.spread
        med = v.median * group.scale
        if v is group.baseline:
            ratio = "1 (baseline)"
            delta = "—"
        else:
            rs = group.ratios(v)
            rlo, rhi = _quantiles(rs)
            ratio = f"{statistics.median(rs):.3f} [{rlo:.3f}–{rhi:.3f}]"
            delta = f"{med - base:+,.1f}"
        lines.append(
            f"| {v.label} | {_fmt(med)} | {_fmt(lo * group.scale)}–{_fmt(hi * group.scale)} | {ratio} | {delta} |"
        )
    return "\n".join(lines)


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    met: bool


def targets(groups: dict[str, Group], memory: MemoryResult) -> list[Target]:
    out = []
    for key, title in (("sync", "sync"), ("async", f"async ({CONCURRENCY} concurrent)")):
        g = groups[key]
        for v in g.variants[1:3]:
            r = statistics.median(g.ratios(v))
            out.append(Target(f"per-request ratio {v.key} vs a, {title}", "≤ 1.02", f"{r:.3f}", r <= 1.02))
    imp = groups["import"]
    base = imp.baseline.median
    inc = next(v for v in imp.variants if v.key == "c").median
    share = inc / base
    out.append(
        Target(
            "import sequrity_openai increment over import openai",
            "≤ 10 %",
            f"{share * 100:.1f} % ({inc * 1e3:.1f} ms of {base * 1e3:.0f} ms)",
            share <= 0.10,
        )
    )
    # "No growth": under 1 byte per request between the first and last window, i.e. nothing
    # is retained per request (a leak retains at least one object, tens of bytes).
    out.append(
        Target(
            f"memory growth over {memory.requests:,} requests in one session scope",
            "< 1 B/request",
            f"{memory.growth:+,} B ({memory.per_request:+.3f} B/request)",
            memory.per_request < 1.0,
        )
    )
    con = groups["construct"]
    for key in ("b", "c"):
        v = next(x for x in con.variants if x.key == key)
        out.append(
            Target(
                f"construction, {v.label[4:]}",
                "≤ 1 ms median",
                f"{v.median * 1e3:.3f} ms (openai.OpenAI(): {con.baseline.median * 1e3:.1f} ms)",
                v.median <= 1e-3,
            )
        )
    return out


def official_note(groups: dict[str, Group]) -> str:
    lines = []
    for key in ("sync", "async"):
        g = groups[key]
        a, d = g.baseline.median, next(v for v in g.variants if v.key == "d").median
        b = next(v for v in g.variants if v.key == "b").median
        lines.append(
            f"- {g.title}: the official client takes {d * 1e6:,.0f} µs, the adapter (b) {b * 1e6:,.0f} µs, "
            f"stock (a) {a * 1e6:,.0f} µs; (b) − (d) = {(b - d) * 1e6:+,.0f} µs per request, "
            f"{(b - d) / 1.0 * 100:+.3f} % of a typical 1 s LLM call."
        )
    return "\n".join(lines)


def render(
    groups: dict[str, Group],
    memory: MemoryResult,
    breakdown: list[tuple[str, float, float]],
    plan: Plan,
    quick: bool,
    elapsed: float,
) -> str:
    info = machine()
    out = ["# Benchmark results", ""]
    out.append(
        f"Produced by `python benchmarks/bench.py{' --quick' if quick else ''}` in {elapsed:.0f} s. "
        "All figures come from one run; variants of a group were measured in interleaved rounds."
    )
    out += ["", "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in info.items()]
    out += ["", "## Targets", "", "| target | goal | measured | met |", "|---|---|---|---|"]
    out += [f"| {t.name} | {t.goal} | {t.measured} | {'yes' if t.met else '**NO**'} |" for t in targets(groups, memory)]
    out += ["", "## Figures", "", "![results](results.png)", ""]
    for g in groups.values():
        out += [group_table(g), ""]
    out += ["## The official client (d)", "", official_note(groups), ""]
    out += [
        "## Memory",
        "",
        f"{memory.requests:,} requests through one `sq.create_client` inside one `sq.session()` scope, "
        f"traced with tracemalloc after a 200-request warm-up; traced bytes after `gc.collect()` every "
        f"{memory.window:,} requests. Peak traced: {memory.peak:,} B.",
        "",
        "| requests done | traced bytes |",
        "|---:|---:|",
    ]
    shown = memory.samples if len(memory.samples) <= 6 else memory.samples[:3] + memory.samples[-3:]
    out += [f"| {n:,} | {b:,} |" for n, b in shown]
    out += [
        "",
        f"First window to last window: {memory.growth:+,} B ({memory.per_request:+.4f} B per request).",
        "",
        "## What `import sequrity_openai` adds (python -X importtime, after `import openai`)",
        "",
        "| module | self ms | cumulative ms |",
        "|---|---:|---:|",
    ]
    out += [f"| `{n}` | {s:.2f} | {c:.2f} |" for n, s, c in breakdown]
    out += [
        "",
        "## Work per group",
        "",
        f"sync: {plan.sync_rounds} rounds × {plan.sync_per_round} requests per variant; "
        f"async: {plan.async_rounds} rounds × {CONCURRENCY} tasks × {plan.async_per_worker} requests; "
        f"streaming: {plan.stream_rounds} rounds × {plan.stream_per_round} streams; "
        f"import: {plan.import_reps} fresh interpreters per variant; "
        f"construction: {plan.construct_rounds} rounds × {plan.construct_per_round} clients.",
        "",
    ]
    return "\n".join(out)


def chart(groups: dict[str, Group], memory: MemoryResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ["sync", "async", "ttfc", "stream", "construct", "import"]
    fig, axes = plt.subplots(4, 2, figsize=(13, 15))
    colors = {"a": "#7f7f7f", "b": "#1f77b4", "c": "#2ca02c", "d": "#ff7f0e", "e": "#9467bd"}
    for ax, key in zip(axes.flat, keys):
        g = groups[key]
        meds = [v.median * g.scale for v in g.variants]
        los = [m - v.spread[0] * g.scale for m, v in zip(meds, g.variants)]
        his = [v.spread[1] * g.scale - m for m, v in zip(meds, g.variants)]
        ys = range(len(g.variants))
        ax.barh(ys, meds, xerr=[los, his], color=[colors[v.key] for v in g.variants], capsize=3)
        ax.set_yticks(list(ys), [v.label for v in g.variants], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{g.title} (median, p10–p90)", fontsize=9)
        ax.set_xlabel(g.unit)
    ratio_ax = axes.flat[6]
    labels, values, errs = [], [], []
    for key in ("sync", "async", "ttfc", "stream"):
        g = groups[key]
        for v in g.variants[1:]:
            rs = g.ratios(v)
            med = statistics.median(rs)
            lo, hi = _quantiles(rs)
            labels.append(f"{key} {v.key}")
            values.append(med)
            errs.append((med - lo, hi - med))
    ratio_ax.barh(
        range(len(values)),
        values,
        xerr=[[e[0] for e in errs], [e[1] for e in errs]],
        color=[colors[lbl[-1]] for lbl in labels],
        capsize=2,
    )
    ratio_ax.axvline(1.0, color="black", linewidth=0.8)
    ratio_ax.axvline(1.02, color="red", linestyle="--", linewidth=0.8, label="target 1.02")
    ratio_ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ratio_ax.invert_yaxis()
    ratio_ax.set_xlim(min(0.6, min(values) - 0.05), max(1.1, max(values) + 0.05))
    ratio_ax.set_title("Per-round ratio vs (a) (median, p10–p90)", fontsize=9)
    ratio_ax.legend(fontsize=8)
    mem_ax = axes.flat[7]
    mem_ax.plot([n for n, _ in memory.samples], [b / 1024 for _, b in memory.samples], marker="o")
    mem_ax.set_title(f"Traced memory in one session scope ({memory.requests:,} requests)", fontsize=9)
    mem_ax.set_xlabel("requests")
    mem_ax.set_ylabel("KiB")
    mem_ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short CI smoke run (< 60 s); prints the table only")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md and results.png even with --quick")
    parser.add_argument("--out", type=Path, default=HERE, help="directory for RESULTS.md and results.png")
    parser.add_argument("--json", type=Path, help="also dump the raw samples as JSON")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    server = Server()
    try:
        setup = Setup(server.root)
        groups: dict[str, Group] = {}
        steps: list[tuple[str, Callable[[], None]]] = [
            ("sync", lambda: groups.__setitem__("sync", bench_sync(setup, plan))),
            ("async", lambda: groups.__setitem__("async", bench_async(setup, plan))),
            ("stream", lambda: groups.update(zip(("ttfc", "stream"), bench_stream(setup, plan)))),
            ("construct", lambda: groups.__setitem__("construct", bench_construct(setup, plan))),
            ("import", lambda: groups.__setitem__("import", bench_import(plan))),
        ]
        for name, step in steps:
            t = time.perf_counter()
            step()
            print(f"[{name}: {time.perf_counter() - t:.1f} s]", file=sys.stderr, flush=True)
        t = time.perf_counter()
        memory = bench_memory(setup, plan)
        print(f"[memory: {time.perf_counter() - t:.1f} s]", file=sys.stderr, flush=True)
    finally:
        server.close()
    breakdown = import_breakdown()
    report = render(groups, memory, breakdown, plan, args.quick, time.perf_counter() - started)
    print(report)
    if args.json:
        raw = {k: {v.key: v.values for v in g.variants} for k, g in groups.items()}
        args.json.write_text(json.dumps({"groups": raw, "memory": memory.samples}, indent=1))
    if args.write or not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "RESULTS.md").write_text(report + "\n")
        chart(groups, memory, args.out / "results.png")
        print(f"wrote {args.out / 'RESULTS.md'} and {args.out / 'results.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
