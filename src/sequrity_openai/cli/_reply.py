"""How ``chat`` asks: one prompt to Chat Completions (stock ``openai`` client) or to Messages
(stock ``anthropic`` client), the answer gathered into a :class:`Reply`, and streamed text
echoed as it arrives.

Nothing here interprets the answer; ``_chat`` does, from the reply alone.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TextIO

import openai

from .._anthropic import create_anthropic_client
from .._client import create_client
from .._extras import require
from .._provider_keys import for_api
from .._results import collect_stream
from .._sessions import DOCUMENT_FIELD
from .._settings import Settings
from ._options import client_arguments
from ._progress import Progress

__all__ = ["API_CHOICES", "API_LABELS", "Api", "LiveText", "Reply", "api_errors", "ask", "open_client"]

Api = Literal["chat-completions", "messages"]
API_CHOICES: Final[tuple[Api, ...]] = ("chat-completions", "messages")
API_LABELS: Final[dict[Api, str]] = {"chat-completions": "Chat Completions", "messages": "Messages"}
# The feature named in the missing-dependency error of `--api messages`.
MESSAGES_FEATURE: Final = "chat --api messages"


@dataclass
class Reply:
    """What the service answered, as the stock SDK object holds it."""

    text: str = ""
    """``message.content`` (Chat Completions) or the text blocks (Messages)."""
    document: str | None = None
    """The wire document kept beside a presented dual-llm value (``sequrity_content``)."""
    refusal: str | None = None
    """``message.refusal``: a presented dual-llm failure's explanation."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


class LiveText:
    """Echo streamed text as it arrives, unless it may be a dual-llm JSON document.

    A document's value is only known at the end, so text opening with ``{`` is held back
    and printed once parsed (a presented dual-llm value that is a JSON object is held back
    too, and printed whole at the end, which is what it looks like anyway).
    """

    def __init__(self, out: TextIO, enabled: bool) -> None:
        self.out = out
        self.enabled = enabled
        self.decided: bool | None = None  # True: echoing, False: holding back
        self.pending = ""
        self.line_open = False

    def feed(self, chunks: Iterator[Any]) -> Iterator[Any]:
        """Chat completion chunks, passed on after their first choice's text is written."""
        for chunk in chunks:
            for choice in getattr(chunk, "choices", None) or []:
                text = getattr(choice.delta, "content", None)
                if choice.index == 0 and text:
                    self.write(text)
            yield chunk

    def write(self, text: str) -> None:
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


def api_errors(api: Api) -> tuple[type[Exception], ...]:
    """The exceptions a call on ``api`` raises for HTTP, connection and timeout failures."""
    if api == "messages":
        return (require("anthropic", MESSAGES_FEATURE).APIError,)
    return (openai.OpenAIError,)


def open_client(
    api: Api, settings: Settings, args: argparse.Namespace, progress: Progress, options: dict[str, Any]
) -> Any:
    """A stock client of ``api`` built from ``settings``, with ``progress`` on its HTTP events."""
    hooks: dict[str, list[Callable[..., Any]]] = {
        "request": [progress.on_request],
        "response": [progress.on_response],
    }
    if api == "messages":
        sdk = require("anthropic", MESSAGES_FEATURE)
        # On the default route the Messages provider key is ANTHROPIC_API_KEY (PROTOCOL.md 1).
        arguments = client_arguments(for_api(settings, "messages"), args)
        return create_anthropic_client(
            **arguments, http_client=sdk.DefaultHttpxClient(event_hooks=hooks), **options
        )
    http_client = openai.DefaultHttpxClient(event_hooks=hooks)
    return create_client(**client_arguments(settings, args), http_client=http_client, **options)


def ask(
    api: Api, client: Any, model: str, prompt: str, *, stream: bool, live: LiveText, max_tokens: int | None
) -> Reply:
    messages: list[Any] = [{"role": "user", "content": prompt}]
    if api == "messages":
        return _ask_messages(client, model, messages, stream=stream, live=live, max_tokens=max_tokens)
    extra: dict[str, Any] = {} if max_tokens is None else {"max_completion_tokens": max_tokens}
    if stream:
        chunks = client.chat.completions.create(model=model, messages=messages, stream=True, **extra)
        collected = collect_stream(live.feed(iter(chunks)))
        return Reply(collected.text, collected.document, collected.refusal, collected.tool_calls)
    completion = client.chat.completions.create(model=model, messages=messages, **extra)
    message = completion.choices[0].message if completion.choices else None
    if message is None:
        return Reply()
    kept = getattr(message, DOCUMENT_FIELD, None)
    return Reply(
        message.content or "",
        kept if isinstance(kept, str) else None,
        message.refusal,
        [call.model_dump(mode="json") for call in message.tool_calls or []],
    )


# Messages needs max_tokens on every request; the CLI's answers are short.
DEFAULT_MAX_TOKENS: Final = 1024


def _ask_messages(
    client: Any, model: str, messages: list[Any], *, stream: bool, live: LiveText, max_tokens: int | None
) -> Reply:
    request = {"model": model, "max_tokens": max_tokens or DEFAULT_MAX_TOKENS, "messages": messages}
    if stream:
        with client.messages.stream(**request) as events:
            for text in events.text_stream:
                live.write(text)
            message = events.get_final_message()
    else:
        message = client.messages.create(**request)
    # The Messages answer is not presented: a dual-llm document is the text block itself.
    text = "".join(block.text for block in message.content if block.type == "text")
    calls = [
        {
            "id": block.id,
            "type": "function",
            "function": {"name": block.name, "arguments": json.dumps(block.input, ensure_ascii=False)},
        }
        for block in message.content
        if block.type == "tool_use"
    ]
    return Reply(text, None, None, calls)
