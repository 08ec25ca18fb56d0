"""The Anthropic factories: stock ``anthropic.Anthropic`` / ``anthropic.AsyncAnthropic`` clients
pointed at Sequrity Control's Messages route (extra ``[anthropic]``).

Same settings, environment variables and precedence as the OpenAI factories (one
``resolve_settings``), then the Messages rules: the route must serve ``messages``
(``_api_rules``), and on the default route the provider key falls back to
``ANTHROPIC_API_KEY`` (``_provider_keys``).

On the wire: ``Authorization: Bearer <Sequrity key>`` (the SDK's ``auth_token``) and
``X-Api-Key: <provider key>``. The provider key goes in the default headers, not in the SDK's
``api_key``: anthropic 2.x sends ``api_key`` as a Bearer too (it would replace the Sequrity
key) and refuses ``api_key`` together with ``auth_token``. Explicit arguments win over
``ANTHROPIC_AUTH_TOKEN`` and ``ANTHROPIC_BASE_URL``; on the request path (which copies share)
the guard of ``_hooks`` replaces a bearer from ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_AUTH_TOKEN``
/ ``ANTHROPIC_CUSTOM_HEADERS`` and drops the headers of ``ANTHROPIC_CUSTOM_HEADERS``, whenever
the SDK picked them up (at construction or in a copy made after the environment changed).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from typing_extensions import Unpack

from . import _hooks
from ._ambient import Ambient
from ._api_rules import for_sdk
from ._client import checked_default_headers, given_settings, http_client_for
from ._exceptions import ConfigurationError, RedirectRefusedError
from ._extras import require
from ._provider_keys import for_api
from ._routes import API_VERSION
from ._settings import SettingArgs, Settings

if TYPE_CHECKING:
    import anthropic

__all__ = ["AnthropicClientArgs", "ambient", "create_anthropic_client", "create_async_anthropic_client"]


@functools.cache
def ambient(sdk: Any) -> Ambient:
    """What the anthropic SDK (the module ``sdk``) reads from the environment by itself: it
    sends ``ANTHROPIC_API_KEY`` or ``ANTHROPIC_AUTH_TOKEN`` as a bearer, merges
    ``ANTHROPIC_CUSTOM_HEADERS`` into its default headers (again in every copy), and puts the
    whole error body in ``str(exc)``; and how the guard refuses a redirect to its callers."""

    class AnthropicRedirectRefusedError(RedirectRefusedError, sdk.APIStatusError):  # type: ignore[misc]
        """:class:`~sequrity_openai.RedirectRefusedError` that is also an
        ``anthropic.APIStatusError``: the anthropic SDK passes its own errors through and
        would turn any other into a connection error."""

        def __init__(self, message: str, *, response: Any, target_origin: str) -> None:
            # The two bases' constructors each call their own chain of super().__init__ with
            # different signatures, so they cannot run in one MRO: build each part alone and
            # take its attributes (whatever fields the installed versions define).
            Exception.__init__(self, message)
            for part in (
                sdk.APIStatusError(message, response=response, body=None),
                RedirectRefusedError(message, response=response, target_origin=target_origin),
            ):
                self.__dict__.update(part.__dict__)

    return Ambient(
        bearer_vars=("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"),
        custom_headers_var="ANTHROPIC_CUSTOM_HEADERS",
        shows_whole_body=True,
        redirect_error=AnthropicRedirectRefusedError,
    )


# Always set by the factory: the bearer is the Sequrity key.
_RESERVED: Final = {"authorization": "api_key"}
# Credential arguments of the stock client: each would replace the Sequrity bearer. (Its
# ``config=`` cannot reach it: ``config`` is the Sequrity setting, taken out before.)
_CREDENTIAL_ARGS: Final = ("auth_token", "credentials", "profile")


class AnthropicClientArgs(SettingArgs, total=False):
    """The Anthropic factory arguments: the settings, then what goes to the stock client
    unchanged. Any other keyword argument of ``anthropic.Anthropic`` is passed on as well,
    except its credential arguments (``auth_token``, ``credentials``, ``profile``; ``config`` is
    Sequrity's)."""

    timeout: Any
    """As for ``anthropic.Anthropic``."""
    max_retries: int
    """As for ``anthropic.Anthropic``."""
    default_headers: Mapping[str, Any] | None
    """Extra headers on every request; names and values are checked here."""
    default_query: Mapping[str, object] | None
    """As for ``anthropic.Anthropic``."""
    http_client: Any
    """An ``httpx2.Client`` (``httpx2.AsyncClient`` for the async factory); the guard is added to it."""


def messages_base_url(settings: Settings) -> str:
    """``{root}/control/{endpoint_type}/{anthropic?}``: the SDK appends ``/v1/messages`` itself."""
    return settings.route.removesuffix(f"/{API_VERSION}")


def _client_kwargs(
    settings: Settings | None, environ: Mapping[str, str] | None, kwargs: dict[str, Any], *, is_async: bool
) -> dict[str, Any]:
    factory_name = "create_async_anthropic_client" if is_async else "create_anthropic_client"
    sdk = require("anthropic", f"sq.{factory_name}")
    for name in _CREDENTIAL_ARGS:
        if kwargs.get(name) is not None:
            raise ConfigurationError(
                f"{name}= is not taken: the Sequrity key is the bearer (pass api_key=)",
                setting=name,
                origin="argument",
            )
    settings = given_settings(settings, environ, kwargs)
    settings = for_api(for_sdk(settings, "anthropic"), "messages", environ)
    headers = checked_default_headers(
        settings, kwargs.pop("default_headers", None) or {}, omit=sdk.Omit, reserved=_RESERVED
    )
    default_cls = sdk.DefaultAsyncHttpxClient if is_async else sdk.DefaultHttpxClient
    http_client = http_client_for(
        kwargs.pop("http_client", None),
        environ,
        is_async=is_async,
        sdk=sdk,
        accepted=(default_cls.__mro__[1],),
        factory_name=factory_name,
    )
    _hooks.attach(
        http_client,
        settings.base_url.value,
        settings.api_key.value,
        settings.llm_api_key.value,
        {},
        ambient=ambient(sdk),
    )
    return {
        **kwargs,
        "auth_token": settings.api_key.value,
        "base_url": messages_base_url(settings),
        # Also in the default headers: a bearer line of ANTHROPIC_CUSTOM_HEADERS would otherwise
        # win over auth_token in the SDK's merge (the guard would replace it; this is cheaper).
        "default_headers": {"Authorization": f"Bearer {settings.api_key.value}", **headers},
        "http_client": http_client,
    }


def create_anthropic_client(
    settings: Settings | None = None,
    /,
    *,
    environ: Mapping[str, str] | None = None,
    **kwargs: Unpack[AnthropicClientArgs],
) -> anthropic.Anthropic:
    """A stock ``anthropic.Anthropic`` routed through Sequrity Control's Messages API.

    Takes the arguments, ``settings`` and ``environ`` of :func:`sequrity_openai.create_client`
    (declared in :class:`AnthropicClientArgs`), with two differences: ``provider`` is
    ``"anthropic"`` or ``None`` (the default route), and the provider key falls back to
    ``ANTHROPIC_API_KEY`` on both. ``api_key`` is the Sequrity key (sent as
    ``Authorization: Bearer``); the provider key is sent as ``X-Api-Key``. Everything else
    (``timeout``, ``max_retries``, ``default_headers``, ``http_client``, ...) goes to
    ``anthropic.Anthropic`` unchanged. Needs ``pip install "sequrity-openai[anthropic]"``.
    """
    sdk = require("anthropic", "sq.create_anthropic_client")
    client: anthropic.Anthropic = sdk.Anthropic(
        **_client_kwargs(settings, environ, dict(kwargs), is_async=False)
    )
    return client


def create_async_anthropic_client(
    settings: Settings | None = None,
    /,
    *,
    environ: Mapping[str, str] | None = None,
    **kwargs: Unpack[AnthropicClientArgs],
) -> anthropic.AsyncAnthropic:
    """The async twin of :func:`create_anthropic_client`: a stock ``anthropic.AsyncAnthropic``."""
    sdk = require("anthropic", "sq.create_async_anthropic_client")
    client: anthropic.AsyncAnthropic = sdk.AsyncAnthropic(
        **_client_kwargs(settings, environ, dict(kwargs), is_async=True)
    )
    return client
