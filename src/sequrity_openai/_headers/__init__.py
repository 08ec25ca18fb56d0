"""Typed models of the ``X-Features``, ``X-Policy`` and ``X-Config`` headers, and building them.

Every model forbids unknown fields, so a typo fails when the model is built, not on the
server. ``to_header()`` gives the compact ASCII JSON that goes on the wire; fields left
``None`` are omitted, exactly as the official client does.
"""

from __future__ import annotations

from .base import ACCEPT_UNKNOWN, HeaderModel, StrictModel
from .build import build_headers, headers
from .checks import (
    DEFAULT_MAX_HEADER_BYTES,
    SESSION_ID_MAX,
    check_header_size,
    check_header_value,
    check_session_id,
    valid_session_id,
)
from .coercion import ConfigInput, FeaturesInput, PolicyInput, coerce, describe_validation_error
from .config import (
    Config,
    FsmConfig,
    LlmOverrides,
    LlmPrompt,
    LlmSettings,
    PllmPrompt,
    PromptConfig,
    Reasoning,
    ResponseFormat,
    RllmPrompt,
    TllmPrompt,
)
from .features import ContentBlocker, ContentClassifier, Features
from .policy import BranchingMetaPolicy, Policy, PolicyCode, PolicyPresets

__all__ = [
    "ACCEPT_UNKNOWN",
    "DEFAULT_MAX_HEADER_BYTES",
    "SESSION_ID_MAX",
    "BranchingMetaPolicy",
    "Config",
    "ConfigInput",
    "ContentBlocker",
    "ContentClassifier",
    "Features",
    "FeaturesInput",
    "FsmConfig",
    "HeaderModel",
    "LlmOverrides",
    "LlmPrompt",
    "LlmSettings",
    "PllmPrompt",
    "Policy",
    "PolicyCode",
    "PolicyInput",
    "PolicyPresets",
    "PromptConfig",
    "Reasoning",
    "ResponseFormat",
    "RllmPrompt",
    "StrictModel",
    "TllmPrompt",
    "build_headers",
    "check_header_size",
    "check_header_value",
    "check_session_id",
    "coerce",
    "describe_validation_error",
    "headers",
    "valid_session_id",
]
