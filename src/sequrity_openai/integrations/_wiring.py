"""Checks shared by the integrations: the client they are given was made by our factories."""

from __future__ import annotations

from typing import Any

import openai

from .._exceptions import ConfigurationError
from .._routes import ROUTE_MARK

__all__ = ["check_client", "no_mix"]


def check_client(
    client: object, expected: type[openai.OpenAI | openai.AsyncOpenAI], argument: str, factory: str
) -> None:
    """Refuse a client the factory did not make: a stock one would quietly bypass Sequrity."""
    if not isinstance(client, expected):
        raise ConfigurationError(
            f"{argument} must be an openai.{expected.__name__} made by sq.{factory}(), "
            f"got {type(client).__name__}"
        )
    if ROUTE_MARK not in str(client.base_url):
        raise ConfigurationError(
            f"{argument} is not routed through Sequrity Control (base_url {client.base_url}); "
            f"make it with sq.{factory}()"
        )


def no_mix(argument: str, factory_kwargs: dict[str, Any]) -> None:
    """Refuse a ready client together with factory arguments it would silently ignore."""
    if factory_kwargs:
        names = ", ".join(sorted(factory_kwargs))
        raise ConfigurationError(f"pass either {argument} or factory arguments ({names}), not both")
