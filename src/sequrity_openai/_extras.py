"""The one missing-dependency error, for every extra of the package.

Each optional feature imports its library through :func:`require` (or guards its imports
with :func:`raise_if_missing`), so a missing library is always reported the same way: which feature needs it, which extra brings it, and the command
that installs it. Modelled on anthropic-sdk-python's ``_extras``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final, Literal

__all__ = ["EXTRAS", "Extra", "MissingDependencyError", "install_command", "raise_if_missing", "require"]

Extra = Literal["testing", "agents", "langchain", "anthropic"]

# The library each extra brings (as imported), and its name on the package index.
EXTRAS: Final[dict[Extra, tuple[str, str]]] = {
    "testing": ("werkzeug", "werkzeug"),
    "agents": ("agents", "openai-agents"),
    "langchain": ("langchain_openai", "langchain-openai"),
    "anthropic": ("anthropic", "anthropic"),
}


def install_command(extra: Extra) -> str:
    return f'pip install "sequrity-openai[{extra}]"'


class MissingDependencyError(ModuleNotFoundError):
    """An optional feature was used without its extra. ``extra`` names the extra to install.

    A ``ModuleNotFoundError`` (with ``name`` set to the missing module), so code that guards
    an optional import with ``except ImportError`` and ``pytest.importorskip`` keep working.
    """

    def __init__(self, feature: str, extra: Extra, *, name: str | None = None) -> None:
        library = EXTRAS[extra][1]
        super().__init__(
            f"{feature} needs {library}, which comes with the {extra!r} extra: {install_command(extra)}",
            name=name or EXTRAS[extra][0],
        )
        self.feature = feature
        self.extra: Extra = extra


def raise_if_missing(exc: ImportError, extra: Extra, feature: str) -> None:
    """Raise :class:`MissingDependencyError` if ``exc`` says the library of ``extra`` is missing.

    Only a missing library (or a missing piece of it) becomes that error; an ImportError
    raised by a bug inside an installed library is left to the caller to re-raise.
    """
    module = EXTRAS[extra][0]
    missing = exc.name or ""
    if missing == module or missing.startswith(module + "."):
        raise MissingDependencyError(feature, extra, name=missing) from exc


def require(extra: Extra, feature: str) -> ModuleType:
    """Import the library of ``extra`` for ``feature``, or raise :class:`MissingDependencyError`."""
    try:
        return importlib.import_module(EXTRAS[extra][0])
    except ImportError as exc:
        raise_if_missing(exc, extra, feature)
        raise
