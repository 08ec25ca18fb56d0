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
from sequrity_openai.testing import FakeSequrity

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
        assert run.err.rstrip().endswith(f"did you mean '{wanted}'?"), (name, run.err)
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
