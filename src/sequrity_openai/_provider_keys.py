"""Which provider key goes in ``X-Api-Key``: on the default route it depends on the API.

The default route (no provider segment) is OpenRouter for chat completions, OpenAI for
Responses and Anthropic for Messages (PROTOCOL.md section 1). When the key is not given
(neither ``llm_api_key`` nor ``SEQURITY_LLM_API_KEY``), it comes from that API's variable:
``OPENROUTER_API_KEY``, ``OPENAI_API_KEY`` or ``ANTHROPIC_API_KEY``.

One OpenAI client serves both chat completions and Responses from one ``base_url``, so the
choice is made per request: the client's default headers carry the chat completions key,
and a request hook, attached only to default-route clients whose two keys differ, swaps in
the Responses key on ``.../v1/responses`` requests (unless the call set its own
``X-Api-Key``). Every other client pays nothing per request.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ._routes import Api
from ._settings import ARGUMENT, DEFAULT, ENV_LLM_API_KEY, Resolved, Settings

__all__ = ["DEFAULT_ROUTE_KEY_ENV", "ResponsesKey", "attach", "for_api"]

#: The provider key variable of each API on the default route.
DEFAULT_ROUTE_KEY_ENV: Final[Mapping[Api, str]] = {
    "chat/completions": "OPENROUTER_API_KEY",
    "responses": "OPENAI_API_KEY",
    "messages": "ANTHROPIC_API_KEY",
    "generate": "OPENROUTER_API_KEY",
}


def _from_fallback(settings: Settings) -> bool:
    return settings.provider.value is None and settings.llm_api_key.origin not in (ARGUMENT, ENV_LLM_API_KEY)


def key_for_api(
    settings: Settings, api: Api, environ: Mapping[str, str] | None = None
) -> Resolved[str | None]:
    """The provider key ``settings`` would send on ``api`` (and its origin)."""
    if not _from_fallback(settings):
        return settings.llm_api_key
    var = DEFAULT_ROUTE_KEY_ENV[api]
    if settings.llm_api_key.origin == var:
        return settings.llm_api_key
    value = (os.environ if environ is None else environ).get(var) or None
    return Resolved(value, var if value else DEFAULT)


def for_api(settings: Settings, api: Api, environ: Mapping[str, str] | None = None) -> Settings:
    """``settings`` whose provider key is the one for ``api`` (rebuilt only when it differs)."""
    key = key_for_api(settings, api, environ)
    if key == settings.llm_api_key:
        return settings
    return dataclasses.replace(settings, llm_api_key=key)


@dataclass(frozen=True)
class ResponsesKey:
    """The request hook of a default-route OpenAI client: the Responses key on Responses calls."""

    netloc: bytes
    path: bytes  # b"/control/chat/v1/responses" (after the service root's own path)
    chat_key: str | None
    key: str | None

    def on_request(self, request: Any) -> None:
        url = request.url
        if not url.raw_path.startswith(self.path) or url.netloc != self.netloc:
            return
        headers = request.headers
        sent = headers.get("x-api-key")
        if sent is not None and sent != self.chat_key:
            return  # a key set on the call itself is the caller's choice
        if self.key is not None:
            headers["X-Api-Key"] = self.key
        elif sent is not None:
            del headers["X-Api-Key"]

    async def aon_request(self, request: Any) -> None:
        self.on_request(request)


def attach(http_client: Any, settings: Settings, *, is_async: bool) -> None:
    """Add the Responses-key hook to ``http_client`` when ``settings`` need one (once per key set)."""
    responses = key_for_api(settings, "responses")
    if responses.value == settings.llm_api_key.value:
        return
    url = http_client.base_url.__class__(f"{settings.route}/responses")
    hook = ResponsesKey(url.netloc, url.raw_path, settings.llm_api_key.value, responses.value)
    hooks = http_client.event_hooks
    if any(getattr(h, "__self__", None) == hook for h in hooks["request"]):
        return
    hooks["request"].append(hook.aon_request if is_async else hook.on_request)
    http_client.event_hooks = hooks
