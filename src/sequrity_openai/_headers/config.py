"""The ``X-Config`` header: session state machine, prompts, response format, LLM overrides."""

# No `from __future__ import annotations` here: pydantic would then compile and evaluate every
# field annotation from its text when the class is created, which is most of what these models
# cost at `import sequrity_openai` (benchmarks/RESULTS.md). Methods returning the class quote it.

from typing import Annotated, Literal

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
    """Session state machine settings (`sq.FsmConfig`). The first three fields apply to both architectures;
    single-llm sessions ignore the rest.

    In `X-Config` at `fsm`.
    """

    min_num_tools_for_filtering: Annotated[int, Field(ge=2)] | None = None
    """With at least this many tools, a tool-filtering LLM first picks the relevant ones. Server default: 10.
    """
    clear_session_meta: ClearSessionMeta | None = None
    """When to reset session metadata: `never`, at every planning attempt, or at every turn."""
    max_n_turns: PositiveInt | None = None
    """Turns a session may last; 1 makes every request its own session. `Config.single_llm()` sends 50,
    `Config.dual_llm()` 5.
    """
    history_mismatch_policy: HistoryMismatchPolicy | None = None
    """When the messages sent differ from the history the server stored: `reject` the request, `restart_turn`
    from the last point both agree on, or `continue` with the caller's version.
    """
    clear_history_every_n_attempts: PositiveInt | None = None
    """Single-step planning: drop the history of failed attempts every N attempts to save tokens."""
    disable_rllm: bool | None = None
    """Skip the review LLM that checks the answer. Server default: `true`; `Config.dual_llm()` sends `true`.
    """
    enable_multistep_planning: bool | None = None
    """`true`: each planning step builds on the previous ones; `false`: each attempt plans from scratch.
    """
    enabled_internal_tools: list[InternalTool] | None = None
    """Internal tools the planning LLM may use."""
    prune_failed_steps: bool | None = None
    """Multi-step planning: remove failed steps from the history when the turn ends."""
    force_to_cache: list[str] | None = None
    """Regular expressions of tool ids whose results are always cached."""
    max_pllm_steps: PositiveInt | None = None
    """Planning steps allowed per turn."""
    max_pllm_failed_steps: PositiveInt | None = None
    """Failed planning steps allowed per turn."""
    max_tool_calls_per_step: PositiveInt | None = None
    """Tool calls allowed per planning attempt; unset means no limit."""
    reduced_grammar_for_rllm_review: Literal["none", "bool", "text"] | bool | None = None
    """Rewrite the review LLM's output in a reduced grammar before the planner sees it."""
    retry_on_policy_violation: bool | None = None
    """Let the planner try another plan after a policy denial instead of failing."""
    wrap_tool_result: bool | None = None
    """Wrap tool results in Ok / Err values."""
    detect_tool_errors: Literal["none", "regex", "llm"] | None = None
    """How to recognise a failed tool call in its result: not at all, by `regex`, or with an `llm`."""
    detect_tool_error_regex_pattern: str | None = None
    """The pattern used when `detect_tool_errors` is `regex`."""
    detect_tool_error_max_result_length: PositiveInt | None = None
    """Only this many characters of a result are examined for errors."""
    strict_tool_result_parsing: bool | None = None
    """Parse a tool result as JSON only when the tool declares an output schema."""
    tool_result_transform: Literal["none", "codex"] | None = None
    """Transform applied to tool results before error detection; `codex` unpacks Codex CLI output."""
    n_pllm_plans: PositiveInt | None = None
    """How many candidate plans the planner produces."""
    pllm_candidate_models: list[str] | None = None
    """Models that produce candidate plans."""
    pllm_context_pruning: bool | None = None
    """Prune the planner's context."""


class LlmPrompt(StrictModel):
    """Prompt template selection for one LLM (`sq.LlmPrompt`); also the first two fields of `PllmPrompt`,
    `RllmPrompt` and `TllmPrompt`.

    In `X-Config` at `prompt.grllm`, `prompt.qllm`, `prompt.tagllm`, `prompt.policy_llm`,
    `prompt.error_detector_llm`.
    """

    flavor: str | None = None
    """Template variant, e.g. `"universal"` or `"code"`."""
    version: str | None = None
    """Template version; used together with `flavor`."""


class PllmPrompt(LlmPrompt):
    """Prompt settings of the planning LLM (`sq.PllmPrompt`).

    In `X-Config` at `prompt.pllm`.
    """

    debug_info_level: DebugInfoLevel | None = None
    """How much execution detail the planner's prompt shows."""
    clarify_ambiguous_queries: bool | None = None
    """Let the planner ask the user to clarify an ambiguous query."""
    context_var_visibility: ContextVarVisibility | None = None
    """Which variables of the program the planner sees, from `none` to `all`."""
    query_inline_roles: list[InlineRole] | None = None
    """Messages of these roles are inlined into the query the planner reads."""
    query_role_name_overrides: dict[str, str] | None = None
    """Rename roles in the inlined query, e.g. `{"assistant": "developer"}`."""
    query_include_tool_calls: bool | None = None
    """Include earlier tool calls in the inlined query."""
    query_include_tool_args: bool | None = None
    """Include their arguments."""
    query_include_tool_results: bool | None = None
    """Include their results."""


class RllmPrompt(LlmPrompt):
    """Prompt settings of the review LLM (`sq.RllmPrompt`).

    In `X-Config` at `prompt.rllm`.
    """

    debug_info_level: DebugInfoLevel | None = None
    """How much execution detail the review prompt shows."""


