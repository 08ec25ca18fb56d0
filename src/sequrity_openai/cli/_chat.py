"""``sequrity-openai chat``: one prompt, the answer and the session id."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from .._exceptions import ConfigurationError
from .._extras import MissingDependencyError
from .._presentation import unwrap
from .._results import parse_result
from .._sessions import session
from ._options import add_settings_options, positive_count, positive_seconds, resolve, retry_count
from ._output import (
    EXIT_DENIED,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    describe_exception,
    error,
    hint,
    one_line,
    redact,
)
from ._progress import Progress
from ._reply import API_CHOICES, DEFAULT_MAX_TOKENS, Api, LiveText, Reply, api_errors, ask, open_client

__all__ = ["add_parser"]

# Model ids differ by route; a default is only offered where the naming is known.
_DEFAULT_MODELS: Final[Mapping[str | None, str]] = {
    None: "openai/gpt-5-mini",
    "openrouter": "openai/gpt-5-mini",
    "openai": "gpt-5-mini",
}
# The SDK's default. With --timeout and no --max-retries the CLI makes one attempt, so that
# --timeout bounds the whole command instead of being multiplied by silent retries.
_DEFAULT_RETRIES: Final = 2
# The logger whose "Retrying request" records announce the retries of each API's SDK.
_SDK_LOGGERS: Final[Mapping[Api, str]] = {"chat-completions": "openai", "messages": "anthropic"}


@dataclass
class _Outcome:
    status: str = "success"
    answer: Any = None
    session_id: str | None = None
    program: str | None = None
    error: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    document: str | None = None
    exit_code: int = EXIT_OK
    shown: str | None = None  # the answer line (not part of the JSON object)

    def to_json(self) -> dict[str, Any]:
        fields = asdict(self)
        del fields["shown"]
        return fields


def _prompt(words: list[str]) -> str:
    # Unquoted words are one prompt, as a shell user means them; a lone "-" reads stdin.
    return sys.stdin.read() if words == ["-"] else " ".join(words)


def _default_model(api: Api, provider: str | None) -> str:
    if api == "messages":
        raise CommandError("--model is required with --api messages")
    model = _DEFAULT_MODELS.get(provider)
    if model is None:
        raise CommandError(f"--model is required with --provider {provider}")
    return model


def _run(args: argparse.Namespace) -> int:
    live = LiveText(sys.stdout, enabled=args.stream and not args.json)
    try:
        settings = resolve(args)
        model = args.model or _default_model(args.api, settings.provider.value)
        errors = api_errors(args.api)  # the missing-dependency error, before anything else
    except (ConfigurationError, CommandError, MissingDependencyError) as exc:
        if not args.json:
            if isinstance(exc, MissingDependencyError):
                raise CommandError(str(exc)) from None  # a usage error naming the extra
            raise  # rendered by main, as for every command
        outcome = _Outcome(status="error", exit_code=EXIT_USAGE)
        outcome.error = {"type": type(exc).__name__, "message": str(exc)}
        code = _finish(args, outcome, live, [])
        if isinstance(exc, ConfigurationError):
            hint(exc)
        return code
    retries = args.max_retries
    if retries is None:
        retries = 0 if args.timeout is not None else _DEFAULT_RETRIES
    progress = Progress(
        sys.stderr, indicator=sys.stderr.isatty(), max_retries=retries, logger=_SDK_LOGGERS[args.api]
    )
    options: dict[str, Any] = {"max_retries": retries}
    if args.timeout is not None:
        options["timeout"] = args.timeout
    client = open_client(args.api, settings, args, progress, options)
    features = settings.features.value
    outcome = _Outcome()
    with client, session(args.session_id) as scope:
        try:
            with progress:
                reply = ask(
                    args.api,
                    client,
                    model,
                    _prompt(args.prompt),
                    stream=args.stream,
                    live=live,
                    max_tokens=args.max_tokens,
                )
        except errors as exc:
            outcome.status, outcome.exit_code = "failure", EXIT_FAILURE
            outcome.error = {"type": type(exc).__name__, "message": describe_exception(exc)}
            status_code = getattr(exc, "status_code", None)
            if isinstance(status_code, int):
                outcome.error["status_code"] = status_code
        else:
            single_llm = features is not None and features.agent_arch == "single-llm"
            _interpret(reply, outcome, single_llm=single_llm, show_document=args.show_document)
        outcome.session_id = scope.id
    return _finish(args, outcome, live, [settings.api_key.value, settings.llm_api_key.value])


def _interpret(reply: Reply, outcome: _Outcome, *, single_llm: bool, show_document: bool) -> None:
    """Fill ``outcome`` from the reply: the value, and how a dual-llm run went.

    The document is the one kept beside a presented value; without one (Messages, the raw
    opt-out, a request whose architecture the server's preset decides) the content may be
    the document itself, except on a single-llm request: a single-llm answer is never read
    as a document, even when a model prints one.
    """
    outcome.tool_calls = reply.tool_calls
    document = reply.document
    if document is None and not single_llm:
        document = reply.text
    result = parse_result(document) if document is not None else None
    if result is None or result.status == "unknown":
        outcome.answer = outcome.shown = reply.text
        return
    outcome.program = result.program
    if show_document:
        outcome.document = document
    unwrapped = unwrap(document) if document is not None else None
    if result.ok:
        outcome.answer = result.value
        # The value as the library presents it in message.content (a JSON value as compact JSON).
        outcome.shown = unwrapped[0] if unwrapped is not None else None
        return
    # A presented failure's refusal is the service's explanation, word for word.
    message = reply.refusal or result.explanation or "dual-llm execution failed"
    code = result.error.code if result.error else None
    if result.is_policy_violation:
        outcome.status, outcome.exit_code = "denied", EXIT_DENIED
        outcome.error = {"type": "PolicyViolation", "message": message, "code": code}
    else:
        outcome.status, outcome.exit_code = "failure", EXIT_FAILURE
        outcome.error = {"type": "SequrityExecutionError", "message": message, "code": code}


def _answer_lines(outcome: _Outcome, live: LiveText) -> list[str]:
    lines: list[str] = []
    if live.echoed:
        if live.line_open:
            lines.append("")
    elif outcome.shown is not None and (outcome.shown != "" or not outcome.tool_calls):
        lines.append(outcome.shown)
    for call in outcome.tool_calls:
        function = call.get("function") or {}
        lines.append(f"tool call: {function.get('name')}({function.get('arguments')})")
    if outcome.program:
        lines += ["program:", *("    " + line for line in outcome.program.splitlines())]
    lines += _document_lines(outcome)
    if outcome.session_id:
        lines.append(f"session: {outcome.session_id}")
    return lines


def _document_lines(outcome: _Outcome) -> list[str]:
    if outcome.document is None:
        return []
    return ["document:", *("    " + line for line in outcome.document.splitlines())]


def _finish(args: argparse.Namespace, outcome: _Outcome, live: LiveText, secrets: list[str | None]) -> int:
    if outcome.error is not None:
        outcome.error["message"] = one_line(redact(outcome.error["message"], secrets))
    if args.json:
        # stdout holds exactly one JSON object, whatever the outcome
        print(redact(json.dumps(outcome.to_json(), ensure_ascii=False), secrets), flush=True)
    elif outcome.exit_code == EXIT_OK:
        print(redact("\n".join(_answer_lines(outcome, live)), secrets), flush=True)
    else:
        if live.line_open:
            print(flush=True)  # end a streamed line that the failure interrupted
        if outcome.document is not None:  # asked for: the document says why it failed
            print(redact("\n".join(_document_lines(outcome)), secrets), flush=True)
    if outcome.error is not None:
        message = outcome.error["message"]
        if outcome.status == "denied":
            message = f"policy denied: {message}"
        if outcome.session_id and not args.json:
            message += f" (session {outcome.session_id})"
        error(message, secrets)
    return outcome.exit_code


def add_parser(commands: Any) -> None:
    chat = commands.add_parser("chat", help="send one prompt and print the answer and the session id")
    chat.add_argument(
        "prompt",
        metavar="PROMPT",
        nargs="+",
        help="the user message (several words are joined by spaces); - reads it from standard input",
    )
    chat.add_argument("--model", help="model id; for dual-llm 'planner,quarantined' or one id for both")
    chat.add_argument(
        "--api",
        choices=API_CHOICES,
        default="chat-completions",
        help="the API to call: OpenAI Chat Completions (default) or Anthropic Messages (needs the "
        "anthropic extra and --model)",
    )
    chat.add_argument("--stream", action="store_true", help="stream the answer")
    chat.add_argument(
        "--show-document",
        action="store_true",
        help="also print the dual-llm document the service sent (the value is printed either way)",
    )
    chat.add_argument(
        "--max-tokens",
        type=positive_count,
        metavar="N",
        help=f"the most tokens the answer may use (Messages requires one: {DEFAULT_MAX_TOKENS})",
    )
    chat.add_argument(
        "--json", action="store_true", help="print one JSON object: status, answer, session_id, ..."
    )
    chat.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="give up after this long; without --max-retries, no retry follows",
    )
    chat.add_argument(
        "--max-retries",
        type=retry_count,
        metavar="N",
        help=f"retries on connection errors, 408/409/429/5xx, each announced on stderr "
        f"({_DEFAULT_RETRIES}; 0 with --timeout)",
    )
    add_settings_options(chat)
    chat.set_defaults(handler=_run)
