"""``sequrity-openai fake-server``: FakeSequrity in the foreground, for other languages and trials."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TextIO

from .._routes import is_loopback
from .._settings import mask
from ._options import port
from ._output import EXIT_FAILURE, EXIT_OK, MAX_COLUMNS, CommandError, clip
from ._script import load_script
from ._standin import fake_sequrity

if TYPE_CHECKING:
    from ..testing import FakeSequrity, RecordedRequest

__all__ = ["add_parser"]

# Request headers worth showing, in this order; the ones carrying a key are masked.
_LOGGED_HEADERS: Final = ("authorization", "x-api-key", "x-features", "x-policy", "x-config", "x-session-id")
_POLL: Final = 0.05


def client_url(host: str, port_number: int) -> str:
    """The URL a client on this machine uses: a wildcard address is reached through loopback."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None and address.is_unspecified:
        host = "::1" if address.version == 6 else "127.0.0.1"
    return f"http://[{host}]:{port_number}" if ":" in host else f"http://{host}:{port_number}"


def _banner(args: argparse.Namespace, port_number: int) -> list[str]:
    url = client_url(args.host, port_number)
    lines = [
        f"FakeSequrity, a local stand-in of Sequrity Control, listening on {args.host} port {port_number}",
        "Point clients on this machine at it with:",
        f"  export SEQURITY_BASE_URL={url}",
        f"  export SEQURITY_API_KEY={args.api_key}",
        f"OpenAI SDK base URL: {url}/control/chat/v1 (also code, lang-graph, per provider)",
    ]
    host = url.split("//", 1)[1].rsplit(":", 1)[0].strip("[]")
    if not is_loopback(host):
        lines.append(
            "Plain http to an address that is not loopback: clients need --allow-insecure-http "
            "(allow_insecure_http=True)."
        )
    if args.script:
        lines.append(f"Scripted answers from {args.script} come first; then requests get an echo.")
    else:
        lines.append("Unscripted requests get 'echo: <last user message>'.")
    lines.append("Press Ctrl-C to stop.")
    return lines


def _describe(record: RecordedRequest) -> list[str]:
    outcome = record.answer or ("rejected" if record.rejected else "")
    line = f"{record.method} {record.path} -> {record.status} {outcome}".rstrip()
    if record.rejected and record.detail:
        line += f": {record.detail}"
    lines = [line]
    if record.session_id:
        state = "new" if record.new_session else "continued"
        lines.append(f"    session: {record.session_id} ({state})")
    for name in _LOGGED_HEADERS:
        value = record.header(name)
        if value is None:
            continue
        if name == "authorization":
            scheme, _, secret = value.partition(" ")
            value = f"{scheme} {mask(secret)}"
        elif name == "x-api-key":
            value = mask(value)
        lines.append(f"    {name}: {value}")
    return [clip(text, MAX_COLUMNS) for text in lines]


class _RequestLog:
    """Writes each request FakeSequrity records (its public ``requests`` list) to ``out``."""

    def __init__(self, fake: FakeSequrity, out: TextIO) -> None:
        self.fake = fake
        self.out = out
        self.seen = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="fake-server request log", daemon=True)

    def _drain(self) -> None:
        records = self.fake.requests[self.seen :]
        self.seen += len(records)
        for record in records:
            self.out.write("\n".join(_describe(record)) + "\n")
        self.out.flush()

    def _run(self) -> None:
        while not self.done.wait(_POLL):
            self._drain()

    def __enter__(self) -> _RequestLog:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self._drain()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve(fake: FakeSequrity, on_ready: Callable[[str], None]) -> None:
    in_main_thread = threading.current_thread() is threading.main_thread()
    # `kill`, `docker stop` and CI cancellation send SIGTERM: stop as cleanly as on Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        fake.serve_forever(on_ready=on_ready)
    except KeyboardInterrupt:
        pass
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    script = load_script(args.script) if args.script else []
    fake = fake_sequrity()(
        host=args.host, port=args.port, api_key=args.api_key, check_api_key=args.check_api_key
    )
    for item in script:
        item.queue_on(fake)

    def ready(url: str) -> None:
        print("\n".join(_banner(args, fake.port)), flush=True)

    try:
        if args.log_requests:
            with _RequestLog(fake, sys.stderr):
                _serve(fake, ready)
        else:
            _serve(fake, ready)
    except OSError as exc:
        raise CommandError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_FAILURE
        ) from None
    print("FakeSequrity stopped", flush=True)
    return EXIT_OK


def add_parser(commands: Any) -> None:
    fake = commands.add_parser(
        "fake-server",
        help="run FakeSequrity, a local stand-in of Sequrity Control, in the foreground",
        description="Serve FakeSequrity until Ctrl-C, for non-Python clients and manual trials. "
        'Needs pip install "sequrity-openai[testing]".',
    )
    fake.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    fake.add_argument("--port", type=port, default=8765, help="port to listen on, 0 for any free port (8765)")
    fake.add_argument(
        "--api-key", default="sq-test-key", help="the fake's bearer key to export (sq-test-key)"
    )
    fake.add_argument("--check-api-key", action="store_true", help="answer 401 to any other bearer")
    fake.add_argument(
        "--script",
        metavar="FILE",
        help="JSON list of answers to queue: text, tool_call(s), denial, error, delay (see docs/cli.md)",
    )
    fake.add_argument(
        "--log-requests",
        action="store_true",
        help="log each request on stderr: route, status, session, headers (keys masked)",
    )
    fake.set_defaults(handler=_run)
