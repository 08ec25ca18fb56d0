"""Offline testing kit: ``FakeSequrity``, a local stand-in of Sequrity Control.

Needs the ``testing`` extra (``pip install "sequrity-openai[testing]"``), which brings
werkzeug. The pytest fixtures ``fake_sequrity``, ``sequrity_client`` and
``async_sequrity_client`` come from :mod:`sequrity_openai.testing.plugin`.
"""

try:
    import werkzeug  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'sequrity_openai.testing needs werkzeug; install it with: pip install "sequrity-openai[testing]"'
    ) from exc

from ._fake import FakeSequrity, RecordedRequest
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

__all__ = [
    "Delay",
    "DenialAnswer",
    "ErrorAnswer",
    "FakeSequrity",
    "RecordedRequest",
    "ScriptItem",
    "TextAnswer",
    "ToolCall",
    "ToolCallAnswer",
    "default_denial",
]
