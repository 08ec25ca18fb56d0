"""The two factories. They return stock ``openai.OpenAI`` / ``openai.AsyncOpenAI`` clients."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import openai
from typing_extensions import Unpack

from . import _first_call, _hooks, _http, _provider_keys
from ._api_rules import for_sdk
from ._exceptions import ConfigurationError, Source
from ._headers import check_header_value
from ._settings import ARGUMENT, SETTING_NAMES, SettingArgs, Settings, resolve_settings

__all__ = [
    "ClientArgs",
    "checked_default_headers",
    "create_async_client",
    "create_client",
    "given_settings",
    "http_client_for",
]

# Header names are RFC 9110 tokens.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SEQURITY_HEADERS = {
    "x-api-key": "llm_api_key",
    "x-features": "features",
    "x-policy": "policy",
    "x-config": "config",
    "x-session-id": "session_id",
}
# OpenAI account headers: sent to Sequrity only when given to the factory (the guard in
# _hooks drops them otherwise, whoever added them: OPENAI_ORG_ID, OPENAI_PROJECT_ID, a copy).
_ACCOUNT_ARGS = {"organization": "OpenAI-Organization", "project": "OpenAI-Project"}


class ClientArgs(SettingArgs, total=False):
    """The factory arguments: the settings, then what goes to the stock client unchanged.

    Any other keyword argument of ``openai.OpenAI`` is passed on as well.
    """

    timeout: Any
    """As for ``openai.OpenAI``."""
    max_retries: int
    """As for ``openai.OpenAI``."""
    default_headers: Mapping[str, Any] | None
    """Extra headers on every request; names and values are checked here."""
    default_query: Mapping[str, object] | None
    """As for ``openai.OpenAI``."""
    http_client: Any
    """An httpx2 or httpx client (whichever the installed SDK accepts); the guard is added to it."""
    organization: str | None
    """Sent as ``OpenAI-Organization`` only when given here; ``OPENAI_ORG_ID`` never is."""
    project: str | None
    """Sent as ``OpenAI-Project`` only when given here; ``OPENAI_PROJECT_ID`` never is."""


def checked_default_headers(
    settings: Settings,
    user: Mapping[str, Any],
    *,
    omit: type = openai.Omit,
    reserved: Mapping[str, str] = {},
) -> dict[str, Any]:
    """``settings.headers`` with the user's ``default_headers`` over them, each name and value
    checked. ``omit``: the SDK's marker for a header not to send (allowed as a value);
    ``reserved``: header names (lower case) the factory always sets itself, with the argument
    that sets them."""
    if not isinstance(user, Mapping):
        raise Source("default_headers", "argument").error(f"must be a mapping, got {type(user).__name__}")
    for name, value in user.items():
        where = f"default_headers[{name!r}]"
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ConfigurationError(
                f"{where}: a header name is letters, digits and !#$%&'*+-.^_`|~ only",
                setting="default_headers",
                origin="argument",
            )
        if not isinstance(value, omit):
            if not isinstance(value, str):
                raise ConfigurationError(
                    f"{where} must be a str, got {type(value).__name__}",
                    setting="default_headers",
                    origin="argument",
                )
            try:
                check_header_value(value, where)
            except ConfigurationError as exc:
                exc.setting, exc.origin = "default_headers", "argument"
                raise
        arg = reserved.get(name.lower()) or _SEQURITY_HEADERS.get(name.lower())
        if arg is not None and (name.lower() in reserved or getattr(settings, arg).origin == ARGUMENT):
            raise ConfigurationError(
                f"{name} is given twice, by argument {arg} and by default_headers; keep one",
                setting="default_headers",
                origin="argument",
            )
    return {**settings.headers, **user}


def http_client_for(
    given: Any,
    settings_environ: Mapping[str, str] | None,
    *,
    is_async: bool,
    sdk: Any = openai,
    accepted: tuple[type, ...] | None = None,
    factory_name: str | None = None,
) -> Any:
    """The user's ``http_client`` if ``sdk`` (openai or anthropic) accepts it, else the SDK's
    default client with the TLS trust a stock client built now would have."""
    if given is None:
        factory = sdk.DefaultAsyncHttpxClient if is_async else sdk.DefaultHttpxClient
        library = factory.__mro__[1].__module__.split(".")[0]
        if settings_environ is None:
            return factory(verify=_http.default_ssl_context(None, library))
        # environ= given: no ambient input at all, proxies and certificate variables included.
        return factory(verify=_http.default_ssl_context(settings_environ, library), trust_env=False)
    accepted = accepted or _http.accepted_clients(is_async)
    if not isinstance(given, accepted):
        names = " or ".join(f"{c.__module__.split('.')[0]}.{c.__name__}" for c in accepted)
        factory_name = factory_name or ("create_async_client" if is_async else "create_client")
        raise ConfigurationError(
            f"http_client must be an {names} for {factory_name}, got {type(given).__name__}",
            setting="http_client",
            origin="argument",
        )
    return given


def given_settings(
    settings: Settings | None, environ: Mapping[str, str] | None, kwargs: dict[str, Any]
) -> Settings:
    """The resolved settings given positionally, or resolved from the setting arguments in
    ``kwargs`` (taken out of it) and ``environ``; not both."""
    setting_args = {name: kwargs.pop(name) for name in list(kwargs) if name in SETTING_NAMES}
    if settings is None:
        settings = resolve_settings(environ=environ, **setting_args)
    elif not isinstance(settings, Settings):
        raise ConfigurationError(
            f"settings must be a Settings from resolve_settings(), got {type(settings).__name__}",
            setting="settings",
            origin="argument",
        )
    elif setting_args or environ is not None:
        names = ", ".join(sorted(setting_args) or ["environ"])
        raise ConfigurationError(
            f"pass resolved settings or setting arguments ({names}), not both",
            setting="settings",
            origin="argument",
        )
    return settings


def _client_kwargs(
    settings: Settings | None, environ: Mapping[str, str] | None, kwargs: dict[str, Any], *, is_async: bool
) -> dict[str, Any]:
    """Resolve the settings and turn them into keyword arguments for the stock client."""
    settings = for_sdk(given_settings(settings, environ, kwargs), "openai")
    headers = checked_default_headers(settings, kwargs.pop("default_headers", None) or {})
    http_client = http_client_for(kwargs.pop("http_client", None), environ, is_async=is_async)
    account = {header: kwargs[arg] for arg, header in _ACCOUNT_ARGS.items() if kwargs.get(arg) is not None}
    _hooks.attach(
        http_client,
        settings.base_url.value,
        settings.api_key.value,
        settings.llm_api_key.value,
        account,
        raw_dual_llm_content=settings.raw_dual_llm_content.value,
    )
    _provider_keys.attach(http_client, settings, is_async=is_async)
    _first_call.install(http_client, is_async=is_async)
    return {
        **kwargs,
        "api_key": settings.api_key.value,
        "base_url": settings.route,
        "default_headers": headers,
        "http_client": http_client,
    }


def create_client(
    settings: Settings | None = None,
    /,
    *,
    environ: Mapping[str, str] | None = None,
    **kwargs: Unpack[ClientArgs],
) -> openai.OpenAI:
    """A stock ``openai.OpenAI`` routed through Sequrity Control.

    Arguments (explicit value > environment variable > default), declared in
    :class:`~sequrity_openai._settings.SettingArgs`:

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

    ``settings``: an already resolved ``Settings`` instead of the arguments above.
    ``environ``: read these variables instead of ``os.environ``; ``environ={}`` opts out of
    every ambient input (no ``SEQURITY_*`` or provider variable, and a default HTTP client that
    reads no proxy or certificate variable).

    Raises ``sq.ConfigurationError`` before anything is sent when a setting is invalid.
    """
    return openai.OpenAI(**_client_kwargs(settings, environ, dict(kwargs), is_async=False))


def create_async_client(
    settings: Settings | None = None,
    /,
    *,
    environ: Mapping[str, str] | None = None,
    **kwargs: Unpack[ClientArgs],
) -> openai.AsyncOpenAI:
    """A stock ``openai.AsyncOpenAI`` routed through Sequrity Control.

    Takes the same arguments and environment variables as :func:`create_client`.
    """
    return openai.AsyncOpenAI(**_client_kwargs(settings, environ, dict(kwargs), is_async=True))
