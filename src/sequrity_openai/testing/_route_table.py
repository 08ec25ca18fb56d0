"""What a request to FakeSequrity must look like: routes, bearer token, headers and body."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal, TypeVar

from pydantic import ValidationError
from werkzeug.wrappers import Response

from .._headers import ACCEPT_UNKNOWN, HeaderModel, describe_validation_error
from .._routes import ROUTES, Route
from ._request import Api

__all__ = [
    "SERVED",
    "Rejection",
    "authenticate",
    "json_response",
    "parse_body",
    "parse_header",
    "route_for",
    "route_listing",
]

_M = TypeVar("_M", bound=HeaderModel)

#: Every path the fake answers (the service's route table, ``_routes.ROUTES``); others are 404.
SERVED: Final[Mapping[str, Route]] = {route.path: route for route in sorted(ROUTES, key=Route.sort_key)}


def route_for(path: str) -> Route | None:
    """The route ``path`` names, or ``None`` (the service answers 404 there)."""
    return SERVED.get(path)


def route_listing() -> dict[str, Any]:
    """What ``GET /control/`` answers: the served routes."""
    return {
        "routes": [
            {
                "method": "POST",
                "path": r.path,
                "api": r.api,
                "endpoint_type": r.endpoint_type,
                "provider": r.provider,
            }
            for r in SERVED.values()
        ]
    }


class Rejection(Exception):
    """The fake refuses a request with ``status`` and ``{"detail": detail}``, as the service would."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status=status,
        headers=dict(headers or {}),
        mimetype="application/json",
    )


def parse_header(model: type[_M], name: str, raw: str | None, *, accept_unknown: bool = False) -> _M | None:
    """The header parsed into ``model``; unknown fields are kept as unchecked with ``accept_unknown``."""
    if raw is None:
        return None
    try:
        return model.model_validate_json(raw, context={ACCEPT_UNKNOWN: accept_unknown})
    except ValidationError as exc:
        hint = ""
        if any(err["type"] == "extra_forbidden" for err in exc.errors()):
            hint = (
                " (FakeSequrity knows the fields of this release; FakeSequrity(accept_unknown_fields=True) "
                "accepts fields sent through unchecked=)"
            )
        raise Rejection(422, f"{name}: {describe_validation_error(exc)}{hint}") from None


def authenticate(authorization: str | None, *, api_key: str, check_api_key: bool) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Rejection(401, "Missing or empty bearer token: send 'Authorization: Bearer <Sequrity API key>'")
    if check_api_key and token.strip() != api_key:
        raise Rejection(401, "Invalid Sequrity API key")


def parse_body(raw: bytes, api: Api | Literal["generate"]) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise Rejection(422, f"body: invalid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Rejection(422, "body: expected a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise Rejection(422, "body.model: a non-empty model id is required")
    if api in ("chat/completions", "messages") and not isinstance(body.get("messages"), list):
        raise Rejection(422, "body.messages: a list of messages is required")
    if api == "messages":
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise Rejection(422, "body.max_tokens: a positive integer is required")
    return body
