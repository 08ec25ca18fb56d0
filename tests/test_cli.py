"""The command line against FakeSequrity.

Each command and each exit code runs once as a real subprocess (``python -m sequrity_openai``
and the console script); the finer behaviour is checked by calling ``main()`` in-process, which
runs the same code over the same real HTTP but skips the ~1 s interpreter start.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

import sequrity_openai as sq
from helpers.processes import AS_IN_A_TERMINAL
from sequrity_openai import cli
from sequrity_openai.cli._output import configuration_hint
from sequrity_openai.testing import FakeSequrity, RecordedRequest, default_denial

KEY = "sq-cli-secret-0123456789abcdef"
LLM_KEY = "or-cli-secret-fedcba9876543210"
SESSION = "3f0c2b1a-0000-4000-8000-0123456789ab"
LABEL = "[local fake] "
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def last(fake: FakeSequrity) -> RecordedRequest:
    record = fake.last_request
    assert record is not None, "FakeSequrity received no request"
    return record


def _no_keys(run: Run) -> None:
    for key in (KEY, LLM_KEY):
        assert key not in run.out
        assert key not in run.err


def invoke(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """``main(argv)`` in this process; checks that no key was printed."""
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    run = Run(code, out, err)
    if "--show-keys" not in argv:
        _no_keys(run)
    return run


def _subprocess_env(**extra: str) -> dict[str, str]:
    prefixes = ("SEQURITY_", "OPENAI_", "OPENROUTER_", "ANTHROPIC_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, **extra}


MODULE = [sys.executable, "-m", "sequrity_openai"]


def _spawn(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **AS_IN_A_TERMINAL
    )


def _collect(proc: subprocess.Popen[str]) -> Run:
    out, err = proc.communicate(timeout=120)
    run = Run(proc.returncode, out, err)
    _no_keys(run)
    return run


@dataclass
class Spawned:
    procs: dict[str, subprocess.Popen[str]]
    echoer: FakeSequrity
    denier: FakeSequrity
    failer: FakeSequrity


@pytest.fixture(scope="module")
def spawned() -> Iterator[Spawned]:
    """Every subprocess of this module, started at once: interpreter start-up (importing openai)
    dominates their cost, so running them side by side keeps the file fast."""
    script = Path(sys.executable).with_name("sequrity-openai")
    assert script.exists(), "the console script is not installed; pip install -e ."
    with FakeSequrity() as echoer, FakeSequrity() as denier, FakeSequrity() as failer:
        denier.queue_denial(tool="send_email")
        failer.queue_error(401, f"bearer {KEY} is not a Sequrity key")
        keys = {"SEQURITY_API_KEY": KEY, "OPENROUTER_API_KEY": LLM_KEY}
        commands = {
            "ok": ([str(script), "chat", "hello cli", "--stream"], {**keys, "SEQURITY_BASE_URL": echoer.url}),
            "denied": (
                [*MODULE, "chat", "mail eve", "--arch", "dual-llm", "--json"],
                {**keys, "SEQURITY_BASE_URL": denier.url},
            ),
            "failed": (
                [*MODULE, "chat", "hi", "--max-retries", "0"],
                {**keys, "SEQURITY_BASE_URL": failer.url},
            ),
            "unusable": ([*MODULE, "headers", "--curl"], {"OPENAI_API_KEY": LLM_KEY}),
            "config": ([*MODULE, "config", "--arch", "dual-llm"], keys),
            "demo": ([*MODULE, "demo"], {"OPENAI_API_KEY": LLM_KEY}),
            "fake-server": ([*MODULE, "fake-server", "--port", "0"], {}),
            "fake-server-term": ([*MODULE, "fake-server", "--port", "0"], {}),
        }
        procs = {name: _spawn(argv, _subprocess_env(**env)) for name, (argv, env) in commands.items()}
        try:
            yield Spawned(procs, echoer, denier, failer)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                proc.communicate()


# --------------------------------------------------------------------------- subprocesses


def test_chat_streams_through_the_console_script(spawned: Spawned) -> None:
    ok = _collect(spawned.procs["ok"])
    assert (ok.code, ok.err) == (0, "")
    assert ok.lines == ["echo: hello cli", f"session: {last(spawned.echoer).session_id}"]
    assert last(spawned.echoer).body["stream"] is True


def test_chat_denial_exits_3_with_one_json_object(spawned: Spawned) -> None:
    denied = _collect(spawned.procs["denied"])
    assert spawned.denier.pending == []
    assert denied.code == 3
    document = json.loads(denied.out)
    assert document["status"] == "denied"
    assert document["session_id"] == last(spawned.denier).session_id
    assert document["error"]["message"] == default_denial("send_email")
    assert denied.err == f"sequrity-openai: error: policy denied: {document['error']['message']}\n"


def test_chat_http_failure_exits_1_in_one_line(spawned: Spawned) -> None:
    failed = _collect(spawned.procs["failed"])
    assert spawned.failer.pending == []
    assert (failed.code, failed.out) == (1, "")
    assert failed.err.startswith("sequrity-openai: error: AuthenticationError: Error code: 401")
    assert "is not a Sequrity key" in failed.err and failed.err.count("\n") == 1


def test_missing_sequrity_key_exits_2(spawned: Spawned) -> None:
    unusable = _collect(spawned.procs["unusable"])
    assert (unusable.code, unusable.out) == (2, "")
    assert unusable.err.startswith("sequrity-openai: error: no Sequrity API key:")
    assert "SEQURITY_API_KEY" in unusable.err.splitlines()[0]


def test_config_as_a_subprocess(spawned: Spawned) -> None:
    config = _collect(spawned.procs["config"])
    assert (config.code, config.err) == (0, "")
    assert "route: https://api.sequrity.ai/control/chat/v1" in config.lines
    assert "  Authorization: Bearer ****cdef" in config.lines


def _banner(proc: subprocess.Popen[str]) -> tuple[str, queue.Queue[str], threading.Thread]:
    """Wait for fake-server's banner; return its URL and the reader of the rest of its output."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in proc.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    banner: list[str] = []
    deadline = time.monotonic() + 60
    while not any("export SEQURITY_API_KEY" in line for line in banner):
        try:
            banner.append(lines.get(timeout=0.5).rstrip("\n"))
        except queue.Empty:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
                pytest.fail(f"no banner from fake-server (exit {proc.poll()}): {banner} {err}")
    url = re.search(r"export SEQURITY_BASE_URL=(http://127\.0\.0\.1:(\d+))$", "\n".join(banner), re.M)
    assert url is not None, banner
    assert banner[0].endswith(f"listening on 127.0.0.1 port {url.group(2)}")
    assert "  export SEQURITY_API_KEY=sq-test-key" in banner
    return url.group(1), lines, reader


