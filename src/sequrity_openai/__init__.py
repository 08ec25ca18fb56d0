"""Run OpenAI SDK code through Sequrity Control: ``client = sq.create_client()``."""

from ._anthropic import create_anthropic_client, create_async_anthropic_client
from ._client import create_async_client, create_client
from ._exceptions import (
    ConfigurationError,
    HeaderTooLargeError,
    PolicyViolation,
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
from ._routes import ENDPOINT_TYPES, PROVIDERS, EndpointType, Provider, dual_model
from ._sessions import Session, current_session, session, session_id_of

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
    "ResponseFormat",
    "ResultError",
    "RllmPrompt",
    "SequrityError",
    "SequrityExecutionError",
    "Session",
    "TaggedValue",
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
    "session",
    "session_id_of",
]
