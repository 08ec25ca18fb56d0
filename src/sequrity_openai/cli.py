"""The ``sequrity-openai`` command line: ``chat``, ``config``, ``headers``, ``fake-server``, ``demo``.

Keys are read from the environment only, never from an option, so they stay out of shell
history and process lists: ``SEQURITY_API_KEY`` (the bearer) and ``SEQURITY_LLM_API_KEY`` or
the provider's variable (``OPENAI_API_KEY``, ``OPENROUTER_API_KEY``, ...). The other settings
take an option or their variable: ``SEQURITY_BASE_URL``, ``SEQURITY_PROVIDER``,
``SEQURITY_ENDPOINT_TYPE``, ``SEQURITY_FEATURES``, ``SEQURITY_POLICY``, ``SEQURITY_CONFIG``.

Exit codes: 0 ok, 1 failure (HTTP, connection, execution), 2 usage or configuration error,
3 policy denial.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

import openai

from . import __version__, _settings
from ._client import create_client
from ._exceptions import ConfigurationError
from ._headers import Policy, coerce
from ._results import collect_stream, parse_result
from ._routes import ENDPOINT_TYPES, PROVIDERS
from ._sessions import session
from ._settings import Settings, mask, resolve_settings

__all__ = ["EXIT_DENIED", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_DENIED: Final = 3

PROG: Final = "sequrity-openai"

# Model ids differ by route; a default is only offered where the naming is known.
_DEFAULT_MODELS: Final[Mapping[str | None, str]] = {
    None: "openai/gpt-5-mini",
    "openrouter": "openai/gpt-5-mini",
    "openai": "gpt-5-mini",
}

# Settings that an option can set, and that option (for the "origin" column of `config`).
_FLAGS: Final[Mapping[str, str]] = {
    "provider": "--provider",
    "endpoint_type": "--endpoint-type",
    "base_url": "--base-url",
    "session_id": "--session-id",
    "features": "--arch",
    "policy": "--policy",
    "config": "--config",
}
# Every variable that may hold a key: whatever they hold is scrubbed from anything printed.
_KEY_VARS: Final = (
    _settings.ENV_API_KEY,
    _settings.ENV_LLM_API_KEY,
    *sorted(set(_settings.PROVIDER_KEY_ENV.values())),
)


# --------------------------------------------------------------------------- output


def _one_line(text: str) -> str:
    return " ".join(text.split())


def redact(text: str, secrets: Sequence[str | None] = (), environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every known key replaced by ``****``: the given ones and the key variables'."""
    env = os.environ if environ is None else environ
    return _settings.redact(text, [*secrets, *(env.get(v) for v in _KEY_VARS)])


def _error(message: str, secrets: Sequence[str | None] = ()) -> None:
    print(f"{PROG}: error: {_one_line(redact(message, secrets))}", file=sys.stderr, flush=True)


def _configuration_message(exc: ConfigurationError) -> str:
    """The library's wording, with the options of this command where it names an argument."""
    message = str(exc).replace("pass api_key= or set", "set")
    for name, flag in _FLAGS.items():
        message = message.replace(f"argument {name}", flag)
    return message


def _describe_exception(exc: BaseException) -> str:
    if isinstance(exc, openai.APIConnectionError):
        url = getattr(getattr(exc, "request", None), "url", None)
        where = f" to {url.scheme}://{url.netloc.decode()}" if url is not None else ""
        return f"{type(exc).__name__}: {exc}{where}"
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- settings


def _read_policy(path: str, arch: str | None) -> Policy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigurationError(f"--policy: cannot read {path!r}: {reason}") from None
    if path.endswith(".json"):
        return coerce(Policy, text, f"--policy {path!r}")
    if arch == "single-llm":
        return Policy.single_llm(codes=text)
    return Policy.dual_llm(codes=text)