class TllmPrompt(LlmPrompt):
    """Prompt settings of the tool-filtering LLM (`sq.TllmPrompt`).

    In `X-Config` at `prompt.tllm`.
    """

    add_tool_description: bool | None = None
    """Show tool descriptions in the filtering prompt."""
    add_tool_input_schema: bool | None = None
    """Show tool input JSON schemas in the filtering prompt."""


class PromptConfig(StrictModel):
    """Prompt template choices per LLM (`sq.PromptConfig`, dual-llm only).

    In `X-Config` at `prompt`.
    """

    pllm: PllmPrompt | None = None
    """Planning LLM."""
    rllm: RllmPrompt | None = None
    """Review LLM."""
    tllm: TllmPrompt | None = None
    """Tool-filtering LLM."""
    grllm: LlmPrompt | None = None
    """GRLLM."""
    qllm: LlmPrompt | None = None
    """Quarantined LLM."""
    tagllm: LlmPrompt | None = None
    """Tagging LLM."""
    policy_llm: LlmPrompt | None = None
    """Policy LLM."""
    error_detector_llm: LlmPrompt | None = None
    """Tool-error detector LLM."""


class ResponseFormat(StrictModel):
    """What a dual-llm answer carries (`sq.ResponseFormat`). `sq.parse_result` exposes each part.

    In `X-Config` at `response_format`.
    """

    strip_response_content: bool | None = None
    """Return only the final value as plain text, without the JSON document. `parse_result` then gives status
    `unknown` with the text in `raw`.
    """
    stream_thoughts: bool | None = None
    """Stream intermediate output while the answer is produced."""
    include_program: bool | None = None
    """Add the generated program (`result.program`)."""
    include_policy_check_history: bool | None = None
    """Add every policy check, also when nothing was denied (`result.policy_check_history`)."""
    include_namespace_snapshot: bool | None = None
    """Add the program's variables after execution (`result.namespace_snapshot`)."""


class Reasoning(StrictModel):
    """Reasoning settings for one LLM (`sq.Reasoning`).

    In `X-Config` at `llm.pllm.reasoning`, `llm.rllm.reasoning`, `llm.grllm.reasoning`,
    `llm.qllm.reasoning`, `llm.tllm.reasoning`, `llm.tagllm.reasoning`, `llm.policy_llm.reasoning`,
    `llm.tool_result_error_detector_llm.reasoning`.
    """

    enabled: bool | None = None
    """Turn reasoning on or off. Server default: `true`."""
    effort: str | None = None
    """Reasoning effort, e.g. `"low"`, `"medium"`, `"high"`."""
    budget: PositiveInt | None = None
    """Token budget for reasoning."""
    adaptive: bool | None = None
    """Let the model choose its reasoning budget. Server default: `false`."""


class LlmSettings(StrictModel):
    """Generation settings for one LLM (`sq.LlmSettings`), as in the Chat Completions API.

    In `X-Config` at `llm.pllm`, `llm.rllm`, `llm.grllm`, `llm.qllm`, `llm.tllm`, `llm.tagllm`,
    `llm.policy_llm`, `llm.tool_result_error_detector_llm`.
    """

    frequency_penalty: float | None = None
    """Penalty on repeated tokens."""
    logit_bias: dict[str, float] | None = None
    """Bias per token id."""
    logprobs: bool | None = None
    """Return log probabilities."""
    max_completion_tokens: PositiveInt | None = None
    """Upper bound on generated tokens."""
    presence_penalty: float | None = None
    """Penalty on tokens already present."""
    seed: int | None = None
    """Sampling seed."""
    temperature: Annotated[float, Field(ge=0.0)] | None = None
    """Sampling temperature."""
    top_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    """Nucleus sampling mass."""
    reasoning: Reasoning | None = None
    """Reasoning settings."""


class LlmOverrides(StrictModel):
    """Generation settings per LLM of the pipeline (`sq.LlmOverrides`).

    In `X-Config` at `llm`.
    """

    pllm: LlmSettings | None = None
    """Planning LLM."""
    rllm: LlmSettings | None = None
    """Review LLM."""
    grllm: LlmSettings | None = None
    """GRLLM."""
    qllm: LlmSettings | None = None
    """Quarantined LLM."""
    tllm: LlmSettings | None = None
    """Tool-filtering LLM."""
    tagllm: LlmSettings | None = None
    """Tagging LLM."""
    policy_llm: LlmSettings | None = None
    """Policy LLM."""
    tool_result_error_detector_llm: LlmSettings | None = None
    """Tool-error detector LLM."""


class Config(HeaderModel):
    """The `X-Config` header (`sq.Config`): fine-grained session settings. Every section and field is
    optional; what is unset keeps the server's value.
    """

    fsm: FsmConfig | None = None
    """Session state machine: turns, tool filtering, planning limits."""
    prompt: PromptConfig | None = None
    """Prompt template choices per LLM (dual-llm only)."""
    response_format: ResponseFormat | None = None
    """What a dual-llm answer contains (dual-llm only)."""
    llm: LlmOverrides | None = None
    """Generation settings per LLM of the pipeline."""

    @classmethod
    def single_llm(
        cls,
        min_num_tools_for_filtering: int | None = 10,
        clear_session_meta: ClearSessionMeta = "never",
        max_n_turns: int | None = 50,
    ) -> "Config":
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
    ) -> "Config":
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
