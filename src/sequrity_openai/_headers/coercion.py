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


def _near_arch(text: str) -> str | None:
    """The shorthand a near miss (``dual_llm``, ``DUAL``, ``single``) was meant to be."""
    import difflib  # only for an error message: not worth its import at `import sequrity_openai`

    guess = difflib.get_close_matches(text.lower().replace("_", "-"), list(_ARCH_SHORTHAND), n=1, cutoff=0.6)
    return guess[0] if guess else None


def coerce(model: type[_M], value: _M | Mapping[str, Any] | str, source: str) -> _M:
    """Turn a model, a mapping or a JSON string into ``model``; errors name ``source``.

    SQRT policy code is checked here with the service's grammar, so invalid code is refused
    before anything is sent (when the ``[sqrt]`` extra is installed; Cedar is not checked).
    """
    result = _coerce(model, value, source)
    if isinstance(result, Policy) and result.codes is not None:
        codes = result.codes
        # Loaded with the first policy that has code: most programs never get here.
        from .._policies._check import check_sqrt, grammar_available

        if codes.language == "sqrt" and codes.code.strip() and grammar_available():
            check_sqrt(codes.code, source=source)
    return result


def _coerce(model: type[_M], value: _M | Mapping[str, Any] | str, source: str) -> _M:
    if isinstance(value, model):
        return value
    try:
        if isinstance(value, str):
            text = value.strip()
            if model is Features and text in _ARCH_SHORTHAND:
                return _ARCH_SHORTHAND[text]()  # type: ignore[return-value]
            if model is Features and (guess := _near_arch(text)):
                raise ConfigurationError(
                    f"{source}: {text!r} is not an agent architecture; did you mean {guess!r}?"
                )
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
