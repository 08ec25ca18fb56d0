"""Run OpenAI Agents SDK agents through Sequrity Control (``pip install 'sequrity-openai[agents]'``).

Three ways to wire a client, from narrowest to widest:

- :func:`chat_model` gives one agent a Sequrity model: ``Agent(..., model=chat_model("gpt-5-mini"))``.
- :func:`model_provider` serves every agent of one run: ``RunConfig(model_provider=model_provider())``.
- :func:`set_default_client` makes Sequrity the process-wide default of the SDK.

All three speak Chat Completions (the SDK would otherwise call ``/responses``) and never hand the
Sequrity key to the SDK's trace exporter. :func:`run`, :func:`run_sync` and :func:`run_streamed`
wrap ``Runner`` so every model call of one run shares one Sequrity session.

Each helper takes either ``client=`` (an ``openai.AsyncOpenAI`` from ``sq.create_async_client``)
or the factory's keyword arguments (``api_key``, ``provider``, ``features``, ``policy``,
``config``, ...; env vars ``SEQURITY_API_KEY``, ``SEQURITY_BASE_URL`` and the rest as there).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeAlias

import openai

from .._extras import raise_if_missing

try:
    from agents import (
        Agent,
        OpenAIChatCompletionsModel,
        OpenAIProvider,
        Runner,
        RunResult,
        RunResultStreaming,
        set_default_openai_api,
        set_default_openai_client,
        set_tracing_disabled,
    )
    from agents.tracing.processors import default_exporter
except ImportError as exc:  # reported like every missing extra
    raise_if_missing(exc, "agents", __name__)
    raise

from .._client import create_async_client
from .._exceptions import ConfigurationError
from .._sessions import Session
from ._wiring import check_client, no_mix

__all__ = ["chat_model", "model_provider", "run", "run_streamed", "run_sync", "set_default_client"]

SequritySession: TypeAlias = "bool | str | Session"


def _async_client(client: openai.AsyncOpenAI | None, factory_kwargs: dict[str, Any]) -> openai.AsyncOpenAI:
    if client is None:
        return create_async_client(**factory_kwargs)
    no_mix("client", factory_kwargs)
    check_client(client, openai.AsyncOpenAI, "client", "create_async_client")
    return client


def chat_model(
    model: str, *, client: openai.AsyncOpenAI | None = None, **factory_kwargs: Any
) -> OpenAIChatCompletionsModel:
    """A Chat Completions model for ``Agent(model=...)`` that talks to Sequrity.

    ``model`` is sent as is (``"pllm,qllm"`` for dual-llm, see ``sq.dual_model``). Agents reached
    by a handoff need their own model, or use :func:`model_provider` for the whole run.
    """
    return OpenAIChatCompletionsModel(model=model, openai_client=_async_client(client, factory_kwargs))


def model_provider(*, client: openai.AsyncOpenAI | None = None, **factory_kwargs: Any) -> OpenAIProvider:
    """A model provider for ``RunConfig(model_provider=...)``: every agent of the run uses Sequrity.

    Model names reach Sequrity verbatim, so OpenRouter ids such as ``"openai/gpt-5-mini"`` keep
    their prefix (the SDK's default provider would strip or reject it).
    """
    return OpenAIProvider(openai_client=_async_client(client, factory_kwargs), use_responses=False)


def set_default_client(
    client: openai.AsyncOpenAI | None = None, *, tracing: bool = True, **factory_kwargs: Any
) -> openai.AsyncOpenAI:
    """Make Sequrity the Agents SDK's default client, process-wide, and return that client.

    Calls ``set_default_openai_client(client, use_for_tracing=False)`` (the SDK's default would
    copy the Sequrity key into the exporter that posts traces to OpenAI) and
    ``set_default_openai_api("chat_completions")`` (the default would call ``/responses``).

    ``tracing=True`` leaves the SDK's tracing as it is: the exporter keeps its own key, from
    ``OPENAI_API_KEY`` or ``agents.set_tracing_export_api_key``, and skips the upload without one.
    ``tracing=False`` disables tracing process-wide (as ``OPENAI_AGENTS_DISABLE_TRACING=1`` does).
    Raises ``sq.ConfigurationError`` if the exporter already holds the Sequrity key.

    Model names go through the SDK's default provider, which strips an ``openai/`` prefix and
    rejects other prefixes; use :func:`model_provider` or :func:`chat_model` for such ids.
    """
    resolved = _async_client(client, factory_kwargs)
    if tracing:
        _check_exporter(resolved)
    else:
        set_tracing_disabled(True)
    set_default_openai_client(resolved, use_for_tracing=False)
    set_default_openai_api("chat_completions")
    return resolved


def _check_exporter(client: openai.AsyncOpenAI) -> None:
    if default_exporter().api_key == client.api_key:
        raise ConfigurationError(
            "the Agents SDK trace exporter holds the Sequrity key (from OPENAI_API_KEY or an "
            "earlier set_default_openai_client/set_tracing_export_api_key) and would send it to "
            "OpenAI; give tracing its own key or pass tracing=False"
        )


@contextlib.contextmanager
def _scope(sequrity_session: SequritySession) -> Iterator[Session | None]:
    if sequrity_session is False:
        yield None
        return
    if isinstance(sequrity_session, Session):
        scope = sequrity_session
    elif isinstance(sequrity_session, str):
        scope = Session(sequrity_session)
    else:
        scope = Session()
    with scope:
        yield scope


async def run(
    starting_agent: Agent[Any],
    input: Any,
    *,
    sequrity_session: SequritySession = True,
    **runner_kwargs: Any,
) -> RunResult:
    """``Runner.run`` with every model call of the run in one Sequrity session.

    ``sequrity_session``: ``True`` opens a fresh session for this run, a ``sq.Session`` continues
    (and updates) that scope, a string resumes that session id, ``False`` leaves the current
    scope alone. Other keyword arguments (``run_config``, ``max_turns``, the SDK's own memory
    ``session``, ...) go to ``Runner.run`` unchanged.
    """
    with _scope(sequrity_session):
        return await Runner.run(starting_agent, input, **runner_kwargs)


def run_sync(
    starting_agent: Agent[Any],
    input: Any,
    *,
    sequrity_session: SequritySession = True,
    **runner_kwargs: Any,
) -> RunResult:
    """``Runner.run_sync`` with the run in one Sequrity session; arguments as for :func:`run`."""
    with _scope(sequrity_session):
        return Runner.run_sync(starting_agent, input, **runner_kwargs)


def run_streamed(
    starting_agent: Agent[Any],
    input: Any,
    *,
    sequrity_session: SequritySession = True,
    **runner_kwargs: Any,
) -> RunResultStreaming:
    """``Runner.run_streamed`` with the run in one Sequrity session; arguments as for :func:`run`.

    Call it inside a running event loop; the run keeps its session while you consume
    ``stream_events()``, because its task copies the scope when it starts.
    """
    with _scope(sequrity_session):
        return Runner.run_streamed(starting_agent, input, **runner_kwargs)
