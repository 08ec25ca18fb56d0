"""Opt-in checks against the real service (marker ``live``; skipped without SEQURITY_API_KEY).

Each behaviour here is also covered offline; these only confirm the real service agrees.
"""

from __future__ import annotations

import os
import socket
import ssl
from urllib.parse import urlsplit

import pytest

import sequrity_openai as sq
from helpers.live import LIVE_KEY

pytestmark = pytest.mark.live

BASE_URL = os.environ.get("SEQURITY_LIVE_BASE_URL") or "https://api.sequrity.ai"


@pytest.fixture(scope="module", autouse=True)
def _reachable() -> None:
    """Skip, saying why, when the service cannot be reached (no network, a firewall)."""
    parts = urlsplit(BASE_URL)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=3) as sock:
            if parts.scheme == "https":  # a TLS handshake: a bare TCP accept may be a sandbox's
                ssl.create_default_context().wrap_socket(sock, server_hostname=host).close()
    except OSError as exc:
        pytest.skip(f"live test: cannot reach {host}:{port} ({exc.strerror or exc}); check the network")


def test_single_llm_round_trip() -> None:
    client = sq.create_client(api_key=LIVE_KEY, base_url=BASE_URL)
    with sq.session() as scope:
        reply = client.chat.completions.create(
            model=os.environ.get("SEQURITY_LIVE_MODEL", "openai/gpt-5-mini"),
            messages=[{"role": "user", "content": "Reply with the single word: pong"}],
        )
    assert reply.choices[0].message.content
    assert scope.id is not None
