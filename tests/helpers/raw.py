"""A tiny raw-socket HTTP/1.1 server for the security tests: any status, any header bytes.

``RawHttp(answer)`` calls ``answer(seen)`` for each request and writes back what it returns:
``(status, headers, body)`` with headers as raw ``(bytes, bytes)`` pairs, so a test can send
what no well-behaved server library would (non-ASCII header values, huge bodies, redirects
anywhere). With ``tls=`` (an ``ssl.SSLContext``) it serves https.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


Answer = Callable[[Seen], tuple[int, list[tuple[bytes, bytes]], bytes]]


class RawHttp:
    def __init__(self, answer: Answer, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.answer = answer
        self.seen: list[Seen] = []
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                if tls is not None:
                    try:
                        conn = tls.wrap_socket(conn, server_side=True)
                    except (ssl.SSLError, OSError):
                        return  # the client refused our certificate
                owner._serve(conn)

        self._server = socketserver.ThreadingTCPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        scheme = "https" if tls is not None else "http"
        self.port = self._server.server_address[1]
        self.url = f"{scheme}://{'localhost' if tls is not None else host}:{self.port}"

    def __enter__(self) -> RawHttp:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, conn: socket.socket) -> None:
        stream = conn.makefile("rb")
        try:
            while True:
                line = stream.readline(65536)
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (raw := stream.readline(65536)) not in (b"\r\n", b"\n", b""):
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = stream.read(int(headers.get("content-length") or 0))
                seen = Seen(method, path, headers, body)
                self.seen.append(seen)
                status, out_headers, out_body = self.answer(seen)
                head = [f"HTTP/1.1 {status} X".encode()]
                head += [name + b": " + value for name, value in out_headers]
                head.append(b"Content-Length: " + str(len(out_body)).encode())
                conn.sendall(b"\r\n".join(head) + b"\r\n\r\n" + out_body)
        except (OSError, ValueError):
            return
        finally:
            conn.close()
