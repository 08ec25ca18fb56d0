"""SQRT syntax checking with the grammar the service uses.

The grammar is the ``grammar.lark`` file shipped in the official ``sequrity`` client
(Apache-2.0; extra ``[sqrt]``). It is read from the installed package *without* importing
``sequrity`` (whose ``__init__`` imports the whole official client, about 0.35 s) and compiled
with the same Lark options as ``sequrity.sqrt.parser``, so the language accepted here is the
one the service accepts. Nothing here runs until a policy is checked: ``import sequrity_openai``
and a client without policy code never import Lark.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .._exceptions import ConfigurationError

if TYPE_CHECKING:
    from lark import Lark, Token, Tree

__all__ = ["check_policy", "check_sqrt", "grammar_available", "parse_sqrt"]

_EXTRA_HINT = 'install the official grammar with: pip install "sequrity-openai[sqrt]"'


@lru_cache(maxsize=1)
def _grammar_path() -> Path | None:
    # find_spec on a top-level name locates the package without executing its __init__.
    try:
        spec = importlib.util.find_spec("sequrity")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "sqrt" / "grammar.lark"
        if path.is_file():
            return path
    return None


def grammar_available() -> bool:
    """True when the official SQRT grammar (and Lark) can be loaded."""
    return _grammar_path() is not None and importlib.util.find_spec("lark") is not None


@lru_cache(maxsize=1)
def _parser() -> Lark:
    path = _grammar_path()
    try:
        from lark import Lark
    except ImportError:  # pragma: no cover - lark comes with sequrity
        path = None
    if path is None:
        raise ConfigurationError(f"checking SQRT needs the official sequrity package; {_EXTRA_HINT}")
    # The options of sequrity.sqrt.parser: Earley with the dynamic lexer accepts exactly the
    # grammar's language (the grammar is ambiguous, so LALR cannot build it).
    return Lark(path.read_text(encoding="utf-8"), parser="earley", start="program", propagate_positions=True)


@dataclass(frozen=True)
class _Outcome:
    tree: Tree[Token] | None
    line: int = 0
    column: int = 0
    problem: str = ""


def _describe(exc: Exception, parser: Lark) -> str:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    expected: set[str] = set()
    if isinstance(exc, UnexpectedCharacters):
        what = f"unexpected character {exc.char!r}"
        expected = set(exc.allowed or ())
    elif isinstance(exc, UnexpectedEOF):
        what = "unexpected end of the policy"
        expected = set(exc.expected)
    elif isinstance(exc, UnexpectedToken):
        what = f"unexpected {exc.token!r}"
        expected = set(exc.expected)
    else:  # pragma: no cover - other LarkErrors carry no position
        return str(exc).splitlines()[0]
    if not expected:
        return what
    shown = []
    for name in expected:
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            shown.append(name)
            continue
        # Keywords and punctuation read better as themselves than as ANON terminal names.
        shown.append(f'"{pattern.value}"' if pattern.type == "str" else name)
    return f"{what}; expected {', '.join(sorted(shown))}"


@lru_cache(maxsize=256)
def _parse(code: str) -> _Outcome:
    from lark.exceptions import LarkError

    parser = _parser()
    try:
        return _Outcome(parser.parse(code))
    except LarkError as exc:
        line = int(getattr(exc, "line", 0) or 0)
        column = int(getattr(exc, "column", 0) or 0)
        if line <= 0:  # an unexpected end has no position: point past the last character
            lines = code.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
        return _Outcome(None, line, column, _describe(exc, parser))


def _raise(outcome: _Outcome, code: str, source: str) -> None:
    lines = code.splitlines()
    text = lines[outcome.line - 1] if 0 < outcome.line <= len(lines) else ""
    # Keep tabs so that the caret lines up under the offending character.
    caret = "".join(c if c == "\t" else " " for c in text[: outcome.column - 1]) + "^"
    raise ConfigurationError(
        f"{source}: invalid SQRT at line {outcome.line}, column {outcome.column}: {outcome.problem}\n"
        f"    {text}\n    {caret}",
        setting=source,
    )


def parse_sqrt(code: str, *, source: str = "policy") -> Tree[Token]:
    """The parse tree of ``code`` (cached per text); invalid SQRT raises ConfigurationError."""
    outcome = _parse(code)
    if outcome.tree is None:
        _raise(outcome, code, source)
    assert outcome.tree is not None
    return outcome.tree


def check_sqrt(code: str, *, source: str) -> None:
    """Refuse SQRT the service's parser would refuse; ``source`` names the setting in errors.

    Results are cached per policy text, so checking the same code again costs a dict lookup.
    """
    parse_sqrt(code, source=source)


def check_policy(text: str) -> None:
    """Check SQRT policy code with the service's grammar.

    Returns ``None`` when the code is valid; raises :class:`sequrity_openai.ConfigurationError`
    naming the line, the column and the offending line otherwise. Cedar policies are not
    checked (the official client ships no Cedar grammar). Needs the ``[sqrt]`` extra.
    """
    if not isinstance(text, str):
        raise ConfigurationError(f"check_policy: expected SQRT text (str), got {type(text).__name__}")
    check_sqrt(text, source="policy")
