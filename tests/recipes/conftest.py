"""Fixtures for the framework recipes (docs/recipes.md), run through each real library.

Every recipe gets a client from ``sq.create_client()`` / ``sq.create_async_client()`` and
hands it to the framework, which must use it and build no client of its own:
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` point at a local "trap" server (``trap``), and any
request that reaches it fails the test. Each test then checks what reached FakeSequrity (see
``_recipes.py``).

The architecture comes from ``SEQURITY_FEATURES`` (the ``arch`` fixture), so the programs are
the same for every architecture: under dual-llm the adapter presents the final value as
``content`` (and a denial as ``refusal``), so every recipe runs unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from recipes._recipes import SQ_KEY
from sequrity_openai.testing import FakeSequrity

ARCHS = ["single-llm", "dual-llm"]


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeSequrity]:
    with FakeSequrity(api_key=SQ_KEY, check_api_key=True) as server:
        yield server


@pytest.fixture(params=ARCHS)
def arch(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake(fake_server: FakeSequrity, arch: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSequrity]:
    fake_server.reset()
    for name, value in fake_server.environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SEQURITY_FEATURES", arch)
    yield fake_server
    fake_server.check()


@pytest.fixture(autouse=True)
def trap(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[HTTPServer]:
    # Where a client that a framework built for itself would go.
    monkeypatch.setenv("OPENAI_BASE_URL", httpserver.url_for("/v1"))
    monkeypatch.setenv("OPENAI_API_BASE", httpserver.url_for("/v1"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-trap")
    yield httpserver
    strays = [f"{r.method} {r.path}" for r, _ in httpserver.log]
    assert not strays, f"requests left for a host other than Sequrity: {strays}"
