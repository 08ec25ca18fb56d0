"""Options shared by ``chat``, ``config`` and ``headers``, and the one resolution of the settings."""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from .. import _settings
from .._headers import Policy, coerce
from .._routes import ENDPOINT_TYPES, PROVIDERS
from .._settings import Resolved, Settings, resolve_settings
from ._output import FLAGS, CommandError

__all__ = [
    "add_settings_options",
    "client_arguments",
    "origin_label",
    "port",
    "positive_count",
    "positive_seconds",
    "resolve",
    "retry_count",
    "session_id",
]

# The service issues 36-character ids (a UUID); tool call ids carry them the same way.
_SESSION_ID: Final = re.compile(r"[0-9A-Za-z-]{36}")
_N = TypeVar("_N", int, float)


# --------------------------------------------------------------------------- option types
# argparse turns an ArgumentTypeError into "argument --flag: <message>" and exit code 2.


def _checked(text: str, convert: Callable[[str], _N], fits: Callable[[_N], bool], expected: str) -> _N:
    # Text that does not convert fails the same way as a value out of range.
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not fits(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    return _checked(text, float, lambda v: math.isfinite(v) and v > 0, "a number of seconds greater than 0")


def retry_count(text: str) -> int:
    return _checked(text, int, lambda v: v >= 0, "a whole number of retries, 0 or more")


def positive_count(text: str) -> int:
    return _checked(text, int, lambda v: v >= 1, "a whole number greater than 0")


def port(text: str) -> int:
    return _checked(text, int, lambda v: 0 <= v <= 65535, "a port number from 0 to 65535")


def session_id(text: str) -> str:
    if not _SESSION_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Sequrity session id (36 letters, digits or '-', as `chat` prints it)"
        )
    return text


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (each overrides its environment variable)")
    group.add_argument(
        "--base-url", metavar="URL", help="service root (SEQURITY_BASE_URL; https://api.sequrity.ai)"
    )
    group.add_argument(
        "--provider", choices=PROVIDERS, help="LLM provider route (SEQURITY_PROVIDER; default route)"
    )
    group.add_argument(
        "--endpoint-type", choices=ENDPOINT_TYPES, help="endpoint type (SEQURITY_ENDPOINT_TYPE; chat)"
    )
    group.add_argument(
        "--features",
        "--arch",
        dest="features",
        metavar="ARCH",
        help="single-llm, dual-llm or an X-Features JSON document (SEQURITY_FEATURES)",
    )
    group.add_argument(
        "--policy",
        metavar="FILE",
        help="SQRT policy code, sent as X-Policy for the architecture in use (dual-llm if none); "
        "a .json file is taken as a whole X-Policy document",
    )
    group.add_argument("--config", metavar="JSON", help="X-Config document (SEQURITY_CONFIG)")
    group.add_argument("--session-id", metavar="ID", type=session_id, help="continue this Sequrity session")
    group.add_argument(
        "--allow-insecure-http", action="store_true", help="permit http:// to a host that is not loopback"
    )


# --------------------------------------------------------------------------- settings


def _read_policy(path: str, arch: str | None) -> Policy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise CommandError(f"--policy: cannot read {path!r}: {reason}") from None
    if path.endswith(".json"):
        return coerce(Policy, text, f"--policy {path!r}")
    if arch == "single-llm":
        return Policy.single_llm(codes=text)
    return Policy.dual_llm(codes=text)


def resolve(args: argparse.Namespace) -> Settings:
    """The settings of this command line, resolved once.

    A ``--policy`` file is shaped for the architecture in use, which may come from
    ``SEQURITY_FEATURES``: a blank policy holds its place (so an invalid ``SEQURITY_POLICY``,
    which the file overrides, is not read) until the features are known.
    """
    settings = resolve_settings(
        provider=args.provider,
        endpoint_type=args.endpoint_type,
        base_url=args.base_url,
        features=args.features,
        policy=None if args.policy is None else Policy(),
        config=args.config,
        session_id=args.session_id,
        allow_insecure_http=args.allow_insecure_http,
    )
    if args.policy is None:
        return settings
    features = settings.features.value
    policy = _read_policy(args.policy, features.agent_arch if features else None)
    return dataclasses.replace(settings, policy=Resolved(policy, _settings.ARGUMENT))


def client_arguments(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """``create_client`` arguments that reproduce ``settings`` without reading the environment.

    The session is left to ``sq.session()``, which also reports the id the server answers.
    """
    return {
        "api_key": settings.api_key.value,
        "llm_api_key": settings.llm_api_key.value or "",  # "" sends none and reads no variable
        "provider": settings.provider.value,
        "endpoint_type": settings.endpoint_type.value,
        "base_url": settings.base_url.value,
        "features": settings.features.value,
        "policy": settings.policy.value,
        "config": settings.config.value,
        "allow_insecure_http": args.allow_insecure_http,
    }


def origin_label(name: str, origin: str, args: argparse.Namespace) -> str:
    """Where a setting came from, in the words of this command line."""
    if origin == _settings.ARGUMENT:
        flag = FLAGS.get(name, name)
        # endpoint type and provider can also be read off a --base-url that names a route
        if getattr(args, name, None) is None and name in ("endpoint_type", "provider"):
            flag = FLAGS["base_url"]
        return f"argument {flag}"
    if origin == _settings.DEFAULT:
        return "default"
    return f"env {origin}"
