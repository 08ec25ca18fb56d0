"""The ``X-Policy`` header: policy code, mode and presets."""

# No `from __future__ import annotations` here: pydantic would then compile and evaluate every
# field annotation from its text when the class is created, which is most of what these models
# cost at `import sequrity_openai` (benchmarks/RESULTS.md). Methods returning the class quote it.

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, field_validator

from .base import HeaderModel, StrictModel

__all__ = ["BranchingMetaPolicy", "Policy", "PolicyCode", "PolicyPresets"]

PolicyMode = Literal["standard", "strict", "custom"]
PolicyLanguage = Literal["sqrt", "cedar"]
EnforcementLevel = Literal["hard", "soft"]


def _sorted_unique(value: Any) -> Any:
    # Sets have no order; a sorted list makes the header byte-identical across runs.
    if isinstance(value, (set, frozenset, list, tuple)):
        return sorted({str(v) for v in value})
    return value


class BranchingMetaPolicy(StrictModel):
    """Control-flow policy for the program's branches (`sq.BranchingMetaPolicy`, dual-llm only). Lists are
    sent sorted, without duplicates.

    In `X-Policy` at `presets.branching_meta_policy`.
    """

    mode: Literal["allow", "deny"] = "deny"
    """`deny`: the lists name what may not decide a branch (a deny list); `allow`: what may (an allow list).
    """
    producers: list[str] = Field(default_factory=list)
    """Tools (producers) whose values the rule is about."""
    tags: list[str] = Field(default_factory=list)
    """Tags the rule is about."""
    consumers: list[str] = Field(default_factory=list)
    """Consumers the rule is about."""

    @field_validator("producers", "tags", "consumers", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        return _sorted_unique(value)


class PolicyPresets(StrictModel):
    """Built-in policies that apply together with the code (`sq.PolicyPresets`).

    In `X-Policy` at `presets`.
    """

    default_allow: bool = True
    """Allow a tool call that no rule matches."""
    default_allow_enforcement_level: EnforcementLevel = "soft"
    """Enforcement level of the default allow."""
    enable_non_executable_memory: bool = True
    """Tag every tool result as non-executable by default (dual-llm only; `Policy.single_llm()` sends
    `false`).
    """
    branching_meta_policy: BranchingMetaPolicy = Field(default_factory=BranchingMetaPolicy)
    """Which values may decide a branch of the program (dual-llm only)."""
    enable_llm_blocked_tag: bool = True
    """Deny AI parsing (`parse_with_ai`) of values that carry the LLM-blocked tag."""
    llm_blocked_tag_enforcement_level: EnforcementLevel = "hard"
    """Enforcement level of the LLM-blocked-tag rule."""


class PolicyCode(StrictModel):
    """Policy source code (`sq.PolicyCode`).

    In `X-Policy` at `codes`.
    """

    code: str = ""
    """The policy text, e.g. SQRT rules. Non-ASCII is escaped on the wire."""
    language: PolicyLanguage = "sqrt"
    """Language of `code`."""


class Policy(HeaderModel):
    """The `X-Policy` header (`sq.Policy`): the security policy code and the built-in policies around it."""

    mode: PolicyMode | None = None
    """Policy mode: `standard`, `strict` or `custom`."""
    codes: PolicyCode | None = None
    """The policy source."""
    auto_gen: bool | None = None
    """Generate policies from tool metadata (dual-llm only)."""
    fail_fast: bool | None = None
    """Stop at the first hard denial. Server default: `true`."""
    presets: PolicyPresets | None = None
    """Built-in policies applied with the code."""

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
    ) -> "Policy":
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
    ) -> "Policy":
        """A single-llm policy: no auto-generation and no non-executable memory."""
        # The dual-llm shape with those two off; the dual-llm-only presets keep their defaults.
        return cls.dual_llm(
            mode,
            codes,
            language,
            auto_gen=False,
            fail_fast=fail_fast,
            default_allow=default_allow,
            enable_non_executable_memory=False,
            enable_llm_blocked_tag=enable_llm_blocked_tag,
            llm_blocked_tag_enforcement_level=llm_blocked_tag_enforcement_level,
        )