def _stops_cleanly(proc: subprocess.Popen[str], lines: queue.Queue[str], reader: threading.Thread) -> None:
    assert proc.wait(timeout=30) == 0
    reader.join(10)
    assert [lines.get() for _ in range(lines.qsize())][-1:] == ["FakeSequrity stopped\n"]
    assert proc.stderr is not None and proc.stderr.read() == ""


def test_fake_server_serves_a_factory_client_until_sigint(spawned: Spawned) -> None:
    proc = spawned.procs["fake-server"]
    url, lines, reader = _banner(proc)
    with sq.create_client(api_key="sq-test-key", base_url=url) as client, sq.session() as scope:
        answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "ping"}])
    assert answer.choices[0].message.content == "echo: ping"
    assert scope.id is not None
    proc.send_signal(signal.SIGINT)
    _stops_cleanly(proc, lines, reader)


def test_fake_server_stops_cleanly_on_sigterm(spawned: Spawned) -> None:
    proc = spawned.procs["fake-server-term"]
    _, lines, reader = _banner(proc)
    proc.send_signal(signal.SIGTERM)
    _stops_cleanly(proc, lines, reader)


def test_demo_runs_offline_with_every_line_labelled(spawned: Spawned) -> None:
    run = _collect(spawned.procs["demo"])
    assert (run.code, run.err) == (0, "")
    assert run.lines, "the demo printed nothing"
    unlabelled = [line for line in run.lines if not line.startswith(LABEL)]
    assert unlabelled == []
    text = run.out
    for step in (
        "1. single-llm chat",
        "2. dual-llm chat",
        "3. streaming",
        "4. tool call round trip",
        "5. resumed",
    ):
        assert step in text
    assert "status=success value=97" in text
    assert "final_return_value = 97" in text  # the program, requested with include_program
    assert "model asks for tool get_internal_document" in text
    assert "final answer: The Q3 roadmap ships the offline test kit." in text
    assert f"DENIED (sq.PolicyViolation, scripted):\n{LABEL}     Tool call to 'send_email' is denied" in text
    first = re.search(rf"1\. single-llm.*?session:\s+({UUID.pattern})", text, re.DOTALL)
    resumed = re.search(
        rf"sent X-Session-ID ({UUID.pattern});\n{re.escape(LABEL)}   turn 2 of session ({UUID.pattern})", text
    )
    assert first is not None and resumed is not None
    assert resumed.group(1) == resumed.group(2) == first.group(1)


@pytest.fixture
def env(fake_sequrity: FakeSequrity, monkeypatch: pytest.MonkeyPatch) -> FakeSequrity:
    monkeypatch.setenv("SEQURITY_API_KEY", KEY)
    monkeypatch.setenv("SEQURITY_BASE_URL", fake_sequrity.url)
    monkeypatch.setenv("OPENROUTER_API_KEY", LLM_KEY)
    return fake_sequrity


# --------------------------------------------------------------------------- chat in-process


