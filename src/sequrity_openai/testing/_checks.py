"""The recorded requests of a FakeSequrity, and the checks and assertions a test runs on them."""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator

from ._request import Api, RecordedRequest
from ._script import ScriptItem, describe_item

__all__ = ["Checks"]


class Checks:
    """The recording half of FakeSequrity: what arrived, and assertions about it."""

    requests: list[RecordedRequest]
    _lock: threading.RLock
    _queue: deque[ScriptItem]
    _catchers: list[list[RecordedRequest]]
    # Requests still in flight when reset() runs belong to the previous test; drop their records.
    _generation: int

    def record(self, record: RecordedRequest, generation: int) -> None:
        """Keep ``record`` (unless a reset happened since ``generation``); hand rejections to catchers."""
        with self._lock:
            if record.rejected and self._catchers:
                record.expected = True
                for caught in self._catchers:
                    caught.append(record)
            if generation == self._generation:
                self.requests.append(record)

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self.requests[-1] if self.requests else None

    @property
    def api_requests(self) -> list[RecordedRequest]:
        """Requests to chat completions or responses (not ``/health`` or unknown paths)."""
        with self._lock:
            return [r for r in self.requests if r.api is not None]

    def check(self) -> None:
        """``AssertionError`` if a scripted answer was never used or a request was rejected unexpectedly."""
        with self._lock:
            pending = list(self._queue)
            rejected = [r for r in self.requests if r.rejected and not r.expected]
        problems = []
        if pending:
            items = ", ".join(describe_item(i) for i in pending)
            problems.append(f"{len(pending)} scripted answer(s) never consumed: {items}")
        problems.extend(
            f"unexpected rejection: {r.method} {r.path} -> {r.status}: {r.detail}"
            " (wrap the call in fake.expect_rejection() if it is meant to fail)"
            for r in rejected
        )
        if problems:
            raise AssertionError("FakeSequrity.check() failed:\n  - " + "\n  - ".join(problems))

    @contextlib.contextmanager
    def expect_rejection(self, *, at_least: int = 1) -> Iterator[list[RecordedRequest]]:
        """Requests rejected inside the block are expected; yields the list of them.

        Fails at the end of the block if fewer than ``at_least`` requests were rejected.
        """
        caught: list[RecordedRequest] = []
        with self._lock:
            self._catchers.append(caught)
        try:
            yield caught
        finally:
            with self._lock:
                self._catchers.remove(caught)
        if len(caught) < at_least:
            raise AssertionError(f"expected at least {at_least} rejected request(s), got {len(caught)}")

    # ------------------------------------------------------------------ assertion helpers

    def _pick(self, request: RecordedRequest | None) -> RecordedRequest:
        chosen = request or self.last_request
        if chosen is None:
            raise AssertionError("FakeSequrity received no request")
        return chosen

    def assert_request_count(self, count: int, *, api: Api | None = None) -> None:
        """Exactly ``count`` requests arrived (only to ``api`` if given, e.g. ``"chat/completions"``)."""
        with self._lock:
            seen = [r for r in self.requests if api is None or r.api == api]
        if len(seen) != count:
            paths = ", ".join(f"{r.method} {r.path} -> {r.status}" for r in seen) or "none"
            raise AssertionError(f"expected {count} request(s), got {len(seen)}: {paths}")

    def assert_header(
        self, name: str, value: str | None = None, *, request: RecordedRequest | None = None
    ) -> None:
        """The last (or given) request carried header ``name`` (with ``value`` if given)."""
        rec = self._pick(request)
        got = rec.header(name)
        if got is None:
            raise AssertionError(f"{rec.method} {rec.path} carried no {name} header")
        if value is not None and got != value:
            raise AssertionError(f"{name}: expected {value!r}, got {got!r}")

    def assert_no_header(self, name: str, *, request: RecordedRequest | None = None) -> None:
        """The last (or given) request did not carry header ``name``."""
        rec = self._pick(request)
        if rec.header(name) is not None:
            raise AssertionError(f"{rec.method} {rec.path} carried {name}: {rec.header(name)!r}")

    def assert_new_session(self, request: RecordedRequest | None = None) -> str:
        """The last (or given) request started a session; returns its id."""
        rec = self._pick(request)
        if not rec.new_session or rec.session_id is None:
            raise AssertionError(f"expected a new session, request continued {rec.session_id!r}")
        return rec.session_id

    def assert_session_continued(
        self, session_id: str | None = None, *, request: RecordedRequest | None = None
    ) -> str:
        """The last (or given) request continued a session (``session_id`` if given); returns its id."""
        rec = self._pick(request)
        if rec.new_session or rec.session_id is None:
            raise AssertionError(
                f"expected a continued session, got new={rec.new_session} id={rec.session_id!r}"
            )
        if session_id is not None and rec.session_id != session_id:
            raise AssertionError(f"expected session {session_id!r}, request continued {rec.session_id!r}")
        return rec.session_id
