"""``sequrity-openai demo``: the adapter's main features, end to end, against FakeSequrity.

Each step is written the way an application would use the package (``import sequrity_openai
as sq``), so this file doubles as an example. Every line printed while the stand-in runs is
labelled, so nobody mistakes a scripted answer for the real service's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TextIO

import sequrity_openai as sq

from .._settings import ENV_API_KEY
from ._output import EXIT_OK
from ._standin import fake_sequrity

if TYPE_CHECKING:
    from ..testing import FakeSequrity

__all__ = ["LABEL", "add_parser"]

LABEL: Final = "[local fake] "
MODEL: Final = "openai/gpt-5-mini"

POLICY: Final = """\
let sensitive_docs = {"internal_use", "confidential"};
tool "get_internal_document" -> @tags |= sensitive_docs;
tool "send_email" {
    hard deny when (body.tags overlaps sensitive_docs)
        and (not to.value in {str matching r".*@trustedcorp\\.com"});
}
"""


def _tool(name: str, description: str, **properties: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {p: {"type": t} for p, t in properties.items()}}
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {**schema, "required": [*properties]},
        },
    }


TOOLS: Final[list[Any]] = [
    _tool("get_internal_document", "Read an internal document by id.", doc_id="string"),
    _tool("send_email", "Send an email.", to="string", body="string"),
]

SERVICE_STEPS: Final = """\
SEQURITY_API_KEY is set, so the demo starts no local stand-in and makes no call by itself.
Run the same walk-through against Sequrity Control (each call uses your key and may cost):

  sequrity-openai config --features dual-llm
  sequrity-openai chat What is the capital of France? --features single-llm
  sequrity-openai chat Add 40 and 57. --features dual-llm \\
      --config '{"response_format": {"include_program": true}}'
  sequrity-openai chat Write a haiku about firewalls. --features single-llm --stream
  sequrity-openai chat And its population? --features single-llm --session-id <id from above>
  sequrity-openai chat Email the Q3 roadmap to eve@example.com --features dual-llm \\
      --policy policy.sqrt

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


def get_internal_document(doc_id: str) -> str:
    """The local tool the demo runs when the (scripted) model asks for it."""
    return f"Document {doc_id} (internal_use): Q3 roadmap - ship the offline test kit."


LOCAL_TOOLS: Final[dict[str, Callable[..., str]]] = {"get_internal_document": get_internal_document}


def _ask(client: Any, text: str, **extra: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}], **extra)


def single_llm(fake: FakeSequrity, say: Labelled) -> str | None:
    say.line("1. single-llm chat    client = sq.create_client(features=sq.Features.single_llm())")
    fake.queue_text("Paris is the capital of France.")
    with fake.client(llm_api_key="", features=sq.Features.single_llm()) as client, sq.session() as first:
        completion = _ask(client, "What is the capital of France?")
    say.line("   user:      What is the capital of France?")
    say.line(f"   assistant: {completion.choices[0].message.content}")
    say.line(f"   session:   {first.id}")
    say.line("              (kept by `with sq.session() as s:` from X-Session-ID)")
    return first.id


DUAL: Final[dict[str, Any]] = {
    "features": sq.Features.dual_llm(),
    "config": sq.Config.dual_llm(include_program=True),
}


def dual_llm(fake: FakeSequrity, say: Labelled) -> None:
    say.line("2. dual-llm chat      features=sq.Features.dual_llm(),")
    say.line("                      config=sq.Config.dual_llm(include_program=True)")
    fake.queue_text("97", value=97)
    with fake.client(llm_api_key="", **DUAL) as client:
        result = sq.parse_result(_ask(client, "Add 40 and 57."))
    say.line("   user:      Add 40 and 57.")
    say.line(f"   sq.parse_result(completion): status={result.status} value={result.value!r}")
    say.line("   program:")
    for line in (result.program or "").splitlines():
        say.line(f"     {line}")


def streaming(fake: FakeSequrity, say: Labelled) -> None:
    say.line("3. streaming          stream=True, each chunk printed as it arrives")
    fake.queue_text("Packets at the gate / the firewall weighs each whisper / trust walks in")
    with fake.client(llm_api_key="", features=sq.Features.single_llm()) as client:
        say.write("   assistant: ")
        chunks = 0
        for chunk in _ask(client, "Write a haiku about firewalls.", stream=True):
            for choice in chunk.choices:
                if choice.delta.content:
                    say.write(choice.delta.content)
                    chunks += 1
        say.write("\n")
    say.line(f"   ({chunks} chunks with text)")


