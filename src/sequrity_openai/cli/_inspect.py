"""``config`` and ``headers``: what a client would be built with, without sending anything."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import textwrap
from collections.abc import Mapping
from typing import Any, Final

from .. import _settings
from .._settings import Settings, mask
from ._options import add_settings_options, origin_label, resolve
from ._output import EXIT_OK, KEY_VARS, MAX_COLUMNS, clip, redact

__all__ = ["add_parsers"]

# The headers that carry a key: the setting holding it, and what precedes it in the value.
_KEY_HEADERS: Final[Mapping[str, tuple[str, str]]] = {
    "Authorization": ("api_key", "Bearer "),
    "X-Api-Key": ("llm_api_key", ""),
}
# Provider keys worth a suggestion when present but unused: providers that serve chat
# completions, which is what `chat` and most OpenAI SDK code call.
_SUGGESTED_PROVIDER: Final[Mapping[str, str]] = {
    "OPENAI_API_KEY": "openai",
    "OPENROUTER_API_KEY": "openrouter",
}


def _shown_headers(settings: Settings, *, show_keys: bool) -> dict[str, str]:
    """Authorization plus the Sequrity headers, keys masked unless ``show_keys``."""
    key = settings.api_key.value
    shown = {"Authorization": f"Bearer {key if show_keys else mask(key)}"}
    for name, value in settings.headers.items():
        shown[name] = value if show_keys or name != "X-Api-Key" else mask(value)
    return shown


def _route_name(provider: str | None) -> str:
    return (
        "the default route (OpenRouter for chat completions)" if provider is None else f"provider {provider}"
    )


def provider_key_notes(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """Which provider key (``X-Api-Key``) is sent and why; what to set when none is."""
    provider = settings.provider.value
    origin = settings.llm_api_key.origin
    variable = _settings.PROVIDER_KEY_ENV.get(provider)
    route = _route_name(provider)
    if origin == _settings.ENV_LLM_API_KEY:
        return [f"provider key: {origin}, which is sent whatever the provider."]
    if origin not in (_settings.DEFAULT, _settings.ARGUMENT):
        return [
            f"provider key: {origin}, the key variable of {route} ({_settings.ENV_LLM_API_KEY} is unset)."
        ]
    readable = f"{_settings.ENV_LLM_API_KEY} or {variable}" if variable else _settings.ENV_LLM_API_KEY
    notes = [
        f"provider key: none sent. {route[0].upper()}{route[1:]} reads {readable}, and none is set; "
        "Sequrity then uses its own key and checks the model against its allow list."
    ]
    for var, suggested in _SUGGESTED_PROVIDER.items():
        if environ.get(var) and suggested != provider and var != variable:
            notes.append(
                f"{var} is set but {route} does not read it: to send it, "
                f"set SEQURITY_PROVIDER={suggested} (or pass --provider {suggested})."
            )
    return notes


def _config(args: argparse.Namespace) -> int:
    settings = resolve(args)
    secrets = [settings.api_key.value, settings.llm_api_key.value]
    rows = [(name, value, origin_label(name, origin, args)) for name, value, origin in settings.explain()]
    if settings.session_id.value is None:
        # Say what an unset session means for this command, not only that it is unset.
        rows = [(n, "(none: each chat starts a session)" if n == "session_id" else v, o) for n, v, o in rows]
    shown = _shown_headers(settings, show_keys=False)
    notes = provider_key_notes(settings, os.environ)
    if args.json:
        document = {
            "settings": {name: {"value": value, "origin": origin} for name, value, origin in rows},
            "route": settings.route,
            "headers": shown,
            "provider_key": notes,
        }
        print(redact(json.dumps(document, indent=2), secrets))
        return EXIT_OK
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'setting'.ljust(width)}  origin{' ' * 18}value"]
    lines += [f"{name.ljust(width)}  {origin.ljust(24)}{value}" for name, value, origin in rows]
    lines += ["", f"route: {settings.route}", ""]
    for note in notes:
        lines += textwrap.wrap(note, MAX_COLUMNS, subsequent_indent="  ")
    lines += ["", "headers sent with every request:"]
    lines += [f"  {name}: {value}" for name, value in shown.items()]
    clipped = [clip(line, MAX_COLUMNS) for line in lines]
    if clipped != lines:
        clipped += ["", "(long values are cut at 100 columns: `sequrity-openai headers` prints them whole)"]
    print(redact("\n".join(clipped), secrets))
    return EXIT_OK


def _curl_arg(name: str, value: str, settings: Settings, *, show_keys: bool) -> str:
    if not show_keys and name in _KEY_HEADERS:
        setting, prefix = _KEY_HEADERS[name]
        var = getattr(settings, setting).origin
        if var in KEY_VARS:
            # A variable reference works when pasted into a shell and shows nothing secret.
            return f'-H "{name}: {prefix}${var}"'
    return "-H " + shlex.quote(f"{name}: {value}")


def _headers(args: argparse.Namespace) -> int:
    settings = resolve(args)
    shown = _shown_headers(settings, show_keys=args.show_keys)
    if args.curl:
        text = " \\\n".join(
            _curl_arg(name, value, settings, show_keys=args.show_keys) for name, value in shown.items()
        )
    else:
        text = json.dumps(shown, indent=2)
    print(text if args.show_keys else redact(text, [settings.api_key.value, settings.llm_api_key.value]))
    return EXIT_OK


def add_parsers(commands: Any) -> None:
    config = commands.add_parser(
        "config", help="show the resolved settings, their origin, the route, the provider key and headers"
    )
    config.add_argument("--json", action="store_true", help="print JSON")
    add_settings_options(config)
    config.set_defaults(handler=_config)

    headers = commands.add_parser("headers", help="print the request headers as JSON or curl -H arguments")
    headers.add_argument("--curl", action="store_true", help="print curl -H arguments")
    headers.add_argument(
        "--show-keys", action="store_true", help="print the keys themselves (they are secrets)"
    )
    add_settings_options(headers)
    headers.set_defaults(handler=_headers)
