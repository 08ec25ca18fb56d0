"""sq.check_policy: SQRT checked with the grammar shipped in the official client, as the service does.

Also: every SQRT example in README.md and docs/*.md is valid for that grammar.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sequrity.sqrt import parser as official

import sequrity_openai as sq
from sequrity_openai._policies import _check

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

VALID = [
    'tool "send_email" { hard deny always; }',
    'let s = {"a"};\ntool r"^send_.*" [3] -> session before @tags |= s when "x" in @session.tags;',
    "",
    "/// a doc comment\nlet a = {};",
]
INVALID = [
    ('tool "send_email" { hard deny; }', 1, 30),
    ('tool "a" {\n  must allow when x.tags overlaps {"a"}\n}', 3, 1),
    ("pass", 1, 1),
    ('tool "a" -> @tags |= {"x"}', 1, 27),
    ("/// a doc comment documents a declaration\n", 1, 42),
]


@pytest.mark.parametrize("code", VALID)
def test_valid_policies_pass(code: str) -> None:
    assert sq.check_policy(code) is None
    official.check(code)  # the official parser agrees


@pytest.mark.parametrize(("code", "line", "column"), INVALID)
def test_invalid_policies_name_line_column_and_the_line(code: str, line: int, column: int) -> None:
    with pytest.raises(sq.ConfigurationError) as info:
        sq.check_policy(code)
    message = str(info.value)
    assert f"invalid SQRT at line {line}, column {column}:" in message
    offending = code.splitlines()[line - 1] if line <= len(code.splitlines()) else ""
    shown, caret = message.splitlines()[-2:]
    assert shown == "    " + offending
    assert caret == "    " + " " * (column - 1) + "^"
    # The official parser refuses the same code at the same place.
    with pytest.raises(official.SqrtParseError) as theirs:
        official.check(code)
    if theirs.value.line and theirs.value.line > 0:  # an unexpected end has no position there
        assert (theirs.value.line, theirs.value.column) == (line, column)


def test_expected_tokens_are_named() -> None:
    with pytest.raises(sq.ConfigurationError, match=r'expected "always", "when"'):
        sq.check_policy('tool "send_email" { hard deny; }')


def test_non_text_is_refused() -> None:
    with pytest.raises(sq.ConfigurationError, match="expected SQRT text"):
        sq.check_policy(b"tool")  # type: ignore[arg-type]


def test_check_sqrt_names_the_setting() -> None:
    with pytest.raises(sq.ConfigurationError) as info:
        _check.check_sqrt("tool", source="policy.codes.code")
    assert str(info.value).startswith("policy.codes.code: invalid SQRT at line 1")
    assert info.value.setting == "policy.codes.code"


def test_results_are_cached_per_text() -> None:
    code = 'tool "cached" { soft allow always; }'
    sq.check_policy(code)
    hits = _check._parse.cache_info().hits
    sq.check_policy(code)
    assert _check._parse.cache_info().hits == hits + 1


def test_tabs_keep_the_caret_under_the_character() -> None:
    with pytest.raises(sq.ConfigurationError) as info:
        sq.check_policy('tool "a" {\n\thard deny;\n}')
    assert str(info.value).splitlines()[-1] == "    \t         ^"


def test_missing_grammar_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_check, "_grammar_path", lambda: None)
    _check._parser.cache_clear()
    try:
        assert not _check.grammar_available()
        with pytest.raises(sq.ConfigurationError, match=r"sequrity-openai\[sqrt\]"):
            _check._parser()
    finally:
        _check._parser.cache_clear()


def test_the_grammar_is_the_installed_official_one() -> None:
    path = _check._grammar_path()
    assert path is not None
    assert path == Path(official.__file__).with_name("grammar.lark")


def test_clients_without_policy_code_never_import_lark_or_sequrity() -> None:
    code = (
        "import sys, sequrity_openai as sq\n"
        "sq.create_client(api_key='k', base_url='http://127.0.0.1:9')\n"
        "sq.create_client(api_key='k', base_url='http://127.0.0.1:9', policy=sq.Policy.dual_llm())\n"
        "print(sorted(m for m in ('lark', 'sequrity') if m in sys.modules))\n"
        "sq.check_policy('tool \"a\" { hard deny always; }')\n"
        "print(sorted(m for m in ('lark', 'sequrity', 'sequrity.sqrt') if m in sys.modules))\n"
    )
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    # Checking loads Lark and the grammar file, never the official client's package.
    assert out.stdout.splitlines() == ["[]", "['lark']"]


# --------------------------------------------------------------------------- docs examples


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def _codes_in_python(source: str) -> list[str]:
    """String literals given as policy code: ``codes=...``, ``PolicyCode(code=...)``,
    ``{"codes": {"code": ...}}``, or assigned to ``POLICY``."""
    found: list[str] = []
    tree = ast.parse(source)
    # Code inside `try: ... except sq.ConfigurationError:` is a deliberate counter-example.
    refused = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.Try)
        and any("ConfigurationError" in ast.unparse(h.type) for h in node.handlers if h.type is not None)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in refused:
            continue
        values: list[ast.expr] = []
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            wanted = ("codes", "code") if name == "PolicyCode" else ("codes",)
            values = [k.value for k in node.keywords if k.arg in wanted]
            if name in ("PolicyChecker", "check_policy") and node.args:
                values.append(node.args[0])
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "codes" and isinstance(value, ast.Dict):
                    values += [
                        v
                        for k, v in zip(value.keys, value.values, strict=True)
                        if isinstance(k, ast.Constant) and k.value == "code"
                    ]
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "POLICY" for t in node.targets
        ):
            values = [node.value]
        found += [v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return found


def _codes_in_json_text(text: str) -> list[str]:
    """``"codes": {"code": "..."}`` inside JSON written in shell or JSON blocks."""
    pattern = r'"codes":\s*\{\s*"code":\s*"((?:[^"\\]|\\.)*)"'
    return [json.loads(f'"{m}"') for m in re.findall(pattern, text)]


def _examples() -> list[tuple[str, str]]:
    examples: list[tuple[str, str]] = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        name = page.relative_to(ROOT).as_posix()
        examples += [(name, block) for block in re.findall(r"```sqrt\n(.*?)```", text, flags=re.DOTALL)]
        for block in _python_blocks(text):
            examples += [(name, code) for code in _codes_in_python(block)]
        for block in re.findall(r"```(?:bash|sh|json|text)\n(.*?)```", text, flags=re.DOTALL):
            examples += [(name, code) for code in _codes_in_json_text(block)]
    # Placeholders that stand for "no code" or a size, not for SQRT.
    return [(n, c) for n, c in examples if c and set(c) != {"x"} and c != "..."]


EXAMPLES = _examples()


def test_the_docs_have_sqrt_examples() -> None:
    pages = {name for name, _ in EXAMPLES}
    assert {"README.md", "docs/tools-and-policies.md", "docs/migrating.md", "docs/policy-checker.md"} <= pages
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize(("page", "code"), EXAMPLES, ids=[f"{p}:{i}" for i, (p, _) in enumerate(EXAMPLES)])
def test_every_sqrt_example_in_the_docs_is_valid(page: str, code: str) -> None:
    sq.check_policy(code)


BAD = 'tool "send_email" { hard deny; }'


@pytest.mark.parametrize(
    "policy",
    [sq.Policy.dual_llm(codes=BAD), {"codes": {"code": BAD}}, json.dumps({"codes": {"code": BAD}})],
    ids=["model", "dict", "json"],
)
@pytest.mark.parametrize("factory", [sq.create_client, sq.create_async_client])
def test_factories_refuse_invalid_sqrt_before_sending(factory: object, policy: object) -> None:
    with pytest.raises(sq.ConfigurationError) as info:
        factory(api_key="sq-key", base_url="http://127.0.0.1:9", policy=policy)  # type: ignore[operator]
    assert "policy" in str(info.value)
    assert "invalid SQRT at line 1, column 30:" in str(info.value)


def test_policy_variable_with_invalid_sqrt_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQURITY_POLICY", json.dumps({"codes": {"code": BAD}}))
    with pytest.raises(sq.ConfigurationError, match="SEQURITY_POLICY"):
        sq.create_client(api_key="sq-key", base_url="http://127.0.0.1:9")


def test_per_request_headers_refuse_invalid_sqrt() -> None:
    with pytest.raises(sq.ConfigurationError, match="invalid SQRT"):
        sq.headers(policy={"codes": {"code": BAD}})


def test_cedar_passes_through_unchecked() -> None:
    client = sq.create_client(
        api_key="sq-key",
        base_url="http://127.0.0.1:9",
        policy={"codes": {"code": "permit(principal, action, resource);", "language": "cedar"}},
    )
    assert "cedar" in client.default_headers["X-Policy"]
