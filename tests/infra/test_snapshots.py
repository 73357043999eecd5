"""One reviewed snapshot per stack: any change to the Terraform shows up in the diff.

Update after reviewing the change: `.venv/bin/pytest tests/infra --snapshot-update`.
"""

from __future__ import annotations

import json

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from .conftest import REPO_ROOT, Synth


@pytest.mark.parametrize("env_name", ["staging", "prod", "local"])
def test_stack_snapshot(synth: Synth, env_name: str, snapshot: SnapshotAssertion) -> None:
    stack = synth.stacks[env_name]
    text = json.dumps(stack)
    # Stable across machines and runs: nothing absolute, nothing from this checkout.
    assert str(REPO_ROOT) not in text
    assert "/tmp" not in text
    assert stack == snapshot(extension_class=JSONSnapshotExtension)
