"""pytest plugin (registered through the ``pytest11`` entry point): FakeSequrity fixtures.

- ``fake_sequrity``: a running :class:`~sequrity_openai.testing.FakeSequrity`, reset before each
  test and checked after it (a scripted answer never used, or an unexpected rejection, fails
  the test at teardown). One server serves the whole test session.
- ``sequrity_client`` / ``async_sequrity_client``: factory-made clients pointed at it.
- ``fake_sequrity_options``: keyword arguments of that server (session scope); override it in
  a ``conftest.py`` to configure the server and the clients it makes.
- ``sequrity_env``: sets ``SEQURITY_API_KEY`` and ``SEQURITY_BASE_URL`` so that code calling
  ``sq.create_client()`` without arguments talks to the fake.

This module imports nothing of werkzeug (nor of ``sequrity_openai``) until a fixture is used,
so installing the package without the ``testing`` extra leaves other test suites untouched;
a test that asks for a fake server then fails with the command that installs the extra.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import openai

    from sequrity_openai.testing import FakeSequrity

try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - without pytest-asyncio, leave async fixtures to the user's runner
    _async_fixture = pytest.fixture  # type: ignore[assignment]


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture(scope="session")
def fake_sequrity_options() -> dict[str, Any]:
    """Keyword arguments for the session's ``FakeSequrity``; override it in a ``conftest.py``.

    As pytest-httpserver's ``httpserver_listen_address``: e.g. return
    ``{"check_api_key": True}``, or ``{"client_options": {"max_retries": 0}}`` for the clients
    that ``fake.client()``, ``sequrity_client`` and ``async_sequrity_client`` make.
    """
    return {}


@pytest.fixture(scope="session")
def _sequrity_fake_server(fake_sequrity_options: dict[str, Any]) -> Iterator[FakeSequrity]:
    from sequrity_openai._extras import MissingDependencyError

    try:
        from sequrity_openai.testing import FakeSequrity
    except MissingDependencyError as exc:
        missing = str(exc)
    else:
        missing = ""
    if missing:  # failed outside the except block, so pytest shows one line, not a chain
        pytest.fail(missing, pytrace=False)
    with FakeSequrity(**fake_sequrity_options) as fake:
        yield fake


@pytest.fixture
def fake_sequrity(
    _sequrity_fake_server: FakeSequrity, request: pytest.FixtureRequest
) -> Iterator[FakeSequrity]:
    """A running FakeSequrity with a clean script, no records and no sessions."""
    fake = _sequrity_fake_server
    fake.reset()
    fake.start()  # in case an earlier test stopped the shared server
    yield fake
    try:
        # A test that already failed says enough; leftovers of it would only add noise.
        if not request.node.stash.get(_CALL_FAILED, False):
            fake.check()
    finally:
        fake.reset()


@pytest.fixture
def sequrity_client(fake_sequrity: FakeSequrity) -> Iterator[openai.OpenAI]:
    """``sq.create_client()`` pointed at ``fake_sequrity``; closed after the test."""
    client = fake_sequrity.client()
    yield client
    client.close()


@_async_fixture
async def async_sequrity_client(fake_sequrity: FakeSequrity) -> AsyncIterator[openai.AsyncOpenAI]:
    """``sq.create_async_client()`` pointed at ``fake_sequrity``; closed after the test."""
    client = fake_sequrity.async_client()
    yield client
    await client.close()


@pytest.fixture
def sequrity_env(fake_sequrity: FakeSequrity, monkeypatch: pytest.MonkeyPatch) -> FakeSequrity:
    """Point ``SEQURITY_API_KEY`` / ``SEQURITY_BASE_URL`` at ``fake_sequrity`` for this test."""
    for name, value in fake_sequrity.environ.items():
        monkeypatch.setenv(name, value)
    return fake_sequrity
