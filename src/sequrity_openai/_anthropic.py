"""The Anthropic factories: stock ``anthropic.Anthropic`` / ``anthropic.AsyncAnthropic`` clients
pointed at Sequrity Control's Messages route (extra ``[anthropic]``).

Same settings, environment variables and precedence as the OpenAI factories (one
``resolve_settings``), then the Messages rules: the route must serve ``messages``
(``_api_rules``), and on the default route the provider key falls back to
``ANTHROPIC_API_KEY`` (``_provider_keys``).

On the wire: ``Authorization: Bearer <Sequrity key>`` (the SDK's ``auth_token``) and
``X-Api-Key: <provider key>``. The provider key goes in the default headers, not in the SDK's
``api_key``: anthropic 2.x sends ``api_key`` as a Bearer too (it would replace the Sequrity
key) and refuses ``api_key`` together with ``auth_token``. ``ANTHROPIC_AUTH_TOKEN``,
``ANTHROPIC_BASE_URL`` and the ambient ``ANTHROPIC_CUSTOM_HEADERS`` never replace what is set
here: explicit arguments win over the first two, and the names of the third are omitted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _hooks
from ._api_rules import for_sdk
from ._exceptions import ConfigurationError
from ._extras import require
from ._headers import DEFAULT_MAX_HEADER_BYTES, ConfigInput, FeaturesInput, PolicyInput, check_header_value
from ._provider_keys import for_api
from ._routes import API_VERSION
from ._settings import ARGUMENT, Settings, resolve_settings

if TYPE_CHECKING:
    import anthropic

__all__ = ["create_anthropic_client", "create_async_anthropic_client"]

_SEQURITY_HEADERS = {
    "authorization": "api_key",
    "x-api-key": "llm_api_key",
    "x-features": "features",
    "x-policy": "policy",
    "x-config": "config",
    "x-session-id": "session_id",
}


def messages_base_url(settings: Settings) -> str:
    """``{root}/control/{endpoint_type}/{anthropic?}``: the SDK appends ``/v1/messages`` itself."""
    return settings.route.removesuffix(f"/{API_VERSION}")


def _headers(settings: Settings, user: Mapping[str, Any], omit: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    # Names the SDK would merge in from ANTHROPIC_CUSTOM_HEADERS ("Name: value" lines).
    for line in (os.environ.get("ANTHROPIC_CUSTOM_HEADERS") or "").split("\n"):
        name = line.split(":", 1)[0].strip()
        if ":" in line and name:
            merged[name] = omit
    merged["Authorization"] = f"Bearer {settings.api_key.value}"
    merged["X-Api-Key"] = omit  # replaced below when there is a provider key
    merged.update(settings.headers)
    for name, value in user.items():
        if not isinstance(value, str):
            raise ConfigurationError(
                f"default_headers[{name!r}] must be a str", setting="default_headers", origin="argument"
            )
        check_header_value(value, f"default_headers[{name!r}]")
        arg = _SEQURITY_HEADERS.get(name.lower())
        if arg == "api_key" or (arg is not None and getattr(settings, arg).origin == ARGUMENT):
            raise ConfigurationError(
                f"{name} is given twice, by argument {arg} and by default_headers; keep one",
                setting="default_headers",
                origin="argument",
            )
        merged[name] = value
    return merged


def _client_kwargs(args: dict[str, Any], kwargs: dict[str, Any], *, is_async: bool) -> dict[str, Any]:
    sdk = require(
        "anthropic", "sq.create_async_anthropic_client" if is_async else "sq.create_anthropic_client"
    )
    for name in ("auth_token", "credentials", "config_file", "profile"):
        if kwargs.get(name) is not None:
            raise ConfigurationError(
                f"{name}= is not taken: the Sequrity key is the bearer (pass api_key=)",
                setting=name,
                origin="argument",
            )
    settings = for_api(for_sdk(resolve_settings(**args), "anthropic"), "messages")
    headers = _headers(settings, kwargs.pop("default_headers", None) or {}, sdk.Omit())
    http_client = kwargs.pop("http_client", None)
    default_cls = sdk.DefaultAsyncHttpxClient if is_async else sdk.DefaultHttpxClient
    if http_client is None:
        http_client = default_cls()
    elif not isinstance(http_client, default_cls.__mro__[1]):
        expected = default_cls.__mro__[1]
        raise ConfigurationError(
            f"http_client must be an {expected.__module__.split('.')[0]}.{expected.__name__}, "
            f"got {type(http_client).__name__}",
            setting="http_client",
            origin="argument",
        )
    _hooks.attach(
        http_client, settings.base_url.value, settings.api_key.value, settings.llm_api_key.value, {}
    )
    return {
        **kwargs,
        "auth_token": settings.api_key.value,
        "base_url": messages_base_url(settings),
        "default_headers": headers,
        "http_client": http_client,
    }


def create_anthropic_client(
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
    **anthropic_kwargs: Any,
) -> anthropic.Anthropic:
    """A stock ``anthropic.Anthropic`` routed through Sequrity Control's Messages API.

    Takes the arguments and environment variables of :func:`sequrity_openai.create_client`,
    with two differences: ``provider`` is ``"anthropic"`` or ``None`` (the default route), and
    the provider key falls back to ``ANTHROPIC_API_KEY`` on both. ``api_key`` is the Sequrity
    key (sent as ``Authorization: Bearer``); the provider key is sent as ``X-Api-Key``.
    Everything else (``timeout``, ``max_retries``, ``default_headers``, ``http_client``, ...)
    goes to ``anthropic.Anthropic`` unchanged. Needs ``pip install "sequrity-openai[anthropic]"``.
    """
    args = {k: v for k, v in locals().items() if k != "anthropic_kwargs"}
    sdk = require("anthropic", "sq.create_anthropic_client")
    client: anthropic.Anthropic = sdk.Anthropic(**_client_kwargs(args, anthropic_kwargs, is_async=False))
    return client


def create_async_anthropic_client(
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
    **anthropic_kwargs: Any,
) -> anthropic.AsyncAnthropic:
    """The async twin of :func:`create_anthropic_client`: a stock ``anthropic.AsyncAnthropic``."""
    args = {k: v for k, v in locals().items() if k != "anthropic_kwargs"}
    sdk = require("anthropic", "sq.create_async_anthropic_client")
    client: anthropic.AsyncAnthropic = sdk.AsyncAnthropic(
        **_client_kwargs(args, anthropic_kwargs, is_async=True)
    )
    return client
