"""The fast provider import must change nothing but speed and memory.

The session synthesized the fast way; here the normal way runs in a subprocess (it costs
~0.6 GB and 10-20 s, which this process should not carry) and must produce identical JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra_constructs import _aws

from .conftest import REPO_ROOT, Synth, read_stacks, subprocess_env

_SLOW_SYNTH = """
import json, sys
import main
from infra_constructs import _aws
main.build_app(environ={"LAYERS_FAST_PROVIDER_IMPORT": "0"}, outdir=sys.argv[1]).synth()
print(json.dumps({"mode": _aws.mode(), "submodules": _aws.loaded_submodule_count()}))
"""


def test_session_loaded_only_the_submodules_it_uses(synth: Synth) -> None:
    del synth
    assert _aws.mode() == "fast"
    assert 0 < _aws.loaded_submodule_count() < 50


def test_normal_import_synthesizes_identical_json(
    synth: Synth, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Compiling the 2,212 modules dominates the normal import when bytecode is not cached
    # (PYTHONDONTWRITEBYTECODE is set on some machines): keep it in pytest's cache instead.
    pycache = request.config.cache.mkdir("provider-pycache") if request.config.cache else None
    env = subprocess_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    done = subprocess.run(
        [sys.executable, "-c", _SLOW_SYNTH, str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["mode"] == "full"
    assert loaded["submodules"] > 2000  # it really took the slow path
    assert read_stacks(tmp_path) == synth.stacks


def test_mode_cannot_change_once_loaded(synth: Synth) -> None:
    del synth
    try:
        _aws.load_provider(fast=False)
    except RuntimeError as error:
        assert "already loaded the fast way" in str(error)
    else:
        raise AssertionError("switching to the normal import after loading must fail")
