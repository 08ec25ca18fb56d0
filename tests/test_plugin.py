"""The pytest plugin: fixtures used from an inner pytest run (pytester), and import hygiene."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]


def _run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=textwrap.dedent(source))
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    # No "-p sequrity_openai.testing.plugin": the pytest11 entry point must load it by itself.
    # Unrelated plugins that cost seconds per inner run are switched off.
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:langsmith_plugin")
    return pytester.runpytest_inprocess(*quiet, *args)


def test_entry_point_registers_the_plugin() -> None:
    from importlib.metadata import entry_points

    names = {ep.value for ep in entry_points(group="pytest11")}
    assert "sequrity_openai.testing.plugin" in names


def test_fixtures_serve_a_tool_using_agent(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
        import json
        import sequrity_openai as sq

        TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]

        def run_agent(client, question):
            messages = [{"role": "user", "content": question}]
            while True:
                answer = client.chat.completions.create(model="m", messages=messages, tools=TOOLS)
                message = answer.choices[0].message
                if not message.tool_calls:
                    return message.content
                messages.append(message.model_dump(exclude_none=True))
                for call in message.tool_calls:
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": "22C"})

        def test_agent(fake_sequrity, sequrity_client):
            fake_sequrity.queue_tool_call("get_weather", {"city": "Paris"})
            fake_sequrity.queue_text("It is 22C in Paris.")
            assert run_agent(sequrity_client, "Weather in Paris?") == "It is 22C in Paris."
            fake_sequrity.assert_request_count(2)
            fake_sequrity.assert_session_continued()
            assert fake_sequrity.last_request.messages[-1]["content"] == "22C"

        async def test_async(fake_sequrity, async_sequrity_client):
            answer = await async_sequrity_client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "ping"}]
            )
            assert answer.choices[0].message.content == "echo: ping"

        def test_env(sequrity_env):
            with sq.create_client() as client:
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
            sequrity_env.assert_request_count(1)
        """,
    )
    result.assert_outcomes(passed=3)


def test_state_is_reset_between_tests(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
        import openai, pytest
        seen = {}

        def test_first(fake_sequrity, sequrity_client):
            sequrity_client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
            seen["session"] = fake_sequrity.last_request.session_id
            seen["url"] = fake_sequrity.url

        def test_second(fake_sequrity, sequrity_client):
            assert fake_sequrity.requests == []
            assert fake_sequrity.sessions == {}
            assert fake_sequrity.url == seen["url"]  # one server for the whole run
            with fake_sequrity.expect_rejection(), pytest.raises(openai.BadRequestError):
                sequrity_client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "b"}],
                    extra_headers={"X-Session-ID": seen["session"]},
                )
        """,
    )
    result.assert_outcomes(passed=2)


def test_unconsumed_answer_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
        def test_forgets_to_call(fake_sequrity):
            fake_sequrity.queue_text("never used")

        def test_next_one_is_clean(fake_sequrity):
            assert fake_sequrity.pending == []
        """,
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_forgets_to_call*", "*never consumed: text 'never used'*"]
    )


def test_unexpected_rejection_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
        import openai, pytest

        def test_swallows_an_error(fake_sequrity, sequrity_client):
            with pytest.raises(openai.UnprocessableEntityError):
                sequrity_client.chat.completions.create(
                    model="m", messages=[], extra_headers={"X-Features": '{"agent_arch": "x"}'}
                )
        """,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*unexpected rejection: POST /control/chat/v1/chat/completions -> 422*"])


def test_a_failed_test_is_not_reported_twice(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
        def test_fails_before_using_its_answer(fake_sequrity):
            fake_sequrity.queue_text("never used")
            assert False, "the test's own failure"
        """,
    )
    result.assert_outcomes(failed=1, errors=0)
    assert "never consumed" not in result.stdout.str()


def test_a_stopped_server_is_restarted_for_the_next_test(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
        def test_stops_it(fake_sequrity):
            fake_sequrity.stop()

        def test_still_served(fake_sequrity, sequrity_client):
            answer = sequrity_client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}]
            )
            assert answer.choices[0].message.content == "echo: x"
        """,
    )
    result.assert_outcomes(passed=2)


def test_importing_the_package_imports_neither_pytest_nor_werkzeug() -> None:
    code = (
        "import sys, sequrity_openai\n"
        "print(sorted(m for m in ('pytest', '_pytest', 'werkzeug') if m in sys.modules))\n"
        "import sequrity_openai.testing\n"
        "print('pytest' in sys.modules, 'werkzeug' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "False True"]
