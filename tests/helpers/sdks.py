"""The two SDKs the security tests run against: openai (``create_client``) and anthropic
(``create_anthropic_client``), sync and async, behind one small interface.

``Sdk`` knows each SDK's factories, stock clients, the one call the tests make (a chat
completion / a message), a 200 answer to it, its error event in a stream, and the variables
it reads from the environment by itself.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from dataclasses import dataclass
from typing import Any

import openai

import sequrity_openai as sq

MESSAGES: Any = [{"role": "user", "content": "hi"}]
# The event loop of the running test (set by the ``flavour`` fixture in tests/conftest.py), so an
# async client's connections outlive a single call.
LOOP: list[asyncio.AbstractEventLoop] = []


def run(awaitable: Any) -> Any:
    """Run ``awaitable`` on the test's event loop."""
    return LOOP[0].run_until_complete(awaitable)


@dataclass(frozen=True)
class Sdk:
    name: str  # "openai" or "anthropic"
    module: Any
    factories: tuple[Any, Any]  # sync, async
    #: Variables the stock client sends as a bearer when it finds them.
    bearer_vars: tuple[str, ...]
    custom_headers_var: str
    base_url_var: str

    def factory(self, flavour: str) -> Any:
        return self.factories[flavour == "async"]

    def stock(self, flavour: str, root: str, **kwargs: Any) -> Any:
        """A stock client of this SDK pointed at ``root``'s chat route, with a dummy bearer."""
        if self.name == "openai":
            cls = openai.OpenAI if flavour == "sync" else openai.AsyncOpenAI
            return cls(api_key="x", base_url=f"{root}/control/chat/v1", max_retries=0, **kwargs)
        cls = self.module.Anthropic if flavour == "sync" else self.module.AsyncAnthropic
        return cls(auth_token="x", base_url=f"{root}/control/chat", max_retries=0, **kwargs)

    def default_http_client(self, flavour: str) -> Any:
        return (
            self.module.DefaultHttpxClient if flavour == "sync" else self.module.DefaultAsyncHttpxClient
        )()

    def http_libraries(self) -> list[str]:
        """The HTTP libraries whose clients the stock client accepts, its own first."""
        own = self.module.DefaultHttpxClient.__mro__[1].__module__.split(".")[0]
        return [own, "httpx"] if self.name == "openai" and own == "httpx2" else [own]

    def http_client(self, library: str, flavour: str) -> Any:
        return getattr(importlib.import_module(library), "Client" if flavour == "sync" else "AsyncClient")()

    def is_async(self, client: Any) -> bool:
        return isinstance(
            client, (openai.AsyncOpenAI, *([self.module.AsyncAnthropic] if self.name != "openai" else []))
        )

    def create(self, client: Any, **kwargs: Any) -> Any:
        """The call, not awaited: a completion / message, or a stream with ``stream=True``."""
        if self.name == "openai":
            return client.chat.completions.create(model="m", messages=MESSAGES, **kwargs)
        return client.messages.create(model="m", max_tokens=16, messages=MESSAGES, **kwargs)

    def text(self, answer: Any) -> str:
        if self.name == "openai":
            return str(answer.choices[0].message.content)
        return str(answer.content[0].text)

    def answer_body(self, text: str = "ok") -> bytes:
        if self.name == "openai":
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return json.dumps(
                {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
            ).encode()
        return json.dumps(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            }
        ).encode()

    def error_stream(self, message: str) -> bytes:
        """A 200 event stream that starts an answer, then reports an error in the SDK's format."""
        if self.name == "openai":
            start = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": []}
            error = {"error": {"message": message, "code": "boom"}}
            return (
                b"data: " + json.dumps(start).encode() + b"\n\ndata: " + json.dumps(error).encode() + b"\n\n"
            )
        start = json.loads(self.answer_body(""))
        start["content"], start["stop_reason"] = [], None
        error = {"type": "error", "error": {"type": "overloaded_error", "message": message}}
        return (
            b"event: message_start\ndata: "
            + json.dumps({"type": "message_start", "message": start}).encode()
            + b"\n\nevent: error\ndata: "
            + json.dumps(error).encode()
            + b"\n\n"
        )


OPENAI = Sdk(
    "openai",
    openai,
    (sq.create_client, sq.create_async_client),
    ("OPENAI_API_KEY", "OPENAI_ADMIN_KEY"),
    "OPENAI_CUSTOM_HEADERS",
    "OPENAI_BASE_URL",
)


def anthropic_sdk() -> Sdk | None:
    try:
        module = importlib.import_module("anthropic")
    except ImportError:
        return None
    return Sdk(
        "anthropic",
        module,
        (sq.create_anthropic_client, sq.create_async_anthropic_client),
        ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"),
        "ANTHROPIC_CUSTOM_HEADERS",
        "ANTHROPIC_BASE_URL",
    )


def sdk_params() -> list[Any]:
    """``pytest.param``s for both SDKs, anthropic skipped when the extra is not installed."""
    import pytest

    anthropic = anthropic_sdk()
    return [
        pytest.param(OPENAI, id="openai"),
        pytest.param(
            anthropic,
            id="anthropic",
            marks=pytest.mark.skipif(anthropic is None, reason="the [anthropic] extra is not installed"),
        ),
    ]
