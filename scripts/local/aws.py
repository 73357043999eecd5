"""A local AWS on this machine: terraform's offline provider mirror, commands run with
their output in a log, and `cdktf deploy` against a moto server (scripts/local/moto.py,
re-exported here).

Shared by `python -m scripts pipeline` and the end-to-end tests, so the pipeline a person
runs and the one CI proves are the same code. Commands run with their output in a log
file (terraform's full log is long; a person reads one line per step).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scripts.errors import BadInputError, ToolError
from scripts.local.moto import (
    HOST,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    MotoServer,
    free_port,
    replay,
    signal_group,
    start_moto,
)

__all__ = [
    "CREDENTIALS",
    "HOST",
    "MIRROR_VAR",
    "START_TIMEOUT_S",
    "MotoServer",
    "TerraformTools",
    "cdktf_deploy",
    "find_tools",
    "free_port",
    "local_environ",
    "replay",
    "run_logged",
    "start_moto",
    "terraform_summary",
    "write_cli_config",
]

# moto accepts any credentials; fixed dummies keep every call away from real AWS.
CREDENTIALS: Mapping[str, str] = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
MIRROR_VAR = "TF_PLUGIN_MIRROR"
# Terraform and the cdktf CLI colour their output; the log and the heartbeat should not.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True, kw_only=True)
class TerraformTools:
    """What `cdktf deploy` needs offline: the CLIs and the provider mirror root."""

    terraform: str
    npx: str
    mirror: Path

    def __post_init__(self) -> None:
        if not (self.mirror / "registry.terraform.io").is_dir():
            raise ValueError(f"mirror: {self.mirror} has no registry.terraform.io directory")


def find_tools(mirror: str | None) -> TerraformTools:
    """The terraform CLI, npx and the mirror, or a one-line error naming the fix."""
    terraform = shutil.which("terraform")
    if terraform is None:
        raise BadInputError(
            "terraform CLI not on PATH: install terraform >= 1.10 (https://developer.hashicorp.com/terraform/install)"
        )
    if not mirror:
        raise BadInputError(
            f"{MIRROR_VAR} is not set: point it at a terraform provider mirror holding "
            "registry.terraform.io/hashicorp/aws (`make pipeline` finds one with "
            ".ci/find-tf-mirror; create one with `terraform providers mirror DIR`)"
        )
    root = Path(mirror)
    if not (root / "registry.terraform.io").is_dir():
        raise BadInputError(
            f"{MIRROR_VAR}={mirror}: no registry.terraform.io directory there: point it at the "
            "mirror root (create one with `terraform providers mirror DIR`)"
        )
    npx = shutil.which("npx")
    if npx is None:
        raise BadInputError("npx not found: install Node.js 20 and run `make setup`")
    return TerraformTools(terraform=terraform, npx=npx, mirror=root)


def write_cli_config(path: Path, mirror: Path) -> Path:
    """A terraform CLI configuration that installs hashicorp providers from the mirror only.

    Point TF_CLI_CONFIG_FILE at it: with `direct` excluding them, an offline machine never
    tries the public registry for a provider the mirror lacks (it fails fast instead).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "provider_installation {\n"
        f"  filesystem_mirror {{\n    path = {json.dumps(str(mirror))}\n"
        '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n'
    )
    return path


def local_environ(
    endpoint: str,
    *,
    region: str,
    cli_config: Path | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Process environment for the scripts, cdktf and terraform against `endpoint` only.

    Every inherited AWS_ variable is dropped (a profile or real keys must never mix in);
    CI=1 keeps the cdktf CLI non-interactive and its output line-oriented.
    """
    environ = {
        name: value
        for name, value in (os.environ if base is None else base).items()
        if not name.startswith("AWS_")
    }
    environ.update(CREDENTIALS)
    environ.update(
        {
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": endpoint,
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "CI": "1",
        }
    )
    if cli_config is not None:
        environ["TF_CLI_CONFIG_FILE"] = str(cli_config)
    return environ


# ---- commands with their output in a log ----------------------------------------------

# Called every `tick_s` seconds while a command runs: (seconds so far, its last log line).
Tick = Callable[[float, str], None]


def last_line(log_path: Path, *, tail_bytes: int = 8192) -> str:
    """The last non-empty line of a log, without colour codes."""
    try:
        with log_path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - tail_bytes))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    lines = [_ANSI.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def tail(log_path: Path, count: int = 6) -> str:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    lines = [_ANSI.sub("", line).rstrip() for line in text.splitlines()]
    return " | ".join([line for line in lines if line.strip()][-count:])


def run_logged(
    command: Sequence[str],
    *,
    log_path: Path,
    environ: Mapping[str, str],
    cwd: Path,
    what: str,
    tick: Tick | None = None,
    tick_s: float = 10.0,
    timeout: float = 1800.0,
) -> None:
    """Run `command` with all its output appended to `log_path`; raise on failure.

    The command leads its own process group: on Ctrl-C (or a timeout) it gets SIGINT, so
    terraform can stop cleanly and release its state lock, then SIGKILL if it lingers.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"\n$ {' '.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(environ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = time.monotonic()
    next_tick = started + tick_s
    try:
        while True:
            try:
                process.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if now - started > timeout:
                raise ToolError(f"{what} did not finish within {timeout:.0f}s: see {log_path}")
            if tick is not None and now >= next_tick:
                tick(now - started, last_line(log_path))
                next_tick = now + tick_s
    finally:
        if process.poll() is None:
            _interrupt(process)
    if process.returncode != 0:
        raise ToolError(
            f"{what} failed (exit {process.returncode}): {tail(log_path)[-600:]}; "
            f"full log: {log_path}"
        )


def _interrupt(process: subprocess.Popen[bytes]) -> None:
    signal_group(process, signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)


def cdktf_deploy_command(npx: str, stack: str, outdir: Path) -> list[str]:
    """`cdktf deploy STACK` without prompts, into `outdir`.

    `--skip-provider-lock`: otherwise the CLI runs `terraform providers lock`, which asks
    the public registry and fails offline on a first deploy.
    """
    return [
        npx,
        "--no-install",
        "cdktf",
        "deploy",
        stack,
        "--auto-approve",
        "--skip-provider-lock",
        "--output",
        str(outdir),
    ]


def cdktf_deploy(
    *,
    npx: str,
    stack: str,
    outdir: Path,
    environ: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    tick: Tick | None = None,
) -> None:
    run_logged(
        cdktf_deploy_command(npx, stack, outdir),
        log_path=log_path,
        environ=environ,
        cwd=cwd,
        what=f"cdktf deploy {stack}",
        tick=tick,
    )


_APPLY = re.compile(r"Apply complete! Resources: (\d+) added, (\d+) changed, (\d+) destroyed")


def terraform_summary(log_path: Path, *, since: int = 0) -> str:
    """What the last apply in the log did: "3 added, 0 changed, 0 destroyed" or "no changes"."""
    text = _ANSI.sub("", log_path.read_text(encoding="utf-8", errors="replace")[since:])
    found = _APPLY.findall(text)
    if found and found[-1] != ("0", "0", "0"):
        added, changed, destroyed = found[-1]
        return f"{added} added, {changed} changed, {destroyed} destroyed"
    if found or "No changes." in text:
        return "no changes"
    return "unknown"
