"""Run every Python example in ``docs/*.md`` and ``README.md`` (Sybil).

Each page gets its own namespace and its own ``FakeSequrity`` on 127.0.0.1. While a page
runs, ``SEQURITY_API_KEY`` and ``SEQURITY_BASE_URL`` point at that server and every other
variable this package, the OpenAI SDK or the provider-key fallback would read is unset, so
``sq.create_client()`` in an example talks to the fake and nothing else.

Names available to every example: ``fake`` (the page's ``FakeSequrity``), ``sq``
(``sequrity_openai``) and ``installed(*modules)`` (for ``<!-- skip: start if(...) -->``).
Hidden set-up goes in ``<!-- invisible-code-block: python -->`` comments, e.g. to queue the
answer the next visible example receives. At the end of a page ``fake.check()`` fails the
page if a queued answer was never used or a request was rejected unexpectedly.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

ROOT = Path(__file__).parent.resolve()
DOCS = ROOT / "docs"

# Names read by the package (SEQURITY_*), by the stock SDKs (OPENAI_*, ANTHROPIC_*) or by the
# provider-key fallback; a developer's real values must not reach an example.
_PREFIXES = ("SEQURITY_", "OPENAI_", "ANTHROPIC_")
_PROVIDER_KEYS = ("OPENROUTER_API_KEY",)
_SAVED = "__docs_saved_environ__"


def _touched(name: str) -> bool:
    return name.startswith(_PREFIXES) or name in _PROVIDER_KEYS


def installed(*modules: str) -> bool:
    """True when every module can be imported (for optional extras)."""
    return all(importlib.util.find_spec(name) is not None for name in modules)


def _setup(namespace: dict[str, Any]) -> None:
    import sequrity_openai
    from sequrity_openai.testing import FakeSequrity

    saved = {name: value for name, value in os.environ.items() if _touched(name)}
    for name in saved:
        del os.environ[name]
    fake = FakeSequrity().start()
    os.environ.update(fake.environ)
    namespace.update({"fake": fake, "sq": sequrity_openai, "installed": installed, _SAVED: saved})


def _teardown(namespace: dict[str, Any]) -> None:
    fake = namespace["fake"]
    try:
        fake.check()
    finally:
        fake.stop()
        for name in [n for n in os.environ if _touched(n)]:
            del os.environ[name]
        os.environ.update(namespace[_SAVED])


_sybil = Sybil(
    parsers=[PythonCodeBlockParser(), SkipParser()],
    patterns=["docs/*.md", "README.md"],
    setup=_setup,
    teardown=_teardown,
)
_collect = _sybil.pytest()


def _is_doc(path: Path) -> bool:
    # Exactly README.md and docs/*.md: not a README.md inside a virtualenv or a build tree.
    path = path.resolve()
    return path == ROOT / "README.md" or (path.parent == DOCS and path.suffix == ".md")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not _is_doc(file_path):
        return None
    collector: Callable[[Path, pytest.Collector], pytest.Collector | None] = _collect
    return collector(file_path, parent)
