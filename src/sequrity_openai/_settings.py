"""Resolve every setting once: explicit argument > environment variable > default."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypedDict, TypeVar

from typing_extensions import Unpack

from . import _routes
from ._exceptions import ConfigurationError, Source
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
    check_session_id,
    coerce,
)
from ._routes import EndpointType, Provider

T = TypeVar("T")


class SettingArgs(TypedDict, total=False):
    """The factory arguments, declared once for both factories, ``resolve_settings`` and the
    integrations. Each is an explicit value > environment variable > default."""

    api_key: str | None
    """Sequrity key, sent as the bearer. ``SEQURITY_API_KEY``; required. ``OPENAI_API_KEY`` is
    never used here."""
    llm_api_key: str | None
    """Provider key, sent as ``X-Api-Key``. ``SEQURITY_LLM_API_KEY``, else the provider's
    variable (``PROVIDER_KEY_ENV``). ``""`` sends none."""
    provider: str | None
    """openai, openrouter, anthropic, sequrity_azure, llama, or ``None`` for the default route.
    ``SEQURITY_PROVIDER``."""
    endpoint_type: str | None
    """chat (default), code, agent, lang-graph. ``SEQURITY_ENDPOINT_TYPE``."""
    base_url: str | None
    """Service root, default ``https://api.sequrity.ai``. ``SEQURITY_BASE_URL``."""
    features: FeaturesInput | None
    """``sq.Features``, a dict, a JSON string, ``"single-llm"`` or ``"dual-llm"``. ``SEQURITY_FEATURES``."""
    policy: PolicyInput | None
    """``sq.Policy``, a dict or a JSON string. ``SEQURITY_POLICY``."""
    config: ConfigInput | None
    """``sq.Config``, a dict or a JSON string. ``SEQURITY_CONFIG``."""
    session_id: str | None
    """Pin every call of the client to one session (prefer ``sq.session()``)."""
    allow_insecure_http: bool
    """Permit ``http://`` to a host that is not loopback. No environment variable, on purpose."""
    max_header_bytes: int
    """Limit on the size of the Sequrity headers (16 KiB)."""
    raw_dual_llm_content: bool | None
    """Keep the dual-llm JSON document in ``content`` instead of presenting its value.
    ``SEQURITY_RAW_DUAL_LLM_CONTENT`` (1/0, true/false, yes/no, on/off)."""


#: The names of the factory arguments (for the integrations, which split their keyword arguments).
SETTING_NAMES: Final = frozenset(SettingArgs.__annotations__)

#: The environment variable of each setting that has one: the one list of them.
ENV_VARS: Final[Mapping[str, str]] = {
    "api_key": "SEQURITY_API_KEY",
    "llm_api_key": "SEQURITY_LLM_API_KEY",
    "provider": "SEQURITY_PROVIDER",
    "endpoint_type": "SEQURITY_ENDPOINT_TYPE",
    "base_url": "SEQURITY_BASE_URL",
    "features": "SEQURITY_FEATURES",
    "policy": "SEQURITY_POLICY",
    "config": "SEQURITY_CONFIG",
    "raw_dual_llm_content": "SEQURITY_RAW_DUAL_LLM_CONTENT",
}
ENV_API_KEY: Final = ENV_VARS["api_key"]
ENV_LLM_API_KEY: Final = ENV_VARS["llm_api_key"]
ENV_PROVIDER: Final = ENV_VARS["provider"]
ENV_ENDPOINT_TYPE: Final = ENV_VARS["endpoint_type"]
ENV_BASE_URL: Final = ENV_VARS["base_url"]
ENV_FEATURES: Final = ENV_VARS["features"]
ENV_POLICY: Final = ENV_VARS["policy"]
ENV_CONFIG: Final = ENV_VARS["config"]
ENV_RAW_DUAL_LLM_CONTENT: Final = ENV_VARS["raw_dual_llm_content"]

# Where the provider key comes from when neither llm_api_key nor SEQURITY_LLM_API_KEY is set.
PROVIDER_KEY_ENV: Final[Mapping[Provider | None, str]] = {
    "openai": "OPENAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    None: "OPENROUTER_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "sequrity_azure": "SEQURITY_AZURE_API_KEY",
}
#: Every variable that may hold a key (for front ends that scrub what they print).
KEY_ENV_VARS: Final = (ENV_API_KEY, ENV_LLM_API_KEY, *sorted(set(PROVIDER_KEY_ENV.values())))

DEFAULT: Final = "default"
ARGUMENT: Final = "argument"

