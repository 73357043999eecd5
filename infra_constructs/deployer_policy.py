"""The CI deployer's IAM policy: what `scripts/` deploy, rollback and prune may touch.

It replaces the hand-made policy (design, migration phase 4). Every statement is scoped to
one environment's layer, functions, alias, artifact prefix, deploy lock and alarms, so a
staging credential cannot publish to, update or delete anything in prod. The Lambda
actions are the ones the release steps and the other release code declare they call:
each step in its own module (scripts/release/steps/), written to
environments/release_steps.json by `python -m scripts.release.steps`, and read with the
other calls through environments/release_calls.py (infra never imports scripts/).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from constructs import Construct

from environments import release_calls
from infra_constructs import _aws

# The Lambda actions come from what the release steps (release_steps.json), the planning
# reads, the deps layer and pruning declare they call (release_calls), one statement per scope.
LAYER_ACTIONS = release_calls.actions(release_calls.LAYER)
FUNCTION_ACTIONS = release_calls.actions(release_calls.FUNCTION)
# A release publishes a version and moves the alias to it (weighted, for a canary); undoing
# one that created the alias (a legacy function had none) removes it.
ALIAS_ACTIONS = release_calls.actions(release_calls.ALIAS)
# On qualified ARNs only (FUNCTION:*): reading a published version or what the alias
# serves (IAM matches a qualified call against the qualified ARN), and pruning old
# versions. DeleteFunction on the bare ARN would delete the function itself: never granted.
# Hooks invoke a new version before the switch; smoke checks invoke the alias after.
VERSION_ACTIONS = release_calls.actions(release_calls.QUALIFIED)
OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject")
# The deploy lock is created with a conditional put and removed when the release ends.
LOCK_ACTIONS = ("s3:DeleteObject",)
# A canary release watches the alarms configured for each function.
ALARM_ACTIONS = ("cloudwatch:DescribeAlarms",)
# ... and prints the new versions' error lines from the functions' log groups (`logs`).
LOG_ACTIONS = ("logs:FilterLogEvents",)


class DeployerPolicy(Construct):
    """A managed policy for the CI role, attached to it when `ci_role_name` is given."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy_name: str,
        layer_arn: str,
        function_arns: Sequence[str],
        bucket_arn: str,
        key_prefix: str,
        ci_role_name: str | None,
        alias_name: str,
        lock_key: str,
        alarm_arns: Sequence[str] = (),
        log_group_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        if not function_arns:
            raise ValueError("function_arns: at least one function is required")
        if not key_prefix.endswith("/"):
            raise ValueError(f"key_prefix: got {key_prefix!r}; use a prefix ending in '/'")
        if not lock_key.startswith(key_prefix) or lock_key.endswith("*"):
            raise ValueError(f"lock_key: got {lock_key!r}; one object under {key_prefix!r}")
        document = _aws.DataAwsIamPolicyDocument(
            self,
            "document",
            statement=[
                *_lambda_statements(
                    layer_arn=layer_arn, function_arns=function_arns, alias_name=alias_name
                ),
                *_store_statements(bucket_arn=bucket_arn, key_prefix=key_prefix, lock_key=lock_key),
                *_watch_statements(alarm_arns=alarm_arns, log_group_arns=log_group_arns),
            ],
        )
        self.policy = _aws.IamPolicy(
            self,
            "policy",
            name=policy_name,
            # Unchanged since the first apply although the policy grew: a new description
            # would replace the policy (and detach it from the CI role for the apply).
            description="CI deployer: publish layer versions and update function code/layers",
            policy=document.json,
        )
        self.policy_arn: str = self.policy.arn
        self.attachment = (
            _aws.IamRolePolicyAttachment(
                self, "attachment", role=ci_role_name, policy_arn=self.policy.arn
            )
            if ci_role_name
            else None
        )


def _lambda_statements(
    *, layer_arn: str, function_arns: Sequence[str], alias_name: str
) -> list[Any]:
    """The layer, the functions, their versions and the alias."""
    statement = _aws.DataAwsIamPolicyDocumentStatement
    return [
        statement(
            sid="LayerVersions",
            effect="Allow",
            actions=list(LAYER_ACTIONS),
            # The layer itself (publish, list) and its numbered versions (get, delete).
            resources=[layer_arn, f"{layer_arn}:*"],
        ),
        statement(
            sid="FunctionCodeAndConfiguration",
            effect="Allow",
            actions=list(FUNCTION_ACTIONS),
            resources=list(function_arns),
        ),
        statement(
            sid="VersionsAndAlias",
            effect="Allow",
            actions=list(ALIAS_ACTIONS),
            # Lambda authorises alias calls on the function; the alias ARN covers
            # callers that pass it qualified. No other alias is reachable.
            resources=[arn for f in function_arns for arn in (f, f"{f}:{alias_name}")],
        ),
        statement(
            sid="PublishedVersions",
            effect="Allow",
            actions=list(VERSION_ACTIONS),
            resources=[f"{f}:*" for f in function_arns],
        ),
    ]


def _store_statements(*, bucket_arn: str, key_prefix: str, lock_key: str) -> list[Any]:
    """The artifact store: objects and listing under the prefix, the lock's delete."""
    statement = _aws.DataAwsIamPolicyDocumentStatement
    return [
        statement(
            sid="ArtifactObjects",
            effect="Allow",
            actions=list(OBJECT_ACTIONS),
            resources=[f"{bucket_arn}/{key_prefix}*"],
        ),
        statement(
            sid="ArtifactListing",
            effect="Allow",
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
            condition=[
                _aws.DataAwsIamPolicyDocumentStatementCondition(
                    test="StringLike",
                    variable="s3:prefix",
                    values=[f"{key_prefix}*"],
                )
            ],
        ),
        statement(
            sid="DeployLock",
            effect="Allow",
            actions=list(LOCK_ACTIONS),
            resources=[f"{bucket_arn}/{lock_key}"],
        ),
    ]


def _watch_statements(*, alarm_arns: Sequence[str], log_group_arns: Sequence[str]) -> list[Any]:
    """A canary's alarms and the functions' logs, when there are any."""
    statement = _aws.DataAwsIamPolicyDocumentStatement
    found = []
    if alarm_arns:
        found.append(
            statement(
                sid="CanaryAlarms",
                effect="Allow",
                actions=list(ALARM_ACTIONS),
                resources=list(alarm_arns),
            )
        )
    if log_group_arns:
        found.append(
            statement(
                sid="FunctionLogs",
                effect="Allow",
                actions=list(LOG_ACTIONS),
                # FilterLogEvents is authorised on the group's ARN with `:*`.
                resources=[f"{arn}:*" for arn in log_group_arns],
            )
        )
    return found
