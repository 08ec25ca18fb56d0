"""The ``fake-server`` and ``demo`` commands: both run the local stand-in, FakeSequrity."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

__all__ = ["add_commands"]

INSTALL_HINT = 'the local stand-in needs the testing extra: pip install "sequrity-openai[testing]"'


def _fake_class() -> Any:
    """``FakeSequrity``, or ``None`` when the testing extra (werkzeug) is not installed."""
    try:
        from .testing import FakeSequrity
    except ImportError as exc:
        if (exc.name or "").startswith("werkzeug") or "werkzeug" in str(exc):
            return None
        raise
    return FakeSequrity


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _fake_server(args: argparse.Namespace) -> int:
    from . import cli

    fake_class = _fake_class()
    if fake_class is None:
        cli._error(INSTALL_HINT)
        return cli.EXIT_USAGE
    fake = fake_class(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        check_api_key=args.check_api_key,
        log_requests=args.log_requests,
    )

    def ready(url: str) -> None:
        lines = [
            f"FakeSequrity, a local stand-in of Sequrity Control, listening on {url}",
            "Point clients at it with:",
            f"  export SEQURITY_BASE_URL={url}",
            f"  export SEQURITY_API_KEY={args.api_key}",
            f"OpenAI-compatible base URL: {url}/control/chat/v1 (also code, agent, lang-graph, and per provider)",
            "Unscripted requests get 'echo: <last user message>'. Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), flush=True)

    in_main_thread = threading.current_thread() is threading.main_thread()
    # `kill`, `docker stop` and CI cancellation send SIGTERM: stop as cleanly as on Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        fake.serve_forever(on_ready=ready)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        cli._error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return cli.EXIT_FAILURE
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    print("FakeSequrity stopped", flush=True)
    return cli.EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from . import _cli_demo

    return _cli_demo.run(offline=args.offline, fake_class_loader=_fake_class)


def add_commands(commands: Any) -> None:
    fake = commands.add_parser(
        "fake-server",
        help="run FakeSequrity, a local stand-in of Sequrity Control, in the foreground",
        description="Serve FakeSequrity until Ctrl-C, for non-Python clients and manual trials. "
        'Needs pip install "sequrity-openai[testing]".',
    )
    fake.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    fake.add_argument("--port", type=int, default=8765, help="port to listen on, 0 for any free port (8765)")
    fake.add_argument(
        "--api-key", default="sq-test-key", help="the fake's bearer key to export (sq-test-key)"
    )
    fake.add_argument("--check-api-key", action="store_true", help="answer 401 to any other bearer")
    fake.add_argument("--log-requests", action="store_true", help="log each request on stderr")
    fake.set_defaults(handler=_fake_server)

    demo = commands.add_parser(
        "demo",
        help="walk through chats, streaming, tools, a denial and sessions",
        description="Without SEQURITY_API_KEY, run the walk-through against a local stand-in started in this "
        "process. With it, print the commands that do the same against the service.",
    )
    demo.add_argument(
        "--offline", action="store_true", help="use the local stand-in even if SEQURITY_API_KEY is set"
    )
    demo.set_defaults(handler=_demo)
