"""Running terraform in a synthesized stack: version check, init, plan, show.

Kept apart from the plan parsing (plan_check.py) so that stays pure and testable on recorded
JSON. Every failure is one line naming the fix: BadInputError (exit 2) for what the caller
must provide (a synthesized stack, terraform >= 1.5, an existing plan file), ToolError
(exit 1) when terraform itself fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from environments.adoption import MIN_TERRAFORM_FOR_IMPORT
from scripts.errors import BadInputError, ToolError

STACK_FILE = "cdk.tf.json"
# Written beside the stack, so the plan that was checked is the plan that gets applied.
CHECKED_PLAN = "plan-check.tfplan"
TIMEOUT_S = 1800.0
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")
# Terraform colours its diagnostics unless told -no-color; a relayed message must not carry
# the escape codes (SGR sequences, and any other CSI sequence) into our one-line errors.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _minimum() -> tuple[int, ...]:
    return tuple(int(part) for part in MIN_TERRAFORM_FOR_IMPORT.split("."))


def version_of(terraform: str) -> str:
    done = subprocess.run(
        [terraform, "version", "-json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    try:
        return str(json.loads(done.stdout)["terraform_version"])
    except (ValueError, KeyError):
        # Before 0.13 there was no -json: certainly too old.
        first = (done.stdout or done.stderr).strip().splitlines()[:1]
        return first[0].removeprefix("Terraform ").strip() if first else "unknown"


def require_terraform(terraform: str | None = None) -> str:
    """The terraform binary to use, checked to be >= 1.5 (import blocks)."""
    found = terraform or shutil.which("terraform")
    if found is None:
        raise BadInputError(
            f"terraform CLI not on PATH: install terraform >= {MIN_TERRAFORM_FOR_IMPORT} "
            "(https://developer.hashicorp.com/terraform/install)"
        )
    version = version_of(found)
    parsed = _VERSION.match(version)
    if parsed is None or tuple(int(p) for p in parsed.groups())[:2] < _minimum():
        raise BadInputError(
            f"terraform {version} is older than {MIN_TERRAFORM_FOR_IMPORT}, which adoption's "
            f"import blocks need: install terraform >= {MIN_TERRAFORM_FOR_IMPORT}"
        )
    return found


def stack_file(stack_dir: Path) -> Path:
    path = stack_dir / STACK_FILE
    if not path.is_file():
        raise BadInputError(
            f"no synthesized stack at {stack_dir} ({STACK_FILE} missing): run `npx cdktf synth` "
            "first, or pass --stack-dir"
        )
    return path


def _run(
    terraform: str, args: list[str], *, cwd: Path, environ: Mapping[str, str] | None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [terraform, *args],
        cwd=cwd,
        env=dict(os.environ if environ is None else environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_S,
    )


def _first_error(done: subprocess.CompletedProcess[str]) -> str:
    """The first error diagnostic of a `-json` run, else the output's last lines."""
    for line in done.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("@level") == "error":
            diagnostic = message.get("diagnostic") or {}
            detail = diagnostic.get("detail") or ""
            summary = diagnostic.get("summary") or message.get("@message", "")
            return strip_ansi(f"{summary}: {detail}").strip(": ")[:600]
    # Terraform frames a diagnostic with box-drawing characters: keep the words only.
    text = [
        line.strip("╷│╵ ").strip()
        for line in strip_ansi(done.stdout + done.stderr).strip().splitlines()
    ]
    return " | ".join(line for line in text if line)[-600:]


def plan_json(
    stack_dir: Path,
    *,
    terraform: str,
    plan_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON of `terraform show -json` for `plan_file`, or for a fresh plan of the stack.

    A fresh plan is saved as `plan-check.tfplan` in the stack directory (apply that file to
    apply exactly what was checked); a stack never initialised is initialised first.
    """
    stack_file(stack_dir)
    # Terraform runs in the stack directory, so every path given to it is absolute: a path
    # relative to our working directory (the default cdktf.out/stacks/ENV) would be applied
    # twice, once by us and once by terraform's cwd.
    stack_dir = stack_dir.resolve()
    if plan_file is not None:
        path = plan_file if plan_file.is_absolute() else stack_dir / plan_file
        if not path.is_file():
            raise BadInputError(
                f"--plan-file {plan_file}: no such file in {stack_dir}; save one with "
                "`terraform plan -out=FILE` there"
            )
    else:
        if not (stack_dir / ".terraform").is_dir():
            init = _run(
                terraform, ["init", "-input=false", "-no-color"], cwd=stack_dir, environ=environ
            )
            if init.returncode != 0:
                raise ToolError(f"terraform init failed in {stack_dir}: {_first_error(init)}")
        path = stack_dir / CHECKED_PLAN
        planned = _run(
            terraform,
            ["plan", "-input=false", "-json", "-no-color", f"-out={path}"],
            cwd=stack_dir,
            environ=environ,
        )
        if planned.returncode != 0:
            raise ToolError(f"terraform plan failed in {stack_dir}: {_first_error(planned)}")
    shown = _run(
        terraform, ["show", "-json", "-no-color", str(path)], cwd=stack_dir, environ=environ
    )
    if shown.returncode != 0:
        raise ToolError(f"terraform show -json {path} failed: {_first_error(shown)}")
    try:
        plan: dict[str, Any] = json.loads(shown.stdout)
    except ValueError as err:
        raise ToolError(f"terraform show -json {path}: not JSON ({err})") from None
    return plan
