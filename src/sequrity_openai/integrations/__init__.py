"""Wiring for agent frameworks built on the OpenAI SDK.

Each submodule imports its framework, so install the matching extra and import it directly:

- ``sequrity_openai.integrations.agents``: the OpenAI Agents SDK, extra ``[agents]``
- ``sequrity_openai.integrations.langchain``: LangChain / LangGraph, extra ``[langchain]``

This package itself imports no framework, so ``import sequrity_openai`` never pulls one in.
"""

from __future__ import annotations

__all__: list[str] = []
