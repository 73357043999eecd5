"""Shared by the terraform end-to-end tests: the tools they need, or a skip (a failure in CI).

Needs terraform on PATH, npx, and TF_PLUGIN_MIRROR (the provider mirror root). Without them
the tests are skipped, except in CI (LAYERS_REQUIRE_E2E=1), where they fail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from scripts.errors import BadInputError
from scripts.local import aws as local_aws

from .adoption import AdoptedWorld
from .adoption import adopted_world as adopted_world_in

REQUIRE = os.environ.get("LAYERS_REQUIRE_E2E") == "1"
# The Lambda double (tests/scripts/lambda_double.py) stands in front of moto here too: the
# release commands need what moto lacks (a downloadable Code.Location, RevisionIds).
_SCRIPTS_TESTS = str(Path(__file__).resolve().parents[1] / "scripts")
if _SCRIPTS_TESTS not in sys.path:
    sys.path.insert(0, _SCRIPTS_TESTS)


def missing(reason: str) -> NoReturn:
    if REQUIRE:
        pytest.fail(f"{reason} (LAYERS_REQUIRE_E2E=1: the end-to-end test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def tools() -> local_aws.TerraformTools:
    try:
        return local_aws.find_tools(os.environ.get(local_aws.MIRROR_VAR))
    except BadInputError as err:
        missing(str(err))


@pytest.fixture(scope="module")
def adopted_world(
    tools: local_aws.TerraformTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AdoptedWorld]:
    """The legacy system adopted by the `legacy` stack (tests/e2e/adoption.py): one per
    module, so the deploy and rollback steps can follow in order."""
    with adopted_world_in(tmp_path_factory.mktemp("adoption"), tools) as world:
        yield world
