"""A minimal HTTP/1.1 keep-alive server answering every POST with a fixed chat completion.

Run as ``python benchmarks/_server.py``: it prints ``PORT <n>`` once listening on 127.0.0.1
and serves until its stdin closes. It is deliberately raw (``asyncio.Protocol``, no framework)
so that the server side costs as little as possible, and it runs in its own process so it
does not compete with the measured client for the GIL.

Every response carries ``X-Session-ID``: the one the request sent, else a new one from a
counter. (It was ``uuid.uuid4()``, which cost this process about 15-20 us of wall time per
answer: requests without an id, as the stock client's, got slower answers than those inside a
session scope, which flattered the scoped variants.) Every answer is held ``HOLD_SECONDS``
before it is written (see ``_hold``). A request
body with ``"stream": true`` gets a server-sent-event stream of ``STREAM_CHUNKS`` chunks: plain
words, or the dual-llm document in pieces when the body contains ``[document-stream]``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time

STREAM_CHUNKS = 20
_DUAL_LLM_CONTENT = json.dumps(
    {
        "status": "success",
        "final_return_value": {
            "value": "Paris",
            "meta": {"producers": ["user"], "consumers": [], "tags": []},
        },
        "program": "final_return_value = 'Paris'",
    }
)
_COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "openai/gpt-5-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _DUAL_LLM_CONTENT},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
    },
    separators=(",", ":"),
).encode()


def _sse(document: bool = False) -> bytes:
    events = []
    # A dual-llm answer streams its document in pieces; a plain one streams words.
    step = -(-len(_DUAL_LLM_CONTENT) // (STREAM_CHUNKS - 1))
    pieces = [_DUAL_LLM_CONTENT[i : i + step] for i in range(0, len(_DUAL_LLM_CONTENT), step)]
    for i in range(STREAM_CHUNKS):
        text = (pieces[i - 1] if i - 1 < len(pieces) else "") if document else f"tok{i} "
        delta = {"role": "assistant", "content": ""} if i == 0 else {"content": text}
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "openai/gpt-5-mini",
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": "stop" if i == STREAM_CHUNKS - 1 else None}
            ],
        }
        events.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    # One HTTP chunk per event, all written at once: the client's parsing is what is measured.
    return b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"


_STREAM_BODY = _sse()
_DOCUMENT_STREAM_BODY = _sse(document=True)
_JSON_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" % len(_COMPLETION)
_SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
_SESSION_MARK = b"\r\nx-session-id:"
_NEW_IDS = itertools.count(1)


# Every answer is held for this long before it is written (see _hold).
HOLD_SECONDS = 60e-6


def _hold() -> None:
    # On loopback an answer can arrive before the client starts waiting for it, sparing the
    # client a wake-up (~10-15 us here). Which clients won that race did not follow their
    # work (one empty request hook more flipped it; see README.md). Held answers make every
    # client wait, so wall time compares the clients' own costs. A real Sequrity answer takes
    # far longer.
    end = time.perf_counter() + HOLD_SECONDS
    while time.perf_counter() < end:
        pass


class _Handler(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self._respond(head, body)

    def _respond(self, head: bytes, body: bytes) -> None:
        at = head.find(_SESSION_MARK)
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            sid = head[at + len(_SESSION_MARK) : stop if stop >= 0 else len(head)].strip()
        else:
            sid = b"sess-%031d" % next(_NEW_IDS)
        streaming = b'"stream":true' in body or b'"stream": true' in body
        stream_body = _DOCUMENT_STREAM_BODY if b"[document-stream]" in body else _STREAM_BODY
        start, payload = (_SSE_HEAD, stream_body) if streaming else (_JSON_HEAD, _COMPLETION)
        assert self.transport is not None
        _hold()
        self.transport.write(start + b"x-session-id: " + sid + b"\r\n\r\n" + payload)


async def _main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Handler, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    # Serve until the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(_main())
