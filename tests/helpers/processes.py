"""Child processes started as a terminal would start them."""

from __future__ import annotations

import os
import signal
from typing import Any


def _terminal_signals() -> None:
    # In the child, before exec. A shell without job control starts background commands with
    # SIGINT ignored, and Python then installs no KeyboardInterrupt handler: a suite run in
    # the background would see `fake-server` ignore the Ctrl-C these tests send.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: Extra ``subprocess.Popen`` arguments: Ctrl-C (SIGINT) behaves as in a terminal.
AS_IN_A_TERMINAL: dict[str, Any] = {"preexec_fn": _terminal_signals} if os.name == "posix" else {}
