"""Run a function in several threads at once; the first error is raised in the caller."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_threads(target: Callable[[int], Any], count: int) -> None:
    """``target(n)`` for ``n`` in ``range(count)``, each in its own thread, all joined."""
    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            target(n)
        except BaseException as exc:  # re-raised in the calling thread below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
