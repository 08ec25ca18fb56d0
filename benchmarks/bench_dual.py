"""What presenting dual-llm answers and the first-call gate cost, against the stock client.

Run ``python benchmarks/bench_dual.py`` (``--quick`` for a smoke run). One interleaved run
(variants rotated each round, ratios taken per round against the stock client of the same
round, median reported) over the fixed-answer server of ``_server.py``, whose answers are
dual-llm documents:

- per request: a non-streamed chat completion through (a) the stock ``openai.OpenAI`` with the
  Sequrity headers set by hand, (b) ``sq.create_client`` presenting the value, (c) the same
  with ``raw_dual_llm_content=True`` (no presentation);
- per streamed chunk: a 20-chunk stream, plain words and the document in pieces, same variants;
- the first-call gate once the scope knows its id: the wrapped ``send`` against the bare one.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import Server, Setup  # type: ignore[import-not-found]

import sequrity_openai as sq
from sequrity_openai import _first_call

ASK = [{"role": "user", "content": "capital of France?"}]
DOC_STREAM = [{"role": "user", "content": "capital of France? [document-stream]"}]


def interleaved(
    variants: dict[str, Callable[[], None]], *, rounds: int, batch: int
) -> dict[str, list[float]]:
    """Per-round seconds per call for each variant, in rotating order."""
    keys = list(variants)
    times: dict[str, list[float]] = {k: [] for k in keys}
    for fn in variants.values():  # warm-up
        for _ in range(batch // 4 + 1):
            fn()
    for r in range(rounds):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            gc.collect()
            start = time.perf_counter()
            for _ in range(batch):
                variants[key]()
            times[key].append((time.perf_counter() - start) / batch)
    return times


def report(title: str, times: dict[str, list[float]], per: int = 1) -> None:
    base = times["stock"]
    print(f"\n{title}")
    print(f"{'variant':<28}{'median us':>12}{'vs stock':>12}")
    for key, values in times.items():
        ratios = [v / b for v, b in zip(values, base, strict=True)]
        print(f"{key:<28}{statistics.median(values) / per * 1e6:>12.1f}{statistics.median(ratios):>11.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, batch = (6, 50) if args.quick else (30, 200)
    server = Server()
    try:
        setup = Setup(server.root)
        stock = setup.stock()
        presented = sq.create_client(**setup.sq_args())
        raw = sq.create_client(**setup.sq_args(), raw_dual_llm_content=True)
        assert (
            presented.chat.completions.create(model="m", messages=ASK).choices[0].message.content == "Paris"
        )

        def call(client: openai.OpenAI) -> Callable[[], None]:
            return lambda: client.chat.completions.create(model="m", messages=ASK) and None

        def stream(client: openai.OpenAI, messages: list[dict[str, str]]) -> Callable[[], None]:
            def run() -> None:
                for _ in client.chat.completions.create(model="m", messages=messages, stream=True):  # type: ignore[arg-type]
                    pass

            return run

        clients = {"stock": stock, "sq presenting": presented, "sq raw_dual_llm_content": raw}
        report(
            "non-streamed chat completion (dual-llm document), per request",
            interleaved({k: call(c) for k, c in clients.items()}, rounds=rounds, batch=batch),
        )
        for label, messages in (("plain words", ASK), ("dual-llm document", DOC_STREAM)):
            report(
                f"20-chunk stream ({label}), per chunk",
                interleaved(
                    {k: stream(c, messages) for k, c in clients.items()}, rounds=rounds, batch=batch // 2
                ),
                per=20,
            )

        # The gate's fast path once the scope knows its id, against the bare send.
        request = stock._client.build_request("POST", setup.route + "/chat/completions", content=b"{}")
        bare = lambda request, **kwargs: None  # noqa: E731
        gated = _first_call._gated_sync(bare)
        n = 200_000
        with sq.session(session_id="00000000-0000-0000-0000-000000000000"):
            t_bare = min(_loop(bare, request, n) for _ in range(5))
            t_gated = min(_loop(gated, request, n) for _ in range(5))
        print(f"\nfirst-call gate, scope id known: {(t_gated - t_bare) / n * 1e9:.0f} ns per request")
    finally:
        server.close()


def _loop(send: Callable[..., object], request: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        send(request)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
