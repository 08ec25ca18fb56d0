"""The public surface is pinned: every public name is in ``__all__``, and nothing else is public.

The httpx pattern (its ``tests/test_exported_members.py``): adding or removing a public name
is a deliberate change made here as well. Implementation modules are private (``_headers``,
``_results``, ...); only ``sequrity_openai``, ``sequrity_openai.testing`` and
``sequrity_openai.integrations.*`` are public.
"""

from __future__ import annotations

import importlib
import types

import pytest

import sequrity_openai

PUBLIC = {
    "DEFAULT_MAX_HEADER_BYTES",
    "PolicyChecker",
    "RedirectRefusedError",
    "Settings",
    "resolve_settings",
    "PolicyDecision",
    "TaggedValue",
    "check_policy",
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
    "PolicyCode",
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
    "TllmPrompt",
    "ValueMeta",
    "__version__",
    "acollect_stream",
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
}

TESTING = {
    "Delay",
    "DenialAnswer",
    "ErrorAnswer",
    "FakeSequrity",
    "RecordedRequest",
    "ResultOf",
    "ScriptItem",
    "TextAnswer",
    "ToolCall",
    "ToolCallAnswer",
    "default_denial",
}

INTEGRATIONS = {
    "sequrity_openai.integrations": set(),
    "sequrity_openai.integrations.agents": {
        "chat_model",
        "model_provider",
        "run",
        "run_streamed",
        "run_sync",
        "set_default_client",
    },
    "sequrity_openai.integrations.langchain": {"chat_openai"},
}


def _public(module: types.ModuleType) -> set[str]:
    # dir(), not vars(): the testing kit loads FakeSequrity (and werkzeug) on first use.
    # Subpackages (testing, integrations) become attributes once imported; they are not names.
    return {
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    }


def test_package_exports_exactly_the_pinned_names() -> None:
    assert set(sequrity_openai.__all__) == PUBLIC
    assert len(sequrity_openai.__all__) == len(PUBLIC), "a name is listed twice in __all__"
    assert _public(sequrity_openai) == PUBLIC - {"__version__"}


def test_testing_kit_exports_exactly_the_pinned_names() -> None:
    testing = importlib.import_module("sequrity_openai.testing")
    assert set(testing.__all__) == TESTING
    assert _public(testing) == TESTING


@pytest.mark.parametrize("name", sorted(INTEGRATIONS))
def test_integrations_export_exactly_the_pinned_names(name: str) -> None:
    # Each integration needs its extra; the package itself imports no framework.
    if name == "sequrity_openai.integrations":
        module = importlib.import_module(name)
    else:
        module = pytest.importorskip(name)
    assert set(module.__all__) == INTEGRATIONS[name]
    # Integration modules import their framework's names; what they define themselves is public
    # only through __all__.
    own = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == name and callable(v)
    }
    assert own == INTEGRATIONS[name]
    for exported in module.__all__:
        assert callable(getattr(module, exported))


def test_every_exported_name_resolves() -> None:
    for name in sequrity_openai.__all__:
        assert getattr(sequrity_openai, name) is not None


def test_no_public_name_shadows_a_module() -> None:
    # ``import sequrity_openai.headers`` used to give the function, not the module.
    for name in sequrity_openai.__all__:
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"sequrity_openai.{name}")


def test_the_version_has_one_source() -> None:
    # pyproject.toml declares the version dynamic; hatch reads __version__ from __init__.py.
    from importlib.metadata import version
    from pathlib import Path

    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject
    assert "\nversion =" not in pyproject
    assert version("sequrity-openai") == sequrity_openai.__version__