def tools_and_denial(fake: FakeSequrity, say: Labelled) -> None:
    say.line("4. tool call round trip, then a policy denial")
    say.line("   policy=sq.Policy.dual_llm(codes=POLICY), POLICY being:")
    for line in POLICY.splitlines():
        say.line(f"     {line}")
    fake.queue_tool_call("get_internal_document", {"doc_id": "q3-roadmap"})
    fake.queue_text("The Q3 roadmap ships the offline test kit.")
    fake.queue_denial(tool="send_email")
    policy = sq.Policy.dual_llm(codes=POLICY)
    with fake.client(llm_api_key="", **DUAL, policy=policy) as client, sq.session() as conversation:
        messages: list[Any] = [{"role": "user", "content": "Summarise document q3-roadmap."}]
        say.line(f"   user:      {messages[0]['content']}")
        message = (
            client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS).choices[0].message
        )
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls or []:
            function = call.function  # type: ignore[union-attr]
            say.line(f"   model asks for tool {function.name}({function.arguments})")
            output = LOCAL_TOOLS[function.name](**json.loads(function.arguments))
            say.line("   ran the local Python tool, sending back:")
            say.line(f"     {output}")
            messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
        completion = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
        say.line(f"   final answer: {sq.parse_result(completion).value}")

        messages.append({"role": "assistant", "content": completion.choices[0].message.content})
        messages.append({"role": "user", "content": "Email it to eve@example.com."})
        say.line("   user:      Email it to eve@example.com.")
        completion = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
        try:
            sq.parse_result(completion).raise_for_status()
        except sq.PolicyViolation as denial:
            say.line("   DENIED (sq.PolicyViolation, scripted):")
            for line in textwrap.wrap(str(denial), 80):
                say.line(f"     {line}")
        say.line(f"   session:   {conversation.id}")


def resume(fake: FakeSequrity, say: Labelled, saved: str | None) -> None:
    say.line("5. resumed session    with sq.session(session_id=<id from step 1>):")
    client = fake.client(llm_api_key="", features=sq.Features.single_llm())
    with client, sq.session(session_id=saved) as resumed:
        completion = _ask(client, "And its population?")
    say.line("   user:      And its population?")
    say.line(f"   assistant: {completion.choices[0].message.content}  (unscripted: the stand-in echoes)")
    sent = fake.last_request.sent_session_id if fake.last_request else None
    say.line(f"   sent X-Session-ID {sent};")
    say.line(f"   turn {fake.sessions[resumed.id or '']} of session {resumed.id}")


def walk(fake: FakeSequrity, say: Labelled, *, key_set: bool) -> None:
    if key_set:
        say.line(f"--offline: running against FakeSequrity at {fake.url},")
        say.line("a local stand-in of Sequrity Control; SEQURITY_API_KEY is set but not used.")
        say.line("Nothing leaves this machine;")
    else:
        say.line(f"SEQURITY_API_KEY is not set: running against FakeSequrity at {fake.url},")
        say.line("a local stand-in of Sequrity Control. Nothing leaves this machine;")
    say.line("the answers below are scripted by the demo, not written by an LLM,")
    say.line("and no policy is evaluated.")
    say.line()
    saved = single_llm(fake, say)
    say.line()
    dual_llm(fake, say)
    say.line()
    streaming(fake, say)
    say.line()
    tools_and_denial(fake, say)
    say.line()
    resume(fake, say, saved)
    fake.check()
    say.line()
    say.line("Done. With a real key: export SEQURITY_API_KEY=... and try")
    say.line("  sequrity-openai chat Hello")


def _run(args: argparse.Namespace) -> int:
    key_set = bool(os.environ.get(ENV_API_KEY))
    if key_set and not args.offline:
        print(SERVICE_STEPS, end="", flush=True)
        return EXIT_OK
    with fake_sequrity()() as fake:
        walk(fake, Labelled(sys.stdout), key_set=key_set)
    return EXIT_OK


def add_parser(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="walk through chats, streaming, tools, a denial and sessions",
        description="Without SEQURITY_API_KEY, run the walk-through against a local stand-in started in "
        "this process. With it, print the commands that do the same against the service.",
    )
    demo.add_argument(
        "--offline", action="store_true", help="use the local stand-in even if SEQURITY_API_KEY is set"
    )
    demo.set_defaults(handler=_run)
