"""What each SDK may be pointed at, and the rules of the ``lang-graph`` endpoint.

Applied by the factories after the settings are resolved, once per client:

- the route table (``_routes.ROUTES``) must serve an API of the SDK at the client's endpoint
  type and provider; a provider that serves none is refused, naming what to use instead.
  The ``agent`` endpoint type appears in the service's URL pattern (and in the official
  client) but its REST reference documents no route for it: a warning, not a refusal;
- ``lang-graph`` always runs dual-llm, needs ``X-Config``, forces ``fsm.disable_rllm`` and
  forbids ``response_format.strip_response_content`` (the official runner's rules). A config
  that contradicts them is refused; a missing config or ``disable_rllm`` is filled in.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from typing import Any, Final, Literal

from ._exceptions import ConfigurationError
from ._headers import Config, FsmConfig
from ._routes import OPENAI_SDK_APIS, Api, apis_served
from ._settings import ARGUMENT, DEFAULT, Resolved, Settings

__all__ = ["Sdk", "for_sdk"]

Sdk = Literal["openai", "anthropic"]

_SDK_APIS: Final[dict[Sdk, tuple[Api, ...]]] = {"openai": OPENAI_SDK_APIS, "anthropic": ("messages",)}
_FACTORY: Final[dict[Sdk, str]] = {"openai": "sq.create_client", "anthropic": "sq.create_anthropic_client"}


def _error(message: str, setting: str, resolved: Resolved[Any]) -> ConfigurationError:
    if resolved.origin == ARGUMENT:
        return ConfigurationError(message, setting=setting, origin="argument")
    if resolved.origin == DEFAULT:
        return ConfigurationError(message, setting=setting, origin="default")
    return ConfigurationError(message, setting=setting, origin="environment", env_var=resolved.origin)


def _shown(provider: str | None) -> str:
    return "the default route" if provider is None else f"provider {provider!r}"


def _outside_package() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside this package."""
    package = os.path.dirname(__file__) + os.sep
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def check_route(settings: Settings, sdk: Sdk) -> None:
    """Refuse a route that serves no API of ``sdk``; warn about the undocumented ``agent`` type."""
    endpoint_type, provider = settings.endpoint_type.value, settings.provider.value
    if endpoint_type == "agent":
        warnings.warn(
            "endpoint_type 'agent' appears in Sequrity Control's URL pattern, but its REST "
            "reference documents no route for it; requests may answer 404",
            UserWarning,
            stacklevel=_outside_package(),
        )
        return
    served = apis_served(endpoint_type, provider)
    if any(api in served for api in _SDK_APIS[sdk]):
        return
    where = f"{_shown(provider)} on endpoint type {endpoint_type!r}"
    others = [
        p for p in (None, "anthropic", "openai") if set(_SDK_APIS[sdk]) & set(apis_served(endpoint_type, p))
    ]
    if provider == "llama":
        hint = "llama has no documented Sequrity Control route; use the default route (provider unset)"
    elif sdk == "openai" and "messages" in served:
        hint = "it serves only the Anthropic Messages API: use sq.create_anthropic_client(...)"
    elif sdk == "anthropic" and others:
        hint = f"the Messages API is served there only by {' and '.join(_shown(p) for p in others)}"
        if served:
            hint += f"; for {', '.join(served)} use sq.create_client(...)"
    else:
        hint = f"it serves {', '.join(served)}: use sq.create_client(...)"
    raise _error(
        f"{where} serves no API of the {sdk} SDK ({_FACTORY[sdk]}): {hint}", "provider", settings.provider
    )


def lang_graph_rules(settings: Settings) -> Settings:
    """``settings`` made to follow the ``lang-graph`` rules, or ConfigurationError naming the one broken."""
    features = settings.features.value
    if features is not None and features.agent_arch == "single-llm":
        raise _error(
            "the lang-graph endpoint always runs dual-llm; drop agent_arch='single-llm' from features",
            "features",
            settings.features,
        )
    config = settings.config.value
    origin = settings.config.origin
    if config is None:
        config, origin = Config(fsm=FsmConfig(disable_rllm=True)), DEFAULT
    rf = config.response_format
    if rf is not None and rf.strip_response_content:
        raise _error(
            "the lang-graph endpoint forbids response_format.strip_response_content; leave it unset",
            "config",
            settings.config,
        )
    fsm = config.fsm or FsmConfig()
    if fsm.disable_rllm is False:
        raise _error(
            "the lang-graph endpoint runs with fsm.disable_rllm=true; leave it unset or true",
            "config",
            settings.config,
        )
    if fsm.disable_rllm is None:
        config = config.model_copy(update={"fsm": fsm.model_copy(update={"disable_rllm": True})})
    if config is settings.config.value:
        return settings
    # replace() runs __post_init__ again, so the headers are rebuilt with the filled-in config.
    return dataclasses.replace(settings, config=Resolved(config, origin))


def for_sdk(settings: Settings, sdk: Sdk) -> Settings:
    """Check the route for ``sdk`` and apply the endpoint type's rules; returns the settings to use."""
    check_route(settings, sdk)
    if settings.endpoint_type.value == "lang-graph":
        return lang_graph_rules(settings)
    return settings
