"""sq.PolicyChecker: one test per grammar construct and per decision rule (docs/policy-checker.md)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

import sequrity_openai as sq
from sequrity_openai.testing.policies import assert_allowed, assert_denied

TV = sq.TaggedValue


def allowed(code: str, tool: str = "t", policy: dict[str, Any] | None = None, **args: Any) -> bool:
    checker = sq.PolicyChecker({"codes": {"code": code}, **(policy or {})})
    return checker.call(tool, args).allowed


def deny_when(predicate: str, *, prelude: str = "", **args: Any) -> bool:
    """Whether ``hard deny when <predicate>`` fires for a call of ``t`` with ``args``."""
    return not allowed(f'{prelude}\ntool "t" {{ hard deny when {predicate}; }}', **args)


# --------------------------------------------------------------------------- construction


def test_policy_forms_and_errors() -> None:
    code = 'tool "t" { hard deny always; }'
    for policy in (code, sq.Policy.dual_llm(codes=code), {"codes": {"code": code, "language": "sqrt"}}):
        assert not sq.PolicyChecker(policy).call("t").allowed
    with pytest.raises(sq.ConfigurationError, match=r"invalid SQRT at line 1, column 21"):
        sq.PolicyChecker('tool "t" { hard deny; }')
    with pytest.raises(sq.ConfigurationError, match="Cedar"):
        sq.PolicyChecker({"codes": {"code": "permit(principal, action, resource);", "language": "cedar"}})
    with pytest.raises(sq.ConfigurationError, match=r"expected sq\.Policy"):
        sq.PolicyChecker(42)  # type: ignore[arg-type]
    with pytest.raises(sq.ConfigurationError, match="not defined by a let"):
        sq.PolicyChecker('tool "t" { hard deny when missing; }')
    with pytest.raises(sq.ConfigurationError, match="refers to itself"):
        sq.PolicyChecker('let a = b; let b = a; tool "t" { hard deny when a; }')
    with pytest.raises(sq.ConfigurationError, match="invalid regular expression"):
        sq.PolicyChecker('tool "t" { hard deny when x.value in {r"("}; }')
    checker = sq.PolicyChecker("")
    with pytest.raises(sq.ConfigurationError, match="args must map"):
        checker.call("t", ["a"])  # type: ignore[arg-type]
    with pytest.raises(sq.ConfigurationError, match="tool must be"):
        checker.call("")


def test_tagged_value_defaults_and_validation() -> None:
    plain = TV("x")
    assert plain.tags == set() and plain.producers == set() and plain.consumers == {"*"}
    assert plain.consumers.is_universal
    with pytest.raises(sq.ConfigurationError, match="tags: expected a set of names"):
        TV("x", tags="pii")
    with pytest.raises(AttributeError):
        plain.value = "y"  # type: ignore[misc]
    derived = TV.derived(
        "ab", TV("a", tags={"t1"}, consumers={"c", "d"}), TV("b", producers={"p"}, consumers={"d"})
    )
    assert (derived.tags, derived.producers, derived.consumers) == ({"t1"}, {"p"}, {"d"})


# --------------------------------------------------------------------------- tool ids, let, priority


def test_tool_ids_string_and_regex() -> None:
    code = 'tool "send_email" { hard deny always; } tool r"^file_.*" { hard deny always; } tool r"_log" { hard deny always; }'
    checker = sq.PolicyChecker(code)
    assert not checker.call("send_email").allowed
    assert checker.call("send_emails").allowed  # a string id is the exact name
    assert not checker.call("file_read").allowed
    assert checker.call("read_file").allowed  # anchored by ^
    assert not checker.call("audit_log_write").allowed  # unanchored regexes match anywhere in the name


def test_let_bindings_for_sets_predicates_and_domains() -> None:
    prelude = 'let Bad = {"spam@evil.com"}; let IsBad = to.value in Bad; let Alias = IsBad; let Mail = str like w"*@evil.com";'
    assert deny_when("Alias", prelude=prelude, to="spam@evil.com")
    assert not deny_when("Alias", prelude=prelude, to="ok@good.com")
    assert deny_when("to.value in Mail", prelude=prelude, to="x@evil.com")


def test_priority_orders_soft_rules() -> None:
    code = """
    tool "t" { priority 1; should deny always; }
    tool r"t" { priority 5; should allow when x.value == 1; }
    """
    assert allowed(code, x=1)
    assert not allowed(code, x=2)


def test_doc_comments_are_ignored() -> None:
    assert not allowed('/// blocks t\ntool "t" {\n  /// always\n  hard deny always;\n}')


# --------------------------------------------------------------------------- enforcement and outcomes


def test_hard_deny_beats_hard_allow_and_hard_allow_beats_soft_deny() -> None:
    assert not allowed('tool "t" { hard allow always; hard deny always; }')
    assert allowed('tool "t" { should deny always; must allow always; }')


def test_soft_rules_first_match_in_order() -> None:
    code = 'tool "t" { should allow when x.value == 1; should deny always; }'
    assert allowed(code, x=1)
    assert not allowed(code, x=2)
    assert not allowed('tool "t" { soft deny always; soft allow always; }')


def test_an_allow_rule_denies_the_calls_it_does_not_match() -> None:
    code = 'tool "t" { hard allow when x.value == 1; }'
    assert allowed(code, x=1)
    checker = sq.PolicyChecker(code)
    assert_denied(checker.call("t", {"x": 2}), tool="t", match="no allow rule for t matched")
    assert checker.call("other").allowed  # default_allow for tools without rules


def test_default_allow_and_its_enforcement_level() -> None:
    soft = {"presets": {"default_allow": False}}
    hard = {"presets": {"default_allow": False, "default_allow_enforcement_level": "hard"}}
    assert not allowed("", policy=soft)
    assert allowed('tool "t" { soft allow always; }', policy=soft)
    assert not allowed('tool "t" { soft allow always; }', policy=hard)
    assert allowed('tool "t" { hard allow always; }', policy=hard)
    loose = {"presets": {"default_allow": True, "default_allow_enforcement_level": "hard"}}
    assert not allowed('tool "t" { soft deny always; }', policy=loose)


def test_denial_reason_in_the_service_wording() -> None:
    checker = sq.PolicyChecker('tool "send_email" {\n  hard deny when to.value == "x";\n}')
    decision = checker.call("send_email", {"to": "x"})
    assert decision.reason == (
        "Tool call to 'send_email' is denied by argument checking policies. Context: {'args': {'to': "
        "{'value': 'x', 'meta': {'tags': [], 'consumers': ['*'], 'producers': []}, 'value_type': 'str'}}, "
        "'rule': 'line 2: hard deny when to.value == \"x\";'}"
    )
    assert decision.rule == 'line 2: hard deny when to.value == "x";'
    assert_denied(decision, tool="send_email", match="line 2")
    with pytest.raises(AssertionError, match="expected the policy to allow"):
        assert_allowed(decision)
    with pytest.raises(AssertionError, match="expected the policy to deny"):
        assert_denied(checker.call("send_email", {"to": "y"}))


# --------------------------------------------------------------------------- predicates


@pytest.mark.parametrize(
    ("predicate", "args", "fires"),
    [
        ('x.value in {"a", "b"}', {"x": "a"}, True),
        ('x.value in {"a", "b"}', {"x": "c"}, False),
        ('x.value == "a"', {"x": "a"}, True),
        ("x.value == 1", {"x": True}, False),  # booleans are not numbers
        ('"pii" in x.tags', {"x": TV("v", tags={"pii"})}, True),
        ('x.tags overlaps {"a", "b"}', {"x": TV("v", tags={"b", "c"})}, True),
        ('x.tags overlaps {"a"}', {"x": TV("v", tags={"c"})}, False),
        ('x.tags subset of {"a", "b"}', {"x": TV("v", tags={"a"})}, True),
        ('x.tags subset of {"a"}', {"x": TV("v", tags={"a", "c"})}, False),
        ('x.tags superset of {"a", "b"}', {"x": TV("v", tags={"a", "b", "c"})}, True),
        ('x.tags == {"a"}', {"x": TV("v", tags={"a"})}, True),
        ("x.tags is empty", {"x": "plain"}, True),
        ("x.consumers is universal", {"x": "plain"}, True),
        ("x.consumers is universal", {"x": TV("v", consumers={"me"})}, False),
        ('x.value == "a" and y.value == "b"', {"x": "a", "y": "c"}, False),
        ('x.value == "a" or y.value == "b"', {"x": "z", "y": "b"}, True),
        ('not x.value == "a"', {"x": "a"}, False),
        ('(x.value == "a" or x.value == "b") and not y.value == "c"', {"x": "b", "y": "d"}, True),
        ("missing.tags is empty", {}, True),  # a missing argument is a plain value
        ('missing.value in {"a"}', {}, False),
    ],
)
def test_predicates(predicate: str, args: dict[str, Any], fires: bool) -> None:
    assert deny_when(predicate, **args) is fires


# --------------------------------------------------------------------------- set algebra


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('{"a"} | {"b"}', {"a", "b"}),
        ('{"a"} union {"b"}', {"a", "b"}),
        ('{"a", "b"} & {"b"}', {"b"}),
        ('{"a", "b"} intersect {"b"}', {"b"}),
        ('{"a", "b"} - {"b"}', {"a"}),
        ('{"a", "b"} minus {"b"}', {"a"}),
        ('{"a", "b"} ^ {"b", "c"}', {"a", "c"}),
        ('{"a", "b"} xor {"b", "c"}', {"a", "c"}),
        ('{"a"} with "b"', {"a", "b"}),
        ('{"a", "b"} without "b"', {"a"}),
        ('{"*"} & {"a"}', {"a"}),
        ('{"a"} | {"*"}', {"*"}),
        ("{}", set()),
        ('{"a"} | {"b"} - {"a"}', {"b"}),  # | binds tighter than -
    ],
)
def test_set_algebra(expression: str, expected: set[str]) -> None:
    value = sq.PolicyChecker(f'tool "t" -> @tags = {expression};').call("t").result(None)
    assert value.tags == expected | {"__non_executable"}


def test_universal_minus_a_name_is_everyone_else() -> None:
    checker = sq.PolicyChecker('tool "t" -> @consumers -= {"public"};')
    consumers = checker.call("t").result("r").consumers
    assert "public" not in consumers and "alice" in consumers
    assert not consumers.is_universal
    assert consumers.to_list() == ["*", "-public"]


def test_aggregations_over_arguments() -> None:
    a, b = TV("a", tags={"x", "y"}, producers={"p"}), TV("b", tags={"y"}, producers={"q"})
    assert deny_when('@args.tags == {"x", "y"}', a=a, b=b)
    assert deny_when('@args.tags.union == {"x", "y"}', a=a, b=b)
    assert deny_when('@args.tags.intersect == {"y"}', a=a, b=b)
    assert deny_when('union of producers from args == {"p", "q"}', a=a, b=b)
    assert deny_when("intersect of producers from args is empty", a=a, b=b)
    assert deny_when("@args.consumers is universal", a=a, b=b)


# --------------------------------------------------------------------------- type domains


@pytest.mark.parametrize(
    ("domain", "value", "member"),
    [
        ('str "hello"', "hello", True),
        ('str matching r"[a-z]+@corp\\.com"', "a@corp.com", True),
        ('str matching r"[a-z]+@corp\\.com"', "a@corp.com.evil.org", False),  # whole-string match
        ('r".*@corp\\.com"', "a@corp.com", True),
        ('w"*.txt"', "notes.txt", True),
        ('str like w"file?.txt"', "file12.txt", False),
        ('str matching r".*" length 1..3', "abcd", False),
        ("int 1..10", 10, True),
        ("int 1..<10", 10, False),
        ("int 0<..10", 0, False),
        ("int 0<..<10", 5, True),
        ("int 10..", 11, True),
        ("int ..50", 51, False),
        ("int 42", 42, True),
        ("int 1..10", 5.0, False),  # int domains hold integers only
        ("float 0.0..1.0", 0.5, True),
        ("float ..<3.14", 3.14, False),
        ("float -inf..inf", -1e300, True),
        ("bool true", True, True),
        ("bool false", 0, False),
        ('datetime d"2023-01-01T00:00:00Z"..d"2023-12-31T23:59:59Z"', "2023-06-01T00:00:00Z", True),
        ('datetime d"2023-01-01T00:00:00Z"..', datetime(2022, 1, 1, tzinfo=timezone.utc), False),
        ('datetime ..<d"2023-01-01T00:00:00Z"', "2022-12-31T23:59:59+00:00", True),
        ("datetime 0", 0, True),
        ('datetime "2024-01-01T00:00:00Z"', "2024-01-01T00:00:00Z", True),
        ("3", 3, True),
        ("2.5", 2.5, True),
    ],
)
def test_type_domains(domain: str, value: Any, member: bool) -> None:
    assert deny_when(f"x.value in {{{domain}}}", x=value) is member


def test_datetime_and_literal_comparisons() -> None:
    assert deny_when('x.value == d"2024-01-01T00:00:00Z"', x="2024-01-01T00:00:00+00:00")
    assert deny_when("x.value == true", x=True)
    assert deny_when("x.value == 2.5", x=2.5)
    assert not deny_when('@session.value == "active"')  # a session has no value


# --------------------------------------------------------------------------- result and session updates


def test_metadata_flows_from_arguments_into_the_result() -> None:
    checker = sq.PolicyChecker("")
    a = TV("a", tags={"t"}, producers={"p"}, consumers={"c", "d"})
    b = TV("b", producers={"q"}, consumers={"d"})
    value = checker.call("t", {"a": a, "b": b}).result("out")
    assert value.value == "out"
    assert value.tags == {"t", "__non_executable"}
    assert value.producers == {"p", "q"} and value.consumers == {"d"}
    off = sq.PolicyChecker({"presets": {"enable_non_executable_memory": False}})
    assert off.call("t").result("r").tags == set()


def test_result_blocks_with_conditionals_and_every_target() -> None:
    code = """
    tool "t" {
        result {
            @tags |= {"seen"};
            @result.producers = @result.producers with "t";
            when @result.value == "secret" { @consumers &= {"internal"}; @session.tags |= {"leak"}; }
            x.tags = {"rewritten"};
        }
    }
    """
    checker = sq.PolicyChecker(code)
    decision = checker.call("t", {"x": "v"})
    value = decision.result("secret")
    assert value.tags == {"seen", "__non_executable"} and value.producers == {"t"}
    assert value.consumers == {"internal"}
    assert checker.session.tags == {"leak"}
    assert decision.args["x"].tags == {"rewritten"}
    with pytest.raises(sq.SequrityError, match="already called"):
        decision.result("again")
    assert checker.call("t", {"x": "v"}).result("public").consumers.is_universal


def test_augmented_operators() -> None:
    code = """
    tool "t" { result { @tags |= {"a", "b"}; @tags &= {"a", "c"}; @tags ^= {"d"}; @tags -= {"d", "x"}; @producers = {"p"}; } }
    """
    value = sq.PolicyChecker(code).call("t").result(1)
    assert value.tags == {"a", "__non_executable"} and value.producers == {"p"}


def test_session_before_runs_before_the_check_and_after_only_with_a_result() -> None:
    code = """
    tool "t" {
        session before { @tags |= {"tried"}; }
        session after { when @result.tags overlaps {"ok"} { @tags |= {"done"}; } }
        result { @tags |= {"ok"}; }
        hard deny when "blocked" in @session.tags;
    }
    tool "block" -> session @tags |= {"blocked"};
    """
    checker = sq.PolicyChecker(code)
    decision = checker.call("t")
    assert checker.session.tags == {"tried"}  # before: at once
    decision.result("r")
    assert checker.session.tags == {"tried", "done"}  # after: once the result is in
    checker.call("block").result(None)
    assert_denied(checker.call("t"))
    assert "tried" in checker.session.tags


def test_shorthand_targets_priorities_and_conditions() -> None:
    code = """
    tool "t" -> @tags |= {"r"};
    tool "t" -> result @tags |= {"r2"} when x.value == 1;
    tool "t" -> session @tags |= {"s"};
    tool "t" -> session after @producers |= {"sa"};
    tool "t" -> session before @consumers = {"sb"};
    tool "t" [9] -> @tags = {"last"};
    tool "t" [1] -> @tags |= {"early"};
    """
    checker = sq.PolicyChecker(code)
    value = checker.call("t", {"x": 1}).result(0)
    assert value.tags == {"last", "__non_executable"}  # the highest priority update runs last
    session = checker.session
    assert (session.tags, session.producers, session.consumers) == ({"s"}, {"sa"}, {"sb"})


def test_context_shorthand_in_check_rules_reads_the_session() -> None:
    checker = sq.PolicyChecker('tool "t" { hard deny when @tags overlaps {"x"}; }', session=None)
    assert checker.call("t").allowed
    from sequrity_openai._policies._values import Metadata, MetaSet

    tagged = sq.PolicyChecker(
        'tool "t" { hard deny when @tags overlaps {"x"}; }', session=Metadata(tags=MetaSet(["x"]))
    )
    assert not tagged.call("t").allowed


def test_result_metadata_can_be_read_before_the_call() -> None:
    # Before execution @result is the metadata the result starts with: the arguments'.
    assert deny_when('@result.tags overlaps {"pii"}', x=TV("v", tags={"pii"}))


def test_a_tagged_tool_output_is_merged() -> None:
    value = sq.PolicyChecker("").call("t").result(TV("out", tags={"own"}, consumers={"c"}))
    assert value.value == "out" and "own" in value.tags and value.consumers == {"c"}


# --------------------------------------------------------------------------- presets


@pytest.mark.parametrize("tool", ["parse_with_ai", "verify_hypothesis"])
def test_llm_blocked_tag_guards_the_quarantined_llm(tool: str) -> None:
    blocked = TV("text", tags={"__llm_blocked"})
    checker = sq.PolicyChecker("")
    assert_denied(checker.call(tool, {"query": blocked}), tool=tool, match="enable_llm_blocked_tag")
    assert checker.call("send_email", {"body": blocked}).allowed
    assert (
        sq.PolicyChecker({"presets": {"enable_llm_blocked_tag": False}})
        .call(tool, {"query": blocked})
        .allowed
    )
    soft = {"presets": {"llm_blocked_tag_enforcement_level": "soft"}}
    assert (
        not sq.PolicyChecker({**soft, "codes": {"code": f'tool "{tool}" {{ soft allow always; }}'}})
        .call(tool, {"query": blocked})
        .allowed
    )
    lifted = f'tool "{tool}" {{ priority 1; soft allow always; }}'
    assert sq.PolicyChecker({**soft, "codes": {"code": lifted}}).call(tool, {"query": blocked}).allowed
    assert not sq.PolicyChecker({"codes": {"code": lifted}}).call(tool, {"query": blocked}).allowed


def test_branching_meta_policy_modes() -> None:
    race = TV("European", tags={"RACE"})
    deny = {"mode": "custom", "presets": {"branching_meta_policy": {"mode": "deny", "tags": ["RACE"]}}}
    assert_denied(sq.PolicyChecker(deny).branch(race))
    assert sq.PolicyChecker(deny).branch("plain").allowed
    allow = {
        "mode": "custom",
        "presets": {"branching_meta_policy": {"mode": "allow", "tags": ["SAFE"], "consumers": ["*"]}},
    }
    assert sq.PolicyChecker(allow).branch(TV("v", tags={"SAFE"})).allowed
    assert not sq.PolicyChecker(allow).branch(race).allowed
    strict_consumers = {"mode": "custom", "presets": {"branching_meta_policy": {"mode": "allow"}}}
    assert not sq.PolicyChecker(strict_consumers).branch("plain").allowed  # {"*"} is not within []
    standard = {**deny, "mode": "standard"}
    assert sq.PolicyChecker(standard).branch(race).allowed  # documented: custom mode only
    assert not sq.PolicyChecker({**deny, "mode": "strict"}).branch(race).allowed
    decision = sq.PolicyChecker(deny).branch(race)
    with pytest.raises(sq.SequrityError):
        decision.result(None)


def test_meta_sets_iterate_only_when_finite() -> None:
    value = TV("v", tags={"b", "a"})
    assert sorted(value.tags) == ["a", "b"] and len(value.tags) == 2
    with pytest.raises(TypeError, match="use to_list"):
        list(value.consumers)
    assert value.consumers.to_list() == ["*"]
