"""The ``X-Features`` header: architecture, content classifiers and blockers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import HeaderModel, StrictModel

__all__ = ["AgentArch", "ContentBlocker", "ContentClassifier", "Features"]

AgentArch = Literal["single-llm", "dual-llm"]
ClassifierName = Literal[
    "toxicity_filter", "pii_redaction", "healthcare_topic_guardrail", "finance_topic_guardrail"
]
BlockerName = Literal["url_blocker", "file_blocker"]


class ContentClassifier(StrictModel):
    """An LLM classifier run over tool arguments and results."""

    name: ClassifierName
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    mode: str | None = Field(
        default=None,
        description='Overrides threshold: "high sensitivity", "strict", "low sensitivity", "normal".',
    )


class ContentBlocker(StrictModel):
    """A blocker that redacts URLs or file references."""

    name: BlockerName


class Features(HeaderModel):
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
