"""smolagents: ``OpenAIModel(client=sq.create_client())``, each agent run inside ``sq.session()``.

smolagents replays tool calls and their results as text (an assistant message "Calling
tools: ..." and a user message "Observation: ..."), not as tool messages. So no tool-call id
carries the session: only the scope's ``X-Session-ID`` keeps the steps of a run together, and
the server counts every step as a new turn.
"""

from __future__ import annotations

import json

import pytest

import sequrity_openai as sq
from recipes._recipes import MODEL, WHY, one_session, through_sequrity, weather
from sequrity_openai.testing import FakeSequrity

pytest.importorskip("smolagents", reason=WHY["smolagents"])

from smolagents import OpenAIModel, ToolCallingAgent, tool
from smolagents.utils import AgentGenerationError


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city's name.
    """
    return weather(city)


def sequrity_agent(max_steps: int) -> ToolCallingAgent:
    # retry=False: the openai client already retries 429s; smolagents' own retry looks for
    # "429" anywhere in an error's text (a session id can hold it) and then waits 60 s or more.
    model = OpenAIModel(model_id=MODEL, client=sq.create_client(), retry=False)
    return ToolCallingAgent(tools=[get_weather], model=model, max_steps=max_steps, verbosity_level=0)


def test_tool_loop_in_one_session(fake: FakeSequrity, arch: str) -> None:
    agent = sequrity_agent(max_steps=4)
    fake.queue_tool_call("get_weather", {"city": "Paris"})
    fake.queue_tool_call("final_answer", {"answer": "It is sunny in Paris."})
    with sq.session() as scope:
        assert agent.run("Weather in Paris?") == "It is sunny in Paris."
    requests = through_sequrity(fake, arch, 2)
    one_session(requests, scope)
    answered = requests[1]
    assert answered.sent_session_id == scope.id
    assert not any(m["role"] == "tool" for m in answered.messages)
    assert answered.messages[-1]["role"] == "user"
    assert answered.messages[-1]["content"][0]["text"] == "Observation:\nsunny in Paris"
    assert fake.sessions[scope.id] == 2  # turns used: one per step


def test_a_run_needs_max_steps_plus_one_turns(
    fake: FakeSequrity, arch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    max_steps = 2

    def run(max_n_turns: int) -> tuple[str, sq.Session]:
        fake.reset()
        monkeypatch.setenv("SEQURITY_CONFIG", json.dumps({"fsm": {"max_n_turns": max_n_turns}}))
        agent = sequrity_agent(max_steps=max_steps)
        # Both steps call a tool; at max_steps smolagents asks once more for a final answer.
        fake.queue_tool_call("get_weather", {"city": "Paris"})
        fake.queue_tool_call("get_weather", {"city": "Rome"})
        fake.queue_text("Sunny in Paris and Rome.")
        with sq.session() as scope:
            return str(agent.run("Weather in Paris and Rome?")), scope

    answer, scope = run(max_steps + 1)
    assert answer == "Sunny in Paris and Rome."
    one_session(through_sequrity(fake, arch, max_steps + 1), scope)

    # One turn short: the final-answer request is refused, and smolagents returns the error
    # text as if it were the answer.
    with fake.expect_rejection() as rejected:
        answer, scope = run(max_steps)
    assert "Error in generating final LLM output: Error code: 400" in answer
    assert "has used all 2 turns" in answer and rejected[0].sent_session_id == scope.id
    fake.reset()

    # The limit inside the loop: the step's request is refused and the run raises.
    with fake.expect_rejection(), pytest.raises(AgentGenerationError, match="has used all 1 turns"):
        run(1)
    fake.reset()
