"""``sequrity-openai generate-policy --tools tools.json "description"``: SQRT from plain words.

Calls ``sq.generate_policies`` and prints the generated SQRT alone on stdout, so
``sequrity-openai generate-policy ... > policy.sqrt`` writes a policy file; the token usage
goes to stderr with ``--verbose``. Keys come from the environment, as for ``chat``.
"""

from __future__ import annotations

import argparse
import sys
import typing
from typing import Any

import openai

from .._exceptions import ConfigurationError, SequrityError
from .._policy_gen import InternalToolName, generate_policies, tools_from_file
from .._routes import PROVIDERS
from ._options import positive_seconds, retry_count
from ._output import EXIT_FAILURE, EXIT_OK, PROG, describe_exception, error

__all__ = ["add_parser"]

_INTERNAL_TOOLS = typing.get_args(InternalToolName)
_DEFAULT_MODEL = "openai/gpt-5-mini"


def _run(args: argparse.Namespace) -> int:
    tools = tools_from_file(args.tools)  # ConfigurationError (setting "tools"): exit 2
    settings: dict[str, Any] = {"provider": args.provider, "base_url": args.base_url}
    if args.allow_insecure_http:
        settings["allow_insecure_http"] = True
    options: dict[str, Any] = {}
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    try:
        generated = generate_policies(
            args.description,
            model=args.model,
            tools=tools,
            internal_tool_names=args.internal_tool,
            n_retries=args.n_retries,
            **options,
            **settings,
        )
    except ConfigurationError:
        raise  # a usage or configuration error (exit 2), rendered by main with its hint
    except (openai.OpenAIError, SequrityError) as exc:
        # The same rendering as `chat`: one line, keys redacted (the SDK's classes on HTTP errors).
        error(describe_exception(exc))
        return EXIT_FAILURE
    policies = generated.policies
    sys.stdout.write(policies if policies.endswith("\n") else policies + "\n")
    sys.stdout.flush()
    if args.verbose:
        usage = ", ".join(f"{name} {count}" for name, count in generated.usage.items()) or "not reported"
        print(f"{PROG}: usage: {usage}", file=sys.stderr, flush=True)
    return EXIT_OK


def add_parser(commands: Any) -> None:
    gen = commands.add_parser(
        "generate-policy",
        help="ask Sequrity Control to write SQRT policies for your tools; prints the SQRT",
        description="Generate SQRT policies from a plain-language description of what your tools may "
        "do. The SQRT alone goes to stdout (redirect it to a .sqrt file); it is checked with the "
        "service's grammar first. Keys come from the environment, as for chat.",
    )
    gen.add_argument("description", metavar="DESCRIPTION", help="what the policies should enforce")
    gen.add_argument(
        "--tools",
        metavar="FILE",
        required=True,
        help='a JSON list of tools in the API\'s format (or {"tools": [...]}): OpenAI function '
        "tools, or Anthropic tools with --provider anthropic",
    )
    gen.add_argument("--model", default=_DEFAULT_MODEL, help=f"the model that writes them ({_DEFAULT_MODEL})")
    gen.add_argument(
        "--provider",
        choices=PROVIDERS,
        metavar="PROVIDER",
        help=f"LLM provider route: {', '.join(PROVIDERS)} (SEQURITY_PROVIDER; default route: OpenRouter)",
    )
    gen.add_argument(
        "--internal-tool",
        action="append",
        default=[],
        choices=_INTERNAL_TOOLS,
        metavar="NAME",
        help=f"an internal tool the policies may name ({', '.join(_INTERNAL_TOOLS)}); repeatable",
    )
    gen.add_argument(
        "--n-retries",
        type=retry_count,
        default=3,
        metavar="N",
        help="how often the service may retry writing valid policies (3)",
    )
    gen.add_argument("--verbose", action="store_true", help="print the token usage on stderr")
    gen.add_argument("--base-url", metavar="URL", help="service root (SEQURITY_BASE_URL)")
    gen.add_argument(
        "--allow-insecure-http", action="store_true", help="permit http:// to a host that is not loopback"
    )
    gen.add_argument(
        "--timeout", type=positive_seconds, metavar="SECONDS", help="give up after this long (120)"
    )
    gen.add_argument("--max-retries", type=retry_count, metavar="N", help="HTTP retries (2)")
    gen.set_defaults(handler=_run)
