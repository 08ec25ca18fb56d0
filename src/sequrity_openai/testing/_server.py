"""FakeSequrity's lifecycle: the socket, the background thread, start, stop and serve_forever."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Lifecycle"]

# Many clients may connect at once (load tests); a small listen backlog would drop them.
_BACKLOG: Final = 1024


class _Handler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if getattr(self.server, "log_requests", False):
            super().log_request(code, size)


class _Server(ThreadedWSGIServer):
    log_requests = False


class Lifecycle:
    """The serving half of FakeSequrity. Subclasses provide the WSGI app as ``_wsgi``."""

    host: str
    api_key: str
    log_requests: bool
    _port: int
    _lock: threading.RLock
    _server: _Server | None
    _thread: threading.Thread | None
    _serving: bool

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise NotImplementedError

    def _bind(self) -> _Server:
        if self._server is None:
            # Bind here rather than in werkzeug, which answers a busy port with sys.exit(1).
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            listener = socket.create_server((self.host, self._port), family=family, backlog=_BACKLOG)
            try:
                port = listener.getsockname()[1]
                server = _Server(self.host, port, self._wsgi, handler=_Handler, fd=listener.fileno())
            finally:
                listener.close()  # the server holds its own duplicate of the socket
            server.log_requests = self.log_requests
            self._server = server
        return self._server

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSequrity is not started; call start() or use it as a context manager")
        return int(self._server.port)

    @property
    def url(self) -> str:
        """The service root, e.g. ``http://127.0.0.1:54321`` (what ``base_url=`` takes)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def environ(self) -> dict[str, str]:
        """``SEQURITY_API_KEY`` and ``SEQURITY_BASE_URL`` pointing at this server."""
        return {"SEQURITY_API_KEY": self.api_key, "SEQURITY_BASE_URL": self.url}

    @property
    def running(self) -> bool:
        """True while a background thread started by ``start()`` serves."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        """Bind the socket and serve in a background thread. Idempotent."""
        with self._lock:
            if self._serving:
                return self
            server = self._bind()
            self._serving = True
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"FakeSequrity:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (also a ``serve_forever`` running in another thread) and close the socket."""
        with self._lock:
            server, thread, serving = self._server, self._thread, self._serving
            self._server = self._thread = None
            self._serving = False
        if server is None:
            return
        if serving:
            server.shutdown()
        if thread is not None:
            thread.join()
        server.server_close()

    def serve_forever(self, *, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in the foreground until Ctrl-C or ``stop()`` (for ``sequrity-openai fake-server``).

        ``on_ready`` is called with the URL once the socket listens.
        """
        if self.running:
            thread = self._thread
            if on_ready is not None:
                on_ready(self.url)
            try:
                while thread is not None and thread.is_alive():
                    thread.join(0.1)
            except KeyboardInterrupt:
                pass
            finally:
                self.stop()
            return
        with self._lock:
            server = self._bind()
            self._serving = True
        if on_ready is not None:
            on_ready(self.url)
        try:
            server.serve_forever(poll_interval=0.05)  # returns on Ctrl-C as well
        finally:
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"FakeSequrity({where})"
