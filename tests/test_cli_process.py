"""The CLI's user-facing behaviours, each run as a real process (``python -m sequrity_openai`` or
the console script) against FakeSequrity, a ``sequrity-openai fake-server`` process, or a raw
socket on 127.0.0.1.

Interpreter start-up (importing openai) dominates each run, so tests that need several
independent runs start them side by side.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

import sequrity_openai as sq
from helpers.processes import AS_IN_A_TERMINAL
from sequrity_openai._policies._check import grammar_available as sq_grammar_available
from sequrity_openai.testing import FakeSequrity, default_denial

KEY = "sq-proc-secret-0123456789abcdef"
LLM_KEY = "or-proc-secret-fedcba9876543210"
OPENAI_KEY = "sk-proc-secret-aaaabbbbccccdddd"
MODULE = (sys.executable, "-m", "sequrity_openai")
SCRIPT = str(Path(sys.executable).with_name("sequrity-openai"))
MAX_COLUMNS = 100


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def _env(**extra: str) -> dict[str, str]:
    prefixes = ("SEQURITY_", "OPENAI_", "OPENROUTER_", "ANTHROPIC_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, "COLUMNS": "200", **extra}  # a wide terminal must not widen the output


def _start(argv: Sequence[str], env: Mapping[str, str], **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MODULE, *argv],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=kwargs.pop("stdout", subprocess.PIPE),  # type: ignore[arg-type]
        stderr=kwargs.pop("stderr", subprocess.PIPE),  # type: ignore[arg-type]
        text=True,
        **AS_IN_A_TERMINAL,
    )


def _finish(proc: subprocess.Popen[str]) -> Run:
    out, err = proc.communicate(timeout=120)
    run = Run(proc.returncode, out or "", err or "")
    for key in (KEY, LLM_KEY, OPENAI_KEY):
        assert key not in run.out and key not in run.err
    return run


def cli(*argv: str, **env: str) -> Run:
    return _finish(_start(argv, _env(**env)))


def cli_all(runs: Mapping[str, tuple[Sequence[str], Mapping[str, str]]]) -> dict[str, Run]:
    procs = {name: _start(argv, _env(**env)) for name, (argv, env) in runs.items()}
    return {name: _finish(proc) for name, proc in procs.items()}


@pytest.fixture
def fake() -> Iterator[FakeSequrity]:
    with FakeSequrity() as server:
        yield server


def keys(fake: FakeSequrity) -> dict[str, str]:
    return {"SEQURITY_API_KEY": KEY, "SEQURITY_BASE_URL": fake.url, "OPENROUTER_API_KEY": LLM_KEY}


# --------------------------------------------------------------------------- usage errors


def test_bad_numbers_and_ports_are_usage_errors_naming_the_flag() -> None:
    runs = cli_all(
        {
            "timeout 0": (["chat", "x", "--timeout", "0"], {}),
            "retries -1": (["chat", "x", "--max-retries", "-1"], {}),
            "port 99999": (["fake-server", "--port", "99999"], {}),
        }
    )
    for name, run in runs.items():
        flag = {"timeout": "--timeout", "retries": "--max-retries", "port": "--port"}[name.split()[0]]
        assert (run.code, run.out) == (2, ""), name
        assert f"error: argument {flag}: expected " in run.err, (name, run.err)
        assert "unexpected" not in run.err and "Traceback" not in run.err


def test_session_id_is_checked_before_anything_is_sent(fake: FakeSequrity) -> None:
    run = cli("chat", "hi", "--session-id", "not-a-session", **keys(fake))
    assert (run.code, run.out) == (2, "")
    assert "argument --session-id: 'not-a-session' is not a Sequrity session id" in run.err
    assert fake.requests == []


def test_near_miss_architectures_get_a_suggestion(fake: FakeSequrity) -> None:
    runs = cli_all(
        {
            "env dual_llm": (["config"], {**keys(fake), "SEQURITY_FEATURES": "dual_llm"}),
            "flag single_llm": (["chat", "x", "--features", "single_llm"], keys(fake)),
        }
    )
    for name, run in runs.items():
        wanted = "single-llm" if "single" in name else "dual-llm"
        assert (run.code, run.out) == (2, ""), name
        assert run.err.splitlines()[0].endswith(f"did you mean '{wanted}'?"), (name, run.err)
        assert ("SEQURITY_FEATURES" in run.err) == name.startswith("env"), run.err
    assert fake.requests == []


def test_the_library_makes_the_same_suggestion() -> None:
    with pytest.raises(
        sq.ConfigurationError, match=r"'dual_llm' is not an agent architecture; did you mean 'dual-llm'\?"
    ):
        sq.create_client(api_key=KEY, features="dual_llm")
    with pytest.raises(sq.ConfigurationError, match=r"did you mean 'single-llm'\?"):
        sq.headers(features="Single")


# --------------------------------------------------------------------------- chat


def test_an_unquoted_prompt_of_several_words_is_one_prompt(fake: FakeSequrity) -> None:
    run = cli("chat", "What", "is", "this?", "--features", "single-llm", **keys(fake))
    assert (run.code, run.err) == (0, "")
    assert run.lines[0] == "echo: What is this?"
    assert fake.last_request is not None
    assert fake.last_request.messages == [{"role": "user", "content": "What is this?"}]


def test_a_failed_call_prints_nothing_on_stdout(fake: FakeSequrity) -> None:
    fake.queue_error(500, "upstream broke")
    fake.queue_denial(tool="send_email")
    with fake.expect_rejection(at_least=0):
        failed = cli("chat", "x", "--max-retries", "0", **keys(fake))
    denied = cli("chat", "mail eve", "--features", "dual-llm", **keys(fake))
    assert (failed.code, failed.out) == (1, "")
    assert failed.err.startswith("sequrity-openai: error: InternalServerError: Error code: 500")
    assert (denied.code, denied.out) == (3, "")
    assert denied.err.startswith("sequrity-openai: error: policy denied: Tool call to 'send_email' is denied")
    assert denied.err.rstrip().endswith(f"(session {fake.last_request.session_id})")  # type: ignore[union-attr]


def test_retries_are_announced(fake: FakeSequrity) -> None:
    fake.queue_error(503, "overloaded")
    fake.queue_text("after one retry")
    with fake.expect_rejection(at_least=0):
        run = cli("chat", "x", "--max-retries", "1", **keys(fake))
    assert run.code == 0 and run.lines[0] == "after one retry"
    assert re.fullmatch(r"sequrity-openai: HTTP 503; retry 1 of 1 in \d+\.\d s\n", run.err), run.err
    assert len(fake.api_requests) == 2


def _read_all(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], 60)
            chunk = os.read(fd, 4096) if ready else b""
        except OSError:  # EIO: the other side of the terminal closed
            return
        if not chunk:
            return
        into.append(chunk)


def test_on_a_terminal_a_waiting_line_shows_the_elapsed_time(fake: FakeSequrity) -> None:
    fake.queue_error(503, "overloaded")
    fake.queue_delay(1.0)
    fake.queue_text("worth the wait")
    controller, terminal = pty.openpty()
    try:
        with fake.expect_rejection(at_least=0):
            proc = _start(["chat", "x"], _env(**keys(fake)), stderr=terminal)
            os.close(terminal)
            terminal = -1
            seen: list[bytes] = []
            reader = threading.Thread(target=_read_all, args=(controller, seen))
            reader.start()
            run = _finish(proc)
            reader.join(30)
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    shown = b"".join(seen).decode()
    assert run.code == 0 and run.lines[0] == "worth the wait"
    ticks = [
        float(t) for t in re.findall(r"\rsequrity-openai: waiting for an answer\.\.\. (\d+\.\d) s", shown)
    ]
    assert ticks and ticks == sorted(ticks) and ticks[-1] >= 0.9, shown
    assert re.search(r"sequrity-openai: HTTP 503; retry 1 of 2 in \d+\.\d s\r?\n", shown), shown
    assert shown.endswith("\r\x1b[K"), "the waiting line is cleared once the answer comes"


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers; counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def __enter__(self) -> SilentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()


def test_timeout_bounds_the_command_unless_retries_are_asked_for() -> None:
    with SilentServer() as once, SilentServer() as twice:
        started = time.monotonic()
        runs = cli_all(
            {
                "once": (
                    ["chat", "x", "--timeout", "1.5"],
                    {"SEQURITY_API_KEY": KEY, "SEQURITY_BASE_URL": once.url},
                ),
                "twice": (
                    ["chat", "x", "--timeout", "1", "--max-retries", "1"],
                    {"SEQURITY_API_KEY": KEY, "SEQURITY_BASE_URL": twice.url},
                ),
            }
        )
        elapsed = time.monotonic() - started
        assert (len(once.connections), len(twice.connections)) == (1, 2)
    for run in runs.values():
        assert (run.code, run.out) == (1, "")
        assert "APITimeoutError" in run.err.splitlines()[-1]
    assert runs["once"].err.count("\n") == 1  # no retry, so nothing else was said
    assert re.match(
        r"sequrity-openai: no answer \(connection failed or timed out\); retry 1 of 1 in", runs["twice"].err
    )
    assert elapsed < 30  # a hung call would have waited for the SDK's 600 s default


# --------------------------------------------------------------------------- output


def test_closed_stdout_ends_quietly() -> None:
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the first line, as `| head -0` would be
    try:
        proc = _start(["demo"], _env(), stdout=writer)
    finally:
        os.close(writer)
    run = _finish(proc)
    assert (run.code, run.err) == (141, "")

    piped = subprocess.run(
        ["sh", "-c", f"'{SCRIPT}' demo | head -n 2"], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert piped.stderr == ""
    assert len(piped.stdout.splitlines()) == 2


def test_output_lines_fit_in_100_columns(tmp_path: Path) -> None:
    policy = tmp_path / "long.sqrt"
    policy.write_text(
        'tool "send_email" { hard deny when to.value in {"' + "x" * 300 + '"}; }\n', encoding="utf-8"
    )
    env = {"SEQURITY_API_KEY": KEY, "OPENROUTER_API_KEY": LLM_KEY}
    runs = cli_all(
        {
            "demo": (["demo"], {}),
            "config": (["config", "--policy", str(policy), "--config", '{"fsm": {"max_n_turns": 3}}'], env),
            "help": (["chat", "--help"], {}),
            "check-policy help": (["check-policy", "--help"], {}),
            "generate-policy help": (["generate-policy", "--help"], {}),
        }
    )
    for name, run in runs.items():
        assert run.code == 0, (name, run.err)
        widest = max(run.lines, key=len)
        assert len(widest) <= MAX_COLUMNS, (name, widest)
    assert "long values are cut at 100 columns" in runs["config"].out


def test_demo_offline_with_a_key_says_the_key_is_not_used() -> None:
    run = cli("demo", "--offline", SEQURITY_API_KEY=KEY)
    assert run.code == 0
    assert "SEQURITY_API_KEY is set but not used" in run.out
    assert "is not set" not in run.out


# --------------------------------------------------------------------------- config


def test_config_explains_the_provider_key_and_suggests_a_provider() -> None:
    # The other cases (key found, SEQURITY_LLM_API_KEY) run in-process in test_cli.py.
    run = cli("config", SEQURITY_API_KEY=KEY, OPENAI_API_KEY=OPENAI_KEY)
    only = " ".join(run.out.split())
    assert "provider key: none sent. The default route (OpenRouter for chat completions) reads" in only
    assert "SEQURITY_LLM_API_KEY or OPENROUTER_API_KEY, and none is set" in only
    assert "OPENAI_API_KEY is set but the default route" in only
    assert "set SEQURITY_PROVIDER=openai (or pass --provider openai)" in only


# --------------------------------------------------------------------------- fake-server


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str
    banner: list[str]

    def stop(self) -> Run:
        self.proc.send_signal(signal.SIGINT)
        return _finish(self.proc)


@pytest.fixture
def serve() -> Iterator[object]:
    started: list[subprocess.Popen[str]] = []

    def start(*argv: str) -> Served:
        proc = _start(["fake-server", "--port", "0", *argv], _env())
        started.append(proc)
        banner: list[str] = []
        assert proc.stdout is not None
        while not banner or banner[-1] != "Press Ctrl-C to stop.":
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"fake-server ended before its banner: {banner} {_finish(proc).err}")
            banner.append(line.rstrip("\n"))
        match = re.search(r"^  export SEQURITY_BASE_URL=(\S+)$", "\n".join(banner), re.M)
        assert match is not None, banner
        return Served(proc, match.group(1), banner)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_fake_server_on_all_interfaces_prints_a_url_the_client_accepts(serve: object) -> None:
    served = serve("--host", "0.0.0.0")  # type: ignore[operator]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", served.url)
    assert served.banner[0].startswith(
        "FakeSequrity, a local stand-in of Sequrity Control, listening on 0.0.0.0 port"
    )
    with sq.create_client(api_key="sq-test-key", base_url=served.url, llm_api_key="") as client:
        answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "ping"}])
    assert answer.choices[0].message.content == "echo: ping"
    assert all(len(line) <= MAX_COLUMNS for line in served.banner)
    assert served.stop().code == 0


def test_fake_server_script_queues_answers_tool_calls_denials_errors_and_delays(
    serve: object, tmp_path: Path
) -> None:
    script = tmp_path / "script.json"
    items = [
        {"text": "Paris."},
        {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}},
        {"tool_calls": [{"name": "a", "arguments": {}}, {"name": "b", "arguments": '{"n": 1}'}]},
        {"denial": {"tool": "send_email", "message": "no mail today"}},
        {"error": {"status": 429, "detail": "slow down", "headers": {"Retry-After": "7"}}},
        {"delay": 1.0},
        {"text": "97", "value": 97},
    ]
    script.write_text(json.dumps(items), encoding="utf-8")
    served = serve("--script", str(script))  # type: ignore[operator]
    client = sq.create_client(api_key="sq-test-key", base_url=served.url, llm_api_key="", max_retries=0)

    def ask(**extra: object) -> openai.types.chat.ChatCompletion:
        return client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}], **extra)  # type: ignore[call-overload,no-any-return]

    with client:
        assert ask().choices[0].message.content == "Paris."
        tools = [
            {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
            for name in ("get_weather", "a", "b")
        ]
        call = ask(tools=tools).choices[0].message.tool_calls[0]  # type: ignore[index]
        assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})  # type: ignore[union-attr]
        assert [c.function.name for c in ask(tools=tools).choices[0].message.tool_calls or []] == ["a", "b"]  # type: ignore[union-attr]
        denied = sq.parse_result(ask(extra_headers=sq.headers(features="dual-llm")))
        assert denied.is_policy_violation and denied.error and denied.error.message == "no mail today"
        with pytest.raises(openai.RateLimitError) as limited:
            ask()
        assert limited.value.response.headers["retry-after"] == "7"
        started = time.monotonic()
        late = sq.parse_result(ask(extra_headers=sq.headers(features="dual-llm")))
        assert time.monotonic() - started >= 1.0
        assert late.value == 97
        assert ask().choices[0].message.content == "echo: q"
    assert "Scripted answers from" in " ".join(served.banner)
    assert served.stop().code == 0


def test_a_bad_script_is_a_usage_error_naming_the_item(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "ok"}, {"delay": -1}, {"text": "x", "error": {"status": 500}}]))
    run = cli("fake-server", "--port", "0", "--script", str(script))
    assert (run.code, run.out) == (2, "")
    assert "--script" in run.err and "item 1 delay: Input should be greater than or equal to 0" in run.err
    assert "item 2: Value error, give exactly one of" in run.err


def test_log_requests_shows_headers_with_keys_masked_and_the_session(serve: object) -> None:
    served = serve("--log-requests")  # type: ignore[operator]
    with (
        sq.create_client(
            api_key=KEY, base_url=served.url, llm_api_key=LLM_KEY, features="dual-llm"
        ) as client,
        sq.session() as scope,
    ):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "one"}])
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "two"}])
    run = served.stop()
    assert run.code == 0
    lines = run.err.splitlines()
    assert lines.count("POST /control/chat/v1/chat/completions -> 200 echo") == 2
    assert f"    session: {scope.id} (new)" in lines
    assert f"    session: {scope.id} (continued)" in lines
    assert "    authorization: Bearer ****cdef" in lines
    assert "    x-api-key: ****3210" in lines
    assert '    x-features: {"agent_arch":"dual-llm"}' in lines
    assert f"    x-session-id: {scope.id}" in lines


# --------------------------------------------------------------------------- chat: value, document, Messages


def test_chat_prints_the_value_and_on_request_the_document(fake: FakeSequrity) -> None:
    fake.queue_text("ignored", value={"total": 97})
    shown = cli("chat", "add", "--features", "dual-llm", "--show-document", **keys(fake))
    assert (shown.code, shown.err) == (0, "")
    assert shown.lines[0] == '{"total":97}'  # what message.content holds: the value
    assert shown.lines[1] == "document:"
    assert json.loads(shown.lines[2])["final_return_value"]["value"] == {"total": 97}
    assert shown.lines[-1] == f"session: {fake.last_request.session_id}"  # type: ignore[union-attr]
    fake.queue_denial(tool="send_email")
    denied = cli("chat", "mail eve", "--features", "dual-llm", "--show-document", **keys(fake))
    assert denied.code == 3
    assert denied.lines[0] == "document:" and json.loads(denied.lines[1])["status"] == "failure"
    assert denied.err.startswith(f"sequrity-openai: error: policy denied: {default_denial('send_email')}")


def test_chat_over_the_anthropic_messages_api(fake: FakeSequrity) -> None:
    pytest.importorskip("anthropic")
    env = {**keys(fake), "ANTHROPIC_API_KEY": OPENAI_KEY}
    fake.queue_text("ignored", value=[1, 2])
    dual = cli("chat", "x", "--api", "messages", "--model", "claude-x", "--features", "dual-llm", **env)
    assert (dual.code, dual.err) == (0, "")
    assert dual.lines == ["[1,2]", f"session: {fake.last_request.session_id}"]  # type: ignore[union-attr]
    sent = fake.last_request
    assert sent is not None and sent.path == "/control/chat/v1/messages"
    assert sent.header("x-api-key") == OPENAI_KEY  # ANTHROPIC_API_KEY, the Messages key of the default route
    fake.queue_text("streamed words")
    streamed = cli("chat", "y", "--api", "messages", "--model", "claude-x", "--stream", **env)
    assert (streamed.code, streamed.lines[0]) == (0, "streamed words")
    assert fake.last_request is not None and fake.last_request.body["stream"] is True
    fake.queue_denial()
    denied = cli("chat", "z", "--api", "messages", "--model", "claude-x", "--features", "dual-llm", **env)
    assert (denied.code, denied.out) == (3, "")
    assert "policy denied: Tool call to 'send_email' is denied" in denied.err


def test_chat_messages_without_the_anthropic_package_names_the_extra() -> None:
    blocked = (
        "import sys; sys.modules['anthropic'] = None; from sequrity_openai.cli import main; sys.exit(main())"
    )
    proc = subprocess.run(
        [sys.executable, "-c", blocked, "chat", "x", "--api", "messages", "--model", "m"],
        env=_env(SEQURITY_API_KEY=KEY),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        "sequrity-openai: error: chat --api messages needs anthropic, which comes with the 'anthropic' "
        'extra: pip install "sequrity-openai[anthropic]"\n'
    )


# --------------------------------------------------------------------------- check-policy

LEAK = r"""let sensitive_docs = {"internal_use", "confidential"};
tool "get_internal_document" -> @tags |= sensitive_docs;
tool "send_email" {
    hard deny when (body.tags overlaps sensitive_docs)
        and (not to.value in {str matching r".*@trustedcorp\.com"});
}
"""
LEAK_CALLS = [
    {"tool": "get_internal_document", "args": {"doc_id": "DOC1"}, "result": "Q3 numbers"},
    {
        "tool": "send_email",
        "args": {"to": "eve@gmail.com", "body": {"value": "FYI", "from": "get_internal_document"}},
        "expect": "denied",
    },
    {"tool": "send_email", "args": {"to": "boss@trustedcorp.com", "body": {"from": "get_internal_document"}}},
]
needs_grammar = pytest.mark.skipif(not sq_grammar_available(), reason="needs the [sqrt] extra")


def _policy_files(tmp_path: Path) -> dict[str, str]:
    files = {
        "good": ("mail.sqrt", LEAK),
        "bad": ("broken.sqrt", 'let x = {"a"};\ntool "send_email" { hard deny; }\n'),
        "calls": ("calls.json", json.dumps(LEAK_CALLS)),
        "wrong": ("wrong.json", json.dumps([{**LEAK_CALLS[0], "expect": "denied"}])),
    }
    for name, text in files.values():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return {key: str(tmp_path / name) for key, (name, _) in files.items()}


@needs_grammar
def test_check_policy_exit_codes_and_what_it_prints(tmp_path: Path) -> None:
    f = _policy_files(tmp_path)
    runs = cli_all(
        {
            "valid": (["check-policy", f["good"]], {}),
            "invalid": (["check-policy", f["good"], f["bad"], str(tmp_path / "missing.sqrt")], {}),
            "simulated": (["check-policy", f["good"], "--simulate", f["calls"]], {}),
            "mismatch": (["check-policy", f["good"], "--simulate", f["wrong"]], {}),
            "bad calls": (["check-policy", f["good"], "--simulate", f["bad"]], {}),
        }
    )
    assert (runs["valid"].code, runs["valid"].out, runs["valid"].err) == (0, f"{f['good']}: valid SQRT\n", "")

    invalid = runs["invalid"]
    assert (invalid.code, invalid.out) == (2, f"{f['good']}: valid SQRT\n")
    errors = invalid.err.splitlines()
    assert errors[0].startswith(f"{f['bad']}: invalid SQRT at line 2, column 30: unexpected character ';'")
    assert errors[1:3] == ['    tool "send_email" { hard deny; }', " " * 33 + "^"]  # the line, the column
    assert errors[-1] == f"{tmp_path / 'missing.sqrt'}: cannot read it: No such file or directory"

    simulated = runs["simulated"]
    assert (simulated.code, simulated.err) == (0, "")
    decisions = [line for line in simulated.lines if line.startswith(f"{f['good']}: [")]
    assert [line.split("] ", 1)[1].split(" by ")[0] for line in decisions] == [
        "get_internal_document: allowed",
        "send_email: denied",
        "send_email: allowed",
    ]
    reason = simulated.lines[simulated.lines.index(decisions[1]) + 1]
    assert reason.startswith("    ") and "send_email" in reason  # the reason, under the decision

    mismatch = runs["mismatch"]
    assert mismatch.code == 1
    assert "get_internal_document: allowed" in mismatch.out and "<-- expected denied" in mismatch.out

    assert runs["bad calls"].code == 2
    assert runs["bad calls"].err.startswith(f"--simulate {f['bad']}: invalid JSON")


@needs_grammar
def test_check_policy_loads_neither_werkzeug_nor_the_stand_in(tmp_path: Path) -> None:
    f = _policy_files(tmp_path)
    probe = (
        "import sys; from sequrity_openai.cli import main; code = main(); "
        "print(code, sorted(m for m in sys.modules if m == 'werkzeug' or m.startswith('sequrity_openai.testing')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, "check-policy", f["good"], "--simulate", f["calls"]],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.splitlines()[-1] == "0 []", proc.stderr


@needs_grammar
def test_the_pre_commit_hook_runs_check_policy_on_sqrt_files(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[1]
    (hook,) = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "sequrity-check-policy" and hook["language"] == "python"
    extras = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert hook["additional_dependencies"] == extras["optional-dependencies"]["sqrt"]
    files = re.compile(hook["files"])
    assert [bool(files.search(p)) for p in ("policies/mail.sqrt", "mail.sqrt.bak", "policy.json")] == [
        True,
        False,
        False,
    ]
    f = _policy_files(tmp_path)
    # As pre-commit runs it: the entry, split like a shell command, then the matching files.
    entry = shlex.split(hook["entry"])
    assert entry[0] == "sequrity-openai"
    argv = [SCRIPT, *entry[1:]]
    clean = subprocess.run([*argv, f["good"]], env=_env(), capture_output=True, text=True, timeout=120)
    dirty = subprocess.run(
        [*argv, f["good"], f["bad"]], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert clean.returncode == 0
    assert dirty.returncode == 2 and f"{f['bad']}: invalid SQRT at line 2" in dirty.stderr


# --------------------------------------------------------------------------- generate-policy

GEN_TOOLS = [
    {"type": "function", "function": {"name": "send_email", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_document", "parameters": {"type": "object"}}},
]


@needs_grammar
def test_generate_policy_output_is_a_policy_file(fake: FakeSequrity, tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(GEN_TOOLS), encoding="utf-8")
    policy = tmp_path / "policy.sqrt"
    with policy.open("w", encoding="utf-8") as out:
        proc = _start(
            ["generate-policy", "--tools", str(tools), "--verbose", "Never email documents outside"],
            _env(**keys(fake)),
            stdout=out,
        )
        run = _finish(proc)
    assert run.code == 0
    assert re.fullmatch(
        r"sequrity-openai: usage: prompt_tokens \d+, completion_tokens \d+, total_tokens \d+\n", run.err
    )
    text = policy.read_text(encoding="utf-8")
    assert 'tool "send_email"' in text and 'tool "get_document"' in text
    sent = fake.last_request
    assert sent is not None and sent.path == "/control/policy-gen/v1/generate"
    assert sent.body["description"] == "Never email documents outside" and sent.body["tools"] == GEN_TOOLS
    assert sent.header("x-api-key") == LLM_KEY
    checked = cli("check-policy", str(policy))
    assert (checked.code, checked.err) == (0, "")


def test_generate_policy_failures(tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text('{"tools": "send_email"}', encoding="utf-8")
    good_tools = tmp_path / "good.json"
    good_tools.write_text(json.dumps(GEN_TOOLS), encoding="utf-8")
    with FakeSequrity() as failing:
        failing.queue_error(500, f"generator down for {LLM_KEY}")
        with failing.expect_rejection(at_least=0):
            runs = cli_all(
                {
                    "bad tools": (["generate-policy", "--tools", str(tools), "d"], keys(failing)),
                    "no tools": (["generate-policy", "d"], keys(failing)),
                    "api error": (
                        ["generate-policy", "--tools", str(good_tools), "--max-retries", "0", "d"],
                        keys(failing),
                    ),
                }
            )
    bad = runs["bad tools"]
    assert (bad.code, bad.out) == (2, "")
    assert bad.err.startswith(
        f"sequrity-openai: error: --tools {tools}: expected a JSON list of tool objects"
    )
    assert (runs["no tools"].code, runs["no tools"].out) == (2, "")
    assert "the following arguments are required: --tools" in runs["no tools"].err
    failed = runs["api error"]
    assert (failed.code, failed.out) == (1, "")
    assert failed.err.startswith("sequrity-openai: error: InternalServerError: Error code: 500")
    assert "generator down for ****" in failed.err and failed.err.count("\n") == 1
