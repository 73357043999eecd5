"""`npx cdktf synth` from the repository root, through cdktf.json, as a user runs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO_ROOT, Synth, read_stacks, subprocess_env


def test_cdktf_cli_synthesizes_every_stack_like_the_app(synth: Synth, tmp_path: Path) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx not found: install Node 20 and run `make setup`")
    outdir = tmp_path / "cdktf.out"
    # --output keeps the test from touching the checkout's cdktf.out.
    done = subprocess.run(
        [npx, "--no-install", "cdktf", "synth", "--output", str(outdir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=subprocess_env(CI="1"),
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert (outdir / "stacks" / "staging" / "cdk.tf.json").is_file()
    assert (outdir / "stacks" / "prod" / "cdk.tf.json").is_file()
    assert read_stacks(outdir) == synth.stacks
