"""The session rules of FakeSequrity: which session a request continues, turn counting, expiry."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .._headers import Config
from ._request import Api, Arch, carried_sessions, starts_turn
from ._route_table import Rejection

__all__ = ["DEFAULT_MAX_TURNS", "SessionTable"]

DEFAULT_MAX_TURNS: Final[Mapping[Arch, int]] = {"single-llm": 50, "dual-llm": 5}


@dataclass
class _SessionState:
    max_turns: int
    turns: int = 1


class SessionTable:
    """Live sessions and their turns. Not locked: the fake calls it under its own lock."""

    def __init__(self) -> None:
        self._sessions: dict[str, _SessionState] = {}

    def clear(self) -> None:
        self._sessions.clear()

    def turns(self) -> dict[str, int]:
        return {sid: state.turns for sid, state in self._sessions.items()}

    def open(self, arch: Arch, config: Config | None) -> str:
        """Start a session (turn 1) with the turn limit of ``config`` or of ``arch``; returns its id."""
        session_id = str(uuid.uuid4())
        fsm = config.fsm if config else None
        max_turns = fsm.max_n_turns if fsm and fsm.max_n_turns else DEFAULT_MAX_TURNS[arch]
        self._sessions[session_id] = _SessionState(max_turns=max_turns)
        return session_id

    def count_turn(self, session_id: str) -> None:
        self._sessions[session_id].turns += 1

    def resolve(self, api: Api, body: Mapping[str, Any], sent: str | None) -> tuple[str | None, bool]:
        """The session a request continues (``None``: a new one) and whether it starts a turn."""
        carried = carried_sessions(api, body)
        if sent is not None:
            if sent not in self._sessions:
                raise Rejection(
                    400, f"unknown session {sent!r} in X-Session-ID (expired, reset or never created)"
                )
            others = [c for c in carried if c != sent]
            if others:
                raise Rejection(
                    400, f"X-Session-ID names session {sent!r} but tool results carry session {others[0]!r}"
                )
            existing = sent
        elif carried:
            if len(carried) > 1:
                raise Rejection(400, f"tool results carry several sessions: {', '.join(carried)}")
            existing = carried[0]
            if existing not in self._sessions:
                raise Rejection(
                    400, f"unknown session {existing!r} in tool call ids (expired, reset or never created)"
                )
        else:
            return None, True
        new_turn = starts_turn(api, body)
        state = self._sessions[existing]
        if new_turn and state.turns >= state.max_turns:
            raise Rejection(
                400,
                f"session {existing!r} has used all {state.max_turns} turns (fsm.max_n_turns); "
                "start a new session without X-Session-ID",
            )
        return existing, new_turn
