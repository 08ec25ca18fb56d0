"""The local stand-in (FakeSequrity) for ``demo`` and ``fake-server``, or one clear error without it."""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Final

from ._output import CommandError

if TYPE_CHECKING:
    from ..testing import FakeSequrity

__all__ = ["INSTALL_HINT", "fake_sequrity"]

INSTALL_HINT: Final = 'the local stand-in needs the testing extra: pip install "sequrity-openai[testing]"'


def fake_sequrity() -> type[FakeSequrity]:
    """``FakeSequrity``, imported only by the commands that run the stand-in.

    It needs werkzeug (the ``testing`` extra); without it this raises the usage error that
    names the extra. Any other import failure is a bug and surfaces as such.
    """
    if importlib.util.find_spec("werkzeug") is None:
        raise CommandError(INSTALL_HINT)
    fake: type[FakeSequrity] = importlib.import_module("sequrity_openai.testing").FakeSequrity
    return fake
