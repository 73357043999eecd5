"""Configuration errors: a ValueError that names the field and what is allowed."""

from __future__ import annotations

from dataclasses import replace

import pytest

import artifacts
from environments import ENVIRONMENTS, Environment, FunctionConfig, get_environment

from .conftest import EXTRA_LAYER, one_function


def test_unknown_environment_names_the_allowed_ones() -> None:
    with pytest.raises(
        ValueError, match=r"^environment: unknown 'qa'; allowed: local, prod, staging$"
    ):
        get_environment("qa")


def test_bad_runtime_lists_the_supported_runtimes() -> None:
    with pytest.raises(
        ValueError, match=r"^runtime: got 'python2\.7'; allowed: python3\.10, .*python3\.12"
    ):
        Environment(name="qa", runtime="python2.7", functions=(one_function(),))


def test_bad_architecture_lists_the_supported_ones() -> None:
    with pytest.raises(ValueError, match=r"^architecture: got 'arm'; allowed: x86_64, arm64$"):
        Environment(name="qa", architecture="arm", functions=(one_function(),))


def test_more_than_five_layers_is_refused() -> None:
    with pytest.raises(ValueError, match=r"functions\[api\]\.layers: at most 5 .* got 6$"):
        FunctionConfig(name="api", handler="app.main.handler", extra_layers=(EXTRA_LAYER,) * 5)
    # Four extra layers plus the deps layer is exactly Lambda's limit.
    FunctionConfig(name="api", handler="app.main.handler", extra_layers=(EXTRA_LAYER,) * 4)


@pytest.mark.parametrize("memory_mb", [127, 10241, 0])
def test_memory_outside_lambda_limits_names_the_range(memory_mb: int) -> None:
    with pytest.raises(ValueError, match=rf"memory_mb: got {memory_mb}; allowed: 128-10240$"):
        FunctionConfig(name="api", handler="app.main.handler", memory_mb=memory_mb)


@pytest.mark.parametrize("memory_mb", [128, 10240])
def test_memory_limits_are_inclusive(memory_mb: int) -> None:
    assert FunctionConfig(name="api", handler="h.x", memory_mb=memory_mb).memory_mb == memory_mb


def test_duplicate_function_names_are_named() -> None:
    with pytest.raises(ValueError, match=r"^qa\.functions: duplicate names api$"):
        Environment(name="qa", functions=(one_function(), one_function(), one_function("cleanup")))


def test_configured_environments_are_the_designs() -> None:
    for name, env in ENVIRONMENTS.items():
        assert env.layer_name == f"bluemoxon-{name}-deps"
        assert env.artifact_bucket == f"bluemoxon-frontend-{name}"
        assert env.key_prefix + artifacts.LAYER_LATEST == "lambda/layer.zip"
        assert env.key_prefix + artifacts.PACKAGE_LATEST == "lambda/backend.zip"
        assert env.runtime == "python3.12"
        assert env.architecture == "x86_64"
    assert [env.is_local for env in ENVIRONMENTS.values()] == [False, False, True]


def test_endpoint_override_reaches_local_environments_only() -> None:
    url = "http://127.0.0.1:4566"
    assert get_environment("local", endpoint_url=url).endpoint_url == url
    assert get_environment("staging", endpoint_url=url).endpoint_url is None
    assert replace(ENVIRONMENTS["prod"]).endpoint_url is None