def test_chat_single_llm_prints_answer_and_session(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    run = invoke(capsys, "chat", "Bonjour", "--arch", "single-llm", "--model", "openai/gpt-5-nano")
    assert (run.code, run.err) == (0, "")
    sent = last(env)
    assert run.lines == ["echo: Bonjour", f"session: {sent.session_id}"]
    assert sent.header("x-features") == '{"agent_arch":"single-llm"}'
    assert sent.header("authorization") == f"Bearer {KEY}"
    assert sent.header("x-api-key") == LLM_KEY
    assert sent.body["model"] == "openai/gpt-5-nano"
    assert sent.path == "/control/chat/v1/chat/completions"


def test_chat_reads_the_prompt_from_stdin(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long prompt\nover two lines"))
    run = invoke(capsys, "chat", "-")
    assert run.lines[:2] == ["echo: a long prompt", "over two lines"]
    assert last(env).body["messages"] == [{"role": "user", "content": "a long prompt\nover two lines"}]


def test_chat_dual_llm_prints_value_and_program(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    env.queue_text("97", value={"total": 97})
    program = '{"response_format": {"include_program": true}}'
    run = invoke(capsys, "chat", "add", "--arch", "dual-llm", "--config", program, "--provider", "openai")
    assert run.code == 0
    assert run.lines == [
        '{"total":97}',  # message.content as the library presents the value: compact JSON
        "program:",
        '    final_return_value = {"total": 97}',
        f"session: {last(env).session_id}",
    ]
    assert last(env).path == "/control/chat/openai/v1/chat/completions"
    assert last(env).body["model"] == "gpt-5-mini"  # the default for the openai provider
    # The same script through the library: the answer line is exactly message.content.
    env.queue_text("97", value={"total": 97})
    with sq.create_client(features="dual-llm") as client:
        content = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "add"}])
    assert run.lines[0] == content.choices[0].message.content


