"""The ``sequrity-openai`` command line: ``demo``, ``chat``, ``config``, ``headers``, ``fake-server``,
``check-policy``, ``generate-policy``.

Keys are read from the environment only, never from an option, so they stay out of shell
history and process lists: ``SEQURITY_API_KEY`` (the bearer) and ``SEQURITY_LLM_API_KEY`` or
the provider's variable (``OPENAI_API_KEY``, ``OPENROUTER_API_KEY``, ...). The other settings
take an option or their variable: ``SEQURITY_BASE_URL``, ``SEQURITY_PROVIDER``,
``SEQURITY_ENDPOINT_TYPE``, ``SEQURITY_FEATURES``, ``SEQURITY_POLICY``, ``SEQURITY_CONFIG``.

Exit codes: 0 ok, 1 failure (HTTP, connection, execution), 2 usage or configuration error,
3 policy denial, 141 standard output closed early (``demo | head``).

Layout (imports go down this list only): this module builds the parser and runs a command;
``_chat``, ``_inspect`` (config, headers), ``_fake_server``, ``_demo``, ``_check_policy`` and
``_generate_policy`` are the commands; ``_reply`` (how ``chat`` asks each API), ``_options``,
``_progress``, ``_script`` and ``_standin`` serve them; ``_output`` holds the exit codes and the
error line every command shares.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from typing import Any

from .. import __version__
from .._exceptions import ConfigurationError
from . import _chat, _check_policy, _demo, _fake_server, _generate_policy, _inspect
from ._output import (
    EXIT_BROKEN_PIPE,
    EXIT_DENIED,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    MAX_COLUMNS,
    PROG,
    CommandError,
    describe_exception,
    error,
    report_configuration_error,
)

__all__ = ["EXIT_DENIED", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


def _formatter(prog: str) -> argparse.HelpFormatter:
    # argparse fills the terminal; help stays within the CLI's column limit on wide ones.
    width = min(shutil.get_terminal_size().columns, MAX_COLUMNS) - 2
    return argparse.HelpFormatter(prog, width=width)


class _Parser(argparse.ArgumentParser):
    """The parser of every command (subparsers take their parent's class): narrow help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _formatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Talk to Sequrity Control with the OpenAI or Anthropic SDK, check and generate "
        "SQRT policies, inspect the settings, or try it offline.",
        epilog="Keys come from the environment only: SEQURITY_API_KEY, and SEQURITY_LLM_API_KEY or the "
        "provider's variable. Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 policy denial.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _demo.add_parser(commands)
    _chat.add_parser(commands)
    _inspect.add_parsers(commands)
    _fake_server.add_parser(commands)
    _check_policy.add_parser(commands)
    _generate_policy.add_parser(commands)
    return parser


def _stdout_closed() -> int:
    # The reader went away (`demo | head`): end quietly, as a SIGPIPE-killed tool would, and
    # point stdout at /dev/null so the interpreter's final flush has nowhere to fail.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        code: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return _stdout_closed()
    except ConfigurationError as exc:
        report_configuration_error(exc)
        return EXIT_USAGE
    except CommandError as exc:
        error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except Exception as exc:
        error(f"unexpected {describe_exception(exc)}")
        return EXIT_FAILURE
    return code
