"""docs/reference.md documents every field of every header model, with the right type and default.

The page has one section per model (``## Features``, ``## FsmConfig``, ...). Each lists where
the model sits in its header and has a table ``| field | type | constraint | default |
meaning |``. These tests walk ``sq.Features``, ``sq.Policy`` and ``sq.Config`` and every model
nested in them, and compare the page with ``model_fields``: a field added, removed, retyped or
given a new default fails here until the page says so.
"""

from __future__ import annotations

import inspect
import json
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

import sequrity_openai as sq

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"
ROOTS: dict[str, type[BaseModel]] = {"X-Features": sq.Features, "X-Policy": sq.Policy, "X-Config": sq.Config}
HELPERS = [
    sq.Features.single_llm,
    sq.Features.dual_llm,
    sq.Policy.single_llm,
    sq.Policy.dual_llm,
    sq.Config.single_llm,
    sq.Config.dual_llm,
]


# --------------------------------------------------------------------------- walking the models


def _is_model(tp: object) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _members(tp: Any) -> list[Any]:
    """The non-None alternatives of a union (or the type itself)."""
    if get_origin(tp) in (Union, types.UnionType):
        return [a for a in get_args(tp) if a is not type(None)]
    return [tp]


def _nested(tp: Any) -> Iterator[tuple[str, type[BaseModel]]]:
    """Models reachable from an annotation, with the path suffix they add (``""`` or ``"[]"``)."""
    for member in _members(tp):
        if get_origin(member) is Annotated:
            member = get_args(member)[0]
        if _is_model(member):
            yield "", member
        elif get_origin(member) is list and _is_model(get_args(member)[0]):
            yield "[]", get_args(member)[0]


def occurrences() -> dict[type[BaseModel], list[tuple[str, str]]]:
    """Every model under the three headers -> [(header, dotted path), ...] in walk order."""
    found: dict[type[BaseModel], list[tuple[str, str]]] = {}
    queue: list[tuple[str, str, type[BaseModel]]] = [(h, "", m) for h, m in ROOTS.items()]
    while queue:
        header, path, model = queue.pop(0)
        found.setdefault(model, []).append((header, path))
        for name, info in model.model_fields.items():
            for suffix, inner in _nested(info.annotation):
                queue.append((header, f"{path}.{name}{suffix}".lstrip("."), inner))
    return found


def field_paths() -> set[str]:
    """Every ``header: a.b[].c`` path of every field, the way a user would write it."""
    paths = set()
    for model, places in occurrences().items():
        for header, prefix in places:
            for name in model.model_fields:
                paths.add(f"{header}: {prefix}.{name}".replace(": .", ": "))
    return paths


# --------------------------------------------------------------------------- rendering cells


def _literal(values: tuple[Any, ...]) -> str:
    return ", ".join(f"`{json.dumps(v)}`" for v in values)


def render_type(tp: Any) -> str:
    parts = []
    for member in _members(tp):
        if get_origin(member) is Annotated:
            member = get_args(member)[0]
        origin = get_origin(member)
        if origin is Literal:
            parts.append(_literal(get_args(member)))
        elif _is_model(member):
            parts.append(f"[{member.__name__}](#{member.__name__.lower()})")
        elif origin is list:
            (inner,) = get_args(member)
            parts.append(f"list of {render_type(inner)}")
        elif origin is dict:
            key, value = get_args(member)
            parts.append(f"object of {render_type(key)} to {render_type(value)}")
        elif member in (str, int, float, bool):
            parts.append(f"`{member.__name__}`")
        else:  # pragma: no cover - a new kind of annotation needs a rendering here
            raise AssertionError(f"no rendering for {member!r}")
    return " or ".join(parts)


def _bounds(info: FieldInfo) -> dict[str, Any]:
    found: dict[str, Any] = {}
    metadata = list(info.metadata)
    for member in _members(info.annotation):
        if get_origin(member) is Annotated:
            for extra in get_args(member)[1:]:
                metadata.extend(getattr(extra, "metadata", [extra]))
    for item in metadata:
        for kind in ("ge", "le", "gt", "lt"):
            if isinstance(item, getattr(annotated_types, kind.capitalize())):
                found[kind] = getattr(item, kind)
    return found


def render_constraint(info: FieldInfo) -> str:
    b = _bounds(info)
    low = f"{b['ge']} ≤ " if "ge" in b else (f"{b['gt']} < " if "gt" in b else "")
    high = f" ≤ {b['le']}" if "le" in b else (f" < {b['lt']}" if "lt" in b else "")
    if low and high:
        return f"{low}x{high}"
    if low:
        return f"≥ {b['ge']}" if "ge" in b else f"> {b['gt']}"
    if high:
        return f"≤ {b['le']}" if "le" in b else f"< {b['lt']}"
    return ""


