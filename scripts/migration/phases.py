"""The design's migration phases 1, 3 and 4, each a check that says what it found and
what comes next (phase 2, the bootstrap, is in bootstrap.py).

1. Infrastructure: plan-check over the synthesized stack; done when the plan is empty
   (every existing resource imported, the layer and the aliases created).
3. CI: the stack's deployer policy is attached to the CI role; what to change in the
   workflows is printed.
4. Clean up: the hand-made deployer policy named in the configuration is detached
   everywhere and deleted (only with --apply, and only once phases 2 and 3 are done).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from environments import Environment
from scripts.infra.plan_check import check_stack
from scripts.infra.plan_table import verdict

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient


class State(Enum):
    DONE = "done"
    TODO = "todo"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class Phase:
    number: int
    title: str
    state: State
    checked: tuple[str, ...] = ()
    next: str = ""
    seconds: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        head = f"phase {self.number} {self.title}: {self.state.value} ({self.seconds:.1f}s)"
        return [
            head,
            *(f"  checked: {line}" for line in self.checked),
            *([f"  next: {self.next}"] if self.next else []),
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.number,
            "title": self.title,
            "state": self.state.value,
            "checked": list(self.checked),
            "next": self.next,
            "seconds": round(self.seconds, 1),
            **dict(self.details),
        }


def infrastructure(
    env: Environment,
    stack_dir: Path,
    *,
    environ: Mapping[str, str],
    allow: Sequence[str] = (),
) -> Phase:
    """Phase 1: only imports, the layer, the aliases; done once the plan is empty."""
    title = "infrastructure (adopt the functions, create the layer and the aliases)"
    if not (stack_dir / "cdk.tf.json").is_file():
        return Phase(
            number=1,
            title=title,
            state=State.TODO,
            checked=(f"no synthesized stack in {stack_dir}",),
            next="npx cdktf synth, then run migrate again",
        )
    report = check_stack(stack_dir, env, allow=allow, environ=environ)
    checked = [f"plan-check: {report.summary}"]
    if not report.ok:
        return Phase(
            number=1,
            title=title,
            state=State.FAILED,
            checked=(*checked, *(r.line() for r in report.refusals)),
            next="describe the functions as they are in environments/ (README: Migrating an "
            "existing system), synthesize, run migrate again",
        )
    pending = [c for c in report.changes if c.action not in {"no-op", "read"}]
    if pending:
        return Phase(
            number=1,
            title=title,
            state=State.TODO,
            checked=(*checked, verdict(report)),
            next=f"review and apply the checked plan: (cd {stack_dir} && terraform apply "
            "plan-check.tfplan), or let CI's apply job do it; then run migrate again",
        )
    return Phase(
        number=1,
        title=title,
        state=State.DONE,
        checked=(*checked, "the plan is empty: every resource is in Terraform's state"),
    )


def deployer_policy_name(env: Environment) -> str:
    """The stack's policy (infra_constructs/deployer_policy.py names it the same way)."""
    return f"{env.name_prefix}-{env.name}-lambda-deployer"


def ci(env: Environment, iam: IAMClient, *, workflow: str) -> Phase:
    """Phase 3: the CI role has the stack's deployer policy; the workflow changes, printed."""
    title = "CI/CD (the workflows release with the layer)"
    steps = (
        f"replace the old deploy steps (zip everything, upload, update-function-code) with "
        f"{workflow}: build-layer and build-backend, plan + plan-check + apply of the saved "
        "plan, then `python -m scripts deploy`",
        "set AWS_DEPLOY_ROLE_ARN and AWS_PLAN_ROLE_ARN on the GitHub environments "
        "(docs/ci-role.md)",
        f"turn adoption off for {env.name} (adopt=False in environments/catalog.py) and remove "
        "the adopted resources from the old Terraform state (`state rm` or `removed` blocks)",
    )
    if env.ci_role_name is None:
        return Phase(
            number=3,
            title=title,
            state=State.TODO,
            checked=(f"{env.name} names no CI role (ci_role_name)",),
            next="; ".join(steps),
            details={"workflow_changes": list(steps)},
        )
    wanted = deployer_policy_name(env)
    attached = _attached_policies(iam, env.ci_role_name)
    if attached is None:
        checked = f"role {env.ci_role_name} does not exist"
        state = State.TODO
    elif wanted in attached:
        checked = f"role {env.ci_role_name} has the stack's policy {wanted}"
        state = State.DONE
    else:
        checked = f"role {env.ci_role_name} lacks {wanted} (has: {', '.join(attached) or 'none'})"
        state = State.TODO
    return Phase(
        number=3,
        title=title,
        state=state,
        checked=(checked,),
        next="; ".join(steps),
        details={"workflow_changes": list(steps)},
    )


def _attached_policies(iam: IAMClient, role: str) -> list[str] | None:
    names: list[str] = []
    try:
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
            names.extend(str(p["PolicyName"]) for p in page.get("AttachedPolicies", []))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return None
        raise
    return names


def cleanup(env: Environment, iam: IAMClient, *, account: str, ready: bool, apply: bool) -> Phase:
    """Phase 4: the hand-made deployer policy, detached everywhere and deleted."""
    title = "verify and clean up (retire the hand-made deployer policy)"
    configured = env.legacy_deployer_policy
    if configured is None:
        return Phase(
            number=4,
            title=title,
            state=State.DONE,
            checked=(f"{env.name} names no hand-made policy (legacy_deployer_policy)",),
        )
    arn = (
        configured
        if configured.startswith("arn:")
        else f"arn:aws:iam::{account}:policy/{configured}"
    )
    try:
        iam.get_policy(PolicyArn=arn)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        return Phase(number=4, title=title, state=State.DONE, checked=(f"{arn} is deleted",))
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    holders = [
        *(("role", r["RoleName"]) for r in entities.get("PolicyRoles", [])),
        *(("user", u["UserName"]) for u in entities.get("PolicyUsers", [])),
        *(("group", g["GroupName"]) for g in entities.get("PolicyGroups", [])),
    ]
    where = ", ".join(f"{kind} {name}" for kind, name in holders) or "nothing"
    if not ready:
        return Phase(
            number=4,
            title=title,
            state=State.TODO,
            checked=(f"{arn} exists, attached to {where}",),
            next="not before phases 2 and 3 are done: CI still needs that policy until then",
        )
    if not apply:
        return Phase(
            number=4,
            title=title,
            state=State.TODO,
            checked=(f"{arn} exists, attached to {where}",),
            next=f"dry run: re-run with --apply to detach it from {where} and delete it",
        )
    _delete_policy(iam, arn, holders)
    try:
        iam.get_policy(PolicyArn=arn)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return Phase(
                number=4,
                title=title,
                state=State.DONE,
                checked=(f"detached {arn} from {where}", "deleted it (read back: gone)"),
            )
        raise
    return Phase(
        number=4, title=title, state=State.FAILED, checked=(f"{arn} still exists after delete",)
    )


def _delete_policy(iam: IAMClient, arn: str, holders: Sequence[tuple[str, str]]) -> None:
    for kind, name in holders:
        if kind == "role":
            iam.detach_role_policy(RoleName=name, PolicyArn=arn)
        elif kind == "user":
            iam.detach_user_policy(UserName=name, PolicyArn=arn)
        else:
            iam.detach_group_policy(GroupName=name, PolicyArn=arn)
    for version in iam.list_policy_versions(PolicyArn=arn).get("Versions", []):
        if not version.get("IsDefaultVersion"):
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    iam.delete_policy(PolicyArn=arn)
