"""Shared by the terraform end-to-end tests: the tools they need, or a skip (a failure in CI).

Needs terraform on PATH, npx, and TF_PLUGIN_MIRROR (the provider mirror root). Without them
the tests are skipped, except in CI (LAYERS_REQUIRE_E2E=1), where they fail.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

from scripts.errors import BadInputError
from scripts.local import aws as local_aws

REQUIRE = os.environ.get("LAYERS_REQUIRE_E2E") == "1"


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
