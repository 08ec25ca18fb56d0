"""Typed models of the ``X-Features``, ``X-Policy`` and ``X-Config`` headers.

Every model forbids unknown fields, so a typo fails when the model is built, not on the
server. ``to_header()`` gives the compact ASCII JSON that goes on the wire; fields left
``None`` are omitted, exactly as the official client does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._exceptions import ConfigurationError, HeaderTooLargeError

__all__ = [
    "BranchingMetaPolicy",
    "Config",
    "ContentBlocker",
    "ContentClassifier",
    "DEFAULT_MAX_HEADER_BYTES",
    "Features",
    "FsmConfig",
    "LlmOverrides",
    "LlmPrompt",
    "LlmSettings",
    "PllmPrompt",
    "Policy",
    "PolicyCode",
    "PolicyPresets",
    "PromptConfig",
    "Reasoning",
    "ResponseFormat",
    "RllmPrompt",
    "TllmPrompt",
    "headers",
]

AgentArch = Literal["single-llm", "dual-llm"]
ClassifierName = Literal[
    "toxicity_filter", "pii_redaction", "healthcare_topic_guardrail", "finance_topic_guardrail"
]
BlockerName = Literal["url_blocker", "file_blocker"]
PolicyMode = Literal["standard", "strict", "custom"]
PolicyLanguage = Literal["sqrt", "cedar"]
EnforcementLevel = Literal["hard", "soft"]
ClearSessionMeta = Literal["never", "every_attempt", "every_turn"]
HistoryMismatchPolicy = Literal["reject", "restart_turn", "continue"]
InternalTool = Literal["parse_with_ai", "verify_hypothesis", "set_policy", "complete_turn"]
DebugInfoLevel = Literal["minimal", "normal", "extra"]
ContextVarVisibility = Literal["none", "basic-notext", "basic-executable", "all-executable", "all"]
InlineRole = Literal["assistant", "tool", "developer", "system"]
PositiveInt = Annotated[int, Field(ge=1)]

DEFAULT_MAX_HEADER_BYTES = 16 * 1024

_M = TypeVar("_M", bound="_HeaderModel")


class _Strict(BaseModel):
    # Infinity and NaN are not JSON (RFC 8259); a server would reject the header.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class _HeaderModel(_Strict):
    def to_header(self) -> str:
        """Compact ASCII JSON for the header; ``None`` fields are left out."""
        return json.dumps(
            self.model_dump(mode="json", exclude_none=True),
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
        )

    @classmethod
    def from_header(cls: type[_M], value: str) -> _M:
        """Parse a header value back into the model (the inverse of ``to_header``)."""
        return cls.model_validate_json(value)


# --------------------------------------------------------------------------- X-Features


class ContentClassifier(_Strict):
    """An LLM classifier run over tool arguments and results."""

    name: ClassifierName
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    mode: str | None = Field(
        default=None,
        description='Overrides threshold: "high sensitivity", "strict", "low sensitivity", "normal".',
    )


class ContentBlocker(_Strict):
    """A blocker that redacts URLs or file references."""

    name: BlockerName


class Features(_HeaderModel):
    """The ``X-Features`` header: architecture, classifiers and blockers."""

    agent_arch: AgentArch | None = None
    content_classifiers: list[ContentClassifier] | None = None
    content_blockers: list[ContentBlocker] | None = None

    @classmethod
    def _build(
        cls,
        arch: AgentArch,
        toxicity_filter: bool,
        pii_redaction: bool,
        healthcare_guardrail: bool,
        finance_guardrail: bool,
        url_blocker: bool,
        file_blocker: bool,
    ) -> Features:
        wanted: list[tuple[bool, ClassifierName]] = [
            (toxicity_filter, "toxicity_filter"),
            (pii_redaction, "pii_redaction"),
            (healthcare_guardrail, "healthcare_topic_guardrail"),
            (finance_guardrail, "finance_topic_guardrail"),
        ]
        classifiers = [ContentClassifier(name=name) for on, name in wanted if on]
        blocked: list[tuple[bool, BlockerName]] = [
            (url_blocker, "url_blocker"),
            (file_blocker, "file_blocker"),
        ]
        blockers = [ContentBlocker(name=name) for on, name in blocked if on]
        return cls(
            agent_arch=arch, content_classifiers=classifiers or None, content_blockers=blockers or None
        )

    @classmethod
    def single_llm(
        cls,
        toxicity_filter: bool = False,
        pii_redaction: bool = False,
        healthcare_guardrail: bool = False,
        finance_guardrail: bool = False,
        url_blocker: bool = False,
        file_blocker: bool = False,
    ) -> Features:
        """Single-llm guardrails, with the chosen classifiers (threshold 0.5) and blockers."""
        return cls._build(
            "single-llm",
            toxicity_filter,
            pii_redaction,
            healthcare_guardrail,
            finance_guardrail,
            url_blocker,
            file_blocker,
        )

    @classmethod
    def dual_llm(
        cls,
        toxicity_filter: bool = False,
        pii_redaction: bool = False,
        healthcare_guardrail: bool = False,
        finance_guardrail: bool = False,
        url_blocker: bool = False,
        file_blocker: bool = False,
    ) -> Features:
        """Dual-llm (CaMeL) planning, with the chosen classifiers (threshold 0.5) and blockers."""
        return cls._build(
            "dual-llm",
            toxicity_filter,
            pii_redaction,
            healthcare_guardrail,
            finance_guardrail,
            url_blocker,
            file_blocker,
        )


# --------------------------------------------------------------------------- X-Policy


def _sorted_unique(value: Any) -> Any:
    # Sets have no order; a sorted list makes the header byte-identical across runs.
    if isinstance(value, (set, frozenset, list, tuple)):
        return sorted({str(v) for v in value})
    return value


class BranchingMetaPolicy(_Strict):
    """Which producers, tags and consumers may steer control flow (dual-llm only)."""

    mode: Literal["allow", "deny"] = "deny"
    producers: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    consumers: list[str] = Field(default_factory=list)

    @field_validator("producers", "tags", "consumers", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        return _sorted_unique(value)


class PolicyPresets(_Strict):
    """Built-in policies that apply on top of the SQRT code."""

    default_allow: bool = True
    default_allow_enforcement_level: EnforcementLevel = "soft"
    enable_non_executable_memory: bool = True
    branching_meta_policy: BranchingMetaPolicy = Field(default_factory=BranchingMetaPolicy)
    enable_llm_blocked_tag: bool = True
    llm_blocked_tag_enforcement_level: EnforcementLevel = "hard"


class PolicyCode(_Strict):
    """Policy source code and its language."""

    code: str = ""
    language: PolicyLanguage = "sqrt"


class Policy(_HeaderModel):
    """The ``X-Policy`` header: SQRT (or Cedar) code, mode and presets."""

    mode: PolicyMode | None = None
    codes: PolicyCode | None = None
    auto_gen: bool | None = None
    fail_fast: bool | None = None
    presets: PolicyPresets | None = None

    @classmethod
    def dual_llm(
        cls,
        mode: PolicyMode = "standard",
        codes: str = "",
        language: PolicyLanguage = "sqrt",
        auto_gen: bool = False,
        fail_fast: bool | None = None,
        default_allow: bool = True,
        default_allow_enforcement_level: EnforcementLevel = "soft",
        enable_non_executable_memory: bool = True,
        enable_llm_blocked_tag: bool = True,
        llm_blocked_tag_enforcement_level: EnforcementLevel = "hard",
        branching_meta_policy_mode: Literal["allow", "deny"] = "deny",
        branching_meta_policy_producers: Iterable[str] | None = None,
        branching_meta_policy_tags: Iterable[str] | None = None,
        branching_meta_policy_consumers: Iterable[str] | None = None,
    ) -> Policy:
        """A dual-llm policy: the code plus the full presets block."""
        branching = BranchingMetaPolicy(
            mode=branching_meta_policy_mode,
            producers=list(branching_meta_policy_producers or ()),
            tags=list(branching_meta_policy_tags or ()),
            consumers=list(branching_meta_policy_consumers or ()),
        )
        return cls(
            mode=mode,
            codes=PolicyCode(code=codes, language=language),
            auto_gen=auto_gen,
            fail_fast=fail_fast,
            presets=PolicyPresets(
                default_allow=default_allow,
                default_allow_enforcement_level=default_allow_enforcement_level,
                enable_non_executable_memory=enable_non_executable_memory,
                enable_llm_blocked_tag=enable_llm_blocked_tag,
                llm_blocked_tag_enforcement_level=llm_blocked_tag_enforcement_level,
                branching_meta_policy=branching,
            ),
        )

    @classmethod
    def single_llm(
        cls,
        mode: PolicyMode = "standard",
        codes: str = "",
        language: PolicyLanguage = "sqrt",
        fail_fast: bool | None = None,
        default_allow: bool = True,
        enable_llm_blocked_tag: bool = True,
        llm_blocked_tag_enforcement_level: EnforcementLevel = "hard",
    ) -> Policy:
        """A single-llm policy: no auto-generation and no non-executable memory."""
        return cls(
            mode=mode,
            codes=PolicyCode(code=codes, language=language),
            auto_gen=False,
            fail_fast=fail_fast,
            presets=PolicyPresets(
                default_allow=default_allow,
                enable_non_executable_memory=False,
                enable_llm_blocked_tag=enable_llm_blocked_tag,
                llm_blocked_tag_enforcement_level=llm_blocked_tag_enforcement_level,
            ),
        )


# --------------------------------------------------------------------------- X-Config


class FsmConfig(_Strict):
    """Session state machine settings; the second group applies to dual-llm only."""

    min_num_tools_for_filtering: int | None = Field(default=None, ge=2)
    clear_session_meta: ClearSessionMeta | None = None
    max_n_turns: PositiveInt | None = None
    history_mismatch_policy: HistoryMismatchPolicy | None = None
    clear_history_every_n_attempts: PositiveInt | None = None
    disable_rllm: bool | None = None
    enable_multistep_planning: bool | None = None
    enabled_internal_tools: list[InternalTool] | None = None
    prune_failed_steps: bool | None = None
    force_to_cache: list[str] | None = None
    max_pllm_steps: PositiveInt | None = None
    max_pllm_failed_steps: PositiveInt | None = None
    max_tool_calls_per_step: PositiveInt | None = None
    reduced_grammar_for_rllm_review: Literal["none", "bool", "text"] | bool | None = None
    retry_on_policy_violation: bool | None = None
    wrap_tool_result: bool | None = None
    detect_tool_errors: Literal["none", "regex", "llm"] | None = None
    detect_tool_error_regex_pattern: str | None = None
    detect_tool_error_max_result_length: PositiveInt | None = None
    strict_tool_result_parsing: bool | None = None
    tool_result_transform: Literal["none", "codex"] | None = None
    n_pllm_plans: PositiveInt | None = None
    pllm_candidate_models: list[str] | None = None
    pllm_context_pruning: bool | None = None


class LlmPrompt(_Strict):
    """Prompt template selection for one LLM."""

    flavor: str | None = None
    version: str | None = None


class PllmPrompt(LlmPrompt):
    """Prompt settings of the planning LLM."""

    debug_info_level: DebugInfoLevel | None = None
    clarify_ambiguous_queries: bool | None = None
    context_var_visibility: ContextVarVisibility | None = None
    query_inline_roles: list[InlineRole] | None = None
    query_role_name_overrides: dict[str, str] | None = None
    query_include_tool_calls: bool | None = None
    query_include_tool_args: bool | None = None
    query_include_tool_results: bool | None = None


class RllmPrompt(LlmPrompt):
    """Prompt settings of the review LLM."""

    debug_info_level: DebugInfoLevel | None = None


class TllmPrompt(LlmPrompt):
    """Prompt settings of the tool-filtering LLM."""

    add_tool_description: bool | None = None
    add_tool_input_schema: bool | None = None


class PromptConfig(_Strict):
    """Prompt overrides per LLM (dual-llm only)."""

    pllm: PllmPrompt | None = None
    rllm: RllmPrompt | None = None
    tllm: TllmPrompt | None = None
    grllm: LlmPrompt | None = None
    qllm: LlmPrompt | None = None
    tagllm: LlmPrompt | None = None
    policy_llm: LlmPrompt | None = None
    error_detector_llm: LlmPrompt | None = None


class ResponseFormat(_Strict):
    """What a dual-llm answer carries besides the final value."""

    strip_response_content: bool | None = None
    stream_thoughts: bool | None = None
    include_program: bool | None = None
    include_policy_check_history: bool | None = None
    include_namespace_snapshot: bool | None = None


class Reasoning(_Strict):
    """Reasoning settings for one LLM."""

    enabled: bool | None = None
    effort: str | None = None
    budget: PositiveInt | None = None
    adaptive: bool | None = None


class LlmSettings(_Strict):
    """Generation overrides for one LLM."""

    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    max_completion_tokens: PositiveInt | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    temperature: float | None = Field(default=None, ge=0.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    reasoning: Reasoning | None = None


class LlmOverrides(_Strict):
    """Generation overrides per LLM of the pipeline."""

    pllm: LlmSettings | None = None
    rllm: LlmSettings | None = None
    grllm: LlmSettings | None = None
    qllm: LlmSettings | None = None
    tllm: LlmSettings | None = None
    tagllm: LlmSettings | None = None
    policy_llm: LlmSettings | None = None
    tool_result_error_detector_llm: LlmSettings | None = None


class Config(_HeaderModel):
    """The ``X-Config`` header: fine-grained session settings."""

    fsm: FsmConfig | None = None
    prompt: PromptConfig | None = None
    response_format: ResponseFormat | None = None
    llm: LlmOverrides | None = None

    @classmethod
    def single_llm(
        cls,
        min_num_tools_for_filtering: int | None = 10,
        clear_session_meta: ClearSessionMeta = "never",
        max_n_turns: int | None = 50,
    ) -> Config:
        """Single-llm session settings (50 turns by default)."""
        return cls(
            fsm=FsmConfig(
                min_num_tools_for_filtering=min_num_tools_for_filtering,
                clear_session_meta=clear_session_meta,
                max_n_turns=max_n_turns,
            )
        )

    @classmethod
    def dual_llm(
        cls,
        min_num_tools_for_filtering: int | None = 10,
        clear_session_meta: ClearSessionMeta = "never",
        max_n_turns: int | None = 5,
        clear_history_every_n_attempts: int | None = None,
        disable_rllm: bool | None = True,
        enable_multistep_planning: bool | None = None,
        enabled_internal_tools: list[InternalTool] | None = None,
        prune_failed_steps: bool | None = None,
        force_to_cache: list[str] | None = None,
        max_pllm_steps: int | None = None,
        max_pllm_failed_steps: int | None = None,
        max_tool_calls_per_step: int | None = None,
        reduced_grammar_for_rllm_review: bool | None = None,
        retry_on_policy_violation: bool | None = None,
        pllm_debug_info_level: DebugInfoLevel | None = None,
        strip_response_content: bool | None = None,
        include_program: bool | None = None,
        include_policy_check_history: bool | None = None,
        include_namespace_snapshot: bool | None = None,
    ) -> Config:
        """Dual-llm session settings (5 turns, no review LLM by default)."""
        fsm = FsmConfig(
            min_num_tools_for_filtering=min_num_tools_for_filtering,
            clear_session_meta=clear_session_meta,
            max_n_turns=max_n_turns,
            clear_history_every_n_attempts=clear_history_every_n_attempts,
            disable_rllm=disable_rllm,
            enable_multistep_planning=enable_multistep_planning,
            enabled_internal_tools=enabled_internal_tools,
            prune_failed_steps=prune_failed_steps,
            force_to_cache=force_to_cache,
            max_pllm_steps=max_pllm_steps,
            max_pllm_failed_steps=max_pllm_failed_steps,
            max_tool_calls_per_step=max_tool_calls_per_step,
            reduced_grammar_for_rllm_review=reduced_grammar_for_rllm_review,
            retry_on_policy_violation=retry_on_policy_violation,
        )
        prompt = None
        if pllm_debug_info_level is not None:
            prompt = PromptConfig(pllm=PllmPrompt(debug_info_level=pllm_debug_info_level))
        formats = (
            strip_response_content,
            include_program,
            include_policy_check_history,
            include_namespace_snapshot,
        )
        response_format = None
        if any(v is not None for v in formats):
            response_format = ResponseFormat(
                strip_response_content=strip_response_content,
                include_program=include_program,
                include_policy_check_history=include_policy_check_history,
                include_namespace_snapshot=include_namespace_snapshot,
            )
        return cls(fsm=fsm, prompt=prompt, response_format=response_format)


# --------------------------------------------------------------------------- building headers

FeaturesInput = Features | Mapping[str, Any] | str
PolicyInput = Policy | Mapping[str, Any] | str
ConfigInput = Config | Mapping[str, Any] | str

_ARCH_SHORTHAND = {"single-llm": Features.single_llm, "dual-llm": Features.dual_llm}


def coerce(model: type[_M], value: _M | Mapping[str, Any] | str, source: str) -> _M:
    """Turn a model, a mapping or a JSON string into ``model``; errors name ``source``."""
    if isinstance(value, model):
        return value
    try:
        if isinstance(value, str):
            text = value.strip()
            if model is Features and text in _ARCH_SHORTHAND:
                return _ARCH_SHORTHAND[text]()  # type: ignore[return-value]
            return model.model_validate_json(text)
        if isinstance(value, Mapping):
            return model.model_validate(dict(value))
    except ValidationError as exc:
        raise ConfigurationError(f"{source}: invalid {_header_of(model)} value: {_describe(exc)}") from None
    raise ConfigurationError(
        f"{source}: expected sq.{model.__name__}, a dict or a JSON string, got {type(value).__name__}"
    )


def _header_of(model: type[_HeaderModel]) -> str:
    return {"Features": "X-Features", "Policy": "X-Policy", "Config": "X-Config"}.get(
        model.__name__, model.__name__
    )


def _describe(exc: ValidationError) -> str:
    # pydantic's own wording, without the input echo (a policy can be long) or the docs URL.
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


_FORBIDDEN_CHARS = ("\r", "\n", "\x00")


def check_header_value(value: str, source: str) -> None:
    """Reject values the HTTP stack would only refuse at send time (after retries)."""
    if any(c in value for c in _FORBIDDEN_CHARS):
        raise ConfigurationError(
            f"{source} contains a CR, LF or NUL character, which cannot go in an HTTP header"
        )
    if not value.isascii():
        raise ConfigurationError(f"{source} contains non-ASCII characters, which cannot go in an HTTP header")


# A session id, from the caller or from the server, is printable ASCII without spaces and of
# bounded length (the service's are 36-character uuids): it is re-sent on every call of a scope.
SESSION_ID_MAX = 256
_SESSION_ID = re.compile(rf"[!-~]{{1,{SESSION_ID_MAX}}}")


def valid_session_id(value: object) -> bool:
    """The one rule for session ids, applied to arguments and to ids the server sends."""
    return isinstance(value, str) and _SESSION_ID.fullmatch(value) is not None


def check_session_id(value: object, source: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{source} must be a str, got {type(value).__name__}", setting="session_id", origin="argument"
        )
    if not valid_session_id(value):
        raise ConfigurationError(
            f"{source} must be 1 to {SESSION_ID_MAX} printable ASCII characters: no space, "
            "no CR, LF or NUL or other control character, nothing outside ASCII",
            setting="session_id",
            origin="argument",
        )
    return value


def check_header_size(values: Mapping[str, str], limit: int) -> None:
    total = sum(len(k) + len(v) + 4 for k, v in values.items())  # "Name: value\r\n"
    if total > limit:
        sizes = ", ".join(f"{k} {len(v)} B" for k, v in values.items() if k.lower().startswith("x-"))
        raise HeaderTooLargeError(
            f"the Sequrity headers take {total} bytes ({sizes}), over the limit of {limit} bytes that "
            "servers commonly accept for a request head; shorten the policy or config, or raise the "
            "limit with max_header_bytes= if your deployment accepts larger headers"
        )


def build_headers(
    *,
    features: FeaturesInput | None = None,
    policy: PolicyInput | None = None,
    config: ConfigInput | None = None,
    llm_api_key: str | None = None,
    session_id: str | None = None,
    sources: Mapping[str, str] | None = None,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
) -> dict[str, str]:
    """The one place that turns settings into Sequrity request headers."""
    src = dict(sources or {})
    out: dict[str, str] = {}
    if llm_api_key:
        check_header_value(llm_api_key, src.get("llm_api_key", "llm_api_key"))
        out["X-Api-Key"] = llm_api_key
    if features is not None:
        out["X-Features"] = coerce(Features, features, src.get("features", "features")).to_header()
    if policy is not None:
        out["X-Policy"] = coerce(Policy, policy, src.get("policy", "policy")).to_header()
    if config is not None:
        out["X-Config"] = coerce(Config, config, src.get("config", "config")).to_header()
    if session_id is not None:
        out["X-Session-ID"] = check_session_id(session_id, src.get("session_id", "session_id"))
    check_header_size(out, max_header_bytes)
    return out


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
    return build_headers(
        features=features,
        policy=policy,
        config=config,
        llm_api_key=llm_api_key,
        session_id=session_id,
        max_header_bytes=max_header_bytes,
    )
