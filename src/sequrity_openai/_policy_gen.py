"""Policy generation: ``sq.generate_policies`` / ``sq.agenerate_policies``.

``POST {base}/control/policy-gen/{provider?}/v1/generate`` with the request ``type`` chosen
from the provider (PROTOCOL.md section 1). Only the bearer and ``X-Api-Key`` are sent: no
features, policy, config or session header, whatever the environment or an open
``sq.session()`` says. The HTTP part is a stock OpenAI client's ``post`` (timeouts, retries
and the SDK's exception classes), with the package's error hook (detail shown, keys redacted)
and no request hook.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import openai
from typing_extensions import Required, TypedDict, Unpack

from . import _hooks
from ._api_rules import check_route
from ._exceptions import ConfigurationError, SequrityError
from ._headers import Policy, PolicyCode
from ._policies._check import check_sqrt, grammar_available
from ._provider_keys import for_api
from ._routes import API_VERSION, POLICY_GEN, Provider
from ._settings import Settings, resolve_settings

__all__ = [
    "GeneratedPolicies",
    "GenerationArgs",
    "agenerate_policies",
    "generate_policies",
    "generation_request",
    "tools_from_file",
]

InternalToolName = Literal["parse_with_ai", "verify_hypothesis", "set_policy", "complete_turn"]

#: The request ``type`` of each route (the tools are in that type's format).
REQUEST_TYPE: Final[Mapping[Provider | None, str]] = {
    None: "openrouter_chat_completion",
    "openrouter": "openrouter_chat_completion",
    "openai": "oai_chat_completion",
    "anthropic": "anthropic_messages",
    "sequrity_azure": "sequrity_azure_chat_completion",
}
_INTERNAL: Final = ("parse_with_ai", "verify_hypothesis", "set_policy", "complete_turn")
# Headers the stock SDK adds from the environment (OPENAI_ORG_ID, OPENAI_PROJECT_ID).
_ACCOUNT_HEADERS: Final = ("OpenAI-Organization", "OpenAI-Project")


class GenerationArgs(TypedDict, total=False):
    """The keyword arguments of ``generate_policies`` and ``agenerate_policies``, declared once."""

    model: Required[str]
    """The model that writes the policies, e.g. ``"openai/gpt-5-mini"``."""
    tools: Iterable[Mapping[str, Any]]
    """The tools, in the format of the provider's API (default: none)."""
    internal_tool_names: Sequence[InternalToolName]
    """Internal tools the policies may name (default: none)."""
    n_retries: int
    """How often the service may retry writing valid policies (default 3)."""
    timeout: float
    """Seconds before the HTTP request gives up (default 120)."""
    max_retries: int
    """HTTP retries (default 2)."""
    api_key: str | None
    """As for ``create_client``."""
    llm_api_key: str | None
    """As for ``create_client``."""
    provider: str | None
    """As for ``create_client``."""
    base_url: str | None
    """As for ``create_client``."""
    allow_insecure_http: bool
    """As for ``create_client``."""


_ARG_NAMES: Final = frozenset(GenerationArgs.__annotations__)
_SETTING_NAMES: Final = ("api_key", "llm_api_key", "provider", "base_url", "allow_insecure_http")


@dataclass(frozen=True)
class GeneratedPolicies:
    """What the service generated: SQRT text and the token usage."""

    policies: str
    usage: Mapping[str, int] = field(default_factory=dict)

    def as_policy(self, **fields: Any) -> Policy:
        """``sq.Policy(codes=<these policies>, **fields)``, ready for ``policy=``."""
        return Policy(codes=PolicyCode(code=self.policies, language="sqrt"), **fields)


@dataclass(frozen=True)
class GenerationRequest:
    """A checked policy-gen request: where it goes, its headers, its body and the client's options."""

    settings: Settings
    base_url: str
    headers: dict[str, Any]
    body: dict[str, Any]
    options: dict[str, Any]


