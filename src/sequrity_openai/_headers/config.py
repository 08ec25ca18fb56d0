"""The ``X-Config`` header: session state machine, prompts, response format, LLM overrides."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import HeaderModel, PositiveInt, StrictModel

__all__ = [
    "Config",
    "FsmConfig",
    "LlmOverrides",
    "LlmPrompt",
    "LlmSettings",
    "PllmPrompt",
    "PromptConfig",
    "Reasoning",
    "ResponseFormat",
    "RllmPrompt",
    "TllmPrompt",
]

ClearSessionMeta = Literal["never", "every_attempt", "every_turn"]
HistoryMismatchPolicy = Literal["reject", "restart_turn", "continue"]
InternalTool = Literal["parse_with_ai", "verify_hypothesis", "set_policy", "complete_turn"]
DebugInfoLevel = Literal["minimal", "normal", "extra"]
ContextVarVisibility = Literal["none", "basic-notext", "basic-executable", "all-executable", "all"]
InlineRole = Literal["assistant", "tool", "developer", "system"]


class FsmConfig(StrictModel):
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


class LlmPrompt(StrictModel):
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


class PromptConfig(StrictModel):
    """Prompt overrides per LLM (dual-llm only)."""

    pllm: PllmPrompt | None = None
    rllm: RllmPrompt | None = None
    tllm: TllmPrompt | None = None
    grllm: LlmPrompt | None = None
    qllm: LlmPrompt | None = None
    tagllm: LlmPrompt | None = None
    policy_llm: LlmPrompt | None = None
    error_detector_llm: LlmPrompt | None = None


class ResponseFormat(StrictModel):
    """What a dual-llm answer carries besides the final value."""

    strip_response_content: bool | None = None
    stream_thoughts: bool | None = None
    include_program: bool | None = None
    include_policy_check_history: bool | None = None
    include_namespace_snapshot: bool | None = None


class Reasoning(StrictModel):
    """Reasoning settings for one LLM."""

    enabled: bool | None = None
    effort: str | None = None
    budget: PositiveInt | None = None
    adaptive: bool | None = None


class LlmSettings(StrictModel):
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


class LlmOverrides(StrictModel):
    """Generation overrides per LLM of the pipeline."""

    pllm: LlmSettings | None = None
    rllm: LlmSettings | None = None
    grllm: LlmSettings | None = None
    qllm: LlmSettings | None = None
    tllm: LlmSettings | None = None
    tagllm: LlmSettings | None = None
    policy_llm: LlmSettings | None = None
    tool_result_error_detector_llm: LlmSettings | None = None


class Config(HeaderModel):
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
