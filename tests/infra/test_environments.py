"""Configuration errors: a ValueError that names the field and what is allowed."""

from __future__ import annotations

from dataclasses import replace

import pytest

import artifacts
from environments import (
    ADOPT_ALL_BUT_ALIAS,
    ADOPT_NOTHING,
    AWS_PROVIDER_BINDINGS_VERSION,
    ENVIRONMENTS,
    Adopt,
    CreatedRole,
    Environment,
    ExistingRole,
    FunctionConfig,
    InvokePermission,
    PolicyStatement,
    ScheduleTrigger,
    SqsTrigger,
    VpcConfig,
    get_environment,
)

from .conftest import EXTRA_LAYER, one_function


def test_unknown_environment_names_the_allowed_ones() -> None:
    with pytest.raises(
        ValueError, match=r"^environment: unknown 'qa'; allowed: legacy, local, prod, staging$"
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
    assert {name for name, env in ENVIRONMENTS.items() if env.is_local} == {"local", "legacy"}
    # The running estate's deploy workflow named its alias after the environment.
    aliases = {name: env.alias_name for name, env in ENVIRONMENTS.items()}
    assert aliases == {"staging": "staging", "prod": "prod", "local": "live", "legacy": "live"}


def test_endpoint_override_reaches_local_environments_only() -> None:
    url = "http://127.0.0.1:4566"
    assert get_environment("local", endpoint_url=url).endpoint_url == url
    assert get_environment("staging", endpoint_url=url).endpoint_url is None
    assert replace(ENVIRONMENTS["prod"]).endpoint_url is None


# ---- functions that already exist ----------------------------------------------------


def test_real_names_are_what_the_scripts_see() -> None:
    legacy = ENVIRONMENTS["legacy"]
    assert legacy.function_name("eval-runbook-worker") == "bluemoxon-legacy-runbook-worker"
    assert legacy.function_name("api") == "bluemoxon-legacy-api"
    assert "bluemoxon-legacy-runbook-worker" in legacy.function_names
    assert legacy.function("api").memory_mb == 512
    with pytest.raises(KeyError, match="no function 'nope'"):
        legacy.function("nope")


def test_defaults_keep_the_designs_names_and_the_bindings_provider() -> None:
    env = Environment(name="qa", functions=(one_function(),))
    assert env.alias_name == "live"
    assert env.adopt is False
    assert env.provider_version == AWS_PROVIDER_BINDINGS_VERSION == "6.25.0"
    assert env.log_retention_days == 30
    assert env.legacy_deployer_policy is None
    config = env.functions[0]
    assert isinstance(config.role, CreatedRole) and config.role.role_name("f") == "f-role"
    assert config.alarm_names == () and config.intended_changes == ()


def test_adoption_is_per_environment_and_overridable_per_function() -> None:
    new = replace(one_function("new"), adopt=ADOPT_NOTHING)
    aliased = replace(one_function("api"), adopt=Adopt(alias=True))
    plain = one_function("cleanup")
    env = Environment(name="qa", functions=(new, aliased, plain), adopt=True)
    assert env.adoption(plain) == ADOPT_ALL_BUT_ALIAS
    assert env.adoption(new) == ADOPT_NOTHING
    assert env.adoption(aliased).alias is True
    # Off is off, whatever a function says.
    assert replace(env, adopt=False).adoption(aliased) == ADOPT_NOTHING


def test_tags_merge_environment_then_function() -> None:
    config = replace(one_function(), tags={"Component": "api", "Team": "web"})
    env = Environment(name="qa", functions=(config,), tags={"Team": "platform", "Env": "qa"})
    assert env.function_tags(config) == {"Team": "web", "Env": "qa", "Component": "api"}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"function_name": "has space"}, r"functions\[api\]\.function_name: got 'has space'"),
        ({"tracing": "On"}, r"functions\[api\]\.tracing: got 'On'; allowed: Active, PassThrough"),
        ({"reserved_concurrency": -1}, r"functions\[api\]\.reserved_concurrency: got -1"),
        ({"ephemeral_storage_mb": 256}, r"ephemeral_storage_mb: got 256; allowed: 512-10240"),
        ({"dead_letter_target_arn": "queue"}, r"dead_letter_target_arn: got 'queue'"),
        ({"log_retention_days": 10}, r"functions\[api\]\.log_retention_days: got 10; allowed"),
        (
            {"existing_log_group": "/shared", "log_retention_days": 7},
            r"log_retention_days: the existing log group is managed elsewhere",
        ),
        ({"intended_changes": ("publish",)}, r"intended_changes: publish not protected"),
        ({"alarm_names": ("a", "a")}, r"alarm_names: names must be non-empty and distinct"),
        ({"tags": {"aws:x": "y"}}, r"functions\[api\]\.tags: 'aws:x'='y'"),
    ],
)
def test_function_settings_name_the_field(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FunctionConfig(name="api", handler="app.main.handler", **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: VpcConfig(subnet_ids=(), security_group_ids=("sg-0123456789abcdef0",)),
            r"^vpc\.subnet_ids: at least one",
        ),
        (
            lambda: VpcConfig(
                subnet_ids=("subnet-1",), security_group_ids=("sg-0123456789abcdef0",)
            ),
            r"^vpc\.subnet_ids: 'subnet-1' is not an id",
        ),
        (
            lambda: ExistingRole(role="arn:aws:iam::1:role/x"),
            r"^role: got 'arn:aws:iam::1:role/x'; use a role name or",
        ),
        (
            lambda: CreatedRole(managed_policy_arns=("AWSLambdaBasic",)),
            r"^role\.managed_policy_arns: 'AWSLambdaBasic' is not a policy ARN",
        ),
        (
            lambda: CreatedRole(policy_name="p"),
            r"^role\.policy_name: names the policy holding `statements`",
        ),
        (
            lambda: PolicyStatement(sid="a-b", actions=("s3:GetObject",), resources=("*",)),
            r"^statements\.sid: got 'a-b'",
        ),
        (
            lambda: PolicyStatement(sid="A", actions=("GetObject",), resources=("*",)),
            r"^statements\[A\]\.actions",
        ),
        (
            lambda: SqsTrigger(queue_arn="arn:aws:sqs:us-west-2:123456789012:q", batch_size=100),
            r"^triggers\.sqs\.batch_size: 100 needs batching_window_s >= 1",
        ),
        (lambda: SqsTrigger(queue_arn="q"), r"^triggers\.sqs\.queue_arn: got 'q'"),
        (
            lambda: SqsTrigger(queue_arn="arn:aws:sqs:us-west-2:123456789012:q", existing_uuid="1"),
            r"^triggers\.sqs\.existing_uuid: got '1'",
        ),
        (
            lambda: ScheduleTrigger(expression="daily"),
            r"^triggers\.schedule\.expression: got 'daily'",
        ),
        (
            lambda: InvokePermission(principal="apigateway", statement_id="s"),
            r"^triggers\.permission\.principal: got 'apigateway'",
        ),
        (
            lambda: InvokePermission(principal="sns.amazonaws.com", statement_id="a b"),
            r"^triggers\.permission\.statement_id: got 'a b'",
        ),
        (
            lambda: Adopt(function=False, alias=True),
            r"^adopt\.alias: an existing alias needs adopt\.function",
        ),
    ],
)
def test_migration_settings_name_the_field(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_existing_role_takes_a_name_or_an_arn() -> None:
    by_arn = ExistingRole(role="arn:aws:iam::123456789012:role/service-role/runner")
    assert (by_arn.arn, by_arn.name) == (by_arn.role, "runner")
    by_name = ExistingRole(role="runner")
    assert (by_name.arn, by_name.name) == (None, "runner")


def test_created_role_adds_only_the_policies_it_lacks() -> None:
    vpc_access = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    assert CreatedRole().attachments(vpc=True, tracing=True) == (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess",
        "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
    )
    assert CreatedRole(managed_policy_arns=(vpc_access,)).attachments(vpc=True, tracing=False) == (
        vpc_access,
    )
    assert CreatedRole().attachments(vpc=False, tracing=False) == ()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"alias_name": "7"}, r"^qa\.alias_name: got '7'"),
        ({"alias_name": "$LATEST"}, r"^qa\.alias_name: got '\$LATEST'"),
        ({"log_retention_days": 2}, r"^qa\.log_retention_days: got 2"),
        (
            {"legacy_deployer_policy": "bad policy"},
            r"^qa\.legacy_deployer_policy: got 'bad policy'",
        ),
        ({"provider_version": " "}, r"^qa\.provider_version: empty"),
    ],
)
def test_environment_settings_name_the_field(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Environment(name="qa", functions=(one_function(),), **settings)  # type: ignore[arg-type]


def test_two_functions_with_one_real_name_are_refused() -> None:
    twin = replace(one_function("cleanup"), function_name="qa-qa-api")
    with pytest.raises(ValueError, match=r"^qa\.functions: two functions named alike"):
        Environment(name="qa", name_prefix="qa", functions=(one_function(), twin))


def test_two_schedules_on_one_rule_are_refused() -> None:
    rule = ScheduleTrigger(expression="rate(1 day)", rule_name="nightly")
    a = replace(one_function("api"), triggers=(rule,))
    b = replace(one_function("cleanup"), triggers=(rule,))
    with pytest.raises(ValueError, match=r"^qa\.functions: two schedules share a rule name"):
        Environment(name="qa", functions=(a, b))


def test_a_default_role_name_over_64_characters_is_refused() -> None:
    long = replace(one_function(), function_name="f" * 60)
    with pytest.raises(ValueError, match=r"role\.name: the default 'f{60}-role' is over 64"):
        Environment(name="qa", functions=(long,))