def generation_request(description: str, **args: Unpack[GenerationArgs]) -> GenerationRequest:
    """Validate the arguments and resolve the settings (argument > environment > default)."""
    # The checks a Python signature would make, kept for callers that mypy does not see.
    extra = sorted(set(args) - _ARG_NAMES)
    if extra:
        raise TypeError(f"got an unexpected keyword argument {extra[0]!r}")
    if "model" not in args:
        raise TypeError("missing 1 required keyword-only argument: 'model'")
    model = args["model"]
    tools = args.get("tools", ())
    internal_tool_names = args.get("internal_tool_names", ())
    n_retries = args.get("n_retries", 3)
    if not isinstance(description, str) or not description.strip():
        raise ConfigurationError(
            "description must be a non-empty string", setting="description", origin="argument"
        )
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError("model must be a non-empty model id", setting="model", origin="argument")
    if not isinstance(n_retries, int) or isinstance(n_retries, bool) or n_retries < 0:
        raise ConfigurationError("n_retries must be an integer >= 0", setting="n_retries", origin="argument")
    unknown = [n for n in internal_tool_names if n not in _INTERNAL]
    if unknown:
        raise ConfigurationError(
            f"internal_tool_names: unknown {unknown[0]!r}; expected some of {', '.join(_INTERNAL)}",
            setting="internal_tool_names",
            origin="argument",
        )
    tool_list = [dict(t) for t in tools]
    chosen: dict[str, Any] = {name: args[name] for name in _SETTING_NAMES if name in args}
    settings = resolve_settings(endpoint_type="chat", **chosen)
    settings = for_api(settings, "generate")
    prov = settings.provider.value
    if prov not in REQUEST_TYPE:
        check_route(settings, "openai")  # names the provider and what to use instead
        raise ConfigurationError(f"provider {prov!r} serves no policy generation", setting="provider")
    root = settings.base_url.value
    segment = f"/{prov}" if prov else ""
    headers: dict[str, Any] = {name: openai.Omit() for name in _ACCOUNT_HEADERS}
    for line in (os.environ.get("OPENAI_CUSTOM_HEADERS") or "").split("\n"):
        if ":" in line:
            headers[line.split(":", 1)[0].strip()] = openai.Omit()
    headers["Authorization"] = f"Bearer {settings.api_key.value}"
    key = settings.llm_api_key.value
    headers["X-Api-Key"] = key if key else openai.Omit()
    body = {
        "type": REQUEST_TYPE[prov],
        "model": model,
        "description": description,
        "tools": tool_list,
        "policy_lang": "sqrt",
        "n_retries": n_retries,
        "internal_tool_names": list(internal_tool_names),
    }
    options = {"timeout": args.get("timeout", 120.0), "max_retries": args.get("max_retries", 2)}
    url = f"{root}/control/{POLICY_GEN}{segment}/{API_VERSION}"
    return GenerationRequest(settings, url, headers, body, options)


def _result(payload: object, request: GenerationRequest) -> GeneratedPolicies:
    if not isinstance(payload, Mapping) or not isinstance(payload.get("policies"), str):
        raise SequrityError("policy generation answered without a 'policies' string")
    usage = payload.get("usage")
    counts = {str(k): v for k, v in usage.items() if isinstance(v, int)} if isinstance(usage, Mapping) else {}
    # What the service generated is held to the service's own grammar (with the [sqrt] extra).
    if grammar_available():
        check_sqrt(payload["policies"], source="generated policies")
    return GeneratedPolicies(payload["policies"], counts)


def _client_kwargs(request: GenerationRequest, *, is_async: bool) -> dict[str, Any]:
    factory = openai.DefaultAsyncHttpxClient if is_async else openai.DefaultHttpxClient
    http_client = factory()
    settings = request.settings
    # The guard (redirects, ambient credentials, error bodies), without sessions: policy
    # generation belongs to no conversation, so no scope's X-Session-ID goes out or comes back.
    _hooks.attach(
        http_client,
        settings.base_url.value,
        settings.api_key.value,
        settings.llm_api_key.value,
        {},
        sessions=False,
    )
    return {
        **request.options,
        "api_key": request.settings.api_key.value,
        "base_url": request.base_url,
        "default_headers": request.headers,
        "http_client": http_client,
    }


def generate_policies(description: str, **args: Unpack[GenerationArgs]) -> GeneratedPolicies:
    """Ask Sequrity Control to write SQRT policies for ``tools`` from a plain-language ``description``.

    The arguments are declared in :class:`~sequrity_openai._policy_gen.GenerationArgs`: ``model`` (required), ``tools``,
    ``internal_tool_names``, ``n_retries`` (3), ``timeout`` (120 s), ``max_retries`` (2), and
    the settings ``api_key``, ``llm_api_key``, ``provider``, ``base_url`` and
    ``allow_insecure_http``, read as by :func:`sequrity_openai.create_client`.
    ``tools`` are in the format of the provider's API (OpenAI function tools; Anthropic tools
    with ``provider="anthropic"``). HTTP failures raise the stock ``openai`` exceptions.
    """
    request = generation_request(description, **args)
    with openai.OpenAI(**_client_kwargs(request, is_async=False)) as client:
        payload = client.post("/generate", body=request.body, cast_to=object)
    return _result(payload, request)


async def agenerate_policies(description: str, **args: Unpack[GenerationArgs]) -> GeneratedPolicies:
    """The async twin of :func:`generate_policies`, with the same arguments."""
    request = generation_request(description, **args)
    async with openai.AsyncOpenAI(**_client_kwargs(request, is_async=True)) as client:
        payload = await client.post("/generate", body=request.body, cast_to=object)
    return _result(payload, request)


def tools_from_file(path: str) -> list[dict[str, Any]]:
    """The tools in a JSON file (a list, or an object with ``"tools"``), for the CLI's ``--tools``.

    ConfigurationError (``setting="tools"``) names the file and what is wrong with it.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ConfigurationError(
            f"--tools {path}: {exc.strerror or exc}", setting="tools", origin="argument"
        ) from None
    except ValueError as exc:
        raise ConfigurationError(
            f"--tools {path}: not JSON ({exc})", setting="tools", origin="argument"
        ) from None
    if isinstance(data, Mapping):
        data = data.get("tools")
    if not isinstance(data, list) or not all(isinstance(t, Mapping) for t in data):
        raise ConfigurationError(
            f'--tools {path}: expected a JSON list of tool objects (or {{"tools": [...]}})',
            setting="tools",
            origin="argument",
        )
    return [dict(t) for t in data]
