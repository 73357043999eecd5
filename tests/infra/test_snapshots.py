"""One reviewed snapshot per stack: any change to the Terraform shows up in the diff.

The stacks come from the configuration (`ENVIRONMENTS`), so a new environment is covered
without editing this file, and fails until its snapshot has been reviewed and committed.
Update after reviewing the change: `.venv/bin/pytest tests/infra --snapshot-update`.
"""

from __future__ import annotations

import json

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from environments import ENVIRONMENTS

from .conftest import REPO_ROOT, Synth

SNAPSHOTS = REPO_ROOT / "tests" / "infra" / "__snapshots__" / "test_snapshots"


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_every_environment_has_a_reviewed_snapshot(env_name: str) -> None:
    path = SNAPSHOTS / f"test_stack_snapshot[{env_name}].json"
    if not path.is_file():
        pytest.fail(
            f"environment {env_name!r} has no reviewed snapshot ({path.name}): synthesize it "
            "with `.venv/bin/pytest tests/infra --snapshot-update`, review the JSON, commit it"
        )


def test_every_snapshot_is_an_environment() -> None:
    stale = sorted(
        path.name
        for path in SNAPSHOTS.glob("test_stack_snapshot[[]*[]].json")
        if path.name.removeprefix("test_stack_snapshot[").removesuffix("].json") not in ENVIRONMENTS
    )
    assert stale == [], "snapshots of environments that no longer exist: delete them"


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_stack_snapshot(synth: Synth, env_name: str, snapshot: SnapshotAssertion) -> None:
    stack = synth.stacks[env_name]
    text = json.dumps(stack)
    # Stable across machines and runs: nothing absolute, nothing from this checkout.
    assert str(REPO_ROOT) not in text
    assert "/tmp" not in text
    assert stack == snapshot(extension_class=JSONSnapshotExtension)
