"""The design's `modules/lambda` and `modules/cleanup-lambda`: one backend entry point.

Every function runs the same package (`lambda/backend.zip`) with its own handler, behind an
alias that its triggers invoke. A function that already exists is imported (adoption) with
the settings it has, so taking it over changes only what the migration means to change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from constructs import Construct

from environments.adoption import ADOPT_NOTHING, Adopt
from infra_constructs import _aws
from infra_constructs.execution_role import ExecutionRole, RoleSpec

# Lambda's own limit on the layers one function references.
MAX_LAYERS = 5
# The function's attributes `scripts/` releases move after Terraform created it.
MOVED_BY_RELEASES = (
    # filename: never set here; code arrives from S3 via scripts/ deploy.
    "filename",
    # source_code_hash: scripts/ deploy updates the code
    # (update-function-code from lambda/backend-HASH.zip).
    "source_code_hash",
    # layers: scripts/ deploy attaches each new deps layer version
    # (update-function-configuration); rollback re-attaches older ones.
    "layers",
    # s3_bucket, s3_key: only a new function's first code comes from here; scripts/ deploy
    # moves the code after. An adopted function has none in state (the provider never
    # reads them), and must not get the package before scripts/ deploy attaches its layer.
    "s3_bucket",
    "s3_key",
)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What an existing function may already have; None leaves the attribute unmanaged."""

    subnet_ids: Sequence[str] = ()
    security_group_ids: Sequence[str] = ()
    tracing_mode: str | None = None
    reserved_concurrency: int | None = None
    ephemeral_storage_mb: int | None = None
    dead_letter_target_arn: str | None = None


