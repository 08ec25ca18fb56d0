"""The two factories. They return stock ``openai.OpenAI`` / ``openai.AsyncOpenAI`` clients."""

from __future__ import annotations

import functools
import importlib
import os
import ssl
from typing import Any

import openai

from . import _first_call, _hooks, _presentation_stream, _provider_keys
from ._api_rules import for_sdk
from ._exceptions import ConfigurationError
from ._headers import DEFAULT_MAX_HEADER_BYTES, ConfigInput, FeaturesInput, PolicyInput, check_header_value
from ._settings import Settings, resolve_settings

__all__ = ["create_async_client", "create_client"]

# Headers the stock SDK adds from OPENAI_ORG_ID / OPENAI_PROJECT_ID even with a custom
# base_url; they describe an OpenAI account and have no business reaching Sequrity.
_ACCOUNT_HEADERS = {"organization": "OpenAI-Organization", "project": "OpenAI-Project"}
_SEQURITY_ARGS = {
    "x-api-key": "llm_api_key",
    "x-features": "features",
    "x-policy": "policy",
    "x-config": "config",
    "x-session-id": "session_id",
}


def _http_module() -> Any:
    # openai 3.x builds on httpx2, 2.x on httpx: ask the SDK which one it uses.
    base = openai.DefaultHttpxClient.__mro__[1]
    return importlib.import_module(base.__module__.split(".")[0])


@functools.lru_cache(maxsize=1)
def _shared_ssl_context() -> ssl.SSLContext:
    # Building a TLS context (loading the CA bundle) is most of the cost of a new client;
    # one context serves every client, while each keeps its own connection pool.
    context: ssl.SSLContext = _http_module().create_ssl_context()
    return context


def _ambient_header_names() -> list[str]:
    # openai 3.x merges OPENAI_CUSTOM_HEADERS ("Name: value" lines) into every client.
    raw = os.environ.get("OPENAI_CUSTOM_HEADERS")
    if not raw:
        return []
    return [line.split(":", 1)[0].strip() for line in raw.split("\n") if ":" in line]


def _default_headers(settings: Settings, openai_kwargs: dict[str, Any], explicit: set[str]) -> dict[str, Any]:
    user = dict(openai_kwargs.pop("default_headers", None) or {})
    for name, value in user.items():
        if not isinstance(value, openai.Omit):
            check_header_value(str(value), f"default_headers[{name!r}]")
        arg = _SEQURITY_ARGS.get(name.lower())
        if arg in explicit:
            raise ConfigurationError(
                f"{name} is given twice, by argument {arg} and by default_headers; keep one"
            )
    merged: dict[str, Any] = {}
    for name in _ambient_header_names():
        if name.lower() == "authorization":
            merged["Authorization"] = f"Bearer {settings.api_key.value}"
        else:
            merged[name] = openai.Omit()
    for kwarg, header in _ACCOUNT_HEADERS.items():
        if openai_kwargs.get(kwarg) is None:
            merged[header] = openai.Omit()
    merged.update(settings.headers)
    merged.update(user)
    return merged


def _client_kwargs(args: dict[str, Any], openai_kwargs: dict[str, Any], *, is_async: bool) -> dict[str, Any]:
    """Resolve the settings and turn them into keyword arguments for the stock client."""
    settings = for_sdk(resolve_settings(**args), "openai")
    explicit = {name for name in _SEQURITY_ARGS.values() if args[name] is not None}
    kwargs = dict(openai_kwargs)
    headers = _default_headers(settings, kwargs, explicit)
    http_client = kwargs.pop("http_client", None)
    if http_client is None:
        factory = openai.DefaultAsyncHttpxClient if is_async else openai.DefaultHttpxClient
        http_client = factory(verify=_shared_ssl_context())
    else:
        expected = (openai.DefaultAsyncHttpxClient if is_async else openai.DefaultHttpxClient).__mro__[1]
        if not isinstance(http_client, expected):
            factory_name = "create_async_client" if is_async else "create_client"
            raise ConfigurationError(
                f"http_client must be an {expected.__module__.split('.')[0]}.{expected.__name__} "
                f"for {factory_name}, got {type(http_client).__name__}"
            )
    _hooks.attach(http_client, is_async=is_async)
    _provider_keys.attach(http_client, settings, is_async=is_async)
    _presentation_stream.attach(http_client, is_async=is_async, raw=settings.raw_dual_llm_content.value)
    _first_call.install(http_client, is_async=is_async)
    return {
        **kwargs,
        "api_key": settings.api_key.value,
        "base_url": settings.route,
        "default_headers": headers,
        "http_client": http_client,
    }


