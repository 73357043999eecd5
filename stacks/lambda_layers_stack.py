"""One environment's Lambda layer, functions, their triggers and the CI deployer policy."""

from __future__ import annotations

import re

from cdktf import TerraformOutput, TerraformStack
from constructs import Construct

import artifacts
from environments import (
    Environment,
    ExistingRole,
    FunctionConfig,
    InvokePermission,
    ScheduleTrigger,
    SqsTrigger,
)
from environments.adoption import MIN_TERRAFORM_FOR_IMPORT
from infra_constructs import _aws
from infra_constructs.async_invoke import AsyncInvokeConfig
from infra_constructs.deployer_policy import DeployerPolicy
from infra_constructs.execution_role import RoleSpec
from infra_constructs.invoke_permission import InvokePermission as InvokePermissionConstruct
from infra_constructs.lambda_function import LambdaFunction, Settings
from infra_constructs.lambda_layer import LambdaLayer
from infra_constructs.provisioned_concurrency import ProvisionedConcurrency
from infra_constructs.queue_trigger import QueueTrigger
from infra_constructs.schedule import Schedule
from stacks.provider import configure_backend, configure_provider


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


class LambdaLayersStack(TerraformStack):
    """The design's "Terraform Changes" for one environment.

    `cdktf deploy ENV` creates (or, adopting an existing system, imports) the four
    functions with their log groups, roles, aliases and triggers, the layer's first version
    and the deployer policy; `scripts/` releases move code, layer versions and aliases
    afterwards without Terraform seeing drift.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: Environment,
        local_state_path: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        env = environment
        self.environment: Environment = env
        configure_provider(self, env)
        configure_backend(self, env, stack_id=id_, local_state_path=local_state_path)

        # The frontend bucket already exists (managed elsewhere): read it, never create it.
        self.artifact_bucket = _aws.DataAwsS3Bucket(
            self, "artifact_bucket", bucket=env.artifact_bucket
        )

        self.layer = LambdaLayer(
            self,
            "deps_layer",
            layer_name=env.layer_name,
            description=f"Python dependencies shared by the {env.name_prefix}-{env.name} functions",
            compatible_runtimes=[env.runtime],
            compatible_architectures=[env.architecture],
            s3_bucket=self.artifact_bucket.id,
            s3_key=f"{env.key_prefix}{artifacts.LAYER_LATEST}",
        )

        self._existing_roles: dict[str, str] = {}
        self.functions: dict[str, LambdaFunction] = {}
        for config in env.functions:
            function = self._function(env, config)
            self.functions[config.name] = function
            self._triggers(env, config, function)
            self._invocation(env, config, function)

        self.deployer_policy = DeployerPolicy(
            self,
            "deployer_policy",
            policy_name=f"{env.name_prefix}-{env.name}-lambda-deployer",
            layer_arn=self.layer.layer_arn,
            # Only what releases move: a function with its own package is never written by
            # scripts/, so the deployer gets no rights on it.
            function_arns=[self.functions[f.name].function_arn for f in env.released_functions],
            bucket_arn=self.artifact_bucket.arn,
            key_prefix=env.key_prefix,
            ci_role_name=env.ci_role_name,
            alias_name=env.alias_name,
            lock_key=f"{env.key_prefix}{artifacts.lock_name(env.name)}",
            alarm_arns=self._alarm_arns(env),
            log_group_arns=[f.log_group_arn for f in self.functions.values()],
        )

        TerraformOutput(
            self,
            "layer_version_arn",
            value=self.layer.version_arn,
            description="The deps layer version Terraform published (later ones come from CI)",
        )
        TerraformOutput(self, "layer_arn", value=self.layer.layer_arn)
        TerraformOutput(
            self, "function_names", value=[f.function_name for f in self.functions.values()]
        )
        TerraformOutput(self, "artifact_bucket_name", value=self.artifact_bucket.id)
        TerraformOutput(self, "deployer_policy_arn", value=self.deployer_policy.policy_arn)
        TerraformOutput(
            self,
            "alias_arns",
            value={name: f.alias_arn for name, f in self.functions.items()},
            description="What API Gateway, schedules and queues invoke; releases move these",
        )
        if env.adopt:
            # Import blocks arrived in Terraform 1.5; older ones would reject the stack with a
            # less helpful message.
            self.add_override("terraform.required_version", f">= {MIN_TERRAFORM_FOR_IMPORT}")

    def _function(self, env: Environment, config: FunctionConfig) -> LambdaFunction:
        name = env.function_name(config.name)
        adopt = env.adoption(config)
        vpc = config.vpc
        return LambdaFunction(
            self,
            f"function_{config.name.replace('-', '_')}",
            function_name=name,
            description=config.description,
            handler=config.handler,
            runtime=env.runtime,
            architecture=env.architecture,
            memory_mb=config.memory_mb,
            timeout_s=config.timeout_s,
            environment=config.environment,
            s3_bucket=self.artifact_bucket.id,
            s3_key=f"{env.key_prefix}{artifacts.PACKAGE_LATEST}",
            # Its own package has no deps layer: the stack adopts its settings, not its code.
            layers=[
                *([self.layer.version_arn] if config.package == "shared" else []),
                *config.extra_layers,
            ],
            role=self._role(env, config, name, adopt_role=adopt.role),
            alias_name=env.alias_name,
            log_retention_days=env.log_retention(config),
            existing_log_group=config.existing_log_group,
            tags=env.function_tags(config),
            settings=Settings(
                subnet_ids=vpc.subnet_ids if vpc else (),
                security_group_ids=vpc.security_group_ids if vpc else (),
                tracing_mode=config.tracing,
                reserved_concurrency=config.reserved_concurrency,
                ephemeral_storage_mb=config.ephemeral_storage_mb,
                dead_letter_target_arn=config.dead_letter_target_arn,
            ),
            adoption=adopt,
        )

    def _role(
        self, env: Environment, config: FunctionConfig, function_name: str, *, adopt_role: bool
    ) -> str | RoleSpec:
        """An existing role's ARN (never managed here), or what to manage for a created one."""
        role = config.role
        if isinstance(role, ExistingRole):
            if role.arn is not None:
                return role.arn
            if role.name not in self._existing_roles:
                found = _aws.DataAwsIamRole(
                    self, f"existing_role_{_slug(role.name)}", name=role.name
                )
                self._existing_roles[role.name] = found.arn
            return self._existing_roles[role.name]
        return RoleSpec(
            role_name=role.role_name(function_name),
            logs_policy_name=f"{function_name}-logs",
            access_policy_name=role.access_policy_name(function_name) if role.statements else "",
            statements=role.statements,
            managed_policy_arns=role.attachments(
                vpc=config.vpc is not None, tracing=config.tracing == "Active"
            ),
            tags=env.function_tags(config),
            adopt=adopt_role,
            # Only what the configuration lists exists; what the stack adds is new.
            adopt_attachments=role.managed_policy_arns,
            adopt_access_policy=bool(role.policy_name),
            inline_policies=role.inline_policies,
        )

    def _triggers(self, env: Environment, config: FunctionConfig, function: LambdaFunction) -> None:
        base = f"function_{config.name.replace('-', '_')}"
        for trigger in config.triggers:
            if isinstance(trigger, SqsTrigger):
                QueueTrigger(
                    self,
                    f"{base}_queue_{_slug(trigger.queue_arn.rsplit(':', 1)[-1])}",
                    queue_arn=trigger.queue_arn,
                    function=function,
                    batch_size=trigger.batch_size,
                    batching_window_s=trigger.batching_window_s,
                    function_response_types=trigger.function_response_types,
                    maximum_concurrency=trigger.maximum_concurrency,
                    filter_patterns=trigger.filter_patterns,
                    enabled=trigger.enabled,
                    target=trigger.target,
                    import_uuid=trigger.existing_uuid if env.adopt else None,
                )
            elif isinstance(trigger, ScheduleTrigger):
                rule = trigger.rule(function.function_name)
                Schedule(
                    self,
                    f"{base}_schedule_{_slug(rule)}",
                    rule_name=rule,
                    expression=trigger.expression,
                    description=trigger.description,
                    target_id=trigger.target_id,
                    function=function,
                    statement_id=trigger.statement_id(function.function_name),
                    tags=env.tags,
                    adopt=env.adopt and trigger.exists,
                    input_json=trigger.input,
                    target=trigger.target,
                )
            elif isinstance(trigger, InvokePermission):
                InvokePermissionConstruct(
                    self,
                    f"{base}_permission_{_slug(trigger.statement_id)}",
                    function=function,
                    principal=trigger.principal,
                    statement_id=trigger.statement_id,
                    source_arn=trigger.source_arn,
                    adopt=env.adopt and trigger.exists,
                    target=trigger.target,
                )

    def _invocation(
        self, env: Environment, config: FunctionConfig, function: LambdaFunction
    ) -> None:
        """Async invocation settings and provisioned concurrency; what exists is imported
        with the function (event invoke config) or the alias (provisioned concurrency)."""
        base = f"function_{config.name.replace('-', '_')}"
        adopt = env.adoption(config)
        if config.async_invoke is not None:
            AsyncInvokeConfig(
                self,
                f"{base}_async_invoke",
                function=function,
                settings=config.async_invoke,
                adopt=adopt.function,
            )
        if config.provisioned_concurrency is not None:
            ProvisionedConcurrency(
                self,
                f"{base}_provisioned_concurrency",
                function=function,
                executions=config.provisioned_concurrency,
                adopt=adopt.alias,
            )

    def _alarm_arns(self, env: Environment) -> list[str]:
        names = [name for config in env.functions for name in config.alarm_names]
        if not names:
            return []
        account = _aws.DataAwsCallerIdentity(self, "account").account_id
        return [f"arn:aws:cloudwatch:{env.region}:{account}:alarm:{name}" for name in names]
