"""One missing-dependency error for every extra (sequrity_openai._extras)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sequrity_openai._extras import EXTRAS, MissingDependencyError, raise_if_missing, require

# Each optional entry point, and the module whose absence stands for "extra not installed".
ENTRY_POINTS = [
    ("testing", "from sequrity_openai.testing import FakeSequrity", "sequrity_openai.testing.FakeSequrity"),
    ("agents", "import sequrity_openai.integrations.agents", "sequrity_openai.integrations.agents"),
    ("langchain", "import sequrity_openai.integrations.langchain", "sequrity_openai.integrations.langchain"),
]


def test_each_extra_brings_the_library_its_error_names() -> None:
    from importlib.metadata import requires

    declared = requires("sequrity-openai") or []
    for extra, (_, distribution) in EXTRAS.items():
        assert any(
            r.startswith(distribution) and f"extra == '{extra}'" in r.replace('"', "'") for r in declared
        ), extra


@pytest.mark.parametrize(("extra", "statement", "feature"), ENTRY_POINTS)
def test_a_missing_extra_is_one_error_naming_the_extra(extra: str, statement: str, feature: str) -> None:
    library = EXTRAS[extra][0]  # type: ignore[index]
    code = (
        "import sys\n"
        f"sys.modules[{library!r}] = None  # as if the extra were not installed\n"
        "try:\n"
        f"    {statement}\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc.name, exc.extra)\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        f"MissingDependencyError {library} {extra}",
        f"{feature} needs {EXTRAS[extra][1]}, which comes with the {extra!r} extra: "  # type: ignore[index]
        f'pip install "sequrity-openai[{extra}]"',
    ]


def test_an_import_error_inside_an_installed_library_is_not_turned_into_a_missing_extra() -> None:
    # e.g. werkzeug installed but broken: the real error must show, not "install the extra".
    raise_if_missing(ImportError("cannot import name 'x'", name="werkzeug_helpers"), "testing", "f")
    raise_if_missing(ImportError("something else"), "testing", "f")
    with pytest.raises(MissingDependencyError) as info:
        raise_if_missing(ImportError("no", name="werkzeug.serving"), "testing", "f")
    assert info.value.name == "werkzeug.serving"
    assert isinstance(info.value.__cause__, ImportError)


def test_require_returns_the_installed_library() -> None:
    import werkzeug

    assert require("testing", "f") is werkzeug


def test_a_missing_extra_skips_under_importorskip() -> None:
    # pytest.importorskip skips on ModuleNotFoundError only; a missing extra must be one.
    assert issubclass(MissingDependencyError, ModuleNotFoundError)
