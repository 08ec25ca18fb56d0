"""LangChain / LangGraph chat models routed through Sequrity Control.

``pip install 'sequrity-openai[langchain]'``, then ``llm = chat_openai("gpt-5-mini")``.

``ChatOpenAI`` builds its own clients unless it is given all four of ``client``,
``root_client``, ``async_client`` and ``root_async_client``; a ``root_client`` alone is
silently replaced by a client aimed at OpenAI. :func:`chat_openai` always passes all four, so
sync, async and streaming calls (and the Responses API, if LangChain picks it) go to Sequrity
with the same headers and the ``sq.session()`` scope of the caller.
"""

from __future__ import annotations

from typing import Any

import openai

from .._extras import raise_if_missing

try:
    from langchain_openai import ChatOpenAI
except ImportError as exc:  # reported like every missing extra
    raise_if_missing(exc, "langchain", __name__)
    raise

from .._client import create_async_client, create_client
from .._exceptions import ConfigurationError
from .._settings import SETTING_NAMES
from ._wiring import check_client, no_mix

__all__ = ["chat_openai"]

# The factory's own arguments (api_key, provider, features, policy, config, ...).
_FACTORY_ARGS = SETTING_NAMES
# ChatOpenAI uses these only to build clients, which it no longer does here: hand them to the
# factories instead of letting ChatOpenAI drop them. Values: the openai client argument.
_CLIENT_ARGS = {
    "timeout": "timeout",
    "request_timeout": "timeout",
    "max_retries": "max_retries",
    "default_headers": "default_headers",
    "default_query": "default_query",
    "organization": "organization",
    "openai_organization": "organization",
}
# ChatOpenAI options that would point a client somewhere else or that only apply to clients
# ChatOpenAI builds itself.
_REFUSED = {
    "openai_api_key": "api_key (the Sequrity key)",
    "openai_api_base": "base_url (the Sequrity service root)",
    "openai_proxy": "http_client=openai.DefaultHttpxClient(proxy=...) and http_async_client",
    "http_socket_options": "http_client and http_async_client",
}


def chat_openai(
    model: str | None = None,
    *,
    client: openai.OpenAI | None = None,
    async_client: openai.AsyncOpenAI | None = None,
    http_client: Any = None,
    http_async_client: Any = None,
    **kwargs: Any,
) -> ChatOpenAI:
    """A ``ChatOpenAI`` whose sync, async and streaming calls all go through Sequrity.

    - ``client`` / ``async_client``: an ``openai.OpenAI`` from ``sq.create_client`` and an
      ``openai.AsyncOpenAI`` from ``sq.create_async_client``, both or neither.
    - otherwise the factory arguments (``api_key``, ``llm_api_key``, ``provider``,
      ``endpoint_type``, ``base_url``, ``features``, ``policy``, ``config``, ``session_id``,
      ...; env vars ``SEQURITY_API_KEY``, ``SEQURITY_BASE_URL`` and the rest as there) build both.
      ``timeout``, ``max_retries``, ``default_headers``, ``default_query``, ``organization``,
      ``http_client`` and ``http_async_client`` go to those clients.
    - every other keyword argument (``temperature``, ``streaming``, ``model_kwargs``, ...) goes
      to ``ChatOpenAI``.

    Raises ``sq.ConfigurationError`` for an option ``ChatOpenAI`` would ignore or that would
    send the calls elsewhere (``openai_api_key``, ``openai_api_base``, ``openai_proxy``, ...).
    """
    for name, instead in _REFUSED.items():
        if name in kwargs:
            raise ConfigurationError(f"{name} would bypass the Sequrity clients; use {instead}")
    factory = {name: kwargs.pop(name) for name in list(kwargs) if name in _FACTORY_ARGS}
    client_args: dict[str, Any] = {}
    for name in [n for n in kwargs if n in _CLIENT_ARGS]:
        target = _CLIENT_ARGS[name]
        if target in client_args:
            raise ConfigurationError(f"{name} repeats another argument for {target}; keep one")
        client_args[target] = kwargs.pop(name)

    if client is None and async_client is None:
        sync_root = create_client(**factory, **client_args, http_client=http_client)
        async_root = create_async_client(**factory, **client_args, http_client=http_async_client)
    elif client is None or async_client is None:
        # With one side missing ChatOpenAI would build the other itself, aimed at OpenAI.
        raise ConfigurationError("pass both client and async_client, or neither")
    else:
        extra = {**factory, **client_args}
        if http_client is not None:
            extra["http_client"] = http_client
        if http_async_client is not None:
            extra["http_async_client"] = http_async_client
        no_mix("client and async_client", extra)
        check_client(client, openai.OpenAI, "client", "create_client")
        check_client(async_client, openai.AsyncOpenAI, "async_client", "create_async_client")
        sync_root, async_root = client, async_client

    if model is not None:
        kwargs["model"] = model
    return ChatOpenAI(
        client=sync_root.chat.completions,
        root_client=sync_root,
        async_client=async_root.chat.completions,
        root_async_client=async_root,
        **kwargs,
    )
