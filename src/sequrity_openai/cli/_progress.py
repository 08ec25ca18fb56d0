"""What ``chat`` shows on stderr while a call is pending: never a blank screen, never a silent retry.

Retries are the SDK's own: its retry loop logs each one (logger ``openai``, level INFO) and the
announcement is made from that record. The reason (the status that caused it) comes from an
httpx response hook on the client; nothing of the SDK is patched.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Any, Final, TextIO

from ._output import PROG

__all__ = ["Progress"]

# The SDK whose retry loop is announced: "openai" (3.x and 2.x) or "anthropic" (whose wording,
# "Retrying request to <url> in <seconds> seconds", the handler below reads the same way).
_SDK_LOGGER: Final = "openai"
_TICK: Final = 0.1
_CLEAR: Final = "\r\x1b[K"


class _RetryLog(logging.Handler):
    """Receives the SDK's "Retrying request ..." records (openai 3.x and 2.x, anthropic)."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        if not str(record.msg).startswith("Retrying request"):
            return
        args = record.args if isinstance(record.args, tuple) else ()
        # 3.x logs (seconds, retry, max), 2.x (url, seconds): the delay is the float.
        seconds = next((a for a in args if isinstance(a, float)), None)
        self.progress.retrying(seconds)


class Progress:
    """Announce each retry; on a terminal also show a waiting line with the elapsed time.

    Use as a context manager around the call; give :meth:`on_request` and :meth:`on_response`
    to the client as httpx event hooks.
    """

    def __init__(
        self, stream: TextIO, *, indicator: bool, max_retries: int, logger: str = _SDK_LOGGER
    ) -> None:
        self.stream = stream
        self.indicator = indicator
        self.max_retries = max_retries
        self.retries = 0
        self.last_status: int | None = None
        self._lock = threading.Lock()
        self._answered = threading.Event()
        self._shown = False
        self._started = time.monotonic()
        self._thread: threading.Thread | None = None
        self._handler = _RetryLog(self)
        self._logger = logging.getLogger(logger)
        self._level = self._logger.level

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._logger.addHandler(self._handler)
        if self._logger.getEffectiveLevel() > logging.INFO:
            self._logger.setLevel(logging.INFO)
        if self.indicator:
            self._thread = threading.Thread(target=self._tick, name="sequrity-openai waiting", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.answered()
        self._logger.removeHandler(self._handler)
        self._logger.setLevel(self._level)

    # ------------------------------------------------------------------ events

    def on_request(self, request: Any) -> None:
        self.last_status = None

    def on_response(self, response: Any) -> None:
        self.last_status = response.status_code
        if response.status_code < 400:  # an error may still be retried: keep waiting
            self.answered()

    def answered(self) -> None:
        """The answer has started (or the call ended): remove the waiting line for good."""
        self._answered.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            self._clear()

    def retrying(self, seconds: float | None) -> None:
        self.retries += 1
        reason = (
            f"HTTP {self.last_status}"
            if self.last_status is not None
            else "no answer (connection failed or timed out)"
        )
        when = f" in {seconds:.1f} s" if seconds is not None else ""
        with self._lock:
            self._clear()
            self.stream.write(f"{PROG}: {reason}; retry {self.retries} of {self.max_retries}{when}\n")
            self.stream.flush()

    # ------------------------------------------------------------------ terminal line

    def _tick(self) -> None:
        while not self._answered.wait(_TICK):
            elapsed = time.monotonic() - self._started
            with self._lock:
                if self._answered.is_set():
                    return
                self.stream.write(f"\r{PROG}: waiting for an answer... {elapsed:.1f} s\x1b[K")
                self.stream.flush()
                self._shown = True

    def _clear(self) -> None:
        if self._shown:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self._shown = False
