"""The ``X-Features`` header: architecture, content classifiers and blockers."""

# No `from __future__ import annotations` here: pydantic would then compile and evaluate every
# field annotation from its text when the class is created, which is most of what these models
# cost at `import sequrity_openai` (benchmarks/RESULTS.md). Methods returning the class quote it.

from typing import Annotated, Literal

from pydantic import Field

from .base import HeaderModel, StrictModel

__all__ = ["AgentArch", "ContentBlocker", "ContentClassifier", "Features"]

AgentArch = Literal["single-llm", "dual-llm"]
ClassifierName = Literal[
    "toxicity_filter", "pii_redaction", "healthcare_topic_guardrail", "finance_topic_guardrail"
]
BlockerName = Literal["url_blocker", "file_blocker"]


class ContentClassifier(StrictModel):
    """One content classifier (`sq.ContentClassifier`).

    In `X-Features` at `content_classifiers[]`.
    """

    name: ClassifierName
    """Which classifier: toxicity, PII, healthcare topics or finance topics."""
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    """Score at or above which content is flagged."""
    mode: str | None = None
    """Named sensitivity that replaces `threshold`: `"high sensitivity"`, `"strict"`, `"low sensitivity"` or
    `"normal"`.
    """


class ContentBlocker(StrictModel):
    """One content blocker (`sq.ContentBlocker`).

    In `X-Features` at `content_blockers[]`.
    """

    name: BlockerName
    """`url_blocker` redacts URLs, `file_blocker` redacts file references."""


class Features(HeaderModel):
    """The `X-Features` header (`sq.Features`): which architecture runs the session and which classifiers
    and blockers watch it.
    """

    agent_arch: AgentArch | None = None
    """Architecture of the session. Applied first by the server, so it can switch the whole preset."""
    content_classifiers: list[ContentClassifier] | None = None
    """LLM classifiers run over tool arguments (before a call) and tool results (after it). Empty lists are
    not sent by the helpers.
    """
    content_blockers: list[ContentBlocker] | None = None
    """Blockers that redact URLs or file references in tool arguments and results."""

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
    ) -> "Features":
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
    ) -> "Features":
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
    ) -> "Features":
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
