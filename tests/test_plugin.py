"""The pytest plugin: fixtures used from an inner pytest run (pytester), and import hygiene."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]


def _run(pytester: pytest.Pytester, source: str, *args: str, subprocess: bool = False) -> pytest.RunResult:
    pytester.makepyfile(test_inner=textwrap.dedent(source))
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    # No "-p sequrity_openai.testing.plugin": the pytest11 entry point must load it by itself.
    # Unrelated plugins that cost seconds per inner run are switched off.
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:langsmith_plugin")
    if subprocess:  # a fresh interpreter: nothing of this run's imports is cached
        return pytester.runpytest_subprocess(*quiet, *args)
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


def test_fake_sequrity_options_can_be_overridden_in_a_conftest(pytester: pytest.Pytester) -> None:
    # As pytest-httpserver's httpserver_listen_address: the session server takes its arguments
    # from an overridable fixture, and the clients it makes take client_options.
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def fake_sequrity_options():
            return {
                "api_key": "sq-conftest-key",
                "check_api_key": True,
                "client_options": {"max_retries": 0, "_strict_response_validation": True},
            }
        """
    )
    result = _run(
        pytester,
        """
        import openai, pytest

        def test_configured(fake_sequrity, sequrity_client):
            assert fake_sequrity.api_key == "sq-conftest-key"
            assert sequrity_client.max_retries == 0
            assert sequrity_client._strict_response_validation is True
            sequrity_client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
            fake_sequrity.assert_header("authorization", "Bearer sq-conftest-key")

        def test_the_key_is_checked(fake_sequrity):
            with fake_sequrity.expect_rejection(), fake_sequrity.client(api_key="sq-other") as client:
                with pytest.raises(openai.AuthenticationError):
                    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        """,
    )
    result.assert_outcomes(passed=2)


def test_importing_the_package_imports_neither_pytest_nor_werkzeug() -> None:
    code = (
        "import sys, sequrity_openai\n"
        "print(sorted(m for m in ('pytest', '_pytest', 'werkzeug') if m in sys.modules))\n"
        "import sequrity_openai.testing\n"
        "print('pytest' in sys.modules, 'werkzeug' in sys.modules)\n"
        "sequrity_openai.testing.FakeSequrity\n"
        "print('pytest' in sys.modules, 'werkzeug' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # werkzeug comes with the first use of FakeSequrity, not with the testing package (issue 10).
    assert out.splitlines() == ["[]", "False False", "False True"]


_NO_WERKZEUG = """
import sys
sys.modules["werkzeug"] = None  # as if the testing extra were not installed
"""


def test_without_werkzeug_the_plugin_loads_and_only_a_fake_server_test_fails(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(_NO_WERKZEUG)
    result = _run(
        pytester,
        """
        def test_unrelated():
            assert 1 + 1 == 2

        def test_wants_a_fake(fake_sequrity):
            pass
        """,
        subprocess=True,
    )
    result.assert_outcomes(passed=1, errors=1)
    message = (
        "sequrity_openai.testing.FakeSequrity needs werkzeug, which comes with the 'testing' extra: "
        'pip install "sequrity-openai[testing]"'
    )
    assert message in result.stdout.lines
    # One clear line, not a chain of tracebacks.
    assert "During handling" not in result.stdout.str()


def test_without_werkzeug_the_testing_kit_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['werkzeug'] = None\n"
        "import sequrity_openai.testing as t\n"
        "print(t.TextAnswer('x').text)\n"
        "try:\n"
        "    from sequrity_openai.testing import FakeSequrity\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc.name, exc.extra)\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "x",
        "MissingDependencyError werkzeug testing",
        "sequrity_openai.testing.FakeSequrity needs werkzeug, which comes with the 'testing' extra: "
        'pip install "sequrity-openai[testing]"',
    ]
