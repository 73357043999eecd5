"""`rollback`: put every function back on an earlier layer version and/or package.

The target is validated completely before the first change, and the cheap checks come
first: a malformed ARN, another region or another layer is refused from the arguments
alone, before any AWS call. Then the version must exist and belong to this account (the
functions' own ARNs tell us the account: the deployer role needs no STS permission),
and the package must be a content-addressed key present in the store. Applying uses
the same engine as deploy: waits, RevisionId guards, restore on failure, a record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

import artifacts
from environments import Environment
from scripts import progress
from scripts.errors import BadInputError, ToolError
from scripts.release.deploy import (
    RECENT_RECORDS,
    apply_and_record,
    checked_artifact,
    record_functions,
    restore_sources,
)
from scripts.release.engine import (
    CodeSource,
    Engine,
    FunctionState,
    FunctionTarget,
    LayerVersionRef,
    Retry,
    layer_name_of,
    parse_layer_version_arn,
    replace_deps_layer,
)
from scripts.release.history import DeploymentRecord, PackageIndex, load_records
from scripts.store import Store

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


@dataclass(frozen=True, kw_only=True)
class RollbackRequest:
    """Exactly one of: `previous`, or a layer version and/or a package key."""

    previous: bool = False
    # A version number ("7") or a full layer version ARN.
    layer_version: str | None = None
    package_key: str | None = None

    def __post_init__(self) -> None:
        if self.previous and (self.layer_version or self.package_key):
            raise BadInputError("--previous cannot be combined with --layer-version/--package-key")
        if not (self.previous or self.layer_version or self.package_key):
            raise BadInputError("choose a target: --previous, --layer-version N or --package-key")


def check_layer_argument(value: str, env: Environment, region: str) -> LayerVersionRef | int:
    """Pure: a version number, or an ARN of this environment's layer in this region."""
    if re.fullmatch(r"[1-9]\d{0,9}", value):
        return int(value)
    ref = parse_layer_version_arn(value)
    if ref.region != region:
        raise BadInputError(
            f"{value}: layer version is in {ref.region}, the {env.name} functions are in "
            f"{region}: a function can only use a layer from its own region"
        )
    if ref.name != env.layer_name:
        raise BadInputError(
            f"{value}: layer {ref.name!r} is not this environment's layer {env.layer_name!r}"
        )
    return ref


def check_package_argument(value: str, env: Environment) -> str:
    """Pure: the store name of a content-addressed package (`backend-HASH.zip`)."""
    name = value.removeprefix(env.key_prefix)
    if not artifacts.PACKAGE_ZIP.match(name):
        raise BadInputError(
            f"--package-key {value!r}: not a content-addressed package; use "
            f"{env.key_prefix}backend-HASH.zip (the mutable backend.zip can change under you)"
        )
    return name


def resolve_layer(
    client: LambdaClient,
    env: Environment,
    layer: LayerVersionRef | int,
    account: str,
) -> str:
    """The ARN of an existing version of this environment's layer in this account."""
    if isinstance(layer, LayerVersionRef) and layer.account != account:
        raise BadInputError(
            f"{layer.arn}: layer belongs to account {layer.account}, the {env.name} "
            f"functions to {account}"
        )
    version = layer.version if isinstance(layer, LayerVersionRef) else layer
    try:
        found = client.get_layer_version(LayerName=env.layer_name, VersionNumber=version)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise BadInputError(
                f"layer {env.layer_name} has no version {version} (pruned?): "
                "list versions with `aws lambda list-layer-versions`"
            ) from err
        raise
    arn = found["LayerVersionArn"]
    if parse_layer_version_arn(arn).account != account:
        raise BadInputError(f"{arn}: not in the functions' account {account}")
    return arn


