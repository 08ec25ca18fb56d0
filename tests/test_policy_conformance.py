"""Conformance: the vendor's recorded runs, replayed through sq.PolicyChecker.

Source: sequrity-ai/sequrity-api, examples/control/advanced_sqrt_examples/ (sequrity_client.py
for the policies and presets, notebook.ipynb for the recorded outputs: the programs the
service executed and what it answered). Each test replays the tool calls of one recorded run
with the data flow of its executed program (a value computed from another carries its
metadata, ``TaggedValue.derived``) and asserts the recorded outcome: allowed or denied, the
denial's wording up to where the recording was cut, and the metadata of the final value.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import sequrity_openai as sq
from sequrity_openai.testing.policies import assert_allowed, assert_denied

TV = sq.TaggedValue

# Example 1: preventing sensitive data leaks.
LEAK = r"""
    let sensitive_docs = {"internal_use", "confidential"};
    tool "get_internal_document" -> @tags |= sensitive_docs;
    tool "send_email" {
        hard deny when (body.tags overlaps sensitive_docs) and (not to.value in {str matching r".*@trustedcorp\.com"});
    }
    """
# Example 2: refunds only on the fourth attempt.
REFUND = r"""
            tool "issue_refund" {
                session before {
                    when "attempt3" in @tags { @tags |= {"final_attempt"}; }
                }
                session before {
                    when "attempt2" in @tags { @tags |= {"attempt3"}; }
                }
                session before {
                    when "attempt1" in @tags { @tags |= {"attempt2"}; }
                }
                session before {
                    @tags |= {"attempt1"};
                }

                hard allow when "final_attempt" in @session.tags;
            }
        """
# Example 3: provenance of verified sources.
PROVENANCE = r"""
            tool "get_quarterly_earning_report" -> @producers |= {"verified_financial_data"};
            tool "get_marketing_analysis" -> @producers |= {"verified_marketing_data"};
            // Allow generating business summary only if data comes from verified financial and marketing sources
            tool "generate_business_summary" {
                hard allow when @args.producers superset of {"verified_financial_data", "verified_marketing_data"};
            }
        """
# Example 4: PII and de-identification.
COMPLIANCE = r"""
    tool "load_patient_record" -> @tags |= {"pii"};
    tool "de_identify_data" -> @tags -= {"pii"};
    tool r"send_to_.*" {
        hard deny when "pii" in data.tags;
    }
    """
# Example 5.1: branching on race; 5.2: AI parsing of blocked data.
FAIRNESS = '\ntool "retrive_applicant_profile" -> @tags |= {"RACE"};\n'
QLLM = '\ntool "retrive_applicant_profile_text" -> @tags |= {"__llm_blocked"};\n'


def _policy(code: str, *, mode: str = "standard", **presets: Any) -> dict[str, Any]:
    # As the examples send it: SecurityPolicyHeader(mode=..., codes=..., fail_fast=True,
    # auto_gen=False, presets=InternalPolicyPresets(default_allow=True, ...)).
    return {
        "mode": mode,
        "codes": {"code": code, "language": "sqrt"},
        "fail_fast": True,
        "auto_gen": False,
        "presets": {"default_allow": True, **presets},
    }


def _run(checker: sq.PolicyChecker, tool: str, output: Any, **args: Any) -> sq.TaggedValue:
    """An allowed call and its result, as the program received it."""
    decision = checker.call(tool, args)
    assert_allowed(decision)
    return decision.result(output)


def _meta_json(value: sq.TaggedValue) -> str:
    # The response's final_return_value.meta, as the recorded runs print it.
    return json.dumps(value.meta.to_dict())


# --------------------------------------------------------------------------- example 1


def test_leak_untrusted_recipient_is_denied() -> None:
    checker = sq.PolicyChecker(_policy(LEAK, enable_non_executable_memory=True))
    document = _run(
        checker,
        "get_internal_document",
        "# Internal Transaction\ndocument ID: DOC12345...",
        doc_id="DOC12345",
    )
    body = TV.derived(
        "Attached is the requested internal document (DOC12345):\n\n" + document.value, document
    )
    decision = checker.call(
        "send_email", {"to": "research@gmail.com", "subject": "Internal Document DOC12345", "body": body}
    )
    assert_denied(decision, tool="send_email")
    assert decision.reason is not None
    assert decision.reason.startswith(
        "Tool call to 'send_email' is denied by argument checking policies. Context: {'args': {'to': "
        "{'value': 'research@gmail.com', 'meta': {'tags': [], 'consumers': ['*'], 'producers': []}, "
        "'value_type': 'str'}, "
    )
    with pytest.raises(sq.SequrityError, match="a denied call has no result"):
        decision.result("Email sent successfully.")


def test_leak_trusted_recipient_is_allowed_and_the_result_keeps_the_tags() -> None:
    checker = sq.PolicyChecker(_policy(LEAK, enable_non_executable_memory=True))
    doc = _run(
        checker,
        "get_internal_document",
        "# Internal Transaction\ndocument ID: DOC12345...",
        doc_id="DOC12345",
    )
    confirmation = _run(
        checker,
        "send_email",
        "Email sent successfully.",
        to="admin@trustedcorp.com",
        subject="Internal Document DOC12345",
        body=doc,
    )
    final = TV.derived("Success: ... Confirmation: " + confirmation.value, confirmation)
    # Recorded: "meta": {"tags": ["__non_executable", "confiden...
    assert _meta_json(final).startswith('{"tags": ["__non_executable", "confiden')
    assert final.tags == {"__non_executable", "confidential", "internal_use"}


# --------------------------------------------------------------------------- example 2


def test_refund_is_denied_three_times_then_issued() -> None:
    checker = sq.PolicyChecker(_policy(REFUND, enable_non_executable_memory=True))
    for _attempt in range(3):
        decision = checker.call("issue_refund", {"order_id": "ORDER67890"})
        assert_denied(decision)
        assert "'issue_refund' is denied by argument" in (decision.reason or "")
    confirmation = _run(
        checker, "issue_refund", "💵 Refund for order ORDER67890 has been issued.", order_id="ORDER67890"
    )
    final = TV.derived("Refund issued successfully: " + confirmation.value, confirmation)
    # Recorded: "meta": {"tags": ["__non_executable"], "consumers": ["*"]...
    assert _meta_json(final).startswith('{"tags": ["__non_executable"], "consumers": ["*"]')
    assert checker.session.tags == {"attempt1", "attempt2", "attempt3", "final_attempt"}


# --------------------------------------------------------------------------- example 3


def test_provenance_both_verified_sources_allowed() -> None:
    checker = sq.PolicyChecker(_policy(PROVENANCE, enable_non_executable_memory=True))
    report = _run(
        checker,
        "get_quarterly_earning_report",
        "# Quarter Report\n...",
        company="Sequrity AI",
        quarter="Q1 2025",
    )
    analysis = _run(checker, "get_marketing_analysis", "# Marketing Analysis\n...", company="Sequrity AI")
    summary = _run(
        checker,
        "generate_business_summary",
        "# Business Summary\n...",
        earning_report=report,
        marketing_analysis=analysis,
    )
    # Recorded: "meta": {"tags": ["__non_executable"], "consumers": ["*...
    assert _meta_json(summary).startswith('{"tags": ["__non_executable"], "consumers": ["*')
    assert summary.producers == {"verified_financial_data", "verified_marketing_data"}


def test_provenance_unverified_argument_denied() -> None:
    checker = sq.PolicyChecker(_policy(PROVENANCE, enable_non_executable_memory=True))
    report = _run(
        checker,
        "get_quarterly_earning_report",
        "# Quarter Report\nCompany: Sequrity AI\nQuarter: Q1 2025\nThe quarterly earning shows a revenue of $5 billion...",
        company="Sequrity AI",
        quarter="Q1 2025",
    )
    decision = checker.call(
        "generate_business_summary",
        {
            "earning_report": report,
            "marketing_analysis": "The marketing analysis indicates a strong brand presence",
        },
    )
    assert_denied(decision, tool="generate_business_summary")
    assert (decision.reason or "").startswith(
        "Tool call to 'generate_business_summary' is denied by argument checking policies. Context: "
        "{'args': {'earning_report': {'value': '# Quarter Report\\nCompany: Sequrity AI\\nQuarter: Q1 2025\\n"
        "The quarterly ear"
    )


# --------------------------------------------------------------------------- example 4


def test_compliance_de_identified_data_allowed() -> None:
    checker = sq.PolicyChecker(_policy(COMPLIANCE, enable_non_executable_memory=True))
    record = _run(
        checker,
        "load_patient_record",
        "# Patient Record\nPatient ID: PATIENT001\n...",
        patient_id="PATIENT001",
    )
    clean = _run(checker, "de_identify_data", "# Patient Record\nPatient ID: [REDACTED]\n...", data=record)
    assert "pii" not in clean.tags
    confirmation = _run(
        checker, "send_to_research_institute", "Data sent to research institute successfully.", data=clean
    )
    final = TV.derived(
        {"success": True, "patient_id": "PATIENT001", "confirmation": confirmation.value}, confirmation
    )
    # Recorded: "meta": {"tags": ["__non_executable"], "consumers": ...
    assert _meta_json(final).startswith('{"tags": ["__non_executable"], "consumers": ')


def test_compliance_identified_data_denied() -> None:
    checker = sq.PolicyChecker(_policy(COMPLIANCE, enable_non_executable_memory=True))
    record = _run(
        checker,
        "load_patient_record",
        "# Patient Record\nPatient ID: PATIENT001\nMedical History: ...",
        patient_id="PATIENT001",
    )
    # The executed program asked the quarantined LLM first (allowed: nothing is __llm_blocked)...
    is_loaded = _run(
        checker,
        "verify_hypothesis",
        True,
        hypothesis="The loaded patient record is not empty.",
        context=TV.derived({"record": record.value}, record),
    )
    assert_allowed(checker.branch(is_loaded))  # `if not is_loaded:` (standard mode)
    decision = checker.call("send_to_research_institute", {"data": record})
    assert_denied(decision, tool="send_to_research_institute")
    assert (decision.reason or "").startswith(
        "Tool call to 'send_to_research_institute' is denied by argument checking policies. Context: "
        "{'args': {'data': {'value': '# Patient Record\\nPatient ID: PATIENT001\\nMedical History: ...', "
        "'meta': {'tags': ['"
    )


# --------------------------------------------------------------------------- example 5.1


def test_branching_on_race_is_a_control_flow_violation() -> None:
    checker = sq.PolicyChecker(
        _policy(FAIRNESS, mode="custom", branching_meta_policy={"mode": "deny", "tags": ["RACE"]})
    )
    profile = _run(checker, "retrive_applicant_profile", {"race": "European"}, applicant_id="applicant-154")
    decision = checker.branch(profile)  # `if not profile:`
    assert_denied(decision)
    assert decision.reason == "Control flow violation detected during program execution."
    race = TV.derived(profile.value["race"], profile)
    assert_denied(checker.branch(race))  # `if race == "European":`


def test_without_a_branching_policy_the_same_flow_succeeds() -> None:
    checker = sq.PolicyChecker(_policy(FAIRNESS, mode="custom"))
    profile = _run(checker, "retrive_applicant_profile", {"race": "European"}, applicant_id="applicant-154")
    assert_allowed(checker.branch(profile))
    assert_allowed(checker.branch(TV.derived("european", profile)))
    recipient = "hr-1@gmail.com"  # a literal chosen by the branch: no metadata of its own
    _run(
        checker,
        "send_email",
        "Email sent successfully.",
        to=recipient,
        subject=TV.derived("Applicant Profile: applicant-154", profile),
        attachment_content=TV.derived(json.dumps(profile.value), profile),
    )
    final = TV.derived(f"Applicant profile sent to {recipient}.", recipient)
    # Recorded exactly: "meta": {"tags": [], "consumers": ["*"], "producers": []}
    assert _meta_json(final) == '{"tags": [], "consumers": ["*"], "producers": []}'


# --------------------------------------------------------------------------- example 5.2

PROMPT = "Extract the applicant's 'name' and 'education_level' from the following applicant profile text. "


def test_ai_parsing_of_blocked_data_is_denied() -> None:
    checker = sq.PolicyChecker(_policy(QLLM, enable_llm_blocked_tag=True))
    text = _run(
        checker,
        "retrive_applicant_profile_text",
        "Applicant ID: applicant-154\n...",
        applicant_id="applicant-154",
    )
    prompt = TV.derived(PROMPT + "Return JSON...\n\nApplicant profile text:\n" + text.value, text)
    decision = checker.call("parse_with_ai", {"query": prompt, "output_schema": {"type": "object"}})
    assert_denied(decision, tool="parse_with_ai")
    assert (decision.reason or "").startswith(
        "Tool call to 'parse_with_ai' is denied by argument checking policies. Context: {'args': {'query': "
        "{'value': \"" + PROMPT
    )


def test_ai_parsing_allowed_when_the_preset_is_off() -> None:
    checker = sq.PolicyChecker(_policy(QLLM, enable_llm_blocked_tag=False))
    text = _run(
        checker,
        "retrive_applicant_profile_text",
        "Applicant ID: applicant-154\n...",
        applicant_id="applicant-154",
    )
    prompt = TV.derived(PROMPT + text.value, text)
    parsed = _run(
        checker, "parse_with_ai", {"have_enough_info": True, "name": "Alice"}, query=prompt, output_schema={}
    )
    assert_allowed(checker.branch(parsed))  # `if parsed.get("have_enough_info"):`
    _run(
        checker,
        "send_email",
        "Email sent successfully.",
        to="hr-1@gmail.com",
        subject="Applicant Profile: applicant-154",
        attachment_content=TV.derived("Extracted Name: Alice\n" + text.value, parsed, text),
    )
    final = TV.derived("Applicant profile extracted and emailed to hr-1@gmail.com.")
    assert _meta_json(final) == '{"tags": [], "consumers": ["*"], "producers": []}'
