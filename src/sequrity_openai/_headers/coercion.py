"""Turning what a user passes (a model, a mapping or a JSON string) into a header model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from .._exceptions import ConfigurationError
from .base import HeaderModel
from .config import Config
from .features import Features
from .policy import Policy

__all__ = ["ConfigInput", "FeaturesInput", "PolicyInput", "coerce", "describe_validation_error"]

_M = TypeVar("_M", bound=HeaderModel)

FeaturesInput = Features | Mapping[str, Any] | str
PolicyInput = Policy | Mapping[str, Any] | str
ConfigInput = Config | Mapping[str, Any] | str

_ARCH_SHORTHAND = {"single-llm": Features.single_llm, "dual-llm": Features.dual_llm}


def coerce(model: type[_M], value: _M | Mapping[str, Any] | str, source: str) -> _M:
    """Turn a model, a mapping or a JSON string into ``model``; errors name ``source``."""
    if isinstance(value, model):
        return value
    try:
        if isinstance(value, str):
            text = value.strip()
            if model is Features and text in _ARCH_SHORTHAND:
                return _ARCH_SHORTHAND[text]()  # type: ignore[return-value]
            return model.model_validate_json(text)
        if isinstance(value, Mapping):
            return model.model_validate(dict(value))
    except ValidationError as exc:
        raise ConfigurationError(
            f"{source}: invalid {_header_of(model)} value: {describe_validation_error(exc)}"
        ) from None
    raise ConfigurationError(
        f"{source}: expected sq.{model.__name__}, a dict or a JSON string, got {type(value).__name__}"
    )


def _header_of(model: type[HeaderModel]) -> str:
    return {"Features": "X-Features", "Policy": "X-Policy", "Config": "X-Config"}.get(
        model.__name__, model.__name__
    )


def describe_validation_error(exc: ValidationError) -> str:
    """pydantic's own wording, without the input echo (a policy can be long) or the docs URL."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
