"""Exceptions raised by sequrity_openai itself.

HTTP failures keep the stock ``openai`` exception classes (``openai.RateLimitError`` and
friends); only configuration problems and dual-llm execution outcomes have classes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import openai

if TYPE_CHECKING:
    from ._results import DualLlmResult

Origin = Literal["argument", "environment", "default"]

__all__ = [
    "ConfigurationError",
    "HeaderTooLargeError",
    "PolicyViolation",
    "RedirectRefusedError",
    "SequrityError",
    "SequrityExecutionError",
]


class SequrityError(Exception):
    """Base class of every exception this package raises."""


class ConfigurationError(SequrityError, ValueError):
    """An argument or environment variable cannot configure a client.

    The message names the argument or variable; it never contains a key. The structured
    fields let a front end (the CLI) name its own flag instead of rewriting the text.
    """

    def __init__(
        self,
        message: str,
        *,
        setting: str | None = None,
        origin: Origin | None = None,
        env_var: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The factory argument the problem is about (``"base_url"``), if one is.
        self.setting = setting
        #: Where the offending value came from.
        self.origin = origin
        #: The environment variable that held it, when ``origin == "environment"``.
        self.env_var = env_var


@dataclass(frozen=True)
class Source:
    """Where a setting's value came from: what error messages name and their structured fields."""

    setting: str
    origin: Origin
    env_var: str | None = None

    def __str__(self) -> str:
        if self.origin == "environment":
            return f"environment variable {self.env_var}"
        return f"{self.origin} {self.setting}"

    def error(self, message: str) -> ConfigurationError:
        """A ConfigurationError whose message starts with this source and whose fields name it."""
        return ConfigurationError(
            f"{self}: {message}", setting=self.setting, origin=self.origin, env_var=self.env_var
        )


class HeaderTooLargeError(ConfigurationError):
    """The Sequrity headers would exceed the request-head size limit."""


class RedirectRefusedError(openai.APIStatusError, SequrityError):
    """Sequrity answered with a redirect to another origin, which is never followed.

    Following it would send the Sequrity key, the provider key, the policy, the session and the
    request body to that origin. ``target_origin`` is where the redirect pointed.
    """

    def __init__(self, message: str, *, response: Any, target_origin: str) -> None:
        super().__init__(message, response=response, body=None)
        self.target_origin = target_origin


class SequrityExecutionError(SequrityError):
    """A dual-llm program finished with ``status: failure``."""

    def __init__(self, message: str, *, result: DualLlmResult) -> None:
        super().__init__(message)
        self.result = result

    @property
    def code(self) -> str | None:
        return self.result.error.code if self.result.error else None


class PolicyViolation(SequrityExecutionError):
    """A security policy denied a tool call or the final answer.

    ``tool_name`` and ``context`` are filled when the message is the service's tool-call
    denial (``Tool call to 'X' is denied by argument checking policies. Context: ...``);
    ``context`` is the service's text as sent (it may quote the call's arguments).
    """

    def __init__(self, message: str, *, result: DualLlmResult) -> None:
        super().__init__(message, result=result)
        from ._denials import read_denial  # loaded with the first violation, not at import

        denial = read_denial(message)
        #: The denied tool, when the message names it.
        self.tool_name: str | None = denial.tool_name if denial else None
        #: The service's context text after ``Context:``, when the message carries one.
        self.context: str | None = denial.context if denial else None