def render_default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "all defaults"
    return f"`{json.dumps(value)}`"


def expected_row(name: str, info: FieldInfo) -> tuple[str, str, str, str]:
    return f"`{name}`", render_type(info.annotation), render_constraint(info), render_default(info)


# --------------------------------------------------------------------------- reading the page


def _sections(text: str) -> dict[str, str]:
    """``## Title`` -> the text up to the next ``##`` heading."""
    parts = re.split(r"^## +(.+?)\s*(?:\{[^}]*\})?\s*$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _rows(section: str) -> dict[str, list[str]]:
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows[cells[0]] = cells
    return rows


@pytest.fixture(scope="module")
def page() -> dict[str, str]:
    return _sections(REFERENCE.read_text(encoding="utf-8"))


MODELS = list(occurrences())


def test_walk_reaches_every_exported_model() -> None:
    exported = {obj for name in sq.__all__ if _is_model(obj := getattr(sq, name))}
    assert set(MODELS) == exported


def test_walk_knows_the_deepest_paths() -> None:
    # The walk itself must not miss levels: spot-check paths at every depth.
    paths = field_paths()
    for path in (
        "X-Features: agent_arch",
        "X-Features: content_classifiers[].threshold",
        "X-Policy: presets.branching_meta_policy.producers",
        "X-Config: fsm.max_n_turns",
        "X-Config: prompt.pllm.query_role_name_overrides",
        "X-Config: prompt.error_detector_llm.flavor",
        "X-Config: llm.tool_result_error_detector_llm.reasoning.budget",
    ):
        assert path in paths


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_section_lists_where_the_model_sits(model: type[BaseModel], page: dict[str, str]) -> None:
    section = page.get(model.__name__)
    assert section is not None, f"docs/reference.md has no '## {model.__name__}' section"
    for header, path in occurrences()[model]:
        assert f"`{header}`" in section, f"{model.__name__}: the section does not name {header}"
        if path:
            assert f"`{path}`" in section, f"{model.__name__}: the section does not list `{path}`"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_documented_with_type_and_default(model: type[BaseModel], page: dict[str, str]) -> None:
    rows = _rows(page.get(model.__name__, ""))
    missing = [name for name in model.model_fields if f"`{name}`" not in rows]
    assert not missing, f"{model.__name__}: fields missing from docs/reference.md: {missing}"
    for name, info in model.model_fields.items():
        cells = rows[f"`{name}`"]
        assert len(cells) == 5, f"{model.__name__}.{name}: expected 5 cells, got {cells}"
        assert tuple(cells[:4]) == expected_row(name, info), f"{model.__name__}.{name} is out of date"
        assert cells[4], f"{model.__name__}.{name}: the meaning cell is empty"
    stale = sorted(set(rows) - {f"`{name}`" for name in model.model_fields})
    assert not stale, f"{model.__name__}: documented fields that do not exist: {stale}"


def test_every_field_path_is_on_the_page(page: dict[str, str]) -> None:
    # A path "header: a.b.c" is documented when the section of the model holding c lists the
    # prefix "a.b" and has a row for c; check it path by path, the way a reader would look it up.
    missing = []
    for model, places in occurrences().items():
        section = page.get(model.__name__, "")
        rows = _rows(section)
        for header, prefix in places:
            for name in model.model_fields:
                ok = f"`{header}`" in section and (not prefix or f"`{prefix}`" in section)
                if not (ok and f"`{name}`" in rows):
                    missing.append(f"{header}: {prefix}.{name}".replace(": .", ": "))
    assert not missing, f"field paths missing from docs/reference.md: {missing}"


def test_helper_arguments_documented(page: dict[str, str]) -> None:
    section = page.get("Helpers")
    assert section is not None, "docs/reference.md has no '## Helpers' section"
    for helper in HELPERS:
        owner = helper.__self__.__name__  # type: ignore[attr-defined]
        signature = f"sq.{owner}.{helper.__name__}"
        match = re.search(rf"^{re.escape(signature)}\((.*)\)$", section, flags=re.MULTILINE)
        assert match, f"Helpers: no line with the signature of {signature}(...)"
        documented = [part.strip() for part in match.group(1).split(",")]
        expected = []
        for name, param in inspect.signature(helper).parameters.items():
            expected.append(f"{name}={param.default!r}")
        assert documented == expected, f"{signature}: the documented signature is out of date"


def test_rendering_fails_on_a_wrong_default() -> None:
    # The comparison must be able to fail: a changed default renders differently.
    info = sq.PolicyPresets.model_fields["default_allow_enforcement_level"]
    assert render_default(info) == '`"soft"`'
    assert expected_row("x", info) != expected_row("x", sq.PolicyPresets.model_fields["default_allow"])
