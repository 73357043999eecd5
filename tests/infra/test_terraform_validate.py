"""The local stacks are valid Terraform for the provider the offline mirror holds (5.100.x).

The bindings are typed for hashicorp/aws 6.25; this checks the same configuration against
the older provider the local stacks accept (`legacy` with its import blocks). Needs
`terraform` and TF_PLUGIN_MIRROR; skipped without them, except in CI (LAYERS_REQUIRE_E2E=1)
where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from environments import ENVIRONMENTS

from .conftest import Synth, subprocess_env

LOCAL_STACKS = [name for name, env in ENVIRONMENTS.items() if env.is_local]


def _terraform_and_mirror() -> tuple[str, Path]:
    terraform = shutil.which("terraform")
    mirror = os.environ.get("TF_PLUGIN_MIRROR", "")
    missing = []
    if terraform is None:
        missing.append("terraform CLI on PATH")
    if not mirror or not Path(mirror, "registry.terraform.io").is_dir():
        missing.append("TF_PLUGIN_MIRROR (a directory holding registry.terraform.io)")
    if missing:
        message = "needs " + " and ".join(missing)
        if os.environ.get("LAYERS_REQUIRE_E2E") == "1":
            pytest.fail(message)
        pytest.skip(message)
    assert terraform is not None
    return terraform, Path(mirror)


@pytest.mark.parametrize("env_name", LOCAL_STACKS)
def test_local_stack_validates_against_the_mirror_provider(
    synth: Synth, tmp_path: Path, env_name: str
) -> None:
    terraform, mirror = _terraform_and_mirror()
    cli_config = tmp_path / "terraform.rc"
    cli_config.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path = "{mirror}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n'
    )
    workdir = tmp_path / env_name
    shutil.copytree(synth.stack_dir(env_name), workdir)
    env = subprocess_env(TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1")
    for args in (["init", "-backend=false", "-input=false"], ["validate"]):
        done = subprocess.run(
            [terraform, *args, "-no-color"],
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    lock = (workdir / ".terraform.lock.hcl").read_text()
    assert 'version     = "5.100.' in lock
