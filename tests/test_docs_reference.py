"""docs/reference.md is generated from the header models: every field documented where it is declared.

The page holds one ``::: sequrity_openai.<Model>`` directive per model; mkdocstrings (with the
griffe-pydantic extension) renders each field's type, default and the docstring written under
it in the source. These tests check that every field has that docstring, that every model is
on the page, and that the built page shows them.
"""

from __future__ import annotations

import ast
import html
import inspect
import re
from pathlib import Path

import pytest

import sequrity_openai as sq
from sequrity_openai._headers import StrictModel

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference.md"
MODELS = sorted(
    (v for v in vars(sq).values() if isinstance(v, type) and issubclass(v, StrictModel)),
    key=lambda m: m.__name__,
)


def _field_docstrings(model: type[StrictModel]) -> dict[str, str]:
    """The attribute docstrings of the fields ``model`` declares itself (read from the source)."""
    tree = ast.parse(inspect.getsource(model))
    body = tree.body[0].body  # type: ignore[attr-defined]
    found: dict[str, str] = {}
    for node, after in zip(body, [*body[1:], None], strict=True):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            found[node.target.id] = inspect.cleandoc(after.value.value)
    return found


def test_the_header_models_are_found() -> None:
    assert {sq.Features, sq.Policy, sq.Config, sq.FsmConfig, sq.LlmSettings} <= set(MODELS)
    assert len(MODELS) == 18


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_has_a_docstring_where_it_is_declared(model: type[StrictModel]) -> None:
    own = set(model.__annotations__) & set(model.model_fields)
    documented = _field_docstrings(model)
    assert own, model
    assert sorted(own - set(documented)) == []
    assert all(text.strip() for text in documented.values()), documented


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_model_is_rendered_on_the_reference_page(model: type[StrictModel]) -> None:
    assert f"\n::: sequrity_openai.{model.__name__}\n" in REFERENCE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference_html(built_site: Path) -> str:
    page = (built_site / "reference" / "index.html").read_text(encoding="utf-8")
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_built_page_shows_every_field_with_its_docstring(
    reference_html: str, model: type[StrictModel]
) -> None:
    for name, text in _field_docstrings(model).items():
        assert f" {name} " in reference_html, (model.__name__, name)
        # The first words of the docstring, as rendered (markup and spacing stripped).
        words = re.sub(r"[`\s]", "", "".join(text.split()[:5]))
        assert words in re.sub(r"\s", "", reference_html), (model.__name__, name, words)
