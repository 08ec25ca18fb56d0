"""The ``X-Policy`` header: policy code, mode and presets."""

from __future__ import annotations

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
    """Which producers, tags and consumers may steer control flow (dual-llm only)."""

    mode: Literal["allow", "deny"] = "deny"
    producers: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    consumers: list[str] = Field(default_factory=list)

    @field_validator("producers", "tags", "consumers", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        return _sorted_unique(value)


class PolicyPresets(StrictModel):
    """Built-in policies that apply on top of the SQRT code."""

    default_allow: bool = True
    default_allow_enforcement_level: EnforcementLevel = "soft"
    enable_non_executable_memory: bool = True
    branching_meta_policy: BranchingMetaPolicy = Field(default_factory=BranchingMetaPolicy)
    enable_llm_blocked_tag: bool = True
    llm_blocked_tag_enforcement_level: EnforcementLevel = "hard"


class PolicyCode(StrictModel):
    """Policy source code and its language."""

    code: str = ""
    language: PolicyLanguage = "sqrt"


class Policy(HeaderModel):
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
