"""The README's quickstart, run as written: its one bash block, in a copy of this checkout,
with a small offline backend as `../my-backend`.

Two things differ from a person's run, both outside the block: the installed `layers` is a
wrapper that runs this copy's code (the venv's editable install points at the original
checkout), and moto's port is a free one instead of 5000 (a sandbox a developer left up, or
another test, may hold 5000). uv reads its index from `UV_FIND_LINKS`/`UV_NO_INDEX`, so the
backend's lock resolves from local wheels.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from environments import REPO_ROOT
from scripts.local import aws as local_aws
from scripts.local import sandbox

from .offline_backend import make_backend, write_wheel

pytestmark = pytest.mark.e2e

_SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".venv-checkov",
    "node_modules",
    "cdktf.out",
    ".sandbox",
    ".pipeline",
    ".local-store",
    "build",
    ".work",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "*.egg-info",
)


def quickstart_block() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Quickstart") :]
    found = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert found, "the quickstart has no bash block"
    return found.group(1)


def _checkout_copy(root: Path) -> Path:
    copy = root / "checkout"
    shutil.copytree(REPO_ROOT, copy, ignore=_SKIP, symlinks=True)
    (copy / "node_modules").symlink_to(REPO_ROOT / "node_modules")
    # The venv by links (its interpreter finds pyvenv.cfg beside the link), but our `layers`.
    venv = Path(sys.prefix)
    bin_dir = copy / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for entry in venv.iterdir():
        if entry.name != "bin":
            (copy / ".venv" / entry.name).symlink_to(entry)
    for entry in (venv / "bin").iterdir():
        if entry.name != "layers":
            (bin_dir / entry.name).symlink_to(entry)
    launcher = (
        f"import sys; sys.path.insert(0, {str(copy)!r}); "
        "from scripts.cli import main; sys.exit(main())"
    )
    layers = bin_dir / "layers"
    layers.write_text(f'#!/bin/sh\nexec {bin_dir / "python"} -c "{launcher}" "$@"\n')
    layers.chmod(0o755)
    return copy


def test_the_quickstart_runs_as_written(tools: local_aws.TerraformTools, tmp_path: Path) -> None:
    block = quickstart_block()
    assert "environments/mine.toml" in block and "../my-backend" in block
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write_wheel(wheels, "e2e_alpha", "1.0")
    backend = make_backend(tmp_path, wheels)
    backend.rename(tmp_path / "my-backend")
    copy = _checkout_copy(tmp_path)
    port = local_aws.free_port()
    script = block.replace("127.0.0.1:5000", f"127.0.0.1:{port}")
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "UV_"))},
        local_aws.MIRROR_VAR: str(tools.mirror),
        "UV_FIND_LINKS": str(wheels),
        "UV_NO_INDEX": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CHECKPOINT_DISABLE": "1",
    }
    try:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=copy,
            env=environ,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
    finally:
        stopped = sandbox.stop(copy / ".sandbox")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert stopped is None, "the block's last step stops the sandbox"
    out = done.stdout + done.stderr
    # Two releases and the rollback to the first, as history lists them (newest first).
    history = [line for line in out.splitlines() if re.match(r"^\d{8}T", line)]
    assert [line.split()[1:3] for line in history] == [
        ["rollback", "succeeded"],
        ["deploy", "succeeded"],
        ["deploy", "succeeded"],
    ], out[-3000:]
    assert "bluemoxon-mine-api" in out
