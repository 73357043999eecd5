"""A small Lambda world on the moto server, set up the way `cdktf deploy` leaves it.

Each test gets its own name prefix (so its own bucket, layer and four functions) instead
of resetting the shared server. Artifacts are tiny zips with manifests in the builder's
format; the functions start on Terraform's first layer version and `backend.zip`.

Also here: the botocore event hooks that inject what moto never produces (conflicts,
failed updates, RevisionId guards) and record every Lambda call a test makes. For a world
that behaves like real Lambda over the wire, make it on the `lambda_double` fixture's
endpoint instead: `make_world(lambda_double.endpoint)` (see lambda_double.py).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from environments import ENVIRONMENTS, Environment
from scripts.release.canary import alarm_reader
from scripts.release.context import Context
from scripts.release.deploy import DeployTarget, target_from_store
from scripts.release.lambda_api import Api
from scripts.release.sources import Sources
from scripts.release.timing import Timing
from scripts.stop import Stop
from scripts.store import S3Store, hex_to_b64

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

MUTATING = frozenset(
    {
        "UpdateFunctionCode",
        "UpdateFunctionConfiguration",
        "PublishLayerVersion",
        "DeleteLayerVersion",
    }
)
UPDATES = frozenset({"UpdateFunctionCode", "UpdateFunctionConfiguration"})

_counter = itertools.count()


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(info, text)
    return buffer.getvalue()


def client_error(code: str, operation: str, status: int = 400, message: str = "") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message or code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


def fast_timing(sleeps: list[float] | None = None, **changes: Any) -> Timing:
    """Backoff that records its conflict delays instead of sleeping them; quick polling.

    Polling waits for real (the double's update windows are real time), briefly.
    """
    record = sleeps if sleeps is not None else []

    def sleep(seconds: float) -> None:
        record.append(seconds)
        time.sleep(min(seconds, 0.05))

    fields: dict[str, Any] = {
        "conflict_delays": (0.5, 1.0, 2.0, 4.0, 8.0),
        "poll_delay_s": 0.05,
        "settle_timeout_s": 30.0,
        "lock_lease_s": 30.0,
        "alarm_poll_s": 0.05,
        "sleep": sleep,
        **changes,
    }
    return Timing(**fields)


@dataclass
class CallLog:
    """Every Lambda API call with its parameters, in order (thread-safe list appends)."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def hook(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def names(self, operations: frozenset[str] = MUTATING) -> list[tuple[str, str]]:
        return [
            (op, str(p.get("FunctionName", p.get("LayerName", ""))))
            for op, p in self.calls
            if op in operations
        ]

    def clear(self) -> None:
        self.calls.clear()


@dataclass
class World:
    endpoint: str
    env: Environment
    lam: LambdaClient
    s3: S3Client
    store: S3Store
    log: CallLog
    role_arn: str
    first_layer_arn: str = ""
    said: list[str] = field(default_factory=list)

    # ---- artifacts --------------------------------------------------------------------

    def upload_layer(self, tag: str) -> str:
        """A layer zip and manifest for `tag`; returns its HASH."""
        body = zip_bytes({f"python/dep_{tag}/__init__.py": f"VERSION = {tag!r}\n"})
        sha = hashlib.sha256(body).hexdigest()
        layer_hash = hashlib.sha256(f"lock-{tag}".encode()).hexdigest()[:16]
        self.store.put_bytes(f"layer-{layer_hash}.zip", body, overwrite=True)
        self.store.put_bytes("layer.zip", body, overwrite=True)
        manifest = {"hash": layer_hash, "sha256": sha, "code_sha256": hex_to_b64(sha)}
        self.store.put_bytes(
            f"layer-{layer_hash}.json", json.dumps(manifest).encode(), overwrite=True
        )
        return layer_hash

    def upload_package(self, tag: str) -> str:
        """A backend zip and manifest for `tag`; returns its HASH."""
        body = zip_bytes(
            {"app/main.py": f"def handler(e, c):\n    return {tag!r}\n", "VERSION": f"{tag}\n"}
        )
        sha = hashlib.sha256(body).hexdigest()
        package_hash = sha[:16]
        self.store.put_bytes(f"backend-{package_hash}.zip", body, overwrite=True)
        self.store.put_bytes("backend.zip", body, overwrite=True)
        manifest = {"hash": package_hash, "sha256": sha, "code_sha256": hex_to_b64(sha)}
        manifest["version"] = tag
        self.store.put_bytes(
            f"backend-{package_hash}.json", json.dumps(manifest).encode(), overwrite=True
        )
        return package_hash

    def context(self, *, timing: Timing | None = None, stop: Stop | None = None) -> Context:
        """What a release command gets: this world's Lambda client, store and quick timing."""
        return Context(
            env=self.env,
            api=Api(self.lam, timing or fast_timing()),
            store=self.store,
            timing=timing or fast_timing(),
            say=self.said.append,
            stop=stop or Stop(),
            alarms=alarm_reader(self.client("cloudwatch")),
        )

    def served(self) -> dict[str, tuple[str, str, tuple[str, ...]]]:
        """Per function what callers get: (version, code, layers) through the alias, or
        ("$LATEST", ...) for a function without one."""
        raw = self.raw_lambda()
        result = {}
        for name in self.env.function_names:
            try:
                config = raw.get_function_configuration(
                    FunctionName=name, Qualifier=self.env.alias_name
                )
            except raw.exceptions.ResourceNotFoundException:
                # No alias: callers invoke the function itself, so $LATEST.
                config = raw.get_function_configuration(FunctionName=name)
            result[name] = (
                str(config["Version"]),
                str(config["CodeSha256"]),
                tuple(layer["Arn"] for layer in config.get("Layers", [])),
            )
        return result

    def target(self, layer_tag: str, package_tag: str) -> DeployTarget:
        return target_from_store(
            Sources(self.store),
            self.env,
            layer_hash=self.upload_layer(layer_tag),
            package_hash=self.upload_package(package_tag),
        )

    # ---- Terraform's part -------------------------------------------------------------

    def create_functions(self, env: Environment | None = None) -> None:
        """What `cdktf deploy` creates: a first layer version from layer.zip, four functions."""
        env = env or self.env
        bucket, prefix = self.store.bucket, self.store.prefix
        published = self.raw_lambda().publish_layer_version(
            LayerName=env.layer_name,
            Description="Python dependencies (Terraform)",
            Content={"S3Bucket": bucket, "S3Key": f"{prefix}layer.zip"},
            CompatibleRuntimes=[env.runtime],  # type: ignore[list-item]
        )
        if env is self.env:
            self.first_layer_arn = published["LayerVersionArn"]
        for config, name in zip(env.functions, env.function_names, strict=True):
            self.raw_lambda().create_function(
                FunctionName=name,
                Runtime=env.runtime,  # type: ignore[arg-type]
                Role=self.role_arn,
                Handler=config.handler,
                Code={"S3Bucket": bucket, "S3Key": f"{prefix}backend.zip"},
                Layers=[published["LayerVersionArn"]],
            )

    def create_legacy_functions(self) -> dict[str, str]:
        """The design's starting point: functions on fat packages uploaded directly (no copy
        in our store), on no layer; returns each function's CodeSha256."""
        codes = {}
        for config, name in zip(self.env.functions, self.env.function_names, strict=True):
            fat = zip_bytes(
                {
                    "app/main.py": "def handler(e, c):\n    return 'fat'\n",
                    "boto3/__init__.py": "# vendored\n",
                    "sqlalchemy/__init__.py": f"# vendored for {name}\n",
                }
            )
            created = self.raw_lambda().create_function(
                FunctionName=name,
                Runtime=self.env.runtime,  # type: ignore[arg-type]
                Role=self.role_arn,
                Handler=config.handler,
                Code={"ZipFile": fat},
            )
            codes[name] = created["CodeSha256"]
        return codes

    def add_aliases(self) -> None:
        """What the stack's alias does: version 1 published from $LATEST, alias on it."""
        raw = self.raw_lambda()
        for name in self.env.function_names:
            version = raw.publish_version(FunctionName=name)["Version"]
            raw.create_alias(FunctionName=name, Name=self.env.alias_name, FunctionVersion=version)

    def client(self, service: str) -> Any:
        """Any other service's client on this world's endpoint (CloudWatch, IAM...)."""
        return boto3.client(service, region_name=self.env.region, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def raw_lambda(self) -> LambdaClient:
        """A client without the test hooks, for setup and for playing a racing writer."""
        return boto3.client("lambda", region_name=self.env.region, endpoint_url=self.endpoint)

    def state(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        raw = self.raw_lambda()
        result = {}
        for name in self.env.function_names:
            config = raw.get_function_configuration(FunctionName=name)
            result[name] = (
                config["CodeSha256"],
                tuple(layer["Arn"] for layer in config.get("Layers", [])),
            )
        return result


def make_world(
    endpoint: str,
    base: Environment | None = None,
    *,
    lambda_config: Config | None = None,
    keep_names: bool = False,
) -> World:
    """A fresh prefix, bucket and role on `endpoint` (moto, or a LambdaDouble in front of it).

    `lambda_config` configures `World.lam`, the client the code under test gets: e.g.
    `Config(retries={"total_max_attempts": 1}, read_timeout=1)` so a lost or slow response
    injected by the double reaches it instead of being retried by botocore.

    `keep_names=True` keeps the environment's real names (bucket, layer, functions): what
    `python -m scripts ... --env local` looks up by name. Only on a server of its own,
    reset between tests (cli_world.py), since two such worlds would share every name.
    """
    base = base or ENVIRONMENTS["local"]
    if not keep_names:
        fresh = f"t{next(_counter)}{uuid.uuid4().hex[:6]}"
        base = replace(base, name_prefix=fresh, artifact_bucket="")
    env = replace(base, endpoint_url=endpoint)
    prefix = env.name_prefix
    region = env.region
    lam: LambdaClient = boto3.client(
        "lambda", region_name=region, endpoint_url=endpoint, config=lambda_config
    )
    s3: S3Client = boto3.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        config=Config(s3={"addressing_style": "path"}),
    )
    iam: IAMClient = boto3.client("iam", region_name=region, endpoint_url=endpoint)
    s3.create_bucket(
        Bucket=env.artifact_bucket,
        CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
    )
    role = iam.create_role(
        RoleName=f"{prefix}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    log = CallLog()
    lam.meta.events.register("provide-client-params.lambda", log.hook)
    world = World(
        endpoint=endpoint,
        env=env,
        lam=lam,
        s3=s3,
        store=S3Store(s3, env.artifact_bucket, env.key_prefix),
        log=log,
        role_arn=role["Role"]["Arn"],
    )
    return world


def fail_calls(
    client: LambdaClient,
    operation: str,
    error: Callable[[dict[str, Any]], ClientError | None],
) -> None:
    """Before `operation` is sent, `error(params)` may return a ClientError to raise."""

    def hook(params: dict[str, Any], **_: Any) -> None:
        err = error(params)
        if err is not None:
            raise err

    client.meta.events.register(f"before-parameter-build.lambda.{operation}", hook)


def times(n: int) -> Iterator[bool]:
    """True n times, then False forever: for one-shot or n-shot faults."""
    yield from itertools.chain(itertools.repeat(True, n), itertools.repeat(False))
