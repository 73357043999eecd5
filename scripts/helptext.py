"""What `--help` tells a person: the tool, each command's purpose, one example each.

Kept apart from the command modules so the words a user reads are in one place and each
command module stays a thin parser.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

TOOL = """\
Build and release a Python backend on AWS Lambda as one shared dependencies layer per
environment plus a small function package, behind a per-environment alias.

  build-layer / build-backend   build the layer and the function package (cached by hash)
  deploy                        release them: prepare versions, then move the aliases
  rollback                      move the aliases back to an earlier release
  status / history              what runs now; what ran before
  logs                          one version's (or release's) logs, merged by time
  prune-layers / prune-versions delete what no release can still need (dry run first)

AWS credentials and endpoint come from the usual places (AWS_PROFILE, the CI role,
AWS_ENDPOINT_URL for a local moto server). Exit codes: 0 ok, 1 failed, 2 bad input
(the message names the fix), 3 busy (another deploy, rollback or prune holds the
environment's lock)."""

# command -> (what it does, in a sentence or two; one example)
COMMANDS: Mapping[str, tuple[str, str]] = {
    "build-layer": (
        "Build the environment's dependencies layer from its lock file and upload it as "
        "layer-HASH.zip; nothing is built when the store already holds that hash.",
        "python -m scripts build-layer --env staging",
    ),
    "build-backend": (
        "Zip the application code (no dependencies) and upload it as backend-HASH.zip.",
        "python -m scripts build-backend --env staging",
    ),
    "invoke": (
        "Run one function's handler on this machine under the runtime's Python, with only "
        "the function package and the layer on sys.path (like `sam local invoke`, no "
        "Docker); a missing import names the distribution the layer lacks.",
        "python -m scripts invoke --env staging api --event examples/events/api.json",
    ),
    "demo": (
        "Build the layer and the package into a local directory laid out like the bucket, "
        "then synthesize the Terraform: no AWS account needed.",
        "python -m scripts demo",
    ),
    "pipeline": (
        "The whole flow on this machine against the local sandbox (moto): build, terraform "
        "apply, deploy, and a table of what each function runs; the sandbox stays up.",
        "python -m scripts pipeline --fresh",
    ),
    "local": (
        "A local sandbox that stays up: `up` starts moto on the local environment's port "
        "(or reuses it), creates the bucket, builds and uploads the artifacts and applies "
        "the local stack; then deploy, status, history, rollback and a canary work against "
        "it with no set-up. `down` stops it; the next `up` restores its state.",
        "python -m scripts local up && python -m scripts deploy --env local",
    ),
    "deploy": (
        "Release the built layer and package to every function: publish (or reuse) the "
        "layer version, prepare a version of each function, then move each alias. Any "
        "failure puts everything back. One deploy per environment at a time. A canary "
        "(--canary PERCENT, steps of 0.01) checks its alarms before any change and "
        "switches every alias back on an alarm, a signal or any failure of the bake.",
        "python -m scripts deploy --env staging --canary 10 --bake 300",
    ),
    "rollback": (
        "Move the aliases back to an earlier release without uploading anything: "
        "--previous goes one release back (again: one further), --to a release from "
        "`history`.",
        "python -m scripts rollback --env prod --previous",
    ),
    "status": (
        "Per function: what its alias serves (version, package, layer), canary weights, "
        "$LATEST drift, the deploy lock and the current release.",
        "python -m scripts status --env staging",
    ),
    "history": (
        "The environment's releases, newest first, with their outcome.",
        "python -m scripts history --env prod --limit 10",
    ),
    "logs": (
        "Print the functions' CloudWatch Logs merged by time, only one version's streams "
        "(--version N) or the versions a release made (--release ID); --follow keeps "
        "printing new lines.",
        "python -m scripts logs --env staging api --release 20261204T101500.000000Z-1a2b3c4d",
    ),
    "unlock": (
        "Remove the environment's deploy lock when its holder is gone. A lock its holder "
        "is renewing (watched up to 1.5 renewal intervals, by the store's clock) is "
        "refused, naming who holds it and since when; --force asks that live holder to "
        "stop: it puts back what it changed and releases the lock.",
        "python -m scripts unlock --env staging",
    ),
    "prune-layers": (
        "Delete old layer versions: never the newest N, one attached to a function or "
        "used by a kept function version, or one named in recent releases. Dry run "
        "unless --apply.",
        "python -m scripts prune-layers --env staging --keep 3 --apply",
    ),
    "prune-versions": (
        "Delete old function versions: never an alias target (a canary's second version "
        "too) or a version of the last N releases. Dry run unless --apply.",
        "python -m scripts prune-versions --env staging --keep 5",
    ),
    "migrate": (
        "Walk an existing system through the design's four phases and check each: the "
        "infrastructure adopted (plan-check), the first release onto the legacy functions "
        "(with --apply: build, check every handler imports, deploy), CI on the stack's "
        "deployer policy, the hand-made policy retired (with --apply), and every caller on "
        "the alias (phase 5: the environment file's triggers rewritten with --apply, another "
        "root's callers named and read back). Safe to re-run: "
        "it says what is done and the next command. --handover DIR hands the adopted "
        "resources over from the old Terraform root in DIR (removed blocks, both plans "
        "proven).",
        "python -m scripts migrate --env staging --apply",
    ),
    "discover": (
        "Read a running estate through the AWS APIs (every function whose name starts with "
        "--prefix: configuration, role and inline policies, log group, aliases, mappings, "
        "schedules, permissions, API Gateway integrations, function URLs) and write the "
        "environment file that adopts it unchanged. Anything it cannot read or the "
        "configuration cannot say is named, exit 2, and nothing is written. Prints the "
        "callers that bypass the alias.",
        "python -m scripts discover --env staging --prefix bluemoxon-staging- --state local",
    ),
    "plan-check": (
        "Read a terraform plan of the synthesized stack and refuse it (exit 1, naming "
        "resource, attribute and what it would do) if it deletes or replaces a function, "
        "role, log group or alias, changes a protected function attribute (memory, timeout, "
        "environment, VPC, role, ...), or loses messages or cuts traffic (partial batch "
        "failures dropped, a queue replaced, a mapping deleted or disabled, a redrive policy "
        "or async-invoke retries removed, a permission deleted, an integration or schedule "
        "re-pointed or deleted, an alias moved outside a release) unless the configuration's "
        "intended_changes or --allow RESOURCE.WORD says so. Counts imports, creates, "
        "updates, replaces, deletes and forgets. Rules: docs/plan-check.md.",
        "python -m scripts plan-check --env staging --plan-file tfplan",
    ),
    "synth-diff": (
        "Resource-level Markdown diff of two `cdktf synth` outputs, for a pull request.",
        "python -m scripts synth-diff base/cdktf.out cdktf.out",
    ),
}


def describe(command: str) -> tuple[str | None, str | None]:
    """(description, epilog with the example) for `command`; (None, None) if unknown."""
    found = COMMANDS.get(command)
    if found is None:
        return None, None
    text, example = found
    return textwrap.fill(text, width=88), f"example:\n  {example}"
