"""`npx cdktf synth` from the repository root, through cdktf.json, as a user runs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from environments import ENVIRONMENTS

from .conftest import REPO_ROOT, Synth, read_stacks, subprocess_env

JSII_SILENCE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
# The frames of cdktf-cli's spinner (ink): one per redraw, ~12 a second while synthesizing.
SPINNER = set("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")


def test_cdktf_cli_synthesizes_every_stack_like_the_app_quietly(
    synth: Synth, tmp_path: Path
) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx not found: install Node 20 and run `make setup`")
    outdir = tmp_path / "cdktf.out"
    # Not the silence variable the Makefile exports: main.py must set it for its own process
    # tree. CI=1 as the Makefile and GitHub set it; output captured, so not a terminal.
    env = subprocess_env(CI="1")
    env.pop(JSII_SILENCE, None)
    # --output keeps the test from touching the checkout's cdktf.out.
    done = subprocess.run(
        [npx, "--no-install", "cdktf", "synth", "--output", str(outdir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert read_stacks(outdir) == synth.stacks
    # No jsii "Node 20 is end-of-life" banner (15 lines of '!!', relayed as [ERROR] lines).
    assert "end-of-life" not in output, output[:3000]
    assert "!!!!" not in output, output[:3000]
    # Line-oriented: the result line, and no spinner redraws.
    stacks = ", ".join(sorted(ENVIRONMENTS))
    assert f"Generated Terraform code for the stacks: {stacks}" in done.stdout
    assert not SPINNER & set(output), output[:3000]
    assert output.count("Synthesizing") <= 1, output[:3000]
