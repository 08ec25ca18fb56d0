"""Offline testing kit: ``FakeSequrity``, a local stand-in of Sequrity Control.

``FakeSequrity`` needs the ``testing`` extra (``pip install "sequrity-openai[testing]"``),
which brings werkzeug. This package imports werkzeug only when ``FakeSequrity`` is first
used, so the pytest plugin (:mod:`sequrity_openai.testing.plugin`, registered for every
pytest run where the package is installed) loads without the extra and fails, naming it,
only in a test that asks for a fake server. The fixtures are ``fake_sequrity``,
``sequrity_client``, ``async_sequrity_client`` and ``sequrity_env``.
"""

import typing

from .. import _extras
from ._policy_args import ResultOf
from ._request import RecordedRequest
from ._script import (
    Delay,
    DenialAnswer,
    ErrorAnswer,
    ScriptItem,
    TextAnswer,
    ToolCall,
    ToolCallAnswer,
    default_denial,
)

if typing.TYPE_CHECKING:
    from ._fake import FakeSequrity

__all__ = [
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
]


def __getattr__(name: str) -> typing.Any:
    if name == "FakeSequrity":
        _extras.require("testing", "sequrity_openai.testing.FakeSequrity")
        from ._fake import FakeSequrity

        globals()["FakeSequrity"] = FakeSequrity
        return FakeSequrity
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"FakeSequrity"})
