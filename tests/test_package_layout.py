"""The package's shape: imports flow one way (no cycle, not even inside functions), no module
over 400 lines, no module reaching into another's private names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import sequrity_openai

PACKAGE_DIR = Path(sequrity_openai.__file__).parent
PACKAGE = "sequrity_openai"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node, inside functions too, but not under ``if TYPE_CHECKING:`` (never run)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for orelse in child.orelse:
                yield orelse
                yield from _walk(orelse)
            continue
        yield child
        yield from _walk(child)


def _resolve(module: str, level: int, target: str | None) -> str:
    """The absolute name of a (possibly relative) import inside ``module``."""
    if level == 0:
        return target or ""
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join(base + ([target] if target else []))


def _source(module: str, source: str | None) -> str:
    return MODULES[module].read_text(encoding="utf-8") if source is None else source


def _imports(module: str, source: str | None = None) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import the module runs
    (``source`` stands in for the module's file, for the checks' own tests)."""
    tree = ast.parse(_source(module, source))
    for node in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            yield _resolve(module, node.level, node.module), [a.name for a in node.names], node.lineno


def _edges(module: str) -> set[str]:
    """Modules of this package that ``module`` imports (a submodule named in ``from x import y``
    counts as imported; parent packages that Python imports implicitly do not)."""
    found: set[str] = set()
    for target, names, _ in _imports(module):
        if not target.startswith(PACKAGE):
            continue
        submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
        found.update(submodules)
        if target in MODULES and (len(submodules) < len(names) or not names):
            found.add(target)
    found.discard(module)
    return found


GRAPH = {name: _edges(name) for name in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_inside_functions_and_skips_type_checking() -> None:
    # The checks below are only as good as the graph: pin two edges it must and must not hold.
    assert f"{PACKAGE}._sessions" in GRAPH[f"{PACKAGE}._hooks"]
    assert f"{PACKAGE}._results" not in GRAPH[f"{PACKAGE}._exceptions"]  # only under TYPE_CHECKING
    assert f"{PACKAGE}._headers.base" in GRAPH[f"{PACKAGE}._headers.features"]


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert sorted(_cycles(graph)) == [["a", "b", "c"], ["d", "e"]]


def test_no_import_cycle() -> None:
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it along its concerns"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_uses(module: str, source: str | None = None) -> Iterator[str]:
    """``from ours import _name``, and ``mod._name`` on a module of ours bound by an import."""
    bound: set[str] = set()
    where = MODULES[module].relative_to(PACKAGE_DIR)
    for target, names, line in _imports(module, source):
        if not target.startswith(PACKAGE):
            continue
        for name in names:
            if f"{target}.{name}" in MODULES:
                bound.add(name)
            elif _private(name):
                yield f"{where}:{line} takes {name} from {target}"
    tree = ast.parse(_source(module, source))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and _private(node.attr)
        ):
            yield f"{where}:{node.lineno} uses {node.value.id}.{node.attr}"


def test_no_module_imports_another_modules_private_names() -> None:
    assert [use for module in sorted(MODULES) for use in _private_uses(module)] == []


def test_the_private_name_check_sees_imports_and_attribute_access() -> None:
    # The check is only as good as what it sees: a private name taken by import, and one reached
    # as an attribute of a module of ours bound by an import (inside a function too).
    source = (
        "from . import _output\nfrom .._hooks import _carries_session\ndef f():\n    return _output._hidden\n"
    )
    uses = list(_private_uses(f"{PACKAGE}.cli._chat", source))
    assert any("takes _carries_session from sequrity_openai._hooks" in use for use in uses)
    assert any("uses _output._hidden" in use for use in uses)
    assert list(_private_uses(f"{PACKAGE}.cli._chat", "from . import _output\n_output.render\n")) == []


def test_import_loads_no_optional_part() -> None:
    # issue 11 item 12: the CLI, the testing kit, the integrations and the offline policy
    # checker load when used, not with `import sequrity_openai`.
    import subprocess
    import sys

    code = (
        "import sys, sequrity_openai as sq\n"
        "print(sorted(m for m in sys.modules if m.startswith('sequrity_openai.')))\n"
        "sq.PolicyChecker\n"
        "print('sequrity_openai._policies._checker' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded, checker_after_use = out.splitlines()
    names = {name.strip("'") for name in loaded.strip("[]").split(", ")}
    assert "sequrity_openai._client" in names  # the parsing above sees what was loaded
    for name in names:
        part = name.removeprefix("sequrity_openai.")
        assert not part.startswith(("cli", "_cli_", "testing", "integrations")), name
        assert part not in ("_policies._checker", "_policies._eval"), name
    assert checker_after_use == "True"


def test_import_defers_what_requests_do_not_need() -> None:
    # issue 11 item 12 (import within 5 % of `import openai`): policy generation, the Anthropic
    # factories, the dual-llm result reader, the denial reader and the SQRT checker load with
    # their first use; their public names still resolve.
    import subprocess
    import sys

    deferred = ["_policy_gen", "_anthropic", "_results", "_denials", "_policies._check"]
    code = (
        "import sys, sequrity_openai as sq\n"
        f"names = {[f'sequrity_openai.{d}' for d in deferred]!r}\n"
        "print([n for n in names if n in sys.modules])\n"
        "sq.parse_result, sq.generate_policies, sq.create_anthropic_client\n"
        "print([n for n in names[:3] if n not in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded_at_import, missing_after_use = out.splitlines()
    assert loaded_at_import == "[]"
    assert missing_after_use == "[]"
