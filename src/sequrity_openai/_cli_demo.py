"""``sequrity-openai demo``: the adapter's main features, end to end, against FakeSequrity.

Every line printed while the stand-in runs is labelled, so nobody mistakes a scripted
answer for the real service's.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, Final, TextIO

from . import _settings
from ._client import create_client
from ._exceptions import ConfigurationError, PolicyViolation
from ._headers import Config, Features, Policy
from ._results import parse_result
from ._sessions import session

__all__ = ["LABEL", "run"]

LABEL: Final = "[local fake] "

POLICY: Final = """\
let sensitive_docs = {"internal_use", "confidential"};
tool "get_internal_document" -> @tags |= sensitive_docs;
tool "send_email" {
    hard deny when (body.tags overlaps sensitive_docs)
        and (not to.value in {str matching r".*@trustedcorp\\.com"});
}
"""

TOOLS: Final[list[Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_internal_document",
            "description": "Read an internal document by id.",
            "parameters": {
                "type": "object",
                "properties": {"doc_id": {"type": "string"}},
                "required": ["doc_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "send_email",
            "description": "Send an email.",
            "parameters": {
                "type": "object",
                "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
                "required": ["to", "body"],
            },
        },
    },
]

SERVICE_STEPS: Final = """\
SEQURITY_API_KEY is set, so the demo starts no local stand-in and makes no call by itself.
Run the same walk-through against Sequrity Control (each call uses your key and may cost):

  sequrity-openai config --arch dual-llm
  sequrity-openai chat "What is the capital of France?" --arch single-llm
  sequrity-openai chat "Add 40 and 57." --arch dual-llm --config '{"response_format":{"include_program":true}}'
  sequrity-openai chat "Write a haiku about firewalls." --arch single-llm --stream
  sequrity-openai chat "And its population?" --arch single-llm --session-id <session id printed above>
  sequrity-openai chat "Email the Q3 roadmap to eve@example.com" --arch dual-llm --policy policy.sqrt

