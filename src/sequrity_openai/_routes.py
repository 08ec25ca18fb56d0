"""Providers, endpoint types and the base URL the OpenAI SDK is pointed at."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal, get_args
from urllib.parse import urlsplit

from ._exceptions import ConfigurationError, Source

Provider = Literal["openai", "openrouter", "anthropic", "sequrity_azure", "llama"]
EndpointType = Literal["chat", "code", "agent", "lang-graph"]

PROVIDERS: Final[tuple[Provider, ...]] = get_args(Provider)
ENDPOINT_TYPES: Final[tuple[EndpointType, ...]] = get_args(EndpointType)
DEFAULT_BASE_URL: Final = "https://api.sequrity.ai"
DEFAULT_ENDPOINT_TYPE: Final[EndpointType] = "chat"
API_VERSION: Final = "v1"
# Every Sequrity route, and nothing else the SDK talks to, lives under this path segment.
ROUTE_MARK: Final = "/control/"

# Matches what a user may have copied from a routed URL, e.g. ".../control/chat/openai/v1/".
_CONTROL_SUFFIX = re.compile(r"/control(?:/(?P<rest>.*?))?/*$")


@dataclass(frozen=True)
class BaseUrl:
    """A base URL split into the service root and whatever route it already named."""

    root: str
    endpoint_type: EndpointType | None = None
    provider: Provider | None = None


def shown(value: str) -> str:
    """A value fit for an error message: short names as they are, anything else masked.

    A key pasted into the wrong variable must not be echoed back (keys are long or carry
    characters names never do), so only what looks like a short name is shown in full.
    """
    if len(value) <= 24 and _NAME.fullmatch(value):
        return repr(value)
    tail = value[-4:] if len(value) >= 16 and value[-4:].isalnum() else ""
    return f"'****{tail}' ({len(value)} characters, not shown)"


_NAME = re.compile(r"[A-Za-z0-9_.-]*")


def check_provider(value: str, source: Source) -> Provider:
    if value not in PROVIDERS:
        raise source.error(
            f"unknown provider {shown(value)}; expected one of {', '.join(PROVIDERS)}, "
            "or leave it unset for the default route"
        )
    return value


def check_endpoint_type(value: str, source: Source) -> EndpointType:
    if value not in ENDPOINT_TYPES:
        raise source.error(
            f"unknown endpoint type {shown(value)}; expected one of {', '.join(ENDPOINT_TYPES)}"
        )
    return value


def is_loopback(host: str) -> bool:
    """``localhost`` or a literal loopback address. ``*.localhost`` names are not: many systems
    resolve them through DNS, so they may well leave the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_base_url(url: str, source: Source, *, allow_insecure_http: bool) -> BaseUrl:
    """Validate ``url`` and strip a trailing slash or an already present ``/control/...`` route.

    Messages show at most the URL's origin (scheme, host, port), never a path, a query or
    credentials, any of which may hold a pasted key.
    """
    url = url.strip()
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cs") for c in url):
        raise source.error(f"{shown(url)} contains spaces, control characters or lone surrogates")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what validates it
    except ValueError:
        raise source.error(f"{shown(url)} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise source.error(f"{shown(url)} is not an http(s) URL")
    origin = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    if parts.username is not None or parts.password is not None:
        raise source.error(
            f"the URL of {origin!r} carries credentials (user:password@); the Sequrity key goes in api_key"
        )
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        raise source.error(
            f"{origin!r} uses plain http to a host that is not loopback, so the Sequrity "
            "and provider keys would travel in clear text; use https, or pass "
            "allow_insecure_http=True if the network is trusted"
        )
    if parts.query or parts.fragment:
        raise source.error(f"the URL of {origin!r} must not carry a query or fragment")
    path = parts.path.rstrip("/")
    endpoint_type: EndpointType | None = None
    provider: Provider | None = None
    match = _CONTROL_SUFFIX.search(path)
    if match:
        path = path[: match.start()]
        segments = [s for s in (match.group("rest") or "").split("/") if s]
        if segments and segments[-1] == API_VERSION:
            segments.pop()
        if len(segments) > 2:
            raise source.error(
                f"the URL of {origin!r} has a /control route this package cannot read; "
                "give the service root, e.g. https://api.sequrity.ai"
            )
        if segments:
            endpoint_type = check_endpoint_type(segments[0], source)
        if len(segments) == 2:
            provider = check_provider(segments[1], source)
    root = f"{parts.scheme}://{parts.netloc}{path}"
    return BaseUrl(root=root, endpoint_type=endpoint_type, provider=provider)


def route_url(root: str, endpoint_type: EndpointType, provider: Provider | None) -> str:
    """The ``base_url`` for the OpenAI SDK: ``{root}/control/{endpoint_type}/{provider?}/v1``."""
    if provider is None:
        return f"{root}/control/{endpoint_type}/{API_VERSION}"
    return f"{root}/control/{endpoint_type}/{provider}/{API_VERSION}"


def dual_model(pllm: str, qllm: str | None = None) -> str:
    """The ``model`` value for dual-llm: planning model, then quarantined model.

    ``dual_model("openai/gpt-5-mini", "openai/gpt-5-nano")`` gives
    ``"openai/gpt-5-mini,openai/gpt-5-nano"``; one model sets both.
    """
    for name, value in (("pllm", pllm), ("qllm", qllm)):
        if value is not None and (not value.strip() or "," in value):
            raise ConfigurationError(
                f"dual_model(): {name} must be one non-empty model id without commas",
                setting=name,
                origin="argument",
            )
    return pllm if qllm is None else f"{pllm},{qllm}"


# -- the route table ------------------------------------------------------------------------
# What the service documents as served (PROTOCOL.md section 1, from its REST reference); every
# other path answers 404 there. FakeSequrity serves exactly this table.

Api = Literal["chat/completions", "responses", "messages", "generate"]
#: The endpoint type of policy generation, which is not one a chat client is pointed at.
POLICY_GEN: Final = "policy-gen"
RouteEndpoint = Literal["chat", "code", "agent", "lang-graph", "policy-gen"]
#: The APIs the stock OpenAI SDK can call.
OPENAI_SDK_APIS: Final[tuple[Api, ...]] = ("chat/completions", "responses")


@dataclass(frozen=True)
class Route:
    """One served route: ``POST {base}/control/{endpoint_type}/{provider?}/v1/{api}``."""

    api: Api
    endpoint_type: RouteEndpoint
    provider: Provider | None  # None: the default route (the provider segment is omitted)

    @property
    def path(self) -> str:
        provider = f"/{self.provider}" if self.provider else ""
        return f"/control/{self.endpoint_type}{provider}/{API_VERSION}/{self.api}"

    def sort_key(self) -> tuple[str, str, str]:
        return (self.api, self.endpoint_type, self.provider or "")


def _rows(
    api: Api, endpoint_types: tuple[RouteEndpoint, ...], providers: tuple[Provider | None, ...]
) -> set[Route]:
    return {Route(api, et, p) for et in endpoint_types for p in providers}


ROUTES: Final[frozenset[Route]] = frozenset(
    _rows(
        "chat/completions", ("chat", "code", "lang-graph"), (None, "openai", "openrouter", "sequrity_azure")
    )
    | _rows("responses", ("chat", "code"), (None, "openai", "sequrity_azure"))
    | _rows("messages", ("chat", "code"), (None, "anthropic"))
    | _rows("messages", ("lang-graph",), ("anthropic",))
    | _rows("generate", (POLICY_GEN,), (None, "openai", "openrouter", "anthropic", "sequrity_azure"))
)


def apis_served(endpoint_type: RouteEndpoint, provider: Provider | None) -> tuple[Api, ...]:
    """The APIs served under ``/control/{endpoint_type}/{provider?}/v1``, in table order."""
    order: tuple[Api, ...] = ("chat/completions", "responses", "messages", "generate")
    return tuple(api for api in order if Route(api, endpoint_type, provider) in ROUTES)
