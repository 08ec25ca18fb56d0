"""Run OpenAI SDK code through Sequrity Control: ``client = sq.create_client()``."""

import importlib
import typing

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
from ._routes import ENDPOINT_TYPES, PROVIDERS, EndpointType, Provider, dual_model
from ._sessions import Session, current_session, session, session_id_of
from ._settings import Settings, resolve_settings

if typing.TYPE_CHECKING:
    from ._anthropic import create_anthropic_client, create_async_anthropic_client
    from ._policies._check import check_policy
    from ._policies._checker import PolicyChecker, PolicyDecision
    from ._policies._values import TaggedValue
    from ._policy_gen import GeneratedPolicies, agenerate_policies, generate_policies
    from ._results import (
        CollectedStream,
        DualLlmResult,
        ResultError,
        ValueMeta,
        acollect_stream,
        collect_stream,
        parse_result,
    )

# The offline policy checker, policy generation, the Anthropic factories and the dual-llm
# result reader are loaded on first use: a program that only makes requests never touches
# them, and `import sequrity_openai` must stay within 5 % of `import openai`
# (benchmarks/RESULTS.md).
_LAZY = {
    "create_anthropic_client": "._anthropic",
    "create_async_anthropic_client": "._anthropic",
    "GeneratedPolicies": "._policy_gen",
    "agenerate_policies": "._policy_gen",
    "generate_policies": "._policy_gen",
    "CollectedStream": "._results",
    "DualLlmResult": "._results",
    "ResultError": "._results",
    "ValueMeta": "._results",
    "acollect_stream": "._results",
    "collect_stream": "._results",
    "parse_result": "._results",
    "PolicyChecker": "._policies._checker",
    "PolicyDecision": "._policies._checker",
    "TaggedValue": "._policies._values",
    "check_policy": "._policies._check",
}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# The only place the version is written; pyproject.toml reads it ([tool.hatch.version]).
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
    "GeneratedPolicies",
    "HeaderTooLargeError",
    "LlmOverrides",
    "LlmPrompt",
    "LlmSettings",
    "PllmPrompt",
    "Policy",
    "PolicyChecker",
    "PolicyCode",
    "PolicyDecision",
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
    "TaggedValue",
    "Settings",
    "TllmPrompt",
    "ValueMeta",
    "__version__",
    "acollect_stream",
    "check_policy",
    "agenerate_policies",
    "collect_stream",
    "create_anthropic_client",
    "create_async_anthropic_client",
    "create_async_client",
    "create_client",
    "current_session",
    "dual_model",
    "generate_policies",
    "headers",
    "parse_result",
    "resolve_settings",
    "session",
    "session_id_of",
]