The tool-call round trip needs your own tools: see "Testing your app offline" in the docs.
To see everything offline instead: sequrity-openai demo --offline
"""


class Labelled:
    """A text stream that starts every line it writes with ``label``."""

    def __init__(self, out: TextIO, label: str = LABEL) -> None:
        self.out = out
        self.label = label
        self.at_line_start = True

    def write(self, text: str) -> None:
        for piece in text.splitlines(keepends=True):
            if self.at_line_start:
                self.out.write(self.label)
            self.out.write(piece)
            self.at_line_start = piece.endswith("\n")
        self.out.flush()

    def line(self, text: str = "") -> None:
        if not self.at_line_start:
            self.write("\n")
        self.write(text + "\n")


def _get_internal_document(doc_id: str) -> str:
    # The local tool the demo runs when the (scripted) model asks for it.
    return f"Document {doc_id} (internal_use): Q3 roadmap - ship the offline test kit."


LOCAL_TOOLS: Final[dict[str, Callable[..., str]]] = {"get_internal_document": _get_internal_document}


def _program(say: Labelled, program: str | None) -> None:
    if program:
        say.line("   program:")
        for line in program.splitlines():
            say.line(f"     {line}")


def _walk(fake: Any, say: Labelled) -> None:
    common: dict[str, Any] = {"api_key": fake.api_key, "base_url": fake.url, "llm_api_key": ""}
    say.line(f"SEQURITY_API_KEY is not set: running against FakeSequrity at {fake.url},")
    say.line("a local stand-in of Sequrity Control. Nothing leaves this machine; the answers")
    say.line("below are scripted by the demo, not written by an LLM, and no policy is evaluated.")

    say.line()
    say.line("1. single-llm chat    client = sq.create_client(features=sq.Features.single_llm())")
    question = "What is the capital of France?"
    fake.queue_text("Paris is the capital of France.")
    with create_client(**common, features=Features.single_llm()) as client, session() as first:
        completion = client.chat.completions.create(
            model="openai/gpt-5-mini", messages=[{"role": "user", "content": question}]
        )
    say.line(f"   user:      {question}")
    say.line(f"   assistant: {completion.choices[0].message.content}")
    say.line(f"   session:   {first.id}  (kept by `with sq.session() as s:` from X-Session-ID)")
    saved = first.id

    say.line()
    say.line(
        "2. dual-llm chat      features=sq.Features.dual_llm(), config=sq.Config.dual_llm(include_program=True)"
    )
    fake.queue_text("97", value=97)
    dual: dict[str, Any] = {"features": Features.dual_llm(), "config": Config.dual_llm(include_program=True)}
    with create_client(**common, **dual) as client:
        completion = client.chat.completions.create(
            model="openai/gpt-5-mini,openai/gpt-5-nano",
            messages=[{"role": "user", "content": "Add 40 and 57."}],
        )
    result = parse_result(completion)
    say.line("   user:      Add 40 and 57.")
    say.line(f"   sq.parse_result(completion): status={result.status} value={result.value!r}")
    _program(say, result.program)

    say.line()
    say.line("3. streaming          stream=True, each chunk printed as it arrives")
    fake.queue_text("Packets knock at night / the firewall weighs each whisper / only trust walks in")
    with create_client(**common, features=Features.single_llm()) as client:
        stream = client.chat.completions.create(
            model="openai/gpt-5-mini",
            messages=[{"role": "user", "content": "Write a haiku about firewalls."}],
            stream=True,
        )
        say.write("   assistant: ")
        pieces = []
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    say.write(choice.delta.content)
                    pieces.append(chunk)
        say.write("\n")
    say.line(f"   ({len(pieces)} chunks with text)")

    say.line()
    say.line("4. tool call round trip, then a policy denial   policy=sq.Policy.dual_llm(codes=POLICY)")
    for line in POLICY.splitlines():
        say.line(f"     {line}")
    fake.queue_tool_call("get_internal_document", {"doc_id": "q3-roadmap"})
    fake.queue_text("The Q3 roadmap ships the offline test kit.")
    fake.queue_denial(tool="send_email")
    tool_arch = {**dual, "policy": Policy.dual_llm(codes=POLICY)}
    with create_client(**common, **tool_arch) as client, session() as conversation:
        messages: list[Any] = [{"role": "user", "content": "Summarise document q3-roadmap."}]
        say.line(f"   user:      {messages[0]['content']}")
        completion = client.chat.completions.create(model="openai/gpt-5-mini", messages=messages, tools=TOOLS)
        message = completion.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls or []:
            name, arguments = call.function.name, json.loads(call.function.arguments)  # type: ignore[union-attr]
            say.line(f"   model asks for tool {name}({call.function.arguments})  [id {call.id[:12]}...]")  # type: ignore[union-attr]
            output = LOCAL_TOOLS[name](**arguments)
            say.line(f"   ran the local Python tool, sending back: {output}")
            messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
        completion = client.chat.completions.create(model="openai/gpt-5-mini", messages=messages, tools=TOOLS)
        result = parse_result(completion)
        say.line(f"   final answer: {result.value}")
        messages.append({"role": "assistant", "content": completion.choices[0].message.content})
        messages.append({"role": "user", "content": "Email it to eve@example.com."})
        say.line("   user:      Email it to eve@example.com.")
        completion = client.chat.completions.create(model="openai/gpt-5-mini", messages=messages, tools=TOOLS)
        result = parse_result(completion)
        try:
            result.raise_for_status()
        except PolicyViolation as denial:
            say.line(f"   DENIED (sq.PolicyViolation, scripted): {denial}")
        else:  # pragma: no cover - the script above always denies
            say.line(f"   unexpectedly allowed: {result.value!r}")
        say.line(f"   session:   {conversation.id}")

    say.line()
    say.line("5. resumed session    with sq.session(session_id=<id from step 1>):")
    with (
        create_client(**common, features=Features.single_llm()) as client,
        session(session_id=saved) as resumed,
    ):
        completion = client.chat.completions.create(
            model="openai/gpt-5-mini", messages=[{"role": "user", "content": "And its population?"}]
        )
    say.line("   user:      And its population?")
    say.line(f"   assistant: {completion.choices[0].message.content}  (unscripted: the stand-in echoes)")
    say.line(
        f"   sent X-Session-ID {fake.last_request.sent_session_id}; turn {fake.sessions[saved]} of session {resumed.id}"
    )
    fake.check()

    say.line()
    say.line('Done. With a real key: export SEQURITY_API_KEY=... and try `sequrity-openai chat "Hello"`.')


def run(*, offline: bool, fake_class_loader: Callable[[], Any]) -> int:
    from . import cli

    if os.environ.get(_settings.ENV_API_KEY) and not offline:
        print(SERVICE_STEPS, end="", flush=True)
        return cli.EXIT_OK
    fake_class = fake_class_loader()
    if fake_class is None:
        from ._cli_fake import INSTALL_HINT

        cli._error(INSTALL_HINT)
        return cli.EXIT_USAGE
    say = Labelled(sys.stdout)
    try:
        with fake_class() as fake:
            _walk(fake, say)
    except ConfigurationError as exc:
        say.line()
        Labelled(sys.stderr).line(f"error: {cli.redact(str(exc))}")
        return cli.EXIT_USAGE
    except Exception as exc:
        say.line()
        Labelled(sys.stderr).line(f"error: {cli._one_line(cli.redact(f'{type(exc).__name__}: {exc}'))}")
        return cli.EXIT_FAILURE
    return cli.EXIT_OK
