"""End to end: `discover` reads the real estate's world (tests/e2e/estate.py: its own
Terraform root on moto plus the deploy workflow's out-of-band run) and writes the
environment that adopts it: every function and setting the inventory names, the SQS
workers' partial batch failures, the image functions left alone, the callers of the
unqualified function. Run twice, it writes the same file."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from environments import ENVIRONMENTS, REPO_ROOT, Environment, ScheduleTrigger, SqsTrigger
from environments.catalog import load_environment_file
from scripts.local import aws as local_aws

from .adoption import run
from .estate import (
    ALIAS,
    IMAGE_FUNCTIONS,
    LAYER_WORKERS,
    PREFIX,
    ZIP_FUNCTIONS,
    Estate,
    running_estate,
)

pytestmark = pytest.mark.e2e
SQS_WORKERS = (
    "analysis-worker",
    "eval-runbook-worker",
    "profile-worker",
    "tracking-worker",
    "image-processor",
)


@pytest.fixture(scope="module")
def estate(
    tools: local_aws.TerraformTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Estate]:
    with running_estate(tmp_path_factory, "estate", tools) as estate:
        yield estate


def _discover(estate: Estate, out: Path) -> dict[str, object]:
    done = run(
        [
            sys.executable,
            "-m",
            "scripts",
            "discover",
            "--env",
            "staging",
            "--prefix",
            PREFIX,
            "--state",
            "local",
            "--out",
            str(out),
            "--json",
        ],
        cwd=REPO_ROOT,
        environ=estate.environ,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    print(done.stderr)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_discover_writes_the_estate_that_runs(estate: Estate, tmp_path: Path) -> None:
    out = tmp_path / "staging.toml"
    result = _discover(estate, out)
    env = load_environment_file(out)

    assert sorted(u.name for u in env.unmanaged_functions) == [PREFIX + f for f in IMAGE_FUNCTIONS]
    assert sorted(f.name for f in env.functions) == sorted(ZIP_FUNCTIONS)
    assert (env.name_prefix, env.alias_name, env.adopt) == ("bluemoxon", ALIAS, True)
    for worker in (w for w in SQS_WORKERS if w in ZIP_FUNCTIONS):
        (mapping,) = [t for t in env.function(worker).triggers if isinstance(t, SqsTrigger)]
        assert mapping.function_response_types == ("ReportBatchItemFailures",), worker
        assert (mapping.batch_size, mapping.target) == (1, "function"), worker
        assert mapping.existing_uuid
    assert env.function("db-sync").package == "own"
    assert all(env.function(f).package == "shared" for f in ("api", *LAYER_WORKERS))
    api = env.function("api")
    assert api.adopt is not None and api.adopt.alias
    assert [(c.kind, c.target) for c in api.external_callers] == [
        ("apigatewayv2-integration", "function")
    ]
    cleanup = env.function("cleanup")
    assert any(isinstance(t, ScheduleTrigger) and t.input for t in cleanup.triggers)
    assert ("lambda-invoke", "function") in [(c.kind, c.target) for c in cleanup.external_callers]
    bypass = result["bypass"]
    assert isinstance(bypass, dict) and bypass[PREFIX + "api"]
    _same_entry_points(env, ENVIRONMENTS["staging"])

    # Discover again: the same estate, the same file.
    again = tmp_path / "again" / "staging.toml"
    _discover(estate, again)
    assert again.read_text() == out.read_text()


def _same_entry_points(found: Environment, shipped: Environment) -> None:
    """What discover read agrees with the shipped staging file on what the inventory
    fixes (handlers, sizes); account values differ (the shipped ones are placeholders)."""
    for function in found.functions:
        theirs = next((f for f in shipped.functions if f.name == function.name), None)
        assert theirs is not None, f"{function.name}: not in environments/staging.toml"
        assert (function.handler, function.memory_mb, function.timeout_s) == (
            theirs.handler,
            theirs.memory_mb,
            theirs.timeout_s,
        ), function.name
