"""The one place that turns settings into Sequrity request headers, and ``sq.headers()``."""

from __future__ import annotations

from .checks import DEFAULT_MAX_HEADER_BYTES, check_header_size, check_header_value, check_session_id
from .coercion import ConfigInput, FeaturesInput, PolicyInput, coerce
from .config import Config
from .features import Features
from .policy import Policy

__all__ = ["build_headers", "headers"]


def headers(
    *,
    features: FeaturesInput | None = None,
    policy: PolicyInput | None = None,
    config: ConfigInput | None = None,
    llm_api_key: str | None = None,
    session_id: str | None = None,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
) -> dict[str, str]:
    """Sequrity headers for one request or a ``with_options`` copy.

    Use as ``client.chat.completions.create(..., extra_headers=sq.headers(policy=...))``.
    Reads no environment variable: only what is passed is sent.
    """
    out: dict[str, str] = {}
    if llm_api_key:
        check_header_value(llm_api_key, "llm_api_key")
        out["X-Api-Key"] = llm_api_key
    if features is not None:
        out["X-Features"] = coerce(Features, features, "features").to_header()
    if policy is not None:
        out["X-Policy"] = coerce(Policy, policy, "policy").to_header()
    if config is not None:
        out["X-Config"] = coerce(Config, config, "config").to_header()
    if session_id is not None:
        out["X-Session-ID"] = check_session_id(session_id, "session_id")
    check_header_size(out, max_header_bytes)
    return out


#: The one place that turns settings into Sequrity request headers: the factories' settings
#: and ``sq.headers()`` are the same builder (a caller that knows where a value came from
#: fills the error's fields, as ``_settings`` does).
build_headers = headers
