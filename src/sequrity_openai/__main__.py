"""``python -m sequrity_openai``: the same command line as ``sequrity-openai``."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
