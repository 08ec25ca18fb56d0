"""``sequrity-openai check-policy FILE... [--simulate calls.json]``: SQRT checked offline.

The work is ``_policies._simulate.run_check_policy``; this module only wires it to the
command line. Nothing here talks to the network or imports the stand-in (werkzeug), so the
command runs as a pre-commit hook (``.pre-commit-hooks.yaml``: ``sequrity-check-policy``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._policies._simulate import run_check_policy

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    return run_check_policy(args.files, simulate=args.simulate, stdout=sys.stdout, stderr=sys.stderr)


def add_parser(commands: Any) -> None:
    check = commands.add_parser(
        "check-policy",
        help="check SQRT policy files with the service's grammar; optionally decide tool calls",
        description="Check each FILE (SQRT, or an X-Policy JSON object) with the grammar the "
        "service uses. Exit codes: 0 all valid (and every simulated call decided as expected), "
        "1 a simulated decision differs from its expect, 2 an invalid or unreadable file.",
    )
    check.add_argument("files", metavar="FILE", nargs="+", help="a policy file (.sqrt, or .json)")
    check.add_argument(
        "--simulate",
        metavar="CALLS",
        help="a JSON list of tool calls ({tool, args, result, expect}) to decide under each policy, "
        "in order; prints each decision and its reason",
    )
    check.set_defaults(handler=_run)
