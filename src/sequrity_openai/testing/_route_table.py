"""What a request to FakeSequrity must look like: routes, bearer token, headers and body."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final, TypeVar

from pydantic import ValidationError
from werkzeug.wrappers import Response

from .._headers import HeaderModel, describe_validation_error
from .._routes import ENDPOINT_TYPES, PROVIDERS
from ._request import Api

__all__ = ["ROUTE", "Rejection", "authenticate", "json_response", "parse_body", "parse_header"]

_M = TypeVar("_M", bound=HeaderModel)

ROUTE: Final = re.compile(
    rf"/control/(?P<endpoint_type>{'|'.join(map(re.escape, ENDPOINT_TYPES))})"
    rf"(?:/(?P<provider>{'|'.join(map(re.escape, PROVIDERS))}))?"
    r"/v1/(?P<api>chat/completions|responses)"
)


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


def parse_header(model: type[_M], name: str, raw: str | None) -> _M | None:
    if raw is None:
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise Rejection(422, f"{name}: {describe_validation_error(exc)}") from None


def authenticate(authorization: str | None, *, api_key: str, check_api_key: bool) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Rejection(401, "Missing or empty bearer token: send 'Authorization: Bearer <Sequrity API key>'")
    if check_api_key and token.strip() != api_key:
        raise Rejection(401, "Invalid Sequrity API key")


def parse_body(raw: bytes, api: Api) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise Rejection(422, f"body: invalid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Rejection(422, "body: expected a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise Rejection(422, "body.model: a non-empty model id is required")
    if api == "chat/completions" and not isinstance(body.get("messages"), list):
        raise Rejection(422, "body.messages: a list of messages is required")
    return body
