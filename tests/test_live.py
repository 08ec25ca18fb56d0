"""Opt-in checks against the real service (marker ``live``; skipped without SEQURITY_API_KEY).

Each behaviour here is also covered offline; these only confirm the real service agrees.
"""

from __future__ import annotations

import os

import pytest

import sequrity_openai as sq
from helpers.live import LIVE_KEY

pytestmark = pytest.mark.live


def test_single_llm_round_trip() -> None:
    client = sq.create_client(api_key=LIVE_KEY, base_url=os.environ.get("SEQURITY_LIVE_BASE_URL"))
    with sq.session() as scope:
        reply = client.chat.completions.create(
            model=os.environ.get("SEQURITY_LIVE_MODEL", "openai/gpt-5-mini"),
            messages=[{"role": "user", "content": "Reply with the single word: pong"}],
        )
    assert reply.choices[0].message.content
    assert scope.id is not None