def _settings_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``resolve_settings`` / ``create_client`` keyword arguments from the shared options."""
    kwargs: dict[str, Any] = {
        "provider": args.provider,
        "endpoint_type": args.endpoint_type,
        "base_url": args.base_url,
        "features": args.arch,
        "config": args.config,
        "allow_insecure_http": args.allow_insecure_http,
    }
    if args.policy is not None:
        # The policy is shaped for the architecture the request will use, which may come
        # from SEQURITY_FEATURES; a blank policy stands in for SEQURITY_POLICY meanwhile.
        probe = resolve_settings(**kwargs, policy=Policy())
        features = probe.features.value
        kwargs["policy"] = _read_policy(args.policy, features.agent_arch if features else args.arch)
    return kwargs


def _resolve(args: argparse.Namespace) -> tuple[Settings, dict[str, Any]]:
    kwargs = _settings_kwargs(args)
    return resolve_settings(**kwargs, session_id=args.session_id), kwargs


def _origin(name: str, origin: str, args: argparse.Namespace) -> str:
    if origin == _settings.ARGUMENT:
        flag = _FLAGS.get(name, name)
        # endpoint type and provider can also be read off a --base-url that names a route
        if getattr(args, name, None) is None and name in ("endpoint_type", "provider"):
            flag = "--base-url"
        return f"argument {flag}"
    if origin == _settings.DEFAULT:
        return "default"
    return f"env {origin}"


def _shown_headers(settings: Settings, *, show_keys: bool) -> dict[str, str]:
    """Authorization plus the Sequrity headers, keys masked unless ``show_keys``."""
    key = settings.api_key.value
    shown = {"Authorization": f"Bearer {key if show_keys else mask(key)}"}
    for name, value in settings.headers.items():
        shown[name] = value if show_keys or name != "X-Api-Key" else mask(value)
    return shown


# --------------------------------------------------------------------------- chat


@dataclass
class _Outcome:
    status: str = "success"
    answer: Any = None
    session_id: str | None = None
    program: str | None = None
    error: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int = EXIT_OK

    def as_json(self) -> str:
        return json.dumps(
            {
                "status": self.status,
                "answer": self.answer,
                "session_id": self.session_id,
                "program": self.program,
                "error": self.error,
                "tool_calls": self.tool_calls,
                "exit_code": self.exit_code,
            },
            ensure_ascii=False,
        )


def _default_model(provider: str | None) -> str:
    model = _DEFAULT_MODELS.get(provider)
    if model is None:
        raise ConfigurationError(f"--model is required with provider {provider!r}")
    return model


class _LiveText:
    """Echo streamed text as it arrives, unless it looks like a dual-llm JSON document.

    Dual-llm answers are a JSON document whose value is only known at the end, so text
    opening with ``{`` is held back and printed once parsed.
    """

    def __init__(self, out: TextIO, enabled: bool) -> None:
        self.out = out
        self.enabled = enabled
        self.decided: bool | None = None  # True: echoing, False: holding back
        self.pending = ""
        self.line_open = False

    def feed(self, chunks: Iterator[Any]) -> Iterator[Any]:
        for chunk in chunks:
            for choice in getattr(chunk, "choices", None) or []:
                text = getattr(choice.delta, "content", None)
                if choice.index == 0 and text:
                    self._text(text)
            yield chunk

    def _text(self, text: str) -> None:
        if not self.enabled or self.decided is False:
            return
        if self.decided is None:
            self.pending += text
            stripped = self.pending.lstrip()
            if not stripped:
                return
            self.decided = not stripped.startswith("{")
            if not self.decided:
                return
            text, self.pending = self.pending, ""
        self.out.write(text)
        self.out.flush()
        self.line_open = not text.endswith("\n")

    @property
    def echoed(self) -> bool:
        return bool(self.decided)


def _chat(args: argparse.Namespace) -> int:
    outcome = _Outcome()
    live = _LiveText(sys.stdout, enabled=args.stream and not args.json)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    try:
        settings, kwargs = _resolve(args)
        model = args.model or _default_model(settings.provider.value)
        client = create_client(**kwargs, max_retries=args.max_retries, timeout=args.timeout)
    except ConfigurationError as exc:
        outcome.status, outcome.exit_code = "error", EXIT_USAGE
        outcome.error = {"type": type(exc).__name__, "message": _configuration_message(exc)}
        return _finish(args, outcome, live, [])
    secrets = [settings.api_key.value, settings.llm_api_key.value]
    with client, session(args.session_id) as scope:
        try:
            text, tool_calls = _ask(client, model, prompt, stream=args.stream, live=live)
        except openai.OpenAIError as exc:
            outcome.status, outcome.exit_code = "failure", EXIT_FAILURE
            outcome.error = {"type": type(exc).__name__, "message": _describe_exception(exc)}
            if isinstance(exc, openai.APIStatusError):
                outcome.error["status_code"] = exc.status_code
        else:
            _interpret(text, tool_calls, outcome)
        outcome.session_id = scope.id
    return _finish(args, outcome, live, secrets)


def _ask(
    client: openai.OpenAI, model: str, prompt: str, *, stream: bool, live: _LiveText
) -> tuple[str, list[dict[str, Any]]]:
    messages: list[Any] = [{"role": "user", "content": prompt}]
    if stream:
        chunks = client.chat.completions.create(model=model, messages=messages, stream=True)
        collected = collect_stream(live.feed(iter(chunks)))
        # A dual-llm answer is presented as its value; the kept document says how it went.
        return collected.document or collected.text, collected.tool_calls
    completion = client.chat.completions.create(model=model, messages=messages)
    message = completion.choices[0].message if completion.choices else None
    if message is None:
        return "", []
    kept = getattr(message, "sequrity_content", None)
    text = kept if isinstance(kept, str) else message.content or ""
    return text, [call.model_dump(mode="json") for call in message.tool_calls or []]


def _interpret(text: str, tool_calls: list[dict[str, Any]], outcome: _Outcome) -> None:
    outcome.tool_calls = tool_calls
    result = parse_result(text)
    if result.status == "unknown":
        outcome.answer = text
        return
    outcome.program = result.program
    if result.ok:
        outcome.answer = result.value
        return
    message = result.error.message if result.error else "dual-llm execution failed"
    code = result.error.code if result.error else None
    if result.is_policy_violation:
        outcome.status, outcome.exit_code = "denied", EXIT_DENIED
        outcome.error = {"type": "PolicyViolation", "message": message, "code": code}
    else:
        outcome.status, outcome.exit_code = "failure", EXIT_FAILURE
        outcome.error = {"type": "SequrityExecutionError", "message": message, "code": code}


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _finish(args: argparse.Namespace, outcome: _Outcome, live: _LiveText, secrets: list[str | None]) -> int:
    if outcome.error is not None:
        outcome.error["message"] = _one_line(redact(outcome.error["message"], secrets))
    if args.json:
        print(redact(outcome.as_json(), secrets), flush=True)
    else:
        lines: list[str] = []
        if live.echoed:
            if live.line_open:
                lines.append("")
        elif outcome.answer is not None and (outcome.answer != "" or not outcome.tool_calls):
            lines.append(_show(outcome.answer))
        for call in outcome.tool_calls:
            function = call.get("function") or {}
            lines.append(f"tool call: {function.get('name')}({function.get('arguments')})")
        if outcome.program:
            lines += ["program:", *("    " + line for line in outcome.program.splitlines())]
        if outcome.session_id:
            lines.append(f"session: {outcome.session_id}")
        if lines:
            print(redact("\n".join(lines), secrets), flush=True)
    if outcome.error is not None:
        label = "policy denied" if outcome.status == "denied" else None
        message = outcome.error["message"]
        _error(f"{label}: {message}" if label else message, secrets)
    return outcome.exit_code


# --------------------------------------------------------------------------- config, headers


def _config(args: argparse.Namespace) -> int:
    settings, _ = _resolve(args)
    rows = [(name, value, _origin(name, origin, args)) for name, value, origin in settings.explain()]
    if settings.session_id.value is None:
        # Say what an unset session means for this command, not only that it is unset.
        rows = [(n, "(none: each chat starts a session)" if n == "session_id" else v, o) for n, v, o in rows]
    shown = _shown_headers(settings, show_keys=False)
    if args.json:
        document = {
            "settings": {name: {"value": value, "origin": origin} for name, value, origin in rows},
            "route": settings.route,
            "headers": shown,
        }
        print(redact(json.dumps(document, indent=2), [settings.api_key.value, settings.llm_api_key.value]))
        return EXIT_OK
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'setting'.ljust(width)}  origin{' ' * 18}value"]
    lines += [f"{name.ljust(width)}  {origin.ljust(24)}{value}" for name, value, origin in rows]
    lines += ["", f"route: {settings.route}", "", "headers sent with every request:"]
    lines += [f"  {name}: {value}" for name, value in shown.items()]
    print(redact("\n".join(lines), [settings.api_key.value, settings.llm_api_key.value]))
    return EXIT_OK


# The headers that carry a key: the setting holding it, and what precedes it in the value.
_KEY_HEADERS: Final[Mapping[str, tuple[str, str]]] = {
    "Authorization": ("api_key", "Bearer "),
    "X-Api-Key": ("llm_api_key", ""),
}


def _curl_arg(name: str, value: str, settings: Settings, *, show_keys: bool) -> str:
    if not show_keys and name in _KEY_HEADERS:
        setting, prefix = _KEY_HEADERS[name]
        var = getattr(settings, setting).origin
        if var in _KEY_VARS:
            # A variable reference works when pasted into a shell and shows nothing secret.
            return f'-H "{name}: {prefix}${var}"'
    return "-H " + shlex.quote(f"{name}: {value}")


def _headers(args: argparse.Namespace) -> int:
    settings, _ = _resolve(args)
    shown = _shown_headers(settings, show_keys=args.show_keys)
    if args.curl:
        text = " \\\n".join(
            _curl_arg(name, value, settings, show_keys=args.show_keys) for name, value in shown.items()
        )
    else:
        text = json.dumps(shown, indent=2)
    print(text if args.show_keys else redact(text, [settings.api_key.value, settings.llm_api_key.value]))
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def _add_settings_options(parser: argparse.ArgumentParser) -> None:
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
        "--arch", choices=("single-llm", "dual-llm"), help="agent architecture, sent as X-Features"
    )
    group.add_argument(
        "--policy",
        metavar="FILE",
        help="SQRT policy code, sent as X-Policy for the chosen --arch (dual-llm if none); "
        "a .json file is taken as a whole X-Policy document",
    )
    group.add_argument("--config", metavar="JSON", help="X-Config document (SEQURITY_CONFIG)")
    group.add_argument("--session-id", metavar="ID", help="continue this Sequrity session")
    group.add_argument(
        "--allow-insecure-http", action="store_true", help="permit http:// to a host that is not loopback"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Talk to Sequrity Control with the OpenAI SDK, inspect the settings, or try it offline.",
        epilog="Keys come from the environment only: SEQURITY_API_KEY, and SEQURITY_LLM_API_KEY or the "
        "provider's variable. Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 policy denial.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    chat = commands.add_parser("chat", help="send one prompt and print the answer and the session id")
    chat.add_argument("prompt", metavar="PROMPT", help="the user message; - reads it from standard input")
    chat.add_argument("--model", help="model id; for dual-llm 'planner,quarantined' or one id for both")
    chat.add_argument("--stream", action="store_true", help="stream the answer")
    chat.add_argument(
        "--json", action="store_true", help="print one JSON object: status, answer, session_id, ..."
    )
    chat.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="per-request timeout")
    chat.add_argument(
        "--max-retries", type=int, default=2, metavar="N", help="retries on 408/409/429/5xx (2)"
    )
    _add_settings_options(chat)
    chat.set_defaults(handler=_chat)

    config = commands.add_parser(
        "config", help="show the resolved settings, their origin, the route and headers"
    )
    config.add_argument("--json", action="store_true", help="print JSON")
    _add_settings_options(config)
    config.set_defaults(handler=_config)

    headers = commands.add_parser("headers", help="print the request headers as JSON or curl -H arguments")
    headers.add_argument("--curl", action="store_true", help="print curl -H arguments")
    headers.add_argument(
        "--show-keys", action="store_true", help="print the keys themselves (they are secrets)"
    )
    _add_settings_options(headers)
    headers.set_defaults(handler=_headers)

    from . import _cli_fake

    _cli_fake.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        code: int = args.handler(args)
    except ConfigurationError as exc:
        _error(_configuration_message(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except Exception as exc:
        _error(f"unexpected {_describe_exception(exc)}")
        return EXIT_FAILURE
    return code