def create_client(
    *,
    api_key: str | None = None,
    llm_api_key: str | None = None,
    provider: str | None = None,
    endpoint_type: str | None = None,
    base_url: str | None = None,
    features: FeaturesInput | None = None,
    policy: PolicyInput | None = None,
    config: ConfigInput | None = None,
    session_id: str | None = None,
    allow_insecure_http: bool = False,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    raw_dual_llm_content: bool | None = None,
    **openai_kwargs: Any,
) -> openai.OpenAI:
    """A stock ``openai.OpenAI`` routed through Sequrity Control.

    Arguments (explicit value > environment variable > default):

    - ``api_key``: Sequrity key, sent as the bearer. ``SEQURITY_API_KEY``; required.
      ``OPENAI_API_KEY`` is never used here.
    - ``llm_api_key``: provider key, sent as ``X-Api-Key``. ``SEQURITY_LLM_API_KEY``, else by
      provider ``OPENAI_API_KEY`` (openai), ``OPENROUTER_API_KEY`` (openrouter),
      ``SEQURITY_AZURE_API_KEY`` (sequrity_azure); on the default route by API:
      ``OPENROUTER_API_KEY`` for chat completions, ``OPENAI_API_KEY`` for Responses.
      ``""`` sends none.
    - ``provider``: openai, openrouter, sequrity_azure (Sequrity-internal, not open to the
      public), or ``None`` for the default route. ``SEQURITY_PROVIDER``. ``anthropic`` serves
      only the Messages API (use ``sq.create_anthropic_client``) and ``llama`` has no documented
      route: both are refused.
    - ``endpoint_type``: chat (default), code, lang-graph (always dual-llm; see the docs), or
      agent (no documented route: a warning). ``SEQURITY_ENDPOINT_TYPE``.
    - ``base_url``: service root, default ``https://api.sequrity.ai``. ``SEQURITY_BASE_URL``.
    - ``features`` / ``policy`` / ``config``: ``sq.Features`` / ``sq.Policy`` / ``sq.Config``,
      a dict or a JSON string (features also ``"single-llm"`` / ``"dual-llm"``).
      ``SEQURITY_FEATURES`` / ``SEQURITY_POLICY`` / ``SEQURITY_CONFIG``.
    - ``session_id``: pin every call of this client to one session (prefer ``sq.session()``).
    - ``allow_insecure_http``: permit ``http://`` to a host that is not loopback.
    - ``max_header_bytes``: limit on the size of the Sequrity headers (16 KiB).
    - ``raw_dual_llm_content``: keep the dual-llm JSON document in ``message.content`` instead
      of the final value (or a refusal). ``SEQURITY_RAW_DUAL_LLM_CONTENT`` (``1``/``0``).
    - everything else (``timeout``, ``max_retries``, ``default_headers``, ``http_client``, ...)
      goes to ``openai.OpenAI`` unchanged.

    Raises ``sq.ConfigurationError`` before anything is sent when a setting is invalid.
    """
    args = {k: v for k, v in locals().items() if k != "openai_kwargs"}
    return openai.OpenAI(**_client_kwargs(args, openai_kwargs, is_async=False))


def create_async_client(
    *,
    api_key: str | None = None,
    llm_api_key: str | None = None,
    provider: str | None = None,
    endpoint_type: str | None = None,
    base_url: str | None = None,
    features: FeaturesInput | None = None,
    policy: PolicyInput | None = None,
    config: ConfigInput | None = None,
    session_id: str | None = None,
    allow_insecure_http: bool = False,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    raw_dual_llm_content: bool | None = None,
    **openai_kwargs: Any,
) -> openai.AsyncOpenAI:
    """A stock ``openai.AsyncOpenAI`` routed through Sequrity Control.

    Takes the same arguments and environment variables as :func:`create_client`.
    """
    args = {k: v for k, v in locals().items() if k != "openai_kwargs"}
    return openai.AsyncOpenAI(**_client_kwargs(args, openai_kwargs, is_async=True))
