from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from helpers.docs_site import built_site  # noqa: F401 - a fixture, shared by the docs tests
from helpers.live import LIVE_KEY
from helpers.sdks import LOOP, Sdk, sdk_params

SEQURITY_ENV = (
    "SEQURITY_API_KEY",
    "SEQURITY_LLM_API_KEY",
    "SEQURITY_PROVIDER",
    "SEQURITY_ENDPOINT_TYPE",
    "SEQURITY_BASE_URL",
    "SEQURITY_FEATURES",
    "SEQURITY_POLICY",
    "SEQURITY_CONFIG",
    "SEQURITY_RAW_DUAL_LLM_CONTENT",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_CUSTOM_HEADERS",
    "OPENROUTER_API_KEY",
    "ANTHROPIC_API_KEY",
    "SEQURITY_AZURE_API_KEY",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without the variables this package or the SDK would read."""
    for name in SEQURITY_ENV:
        monkeypatch.delenv(name, raising=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if LIVE_KEY:
        return
    skip = pytest.mark.skip(reason="live test: set SEQURITY_API_KEY to run it against the real service")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def fake_sequrity_options() -> dict[str, Any]:
    # The fake's answers must satisfy the SDK's own schemas, not only its lenient parsing.
    return {"client_options": {"_strict_response_validation": True}}


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> Iterator[str]:
    """``"sync"`` or ``"async"``; an async test runs on one event loop (``helpers.sdks.run``)."""
    loop = asyncio.new_event_loop()
    LOOP[:] = [loop]
    yield str(request.param)
    loop.close()


@pytest.fixture(params=sdk_params())
def sdk(request: pytest.FixtureRequest) -> Sdk:
    """Each SDK a factory serves: openai, and anthropic where it is installed."""
    return request.param  # type: ignore[no-any-return]
