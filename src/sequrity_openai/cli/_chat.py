"""``sequrity-openai chat``: one prompt, the answer and the session id."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final, TextIO

import openai

from .._client import create_client
from .._exceptions import ConfigurationError
from .._results import DOCUMENT_FIELD, collect_stream, parse_result
from .._sessions import session
from ._options import add_settings_options, client_arguments, positive_seconds, resolve, retry_count
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


@dataclass
class _Outcome:
    status: str = "success"
    answer: Any = None
    session_id: str | None = None
    program: str | None = None
    error: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int = EXIT_OK


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


def _prompt(words: list[str]) -> str:
    # Unquoted words are one prompt, as a shell user means them; a lone "-" reads stdin.
    return sys.stdin.read() if words == ["-"] else " ".join(words)


def _default_model(provider: str | None) -> str:
    model = _DEFAULT_MODELS.get(provider)
    if model is None:
        raise CommandError(f"--model is required with --provider {provider}")
    return model


def _run(args: argparse.Namespace) -> int:
    live = _LiveText(sys.stdout, enabled=args.stream and not args.json)
    try:
        settings = resolve(args)
        model = args.model or _default_model(settings.provider.value)
    except (ConfigurationError, CommandError) as exc:
        if not args.json:
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
    progress = Progress(sys.stderr, indicator=sys.stderr.isatty(), max_retries=retries)
    http_client = openai.DefaultHttpxClient(
        event_hooks={"request": [progress.on_request], "response": [progress.on_response]}
    )
    options: dict[str, Any] = {"max_retries": retries, "http_client": http_client}
    if args.timeout is not None:
        options["timeout"] = args.timeout
    client = create_client(**client_arguments(settings, args), **options)
    outcome = _Outcome()
    with client, session(args.session_id) as scope:
        try:
            with progress:
                text, tool_calls = _ask(client, model, _prompt(args.prompt), stream=args.stream, live=live)
        except openai.OpenAIError as exc:
            outcome.status, outcome.exit_code = "failure", EXIT_FAILURE
            outcome.error = {"type": type(exc).__name__, "message": describe_exception(exc)}
            if isinstance(exc, openai.APIStatusError):
                outcome.error["status_code"] = exc.status_code
        else:
            _interpret(text, tool_calls, outcome)
        outcome.session_id = scope.id
    return _finish(args, outcome, live, [settings.api_key.value, settings.llm_api_key.value])


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
    kept = getattr(message, DOCUMENT_FIELD, None)
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


def _answer_lines(outcome: _Outcome, live: _LiveText) -> list[str]:
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
    return lines


def _finish(args: argparse.Namespace, outcome: _Outcome, live: _LiveText, secrets: list[str | None]) -> int:
    if outcome.error is not None:
        outcome.error["message"] = one_line(redact(outcome.error["message"], secrets))
    if args.json:
        # stdout holds exactly one JSON object, whatever the outcome
        print(redact(json.dumps(asdict(outcome), ensure_ascii=False), secrets), flush=True)
    elif outcome.exit_code == EXIT_OK:
        print(redact("\n".join(_answer_lines(outcome, live)), secrets), flush=True)
    elif live.line_open:
        print(flush=True)  # end a streamed line that the failure interrupted
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
    chat.add_argument("--stream", action="store_true", help="stream the answer")
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
