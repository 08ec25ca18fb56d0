"""The key live tests run with, read when the suite starts.

Read at import time, before the autouse fixture in conftest.py clears the environment:
live tests opt in with a real key in ``SEQURITY_API_KEY``.
"""

from __future__ import annotations

import os

LIVE_KEY = os.environ.get("SEQURITY_API_KEY")