class LambdaFunction(Construct):
    """A function from the artifact bucket, with its log group, role and alias.

    Terraform creates (or imports: `adoption`; a created role's own parts are in its
    `RoleSpec`) the function and owns its configuration (handler, memory, timeout,
    environment, network). The code, the attached layers and where the alias points
    are moved by `scripts/` releases afterwards, so those attributes are ignored here; see
    `MOVED_BY_RELEASES` and the alias's `ignore_changes`.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        function_name: str,
        description: str,
        handler: str,
        runtime: str,
        architecture: str,
        memory_mb: int,
        timeout_s: int,
        environment: Mapping[str, str],
        s3_bucket: str,
        s3_key: str,
        layers: Sequence[str],
        role: str | RoleSpec,
        alias_name: str,
        log_retention_days: int,
        existing_log_group: str | None = None,
        tags: Mapping[str, str] | None = None,
        settings: Settings | None = None,
        adoption: Adopt = ADOPT_NOTHING,
    ) -> None:
        super().__init__(scope, id_)
        if len(layers) > MAX_LAYERS:
            raise ValueError(f"layers: at most {MAX_LAYERS}, got {len(layers)}")
        settings = settings or Settings()
        tags = dict(tags or {})
        self.function_name: str = function_name
        dependencies = self._log_group(
            existing_log_group, retention_days=log_retention_days, tags=tags, adoption=adoption
        )
        dependencies += self._role(role)
        self.function = _aws.LambdaFunction(
            self,
            "function",
            function_name=function_name,
            description=description,
            role=self.role_arn,
            handler=handler,
            runtime=runtime,
            architectures=[architecture],
            memory_size=memory_mb,
            timeout=timeout_s,
            s3_bucket=s3_bucket,
            s3_key=s3_key,
            layers=list(layers),
            environment=(
                _aws.LambdaFunctionEnvironment(variables=dict(environment)) if environment else None
            ),
            # Every configuration change publishes a version, so the alias always has one to
            # point at; the first is published on create (or on adoption's first apply).
            publish=True,
            **_optional_settings(settings),
            # Only a log group other than Lambda's default needs saying.
            logging_config=(
                _aws.LambdaFunctionLoggingConfig(log_format="Text", log_group=existing_log_group)
                if existing_log_group not in (None, f"/aws/lambda/{function_name}")
                else None
            ),
            tags=tags or None,
            depends_on=dependencies or None,
            lifecycle=TerraformResourceLifecycle(ignore_changes=list(MOVED_BY_RELEASES)),
        )
        if adoption.function:
            self.function.import_from(function_name)
        self.function_arn: str = self.function.arn
        self._alias(alias_name, adoption=adoption)

    def _log_group(
        self,
        existing: str | None,
        *,
        retention_days: int,
        tags: Mapping[str, str],
        adoption: Adopt,
    ) -> list[object]:
        """Sets `log_group_arn` (and `log_group`, when created); what the function waits for."""
        default_log_group = f"/aws/lambda/{self.function_name}"
        if existing is not None:
            # Managed elsewhere: read, never created or imported.
            found = _aws.DataAwsCloudwatchLogGroup(self, "log_group", name=existing)
            self.log_group_arn: str = found.arn
            return []
        # Created before the function so Lambda does not create it first without retention.
        self.log_group = _aws.CloudwatchLogGroup(
            self,
            "log_group",
            name=default_log_group,
            retention_in_days=retention_days,
            tags=dict(tags) or None,
        )
        if adoption.log_group:
            self.log_group.import_from(default_log_group)
        self.log_group_arn = self.log_group.arn
        return [self.log_group]

    def _role(self, role: str | RoleSpec) -> list[object]:
        """Sets `role_arn` (and `execution_role`, when created); what the function waits for."""
        if not isinstance(role, RoleSpec):
            self.execution_role: ExecutionRole | None = None
            self.role_arn: str = role
            return []
        # "Default" keeps the role's Terraform addresses what they were before the role
        # moved into its own construct (cdktf leaves that id out of logical ids).
        self.execution_role = ExecutionRole(
            self, "Default", spec=role, log_group_arn=self.log_group_arn
        )
        self.role_arn = self.execution_role.arn
        return list(self.execution_role.dependables)

    def _alias(self, alias_name: str, *, adoption: Adopt) -> None:
        # What every trigger invokes. Terraform makes it at the first published version;
        # releases move it afterwards.
        self.alias = _aws.LambdaAlias(
            self,
            "alias",
            name=alias_name,
            function_name=self.function.function_name,
            function_version=self.function.version,
            lifecycle=TerraformResourceLifecycle(
                ignore_changes=[
                    # function_version: scripts/ deploy publishes a version and moves the
                    # alias to it; rollback moves it back.
                    "function_version",
                    # routing_config: a canary release weights traffic between two versions
                    # for a while (scripts/ deploy), then clears it.
                    "routing_config",
                ],
            ),
        )
        if adoption.alias:
            self.alias.import_from(f"{self.function_name}/{alias_name}")
        self.alias_name: str = alias_name
        self.alias_arn: str = self.alias.arn


def _optional_settings(settings: Settings) -> dict[str, object]:
    """What an existing function may have: network, tracing, concurrency, storage, DLQ
    (None leaves an attribute unmanaged)."""
    return {
        "vpc_config": (
            _aws.LambdaFunctionVpcConfig(
                subnet_ids=list(settings.subnet_ids),
                security_group_ids=list(settings.security_group_ids),
            )
            if settings.subnet_ids
            else None
        ),
        "tracing_config": (
            _aws.LambdaFunctionTracingConfig(mode=settings.tracing_mode)
            if settings.tracing_mode
            else None
        ),
        "reserved_concurrent_executions": settings.reserved_concurrency,
        "ephemeral_storage": (
            _aws.LambdaFunctionEphemeralStorage(size=settings.ephemeral_storage_mb)
            if settings.ephemeral_storage_mb
            else None
        ),
        "dead_letter_config": (
            _aws.LambdaFunctionDeadLetterConfig(target_arn=settings.dead_letter_target_arn)
            if settings.dead_letter_target_arn
            else None
        ),
    }
