"""Run OpenAI SDK code through Sequrity Control: ``client = sq.create_client()``."""

from __future__ import annotations

from ._client import create_async_client, create_client
from ._exceptions import (
    ConfigurationError,
    HeaderTooLargeError,
    PolicyViolation,
    RedirectRefusedError,
    SequrityError,
    SequrityExecutionError,
)
from ._headers import (
    DEFAULT_MAX_HEADER_BYTES,
    BranchingMetaPolicy,
    Config,
    ContentBlocker,
    ContentClassifier,
    Features,
    FsmConfig,
    LlmOverrides,
    LlmPrompt,
    LlmSettings,
    PllmPrompt,
    Policy,
    PolicyCode,
    PolicyPresets,
    PromptConfig,
    Reasoning,
    ResponseFormat,
    RllmPrompt,
    TllmPrompt,
    headers,
)
from ._results import (
    CollectedStream,
    DualLlmResult,
    ResultError,
    ValueMeta,
    acollect_stream,
    collect_stream,
    parse_result,
)
from ._routes import ENDPOINT_TYPES, PROVIDERS, EndpointType, Provider, dual_model
from ._sessions import Session, current_session, session, session_id_of
from ._settings import Settings, resolve_settings

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "ENDPOINT_TYPES",
    "PROVIDERS",
    "BranchingMetaPolicy",
    "CollectedStream",
    "Config",
    "ConfigurationError",
    "ContentBlocker",
    "ContentClassifier",
    "DualLlmResult",
    "EndpointType",
    "Features",
    "FsmConfig",
    "HeaderTooLargeError",
    "LlmOverrides",
    "LlmPrompt",
    "LlmSettings",
    "PllmPrompt",
    "Policy",
    "PolicyCode",
    "PolicyPresets",
    "PolicyViolation",
    "PromptConfig",
    "Provider",
    "Reasoning",
    "RedirectRefusedError",
    "ResponseFormat",
    "ResultError",
    "RllmPrompt",
    "SequrityError",
    "SequrityExecutionError",
    "Session",
    "Settings",
    "TllmPrompt",
    "ValueMeta",
    "__version__",
    "acollect_stream",
    "collect_stream",
    "create_async_client",
    "create_client",
    "current_session",
    "dual_model",
    "headers",
    "parse_result",
    "resolve_settings",
    "session",
    "session_id_of",
]
