"""main.py maps the process environment; nothing else on the infrastructure side reads it."""

from __future__ import annotations

import subprocess
import sys

import pytest

import main
from environments import LOCAL_ENDPOINT_DEFAULT

from .conftest import REPO_ROOT, subprocess_env


def test_endpoint_defaults_to_moto_and_reaches_only_local() -> None:
    envs = {env.name: env for env in main.environments_for({})}
    assert envs["local"].endpoint_url == LOCAL_ENDPOINT_DEFAULT
    assert envs["staging"].endpoint_url is None
    moved = {env.name: env for env in main.environments_for({"AWS_ENDPOINT_URL": "http://x:1"})}
    assert moved["local"].endpoint_url == "http://x:1"
    assert moved["prod"].endpoint_url is None


@pytest.mark.parametrize(("value", "fast"), [("1", True), ("0", False)])
def test_fast_import_switch(value: str, fast: bool) -> None:
    assert main.fast_import_enabled({"LAYERS_FAST_PROVIDER_IMPORT": value}) is fast
    assert main.fast_import_enabled({}) is True


def test_bad_switch_value_is_one_line_and_a_nonzero_exit() -> None:
    done = subprocess.run(
        [sys.executable, "main.py"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=subprocess_env(LAYERS_FAST_PROVIDER_IMPORT="yes"),
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "synth: LAYERS_FAST_PROVIDER_IMPORT: got 'yes'; allowed: 0, 1"