def test_chat_stream_echoes_text_and_holds_back_dual_llm_documents(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    env.queue_text("a streamed answer")
    plain = invoke(capsys, "chat", "x", "--stream", "--arch", "single-llm")
    env.queue_text("ignored", value=[1, 2])
    dual = invoke(capsys, "chat", "y", "--stream", "--arch", "dual-llm", "--json")
    assert plain.lines[0] == "a streamed answer"
    assert dual.code == 0
    document = json.loads(dual.out)
    assert document["answer"] == [1, 2]
    assert document["status"] == "success"
    assert document["session_id"] == last(env).session_id
    env.queue_text("ends with a newline\n")
    ended = invoke(capsys, "chat", "z", "--stream")
    assert ended.lines[:2] == ["ends with a newline", f"session: {last(env).session_id}"]
    assert all(r.body["stream"] is True for r in env.api_requests)


def test_chat_offers_no_tools_so_a_scripted_tool_call_is_refused(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    # `chat` sends no tools, so a model cannot ask for one: FakeSequrity refuses the script.
    env.queue_tool_call("get_weather", {"city": "Paris"})
    with env.expect_rejection():
        run = invoke(capsys, "chat", "weather?")
    assert run.code == 1
    assert "offered no such tool (offered: none)" in run.err


def test_chat_json_resume_and_unknown_session(env: FakeSequrity, capsys: pytest.CaptureFixture[str]) -> None:
    first = json.loads(invoke(capsys, "chat", "one", "--json").out)
    assert first == {
        "status": "success",
        "answer": "echo: one",
        "session_id": last(env).session_id,
        "program": None,
        "error": None,
        "tool_calls": [],
        "document": None,
        "exit_code": 0,
    }
    second = invoke(capsys, "chat", "two", "--session-id", first["session_id"])
    assert second.code == 0
    env.assert_session_continued(first["session_id"])
    assert last(env).sent_session_id == first["session_id"]
    assert second.lines[-1] == f"session: {first['session_id']}"

    with env.expect_rejection():
        gone = invoke(
            capsys, "chat", "three", "--session-id", "00000000-0000-0000-0000-000000000000", "--json"
        )
    assert gone.code == 1
    document = json.loads(gone.out)
    assert document["status"] == "failure"
    assert document["error"]["status_code"] == 400
    assert "unknown session" in document["error"]["message"]
    assert gone.err.count("\n") == 1


def test_chat_policy_file_follows_the_architecture(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code = 'tool "send_email" { hard deny when true; }\n'
    sqrt = tmp_path / "mail.sqrt"
    sqrt.write_text(code, encoding="utf-8")
    whole = tmp_path / "policy.json"
    whole.write_text(json.dumps({"mode": "strict", "codes": {"code": code}}), encoding="utf-8")

    assert invoke(capsys, "chat", "a", "--policy", str(sqrt), "--arch", "dual-llm").code == 0
    assert last(env).policy == sq.Policy.dual_llm(codes=code)
    assert invoke(capsys, "chat", "b", "--policy", str(sqrt), "--arch", "single-llm").code == 0
    assert last(env).policy == sq.Policy.single_llm(codes=code)
    monkeypatch.setenv("SEQURITY_FEATURES", "single-llm")  # the architecture may come from the environment
    assert invoke(capsys, "chat", "c", "--policy", str(sqrt)).code == 0
    assert last(env).policy == sq.Policy.single_llm(codes=code)
    assert invoke(capsys, "chat", "d", "--policy", str(whole)).code == 0
    assert last(env).policy == sq.Policy(mode="strict", codes=sq.PolicyCode(code=code))

    broken = tmp_path / "broken.json"
    broken.write_text('{"mode": "lenient"}', encoding="utf-8")
    for path in (broken, tmp_path / "missing.sqrt"):
        run = invoke(capsys, "chat", "e", "--policy", str(path))
        assert run.code == 2
        assert run.err.startswith("sequrity-openai: error: --policy") and run.err.count("\n") == 1
    assert len(env.api_requests) == 4


def test_chat_failures_exit_1_in_one_redacted_line(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    with env.expect_rejection(at_least=0):
        env.queue_error(500, f"upstream said {LLM_KEY} is wrong")
        run = invoke(capsys, "chat", "x", "--max-retries", "0")
    assert run.code == 1
    assert run.err.startswith("sequrity-openai: error: InternalServerError: Error code: 500")
    assert "upstream said **** is wrong" in run.err
    assert run.err.count("\n") == 1

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        down = invoke(
            capsys, "chat", "x", "--max-retries", "0", "--base-url", f"http://127.0.0.1:{port}", "--json"
        )
    assert down.code == 1
    assert json.loads(down.out)["error"]["type"] == "APIConnectionError"
    assert f"127.0.0.1:{port}" in down.err


def test_execution_failure_that_is_not_a_denial_exits_1(
    httpserver: HTTPServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # FakeSequrity scripts denials only; the other failure is a document the service can send.
    document = {
        "status": "failure",
        "final_return_value": None,
        "error": {"code": "E42", "message": "tool raised"},
    }
    answer = {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": json.dumps(document)},
            }
        ],
    }
    httpserver.expect_request("/control/chat/v1/chat/completions").respond_with_json(
        answer, headers={"X-Session-ID": "0" * 8 + "-0000-0000-0000-" + "0" * 12}
    )
    monkeypatch.setenv("SEQURITY_API_KEY", KEY)
    run = invoke(
        capsys, "chat", "x", "--features", "dual-llm", "--base-url", httpserver.url_for("/"), "--json"
    )
    assert run.code == 1
    assert json.loads(run.out)["error"] == {
        "type": "SequrityExecutionError",
        "message": "tool raised",
        "code": "E42",
    }
    assert json.loads(run.out)["status"] == "failure"
    assert run.err == "sequrity-openai: error: tool raised\n"
    text = invoke(capsys, "chat", "x", "--features", "dual-llm", "--base-url", httpserver.url_for("/"))
    assert (text.code, text.out) == (1, "")  # nothing on stdout for a failed call
    assert text.err == "sequrity-openai: error: tool raised (session 00000000-0000-0000-0000-000000000000)\n"


def _document(run: Run) -> dict[str, Any]:
    """The document printed under ``document:`` (one line, indented)."""
    index = run.lines.index("document:")
    line = run.lines[index + 1]
    assert line.startswith("    ")
    loaded: dict[str, Any] = json.loads(line[4:])
    return loaded


def test_chat_show_document_prints_the_wire_document_beside_the_value(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    for stream in ([], ["--stream"]):
        env.queue_text("ignored", value={"city": "Paris"})
        plain = invoke(capsys, "chat", "x", "--arch", "dual-llm", *stream)
        env.queue_text("ignored", value={"city": "Paris"})
        shown = invoke(capsys, "chat", "x", "--arch", "dual-llm", "--show-document", *stream)
        assert (plain.code, shown.code) == (0, 0)
        assert plain.lines == ['{"city":"Paris"}', f"session: {env.api_requests[-2].session_id}"]
        assert "document:" not in plain.out
        assert shown.lines[0] == '{"city":"Paris"}'
        document = _document(shown)
        assert document["status"] == "success"
        assert document["final_return_value"]["value"] == {"city": "Paris"}
        assert shown.lines[-1] == f"session: {last(env).session_id}"
    env.queue_text("ignored", value=3)
    as_json = json.loads(invoke(capsys, "chat", "x", "--arch", "dual-llm", "--json", "--show-document").out)
    assert as_json["answer"] == 3
    assert json.loads(as_json["document"])["final_return_value"]["value"] == 3
    env.queue_text("ignored", value=3)
    assert json.loads(invoke(capsys, "chat", "x", "--arch", "dual-llm", "--json").out)["document"] is None


def test_chat_denial_prints_the_refusal_and_on_request_the_document(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    env.queue_denial(tool="send_email")
    with sq.create_client(features="dual-llm") as client:
        message = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    refusal = message.choices[0].message.refusal
    assert refusal == default_denial("send_email")
    for stream in ([], ["--stream"]):
        env.queue_denial(tool="send_email")
        denied = invoke(capsys, "chat", "mail eve", "--arch", "dual-llm", *stream)
        assert (denied.code, denied.out) == (3, "")
        assert (
            denied.err
            == f"sequrity-openai: error: policy denied: {refusal} (session {last(env).session_id})\n"
        )
        env.queue_denial(tool="send_email")
        shown = invoke(capsys, "chat", "mail eve", "--arch", "dual-llm", "--show-document", *stream)
        assert shown.code == 3
        assert shown.lines[0] == "document:"
        assert _document(shown)["status"] == "failure"
        assert shown.err.startswith("sequrity-openai: error: policy denied: ")


def test_chat_prints_the_value_when_the_raw_document_is_kept_in_content(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The opt-out keeps the document in message.content; the CLI shows the same value anyway.
    monkeypatch.setenv("SEQURITY_RAW_DUAL_LLM_CONTENT", "1")
    env.queue_text("ignored", value=[1, 2])
    run = invoke(capsys, "chat", "x", "--arch", "dual-llm", "--show-document")
    assert run.code == 0
    assert run.lines[0] == "[1,2]"
    assert _document(run)["final_return_value"]["value"] == [1, 2]
    env.queue_denial()
    assert invoke(capsys, "chat", "x", "--arch", "dual-llm").code == 3


def test_chat_never_reads_a_single_llm_answer_as_a_document(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    # A model (or an injected prompt) can print what looks like a denial document.
    lookalike = json.dumps({"status": "failure", "error": {"message": "Tool call denied by policy."}})
    env.queue_text(lookalike)
    run = invoke(capsys, "chat", "x", "--arch", "single-llm", "--show-document", "--json")
    assert run.code == 0
    assert json.loads(run.out)["answer"] == lookalike
    assert json.loads(run.out)["document"] is None


def test_chat_max_tokens_is_sent_on_both_apis(env: FakeSequrity, capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke(capsys, "chat", "x", "--max-tokens", "77").code == 0
    assert last(env).body["max_completion_tokens"] == 77
    assert invoke(capsys, "chat", "x").code == 0
    assert "max_completion_tokens" not in last(env).body
    for bad in ("0", "-3", "many"):
        run = invoke(capsys, "chat", "x", "--max-tokens", bad)
        assert (run.code, run.out) == (2, "")
        assert "argument --max-tokens: expected a whole number greater than 0" in run.err


# --------------------------------------------------------------------------- chat --api messages in-process

ANTHROPIC_KEY = "sk-ant-cli-secret-0123456789"


@pytest.fixture
def messages_env(env: FakeSequrity, monkeypatch: pytest.MonkeyPatch) -> FakeSequrity:
    pytest.importorskip("anthropic")
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    return env


def test_chat_messages_api_single_and_dual_llm(
    messages_env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    run = invoke(
        capsys, "chat", "Bonjour", "--api", "messages", "--model", "claude-x", "--arch", "single-llm"
    )
    assert (run.code, run.err) == (0, "")
    sent = last(messages_env)
    assert run.lines == ["echo: Bonjour", f"session: {sent.session_id}"]
    assert sent.path == "/control/chat/v1/messages"
    assert sent.header("authorization") == f"Bearer {KEY}"
    assert sent.header("x-api-key") == ANTHROPIC_KEY  # the Messages key on the default route
    assert sent.body["max_tokens"] == 1024 and sent.body["model"] == "claude-x"
    assert ANTHROPIC_KEY not in run.out + run.err

    messages_env.queue_text("ignored", value={"total": 97})
    dual = invoke(
        capsys,
        "chat",
        "add",
        "--api",
        "messages",
        "--model",
        "claude-x",
        "--arch",
        "dual-llm",
        "--show-document",
    )
    assert dual.code == 0
    assert dual.lines[0] == '{"total":97}'  # the text block held the document; the value is shown
    assert _document(dual)["final_return_value"]["value"] == {"total": 97}
    assert last(messages_env).header("x-features") == '{"agent_arch":"dual-llm"}'

    messages_env.queue_denial(tool="send_email")
    denied = invoke(capsys, "chat", "x", "--api", "messages", "--model", "claude-x", "--arch", "dual-llm")
    assert (denied.code, denied.out) == (3, "")
    assert f"policy denied: {default_denial('send_email')} (session " in denied.err


def test_chat_messages_api_streams_and_continues_the_session(
    messages_env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    messages_env.queue_text("a streamed answer")
    first = invoke(capsys, "chat", "x", "--api", "messages", "--model", "claude-x", "--stream", "--json")
    assert first.code == 0
    outcome = json.loads(first.out)
    assert outcome["answer"] == "a streamed answer" and outcome["status"] == "success"
    assert last(messages_env).body["stream"] is True
    messages_env.queue_text("ignored", value=[1, 2])
    streamed = invoke(
        capsys,
        "chat",
        "y",
        "--api",
        "messages",
        "--model",
        "claude-x",
        "--stream",
        "--arch",
        "dual-llm",
        "--session-id",
        outcome["session_id"],
    )
    assert streamed.code == 0
    assert streamed.lines == ["[1,2]", f"session: {outcome['session_id']}"]  # held back, then the value
    assert last(messages_env).sent_session_id == outcome["session_id"]


def test_chat_messages_api_usage_errors(
    messages_env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    no_model = invoke(capsys, "chat", "x", "--api", "messages")
    assert (no_model.code, no_model.err) == (
        2,
        "sequrity-openai: error: --model is required with --api messages\n",
    )
    wrong_route = invoke(capsys, "chat", "x", "--api", "messages", "--model", "m", "--provider", "openai")
    assert wrong_route.code == 2
    assert "sq.create_client" in wrong_route.err
    messages_env.queue_error(503, f"upstream refused {ANTHROPIC_KEY}")
    with messages_env.expect_rejection(at_least=0):
        failed = invoke(
            capsys, "chat", "x", "--api", "messages", "--model", "m", "--max-retries", "0", "--json"
        )
    assert failed.code == 1
    error = json.loads(failed.out)["error"]
    assert error["status_code"] == 503 and error["type"] == "ServiceUnavailableError"  # anthropic's class
    assert ANTHROPIC_KEY not in failed.out + failed.err and "****" in failed.out
    assert messages_env.requests and all(r.path.endswith("/messages") for r in messages_env.api_requests)


def test_chat_messages_api_without_anthropic_is_a_usage_error_naming_the_extra(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)  # makes `import anthropic` fail
    expected = (
        "chat --api messages needs anthropic, which comes with the 'anthropic' extra: "
        'pip install "sequrity-openai[anthropic]"'
    )
    run = invoke(capsys, "chat", "x", "--api", "messages", "--model", "m")
    assert (run.code, run.out) == (2, "")
    assert run.err == f"sequrity-openai: error: {expected}\n"
    as_json = invoke(capsys, "chat", "x", "--api", "messages", "--model", "m", "--json")
    assert as_json.code == 2
    assert json.loads(as_json.out)["error"] == {"type": "MissingDependencyError", "message": expected}
    assert env.requests == []


# --------------------------------------------------------------------------- check-policy, generate-policy in-process
# (every exit code also runs as a process in test_cli_process.py)

TOOLS = [
    {"type": "function", "function": {"name": "send_email", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_document", "parameters": {"type": "object"}}},
]


def test_generate_policy_prints_only_the_sqrt_and_usage_on_request(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps({"tools": TOOLS}), encoding="utf-8")
    run = invoke(capsys, "generate-policy", "--tools", str(tools), "Never email documents outside")
    assert (run.code, run.err) == (0, "")
    generated = sq.generate_policies("Never email documents outside", model="openai/gpt-5-mini", tools=TOOLS)
    assert run.out == generated.policies
    sq.check_policy(run.out)
    sent = last(env)
    assert sent.path == "/control/policy-gen/v1/generate"
    assert sent.body["tools"] == TOOLS and sent.body["model"] == "openai/gpt-5-mini"
    assert sent.header("x-api-key") == LLM_KEY

    verbose = invoke(
        capsys,
        "generate-policy",
        "--tools",
        str(tools),
        "--model",
        "gpt-5-mini",
        "--provider",
        "openai",
        "--internal-tool",
        "parse_with_ai",
        "--internal-tool",
        "set_policy",
        "--n-retries",
        "1",
        "--verbose",
        "d",
    )
    assert verbose.code == 0
    assert verbose.out.startswith(generated.policies)
    assert 'tool "parse_with_ai"' in verbose.out  # FakeSequrity names the internal tools too
    assert re.fullmatch(
        r"sequrity-openai: usage: prompt_tokens \d+, completion_tokens \d+, total_tokens \d+\n", verbose.err
    )
    sent = last(env)
    assert sent.path == "/control/policy-gen/openai/v1/generate"
    assert sent.body["internal_tool_names"] == ["parse_with_ai", "set_policy"]
    assert (sent.body["n_retries"], sent.body["model"], sent.body["type"]) == (
        1,
        "gpt-5-mini",
        "oai_chat_completion",
    )


def test_generate_policy_errors(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(TOOLS), encoding="utf-8")
    missing = invoke(capsys, "generate-policy", "--tools", str(tmp_path / "none.json"), "d")
    assert (missing.code, missing.out) == (2, "")
    assert missing.err.splitlines() == [
        f"sequrity-openai: error: --tools {tmp_path / 'none.json'}: No such file or directory",
        "sequrity-openai: hint: on the command line, tools is --tools",
    ]
    blank = invoke(capsys, "generate-policy", "--tools", str(tools), "  ")
    assert blank.code == 2 and "description must be a non-empty string" in blank.err
    with env.expect_rejection(at_least=0):
        env.queue_error(401, f"bad key {KEY}")
        failed = invoke(capsys, "generate-policy", "--tools", str(tools), "--max-retries", "0", "d")
    assert (failed.code, failed.out) == (1, "")
    assert failed.err.startswith("sequrity-openai: error: AuthenticationError: Error code: 401")
    assert "bad key ****" in failed.err and failed.err.count("\n") == 1
    env.queue_text('tool "send_email" { hard deny; }')
    invalid = invoke(capsys, "generate-policy", "--tools", str(tools), "d")
    assert (invalid.code, invalid.out) == (2, "")
    assert "generated policies: invalid SQRT at line 1, column 30" in invalid.err


def test_check_policy_in_process(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = tmp_path / "good.sqrt"
    good.write_text('tool "send_email" { hard deny when to.value in {"eve@x.com"}; }\n', encoding="utf-8")
    bad = tmp_path / "bad.sqrt"
    bad.write_text('tool "send_email" {\n    hard deny;\n}\n', encoding="utf-8")
    ok = invoke(capsys, "check-policy", str(good))
    assert (ok.code, ok.out, ok.err) == (0, f"{good}: valid SQRT\n", "")
    both = invoke(capsys, "check-policy", str(good), str(bad))
    assert both.code == 2
    assert both.out == f"{good}: valid SQRT\n"
    assert f"{bad}: invalid SQRT at line 2, column" in both.err
    assert "hard deny;" in both.err  # the offending line is shown
    assert invoke(capsys, "check-policy").code == 2  # FILE is required


def test_usage_and_configuration_errors_exit_2(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke(capsys, "--help").code == 0
    assert invoke(capsys, "--version").out == f"sequrity-openai {sq.__version__}\n"
    nothing = invoke(capsys)
    assert nothing.code == 2 and "COMMAND" in nothing.err
    bad_arch = invoke(capsys, "chat", "x", "--arch", "triple-llm")
    assert bad_arch.code == 2 and "'triple-llm'" in bad_arch.err
    no_model = invoke(capsys, "chat", "x", "--provider", "anthropic")
    assert (
        no_model.code == 2
        and no_model.err == "sequrity-openai: error: --model is required with --provider anthropic\n"
    )
    bad_config = invoke(capsys, "chat", "x", "--config", '{"fsm": {"max_n_turns": 0}}', "--json")
    assert bad_config.code == 2
    assert json.loads(bad_config.out)["status"] == "error"
    assert bad_config.err.startswith("sequrity-openai: error: ")
    assert "config: invalid X-Config value: fsm.max_n_turns" in bad_config.err
    insecure = invoke(capsys, "config", "--base-url", "http://sequrity.example.com")
    assert insecure.code == 2 and "http://sequrity.example.com" in insecure.err
    assert (
        invoke(capsys, "config", "--base-url", "http://sequrity.example.com", "--allow-insecure-http").code
        == 0
    )
    monkeypatch.setenv("SEQURITY_POLICY", '{"mode": "lenient"}')
    bad_env = invoke(capsys, "headers")
    monkeypatch.delenv("SEQURITY_API_KEY")
    no_key = invoke(capsys, "chat", "x", "--json")
    assert (no_key.code, json.loads(no_key.out)["status"]) == (2, "error")
    assert no_key.err.startswith("sequrity-openai: error: no Sequrity API key:")
    assert bad_env.code == 2
    assert bad_env.err.startswith(
        "sequrity-openai: error: environment variable SEQURITY_POLICY: invalid X-Policy"
    )
    assert env.api_requests == []


# --------------------------------------------------------------------------- config, headers


def test_config_shows_values_origins_route_and_masked_headers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQURITY_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", LLM_KEY)
    monkeypatch.setenv("SEQURITY_CONFIG", '{"fsm":{"max_n_turns":3}}')
    run = invoke(capsys, "config", "--provider", "openai", "--arch", "dual-llm", "--session-id", SESSION)
    rows = {line.split()[0]: line.split(maxsplit=3)[1:] for line in run.lines[1:10]}
    assert rows["api_key"] == ["env", "SEQURITY_API_KEY", "****cdef"]
    assert rows["llm_api_key"] == ["env", "OPENAI_API_KEY", "****3210"]
    assert rows["provider"] == ["argument", "--provider", "openai"]
    assert rows["endpoint_type"] == ["default", "chat"]
    assert rows["features"] == ["argument", "--features", '{"agent_arch":"dual-llm"}']
    assert rows["config"] == ["env", "SEQURITY_CONFIG", '{"fsm":{"max_n_turns":3}}']
    assert rows["session_id"] == ["argument", "--session-id", SESSION]
    assert "route: https://api.sequrity.ai/control/chat/openai/v1" in run.lines
    assert run.lines[-5:] == [
        "  Authorization: Bearer ****cdef",
        "  X-Api-Key: ****3210",
        '  X-Features: {"agent_arch":"dual-llm"}',
        '  X-Config: {"fsm":{"max_n_turns":3}}',
        f"  X-Session-ID: {SESSION}",
    ]

    as_json = json.loads(
        invoke(capsys, "config", "--json", "--base-url", "https://sq.example.com/control/code/openai/v1").out
    )
    assert as_json["route"] == "https://sq.example.com/control/code/openai/v1"
    assert as_json["settings"]["endpoint_type"] == {"value": "code", "origin": "argument --base-url"}
    assert as_json["settings"]["provider"] == {"value": "openai", "origin": "argument --base-url"}
    assert as_json["settings"]["policy"] == {"value": "(not sent)", "origin": "default"}
    assert as_json["settings"]["session_id"] == {
        "value": "(none: each chat starts a session)",
        "origin": "default",
    }
    assert as_json["headers"]["Authorization"] == "Bearer ****cdef"


def test_headers_as_json_curl_and_with_keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQURITY_API_KEY", KEY)
    monkeypatch.setenv("SEQURITY_LLM_API_KEY", LLM_KEY)
    args = ["--arch", "dual-llm", "--config", '{"fsm":{"max_n_turns":3}}']
    assert json.loads(invoke(capsys, "headers", *args).out) == {
        "Authorization": "Bearer ****cdef",
        "X-Api-Key": "****3210",
        "X-Features": '{"agent_arch":"dual-llm"}',
        "X-Config": '{"fsm":{"max_n_turns":3}}',
    }
    assert invoke(capsys, "headers", *args, "--curl").lines == [
        '-H "Authorization: Bearer $SEQURITY_API_KEY" \\',
        '-H "X-Api-Key: $SEQURITY_LLM_API_KEY" \\',
        """-H 'X-Features: {"agent_arch":"dual-llm"}' \\""",
        """-H 'X-Config: {"fsm":{"max_n_turns":3}}'""",
    ]
    shown = invoke(capsys, "headers", *args, "--show-keys")
    assert json.loads(shown.out)["Authorization"] == f"Bearer {KEY}"
    assert json.loads(shown.out)["X-Api-Key"] == LLM_KEY
    curl = invoke(capsys, "headers", "--curl", "--show-keys").lines
    assert curl[0] == f"-H 'Authorization: Bearer {KEY}' \\"


# --------------------------------------------------------------------------- fake-server, demo in-process


def test_without_werkzeug_fake_server_and_demo_exit_2_with_a_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "werkzeug", None)  # makes `import werkzeug` fail
    monkeypatch.delitem(sys.modules, "sequrity_openai.testing")
    for argv in (["fake-server"], ["demo"]):
        run = invoke(capsys, *argv)
        assert run.code == 2
        assert (
            run.err
            == 'sequrity-openai: error: the local stand-in needs the testing extra: pip install "sequrity-openai[testing]"\n'
        )


def test_demo_with_a_key_prints_the_commands_and_calls_nothing(
    env: FakeSequrity, capsys: pytest.CaptureFixture[str]
) -> None:
    run = invoke(capsys, "demo")
    assert (run.code, run.err) == (0, "")
    assert "SEQURITY_API_KEY is set" in run.out
    assert "  sequrity-openai chat What is the capital of France? --features single-llm" in run.lines
    assert env.requests == []


def test_fake_server_on_a_busy_port_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result: list[int] = []
        worker = threading.Thread(
            target=lambda: result.append(cli.main(["fake-server", "--port", str(port)])), daemon=True
        )
        worker.start()
        worker.join(20)
    assert result == [1]
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .startswith(f"sequrity-openai: error: cannot listen on 127.0.0.1:{port}")
    )


# --------------------------------------------------------------------------- usage details in-process
# (each behaviour also runs as a process in test_cli_process.py; these cover more inputs cheaply)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["chat", "x", "--timeout", "nan"], "--timeout"),
        (["chat", "x", "--timeout", "inf"], "--timeout"),
        (["chat", "x", "--timeout", "soon"], "--timeout"),
        (["chat", "x", "--timeout", "-2"], "--timeout"),
        (["chat", "x", "--max-retries", "1.5"], "--max-retries"),
        (["fake-server", "--port=-1"], "--port"),
        (["fake-server", "--port", "http"], "--port"),
        (["config", "--session-id", "x" * 37], "--session-id"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_flag(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = invoke(capsys, *argv)
    assert (run.code, run.out) == (2, "")
    assert f"error: argument {flag}: " in run.err


@pytest.mark.parametrize(
    ("value", "wanted"), [("dual", "dual-llm"), ("DUAL_LLM", "dual-llm"), ("Single", "single-llm")]
)
def test_near_miss_architecture_flags(
    value: str, wanted: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQURITY_API_KEY", KEY)
    run = invoke(capsys, "headers", "--arch", value)
    assert run.code == 2
    assert run.err.splitlines()[0].endswith(
        f"{value!r} is not an agent architecture; did you mean {wanted!r}?"
    )


def test_help_of_every_command_fits_in_100_columns_on_a_wide_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    commands = ("demo", "chat", "config", "headers", "fake-server", "check-policy", "generate-policy")
    for argv in (["--help"], *([c, "--help"] for c in commands)):
        run = invoke(capsys, *argv)
        assert run.code == 0
        assert max(len(line) for line in run.lines) <= 100, argv


def test_demo_with_a_key_fits_in_100_columns(env: FakeSequrity, capsys: pytest.CaptureFixture[str]) -> None:
    run = invoke(capsys, "demo")
    assert max(len(line) for line in run.lines) <= 100


@pytest.mark.parametrize(
    ("fields", "hint"),
    [
        ({"setting": "base_url", "origin": "argument"}, "on the command line, base_url is --base-url"),
        (
            {"setting": "allow_insecure_http", "origin": "default"},
            "on the command line, allow_insecure_http is --allow-insecure-http",
        ),
        (
            {"setting": "config", "origin": "environment", "env_var": "SEQURITY_CONFIG"},
            "the value came from SEQURITY_CONFIG; --config overrides it",
        ),
        (
            {"setting": "api_key", "origin": "default", "env_var": "SEQURITY_API_KEY"},
            "the command line reads api_key from the environment only (SEQURITY_API_KEY)",
        ),
        ({}, None),
    ],
)
def test_configuration_errors_are_rendered_from_their_fields(
    fields: dict[str, str], hint: str | None
) -> None:
    # The message is never rewritten; the fields add the hint that names this CLI's option.
    exc = sq.ConfigurationError("argument base_url: the library's own words", **fields)  # type: ignore[arg-type]
    assert configuration_hint(exc) == hint


def test_plain_http_refusal_names_the_cli_flags(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQURITY_API_KEY", KEY)
    run = invoke(capsys, "config", "--base-url", "http://sequrity.example.com")
    assert run.code == 2
    hint = run.err.splitlines()[-1]
    assert hint.startswith("sequrity-openai: hint: ")
    assert "--allow-insecure-http" in hint or "--base-url" in hint


def test_config_says_which_provider_key_is_sent_and_why(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQURITY_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", LLM_KEY)
    chosen = " ".join(invoke(capsys, "config", "--provider", "openai").out.split())
    assert "provider key: OPENAI_API_KEY, the key variable of provider openai" in chosen
    assert "SEQURITY_PROVIDER=" not in chosen
    monkeypatch.setenv("SEQURITY_LLM_API_KEY", LLM_KEY)
    document = json.loads(invoke(capsys, "config", "--json").out)
    assert document["provider_key"] == [
        "provider key: SEQURITY_LLM_API_KEY, which is sent whatever the provider."
    ]
