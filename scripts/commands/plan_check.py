"""`plan-check --env ENV`: refuse a plan that deletes, reconfigures, loses messages or cuts
traffic unless intended (rules: scripts/infra/plan_check.py, docs/plan-check.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from scripts import args as common
from scripts.errors import ToolError
from scripts.infra.plan_check import __doc__ as plan_check_doc
from scripts.infra.plan_check import check_stack
from scripts.infra.plan_table import render_table, to_json


class PlanRefusedError(ToolError):
    """The plan would delete, replace or reconfigure what must survive (exit 1)."""

    def __init__(self, message: str, payload: dict[str, Any]) -> None:
        super().__init__(message)
        self.payload = payload

    def result(self) -> dict[str, Any]:
        """What `--json` prints on refusal: the report, with the error."""
        return {**self.payload, "error": str(self)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    env = common.environment(args)
    stack_dir = Path(args.stack_dir or f"cdktf.out/stacks/{env.name}")
    report = check_stack(
        stack_dir,
        env,
        allow=args.allow or (),
        plan_file=Path(args.plan_file) if args.plan_file else None,
    )
    result = {"env": env.name, "stack_dir": str(stack_dir), **to_json(report)}
    table = render_table(report, env_name=env.name)
    # The table is the product for a person (stdout); with --json, stdout is one object and
    # the table goes to stderr as progress.
    print(table, file=sys.stderr if args.json else sys.stdout)
    if not report.ok:
        first = report.refusals[0].line()
        more = f" (and {len(report.refusals) - 1} more)" if len(report.refusals) > 1 else ""
        raise PlanRefusedError(f"plan-check refused the plan: {first}{more}", result)
    return result


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "plan-check",
        help="refuse a terraform plan that deletes, reconfigures, loses messages or cuts traffic",
        description=plan_check_doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_env(parser)
    parser.add_argument(
        "--stack-dir",
        metavar="DIR",
        help="the synthesized stack (default: cdktf.out/stacks/ENV)",
    )
    parser.add_argument(
        "--plan-file",
        metavar="FILE",
        help="check this saved plan (`terraform plan -out=FILE`, relative to the stack "
        "directory) instead of planning",
    )
    parser.add_argument(
        "--allow",
        action="append",
        metavar="RESOURCE.WORD",
        help="let this run make one refused change: WORD as the refusal names it (a "
        "protected attribute, or a risk such as function_response_types or permission), "
        "RESOURCE the Terraform address, or a function's short name or name for all of "
        "its resources; repeatable",
    )
    parser.set_defaults(handler=run)
    return parser
