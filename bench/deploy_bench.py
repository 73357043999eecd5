"""Deploy figures against the local moto server, set up the way `cdktf deploy` leaves it.

Functions are created with boto3 (not terraform, to stay fast): a first layer version
from `layer.zip` and the four functions on `backend.zip`, as Terraform does. Then:

- code-only: the package alternates between A and B, the layer stays: 4 code updates;
- no change: the same target again: reads only, no update call, no publish;
- layer change: the lock alternates between A and B (two cache keys), the package stays:
  one publish and 4 configuration updates.

Each deploy is one `python` process (bench/probe.py) running what `python -m scripts
deploy --env local` runs, with every AWS call counted by operation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

import artifacts
from bench.figures import ENV, Context, build_backend, build_layer
from bench.measure import run_timed
from bench.results import Figure
from bench.workspace import TEST_CREDENTIALS, VENV_PYTHON
from environments import REPO_ROOT, get_environment

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

UPDATE_CALLS = ("lambda.UpdateFunctionCode", "lambda.UpdateFunctionConfiguration")
PUBLISH_CALL = "lambda.PublishLayerVersion"
_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _client(service: str, endpoint: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=TEST_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=get_environment(ENV).region,
    )
    config = Config(s3={"addressing_style": "path"})
    return session.client(service, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]


def create_bucket(ctx: Context) -> None:
    env = get_environment(ENV)
    _client("s3", ctx.endpoint).create_bucket(
        Bucket=env.artifact_bucket,
        CreateBucketConfiguration={"LocationConstraint": env.region},
    )


def prime_s3(ctx: Context) -> Mapping[str, Any]:
    """Layers B then A and packages B then A into the bucket (A ends up as layer.zip and
    backend.zip, what Terraform reads); returns layer A's build result."""
    build_layer(ctx, "s3-layer-b", backend=ctx.backends.layer_b, store=ctx.s3_store)
    layer_a = build_layer(ctx, "s3-layer-a", backend=ctx.backends.layer_a, store=ctx.s3_store)
    build_backend(ctx, "s3-package-b", backend=ctx.backends.package_b, store=ctx.s3_store)
    build_backend(ctx, "s3-package-a", backend=ctx.backends.layer_a, store=ctx.s3_store)
    return layer_a.result


def create_functions(ctx: Context) -> None:
    env = get_environment(ENV)
    iam = _client("iam", ctx.endpoint)
    role = iam.create_role(
        RoleName=f"{env.name_prefix}-{env.name}-bench",
        AssumeRolePolicyDocument=json.dumps(_ROLE_POLICY),
    )["Role"]["Arn"]
    lam: LambdaClient = _client("lambda", ctx.endpoint)
    first = lam.publish_layer_version(
        LayerName=env.layer_name,
        Description="Python dependencies (Terraform)",
        Content={"S3Bucket": env.artifact_bucket, "S3Key": env.key_prefix + artifacts.LAYER_LATEST},
        CompatibleRuntimes=[env.runtime],  # type: ignore[list-item]
    )["LayerVersionArn"]
    for config, name in zip(env.functions, env.function_names, strict=True):
        lam.create_function(
            FunctionName=name,
            Runtime=env.runtime,  # type: ignore[arg-type]
            Role=role,
            Handler=config.handler,
            Code={
                "S3Bucket": env.artifact_bucket,
                "S3Key": env.key_prefix + artifacts.PACKAGE_LATEST,
            },
            Layers=[first],
        )


def deploy_once(
    ctx: Context, name: str, *, layer: Path, package: Path
) -> tuple[float, dict[str, Any]]:
    calls_log = ctx.work / "deploy-calls.json"
    calls_log.unlink(missing_ok=True)
    timed = run_timed(
        [str(VENV_PYTHON), "-m", "bench.probe", "deploy", str(layer), str(package), str(calls_log)],
        env=ctx.environ,
        cwd=REPO_ROOT,
        what=f"deploy {name}",
    )
    report: dict[str, Any] = json.loads(calls_log.read_text(encoding="utf-8"))
    return timed.seconds, report


def rollback_once(ctx: Context, name: str) -> tuple[float, dict[str, Any]]:
    calls_log = ctx.work / "rollback-calls.json"
    calls_log.unlink(missing_ok=True)
    timed = run_timed(
        [str(VENV_PYTHON), "-m", "bench.probe", "rollback", str(calls_log)],
        env=ctx.environ,
        cwd=REPO_ROOT,
        what=f"rollback {name}",
    )
    report: dict[str, Any] = json.loads(calls_log.read_text(encoding="utf-8"))
    return timed.seconds, report


def _summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
    calls = [report["calls"] for report in reports]
    updates = [sum(c.get(op, 0) for op in UPDATE_CALLS) for c in calls]
    return {
        "api_calls": max(sum(c.values()) for c in calls),
        "update_calls": max(updates),
        "publish_calls": max(c.get(PUBLISH_CALL, 0) for c in calls),
        "functions_updated": max(
            sum(1 for f in r["result"]["functions"].values() if f.get("steps")) for r in reports
        ),
        "calls_by_operation": dict(sorted(calls[-1].items())),
    }


def deploy_figures(ctx: Context) -> list[Figure]:
    b = ctx.backends
    create_functions(ctx)
    deploy_once(
        ctx, "initial (Terraform's layer version -> layer A)", layer=b.layer_a, package=b.layer_a
    )
    package = b.layer_a
    code_only = []
    for index in range(ctx.runs):
        package = b.package_b if index % 2 == 0 else b.layer_a
        code_only.append(deploy_once(ctx, f"code-only {index}", layer=b.layer_a, package=package))
    no_change = [
        deploy_once(ctx, f"no-change {index}", layer=b.layer_a, package=package)
        for index in range(ctx.runs)
    ]
    rollbacks = []
    for index in range(ctx.runs):
        # A release to roll back from each time: code-only, then back by alias.
        package = b.package_b if package == b.layer_a else b.layer_a
        deploy_once(ctx, f"before rollback {index}", layer=b.layer_a, package=package)
        rollbacks.append(rollback_once(ctx, f"rollback {index}"))
        package = b.package_b if package == b.layer_a else b.layer_a
    layer_change = []
    for index in range(ctx.runs):
        layer = b.layer_b if index % 2 == 0 else b.layer_a
        layer_change.append(deploy_once(ctx, f"layer change {index}", layer=layer, package=package))
    functions = len(get_environment(ENV).functions)
    return [
        Figure(
            key="deploy_code_only",
            label=f"deploy, new function package, {functions} functions (moto)",
            unit="s",
            runs=tuple(seconds for seconds, _ in code_only),
            details=_summary([report for _, report in code_only]),
        ),
        Figure(
            key="rollback_by_alias",
            label=f"rollback --previous, {functions} functions, aliases only (moto)",
            unit="s",
            runs=tuple(seconds for seconds, _ in rollbacks),
            details={
                **_summary([report for _, report in rollbacks]),
                "artifact_bytes_uploaded": max(r["artifact_bytes"] for _, r in rollbacks),
                "history_bytes_written": max(r["history_bytes"] for _, r in rollbacks),
            },
        ),
        Figure(
            key="deploy_no_change",
            label="deploy again, nothing changed (moto)",
            unit="s",
            runs=tuple(seconds for seconds, _ in no_change),
            details=_summary([report for _, report in no_change]),
        ),
        Figure(
            key="deploy_layer_change",
            label="deploy, new layer: publish + attach (moto)",
            unit="s",
            runs=tuple(seconds for seconds, _ in layer_change),
            details=_summary([report for _, report in layer_change]),
        ),
    ]
