"""What every command shares: exit codes, the error line, key redaction, the column limit.

The bottom of the CLI package: it imports nothing from its siblings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Final

import openai

from .. import _settings
from .._exceptions import ConfigurationError

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_DENIED",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "FLAGS",
    "KEY_VARS",
    "MAX_COLUMNS",
    "PROG",
    "CommandError",
    "clip",
    "configuration_hint",
    "describe_exception",
    "error",
    "hint",
    "one_line",
    "redact",
    "report_configuration_error",
]

PROG: Final = "sequrity-openai"

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_DENIED: Final = 3
# What a shell reports for a process killed by SIGPIPE (128 + 13): `demo | head` ended early.
EXIT_BROKEN_PIPE: Final = 141

# No line the CLI writes by itself (tables, banners, the demo, help) is wider than this.
MAX_COLUMNS: Final = 100

# The option that sets each factory argument on this command line.
FLAGS: Final[Mapping[str, str]] = {
    "provider": "--provider",
    "endpoint_type": "--endpoint-type",
    "base_url": "--base-url",
    "session_id": "--session-id",
    "features": "--features",
    "policy": "--policy",
    "config": "--config",
    "allow_insecure_http": "--allow-insecure-http",
    "timeout": "--timeout",
    "max_retries": "--max-retries",
    # generate-policy
    "tools": "--tools",
    "model": "--model",
    "n_retries": "--n-retries",
    "internal_tool_names": "--internal-tool",
    "description": "DESCRIPTION",
}
# The settings the CLI reads from the environment only, on purpose: the keys.
_ENV_ONLY: Final = frozenset({"api_key", "llm_api_key"})
# Every variable that may hold a key: whatever they hold is scrubbed from anything printed.
KEY_VARS: Final = (
    _settings.ENV_API_KEY,
    _settings.ENV_LLM_API_KEY,
    *sorted(set(_settings.PROVIDER_KEY_ENV.values())),
)


class CommandError(Exception):
    """A failure the command explains in one line (its own wording) and ends with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def one_line(text: str) -> str:
    return " ".join(text.split())


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, ending with ``...`` when something was cut."""
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


def redact(text: str, secrets: Sequence[str | None] = (), environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every known key replaced by ``****``: the given ones and the key variables'."""
    env = os.environ if environ is None else environ
    return _settings.redact(text, [*secrets, *(env.get(v) for v in KEY_VARS)])


def error(message: str, secrets: Sequence[str | None] = ()) -> None:
    """The one stderr line of a failed command."""
    print(f"{PROG}: error: {one_line(redact(message, secrets))}", file=sys.stderr, flush=True)


def configuration_hint(exc: ConfigurationError) -> str | None:
    """Where, on this command line, the setting an error is about is set; from its fields.

    The message itself stays the library's; without ``exc.setting`` there is no hint.
    """
    if exc.setting is None:
        return None
    flag = FLAGS.get(exc.setting)
    if flag is None:
        if exc.setting not in _ENV_ONLY:
            return None
        # keys: the CLI has no option for them, on purpose
        where = f" ({exc.env_var})" if exc.env_var else ""
        return f"the command line reads {exc.setting} from the environment only{where}"
    if exc.origin == "environment" and exc.env_var:
        return f"the value came from {exc.env_var}; {flag} overrides it"
    return f"on the command line, {exc.setting} is {flag}"


def hint(exc: ConfigurationError) -> None:
    """The line after the error that names this command line's option, when the fields allow."""
    text = configuration_hint(exc)
    if text is not None:
        print(f"{PROG}: hint: {text}", file=sys.stderr, flush=True)


def report_configuration_error(exc: ConfigurationError) -> None:
    error(exc.message)
    hint(exc)


def _connection_errors() -> tuple[type[BaseException], ...]:
    # anthropic is an extra: its connection error counts only once something imported it.
    anthropic = sys.modules.get("anthropic")
    extra = getattr(anthropic, "APIConnectionError", None)
    return (openai.APIConnectionError, extra) if isinstance(extra, type) else (openai.APIConnectionError,)


def describe_exception(exc: BaseException) -> str:
    if isinstance(exc, _connection_errors()):
        url = getattr(getattr(exc, "request", None), "url", None)
        where = f" to {url.scheme}://{url.netloc.decode()}" if url is not None else ""
        return f"{type(exc).__name__}: {exc}{where}"
    return f"{type(exc).__name__}: {exc}"
