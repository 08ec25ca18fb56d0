"""Resolve every setting once: explicit argument > environment variable > default."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from . import _routes
from ._exceptions import ConfigurationError
from ._headers import (
    DEFAULT_MAX_HEADER_BYTES,
    Config,
    ConfigInput,
    Features,
    FeaturesInput,
    Policy,
    PolicyInput,
    build_headers,
    check_header_value,
    coerce,
)
from ._routes import EndpointType, Provider

T = TypeVar("T")

ENV_API_KEY: Final = "SEQURITY_API_KEY"
ENV_LLM_API_KEY: Final = "SEQURITY_LLM_API_KEY"
ENV_PROVIDER: Final = "SEQURITY_PROVIDER"
ENV_ENDPOINT_TYPE: Final = "SEQURITY_ENDPOINT_TYPE"
ENV_BASE_URL: Final = "SEQURITY_BASE_URL"
ENV_FEATURES: Final = "SEQURITY_FEATURES"
ENV_POLICY: Final = "SEQURITY_POLICY"
ENV_CONFIG: Final = "SEQURITY_CONFIG"
ENV_RAW_DUAL_LLM_CONTENT: Final = "SEQURITY_RAW_DUAL_LLM_CONTENT"

# Where the provider key comes from when neither llm_api_key nor SEQURITY_LLM_API_KEY is set.
PROVIDER_KEY_ENV: Final[Mapping[Provider | None, str]] = {
    "openai": "OPENAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    None: "OPENROUTER_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "sequrity_azure": "SEQURITY_AZURE_API_KEY",
}

DEFAULT: Final = "default"
ARGUMENT: Final = "argument"


@dataclass(frozen=True)
class Resolved(Generic[T]):
    """A value and where it came from: ``"argument"``, ``"default"`` or a variable name."""

    value: T
    origin: str


def mask(secret: str | None) -> str:
    """A key as it may be shown: never more than its last four characters."""
    if not secret:
        return "(not set)"
    return f"****{secret[-4:]}" if len(secret) >= 16 else "****"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (of four characters or more) replaced by ``****``."""
    # Longest first, so a key that contains another is not left half-visible.
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "****")
    return text


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything a factory needs, resolved and validated once."""

    api_key: Resolved[str]
    llm_api_key: Resolved[str | None]
    provider: Resolved[Provider | None]
    endpoint_type: Resolved[EndpointType]
    base_url: Resolved[str]
    features: Resolved[Features | None]
    policy: Resolved[Policy | None]
    config: Resolved[Config | None]
    session_id: Resolved[str | None]
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    # Keep the dual-llm JSON document in ``content`` instead of the value (see _presentation).
    raw_dual_llm_content: Resolved[bool] = Resolved(False, "default")
    route: str = field(init=False)
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "route",
            _routes.route_url(self.base_url.value, self.endpoint_type.value, self.provider.value),
        )
        sources = {name: _source(name, getattr(self, name).origin) for name in _HEADER_SETTINGS}
        built = build_headers(
            features=self.features.value,
            policy=self.policy.value,
            config=self.config.value,
            llm_api_key=self.llm_api_key.value,
            session_id=self.session_id.value,
            sources=sources,
            max_header_bytes=self.max_header_bytes,
        )
        object.__setattr__(self, "headers", built)

    def explain(self) -> list[tuple[str, str, str]]:
        """``(setting, shown value, origin)`` rows, keys masked."""
        rows: list[tuple[str, str, str]] = []
        for name in ("api_key", "llm_api_key"):
            item: Resolved[Any] = getattr(self, name)
            rows.append((name, mask(item.value), item.origin))
        unset = {"provider": "(default route)", "session_id": "(not set)"}
        for name in ("provider", "endpoint_type", "base_url", "session_id"):
            item = getattr(self, name)
            rows.append((name, unset.get(name, "") if item.value is None else str(item.value), item.origin))
        for name in ("features", "policy", "config"):
            item = getattr(self, name)
            rows.append((name, "(not sent)" if item.value is None else item.value.explained(), item.origin))
        return rows

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={value!r}" for name, value, _ in self.explain())
        return f"Settings({body})"

    __str__ = __repr__


_HEADER_SETTINGS = ("features", "policy", "config", "llm_api_key", "session_id")


def _source(name: str, origin: str) -> str:
    return (
        f"argument {name}"
        if origin == ARGUMENT
        else ("default" if origin == DEFAULT else f"environment variable {origin}")
    )


def _env(environ: Mapping[str, str], name: str) -> str | None:
    # An exported-but-empty variable means "unset" in most shells' idioms.
    value = environ.get(name)
    return value if value else None


def _pick(arg: T | None, environ: Mapping[str, str], var: str) -> tuple[T | str | None, str]:
    if arg is not None:
        return arg, ARGUMENT
    value = _env(environ, var)
    if value is not None:
        return value, var
    return None, DEFAULT


def resolve_settings(
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
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve and validate all settings; raises ConfigurationError naming the culprit."""
    env = os.environ if environ is None else environ
    if not isinstance(max_header_bytes, int) or max_header_bytes < 1:
        raise ConfigurationError("max_header_bytes must be a positive integer")

    raw_key, key_origin = _pick(api_key, env, ENV_API_KEY)
    if not raw_key:
        raise ConfigurationError(
            f"no Sequrity API key: pass api_key= or set {ENV_API_KEY}. "
            "(OPENAI_API_KEY is never used as the Sequrity key; it is a provider key.)"
        )
    if not isinstance(raw_key, str):
        raise ConfigurationError(f"api_key must be a string, got {type(raw_key).__name__}")
    check_header_value(raw_key, _source("api_key", key_origin))

    raw_base, base_origin = _pick(base_url, env, ENV_BASE_URL)
    parsed = _routes.parse_base_url(
        str(raw_base) if raw_base is not None else _routes.DEFAULT_BASE_URL,
        _source("base_url", base_origin),
        allow_insecure_http=allow_insecure_http,
    )

    raw_et, et_origin = _pick(endpoint_type, env, ENV_ENDPOINT_TYPE)
    if raw_et is None and parsed.endpoint_type is not None:
        raw_et, et_origin = parsed.endpoint_type, base_origin
    et = _routes.check_endpoint_type(
        str(raw_et) if raw_et is not None else _routes.DEFAULT_ENDPOINT_TYPE,
        _source("endpoint_type", et_origin),
    )

    raw_provider, provider_origin = _pick(provider, env, ENV_PROVIDER)
    if raw_provider is None and parsed.provider is not None:
        raw_provider, provider_origin = parsed.provider, base_origin
    prov = (
        None
        if raw_provider is None
        else _routes.check_provider(str(raw_provider), _source("provider", provider_origin))
    )

    llm_key: str | None
    if llm_api_key is not None:
        # An explicit empty string opts out of sending any provider key.
        llm_key, llm_origin = (llm_api_key or None), ARGUMENT
    else:
        raw_llm, llm_origin = _pick(None, env, ENV_LLM_API_KEY)
        if raw_llm is None and prov in PROVIDER_KEY_ENV:
            fallback = PROVIDER_KEY_ENV[prov]
            raw_llm, llm_origin = _env(env, fallback), fallback
            if raw_llm is None:
                llm_origin = DEFAULT
        llm_key = None if raw_llm is None else str(raw_llm)

    def model(arg: Any, var: str, cls: Any, name: str) -> Resolved[Any]:
        raw, origin = _pick(arg, env, var)
        value = None if raw is None else coerce(cls, raw, _source(name, origin))
        return Resolved(value, origin)

    return Settings(
        api_key=Resolved(raw_key, key_origin),
        llm_api_key=Resolved(llm_key, llm_origin),
        provider=Resolved(prov, provider_origin),
        endpoint_type=Resolved(et, et_origin),
        base_url=Resolved(parsed.root, base_origin),
        features=model(features, ENV_FEATURES, Features, "features"),
        policy=model(policy, ENV_POLICY, Policy, "policy"),
        config=model(config, ENV_CONFIG, Config, "config"),
        session_id=Resolved(session_id, ARGUMENT if session_id is not None else DEFAULT),
        max_header_bytes=max_header_bytes,
        raw_dual_llm_content=_raw_dual_llm_content(raw_dual_llm_content, env),
    )


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _raw_dual_llm_content(arg: bool | None, env: Mapping[str, str]) -> Resolved[bool]:
    if arg is not None:
        if not isinstance(arg, bool):
            raise ConfigurationError(
                f"raw_dual_llm_content must be True or False, got {type(arg).__name__}",
                setting="raw_dual_llm_content",
                origin="argument",
            )
        return Resolved(arg, ARGUMENT)
    raw = _env(env, ENV_RAW_DUAL_LLM_CONTENT)
    if raw is None:
        return Resolved(False, DEFAULT)
    if raw.strip().lower() not in _TRUE + _FALSE:
        raise ConfigurationError(
            f"environment variable {ENV_RAW_DUAL_LLM_CONTENT}: expected one of "
            f"{', '.join(_TRUE + _FALSE)}, got {raw!r}",
            setting="raw_dual_llm_content",
            origin="environment",
            env_var=ENV_RAW_DUAL_LLM_CONTENT,
        )
    return Resolved(raw.strip().lower() in _TRUE, ENV_RAW_DUAL_LLM_CONTENT)