def previous_targets(
    store: Store,
    env: Environment,
    client: LambdaClient,
    recorded: Mapping[str, FunctionState],
    account: str,
) -> tuple[dict[str, FunctionTarget], DeploymentRecord]:
    """The state before the latest successful deployment that changed something."""
    records = [r for _, r in load_records(store, env, limit=RECENT_RECORDS)]
    latest = next((r for r in records if r.succeeded and r.changed_anything), None)
    if latest is None:
        raise BadInputError(
            f"no deployment of {env.name} that changed anything is recorded under "
            f"{store.location}{artifacts.deployments_prefix(env.name)}: "
            "use --layer-version/--package-key"
        )
    checked: dict[str, str] = {}
    targets: dict[str, FunctionTarget] = {}
    for name, state in recorded.items():
        before = latest.functions.get(name)
        if before is None:
            targets[name] = FunctionTarget(code=None, layers=state.layers)
            continue
        for arn in before.before_layers:
            if layer_name_of(arn) == env.layer_name and arn not in checked:
                checked[arn] = resolve_layer(client, env, parse_layer_version_arn(arn), account)
        code: CodeSource | None = None
        if before.before_code_sha256 != state.code_sha256:
            if before.before_package_key is None:
                raise ToolError(
                    f"{name}: the code it ran before {latest.time} is in no content-addressed "
                    "package: use --package-key"
                )
            source = checked_artifact(
                store,
                check_package_argument(before.before_package_key, env),
                missing_hint="the previous package is gone from the store",
            )
            if source.code_sha256 != before.before_code_sha256:
                raise ToolError(f"{source.key}: does not hold the code {name} ran before")
            code = source
        targets[name] = FunctionTarget(code=code, layers=before.before_layers)
    return targets, latest


def rollback(
    *,
    env: Environment,
    lambda_client: LambdaClient,
    store: Store,
    request: RollbackRequest,
    retry: Retry | None = None,
    max_workers: int | None = None,
    say: Callable[[str], None] = progress.say,
) -> dict[str, Any]:
    region = lambda_client.meta.region_name
    # Argument checks first: nothing is called for a malformed or foreign target.
    layer_arg = (
        check_layer_argument(request.layer_version, env, region) if request.layer_version else None
    )
    package_name = check_package_argument(request.package_key, env) if request.package_key else None

    engine = Engine(
        client=lambda_client, retry=retry or Retry(), max_workers=max_workers, on_progress=say
    )
    recorded = record_functions(engine, env)
    accounts = {state.account for state in recorded.values()}
    if len(accounts) != 1:
        raise ToolError(f"the {env.name} functions span accounts {sorted(accounts)}")
    account = accounts.pop()

    layer_arn: str | None = None
    package: CodeSource | None = None
    if request.previous:
        targets, latest = previous_targets(store, env, lambda_client, recorded, account)
        say(f"  rolling back the deployment of {latest.time}")
    else:
        if layer_arg is not None:
            layer_arn = resolve_layer(lambda_client, env, layer_arg, account)
        if package_name is not None:
            package = checked_artifact(
                store, package_name, missing_hint="that package is not in the store"
            )
        targets = {
            name: FunctionTarget(
                code=package,
                layers=replace_deps_layer(
                    state.layers, layer_name=env.layer_name, new_arn=layer_arn
                )
                if layer_arn
                else state.layers,
            )
            for name, state in recorded.items()
        }
    index = PackageIndex(store, [r for _, r in load_records(store, env, limit=RECENT_RECORDS)])
    sources = restore_sources(store, recorded, index)
    uniform_layers = {
        next((a for a in t.layers if layer_name_of(a) == env.layer_name), None)
        for t in targets.values()
    }
    uniform_code = {t.code.key if t.code else None for t in targets.values()}
    record = DeploymentRecord(
        kind="rollback",
        env=env.name,
        status="pending",
        layer_version_arn=next(iter(uniform_layers)) if len(uniform_layers) == 1 else None,
        package_key=next(iter(uniform_code)) if len(uniform_code) == 1 else None,
        package_code_sha256=package.code_sha256 if package else None,
    )
    outcomes, record_name = apply_and_record(
        engine=engine,
        store=store,
        env=env,
        recorded=recorded,
        targets=targets,
        sources=sources,
        record=record,
        say=say,
    )
    return {
        "env": env.name,
        "layer_version_arn": record.layer_version_arn,
        "package_key": record.package_key,
        "record": record_name,
        "functions": {name: o.to_json() for name, o in outcomes.items()},
    }