_STR_SETTINGS = ("api_key", "llm_api_key", "provider", "endpoint_type", "base_url", "session_id")


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
        limit = Source(
            "max_header_bytes", "default" if self.max_header_bytes == DEFAULT_MAX_HEADER_BYTES else "argument"
        )
        with _from(limit):
            built = build_headers(
                features=self.features.value,
                policy=self.policy.value,
                config=self.config.value,
                llm_api_key=self.llm_api_key.value,
                session_id=self.session_id.value,
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


def source(name: str, origin: str) -> Source:
    """The :class:`Source` of a setting resolved with ``origin`` (``"argument"``, ``"default"``
    or the name of the variable it was read from)."""
    if origin == ARGUMENT:
        return Source(name, "argument")
    if origin == DEFAULT:
        return Source(name, "default")
    return Source(name, "environment", origin)


@contextmanager
def _from(where: Source) -> Iterator[None]:
    # The header checks in _headers know only the text of the source: fill in the fields.
    try:
        yield
    except ConfigurationError as exc:
        if exc.setting is None:
            exc.setting, exc.origin, exc.env_var = where.setting, where.origin, where.env_var
        raise


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


def _check_types(args: Mapping[str, Any]) -> None:
    unknown = sorted(set(args) - SETTING_NAMES)
    if unknown:
        raise ConfigurationError(f"unknown setting {unknown[0]!r}", setting=unknown[0], origin="argument")
    for name in _STR_SETTINGS:
        value = args.get(name)
        if value is not None and not isinstance(value, str):
            raise Source(name, "argument").error(f"must be a str, got {type(value).__name__}")
    insecure = args.get("allow_insecure_http", False)
    if not isinstance(insecure, bool):
        # A truthy "no" must not switch plain http on.
        raise Source("allow_insecure_http", "argument").error(
            f"must be True or False, got {type(insecure).__name__}"
        )
    limit = args.get("max_header_bytes", DEFAULT_MAX_HEADER_BYTES)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise Source("max_header_bytes", "argument").error("must be a positive integer")


def resolve_settings(*, environ: Mapping[str, str] | None = None, **args: Unpack[SettingArgs]) -> Settings:
    """Resolve and validate all settings; raises ConfigurationError naming the culprit.

    ``environ`` replaces ``os.environ`` (pass ``{}`` to read no variable at all).
    """
    _check_types(args)
    if environ is not None and not isinstance(environ, Mapping):
        raise ConfigurationError(
            f"environ must be a mapping, got {type(environ).__name__}", setting="environ", origin="argument"
        )
    env = os.environ if environ is None else environ
    max_header_bytes = args.get("max_header_bytes", DEFAULT_MAX_HEADER_BYTES)

    raw_key, key_origin = _pick(args.get("api_key"), env, ENV_API_KEY)
    if not raw_key:
        raise ConfigurationError(
            f"no Sequrity API key: pass api_key= or set {ENV_API_KEY}. "
            "(OPENAI_API_KEY is never used as the Sequrity key; it is a provider key.)",
            setting="api_key",
            origin="default",
            env_var=ENV_API_KEY,
        )
    key_source = source("api_key", key_origin)
    with _from(key_source):
        check_header_value(str(raw_key), str(key_source))

    raw_base, base_origin = _pick(args.get("base_url"), env, ENV_BASE_URL)
    parsed = _routes.parse_base_url(
        str(raw_base) if raw_base is not None else _routes.DEFAULT_BASE_URL,
        source("base_url", base_origin),
        allow_insecure_http=args.get("allow_insecure_http", False),
    )

    raw_et, et_origin = _pick(args.get("endpoint_type"), env, ENV_ENDPOINT_TYPE)
    if raw_et is None and parsed.endpoint_type is not None:
        raw_et, et_origin = parsed.endpoint_type, base_origin
    et = _routes.check_endpoint_type(
        str(raw_et) if raw_et is not None else _routes.DEFAULT_ENDPOINT_TYPE,
        source("endpoint_type", et_origin),
    )

    raw_provider, provider_origin = _pick(args.get("provider"), env, ENV_PROVIDER)
    if raw_provider is None and parsed.provider is not None:
        raw_provider, provider_origin = parsed.provider, base_origin
    prov = (
        None
        if raw_provider is None
        else _routes.check_provider(str(raw_provider), source("provider", provider_origin))
    )

    llm_key: str | None
    llm_api_key = args.get("llm_api_key")
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
    if llm_key is not None:
        llm_source = source("llm_api_key", llm_origin)
        with _from(llm_source):
            check_header_value(llm_key, str(llm_source))

    session_id = args.get("session_id")
    if session_id is not None:
        check_session_id(session_id, "argument session_id")

    def model(name: str, cls: Any) -> Resolved[Any]:
        raw, origin = _pick(args.get(name), env, ENV_VARS[name])
        where = source(name, origin)
        with _from(where):
            value = None if raw is None else coerce(cls, raw, str(where))
        return Resolved(value, origin)

    return Settings(
        api_key=Resolved(str(raw_key), key_origin),
        llm_api_key=Resolved(llm_key, llm_origin),
        provider=Resolved(prov, provider_origin),
        endpoint_type=Resolved(et, et_origin),
        base_url=Resolved(parsed.root, base_origin),
        features=model("features", Features),
        policy=model("policy", Policy),
        config=model("config", Config),
        session_id=Resolved(session_id, ARGUMENT if session_id is not None else DEFAULT),
        max_header_bytes=max_header_bytes,
        raw_dual_llm_content=_raw_dual_llm_content(args.get("raw_dual_llm_content"), env),
    )


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _raw_dual_llm_content(arg: bool | None, env: Mapping[str, str]) -> Resolved[bool]:
    if arg is not None:
        if not isinstance(arg, bool):
            raise Source("raw_dual_llm_content", "argument").error(
                f"must be True or False, got {type(arg).__name__}"
            )
        return Resolved(arg, ARGUMENT)
    raw = _env(env, ENV_RAW_DUAL_LLM_CONTENT)
    if raw is None:
        return Resolved(False, DEFAULT)
    if raw.strip().lower() not in _TRUE + _FALSE:
        raise Source("raw_dual_llm_content", "environment", ENV_RAW_DUAL_LLM_CONTENT).error(
            f"expected one of {', '.join(_TRUE + _FALSE)}, got {raw!r}"
        )
    return Resolved(raw.strip().lower() in _TRUE, ENV_RAW_DUAL_LLM_CONTENT)
