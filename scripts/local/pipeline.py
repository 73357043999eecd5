"""`pipeline`: the whole flow on one machine, no AWS account: moto, builds, terraform, deploy.

Starts a moto server, creates the `local` environment's artifact bucket (it stands in for
the frontend bucket that exists before the stack), builds and uploads the layer and the
function package, applies the `local` stack with real terraform (`cdktf deploy local`,
providers from the offline mirror), runs the scripted deploy, and prints per function its
layer version ARN, code hash and the sizes.

Run it twice: the second run finds the layer in the bucket (cache hit, nothing built),
terraform reports no changes, and the deploy updates no function. moto keeps its state in
memory, so the server records every request it serves into `.sandbox/` (moto's recorder)
and the next fresh server replays them first; terraform's state, the synthesized
stack and the logs live there too. `--fresh` starts over.

The server is the local sandbox's (scripts/local/sandbox.py): a run reuses the one a
previous run left up, or starts one and replays the recording, and leaves it running so
`status`, `history`, `rollback` and a canary can be tried next (`local down` stops it). A
server this run started is stopped again when a step fails, on Ctrl-C and on SIGTERM.
What a person reads is one line per step with its time (long steps add a line every few
seconds), then the table; everything else goes to `.sandbox/logs/`.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from environments import Environment
from scripts.errors import ToolError
from scripts.local import aws as local_aws
from scripts.local import pipeline_steps as steps
from scripts.local import sandbox
from scripts.local.report import Reporter, format_table, function_rows
from scripts.release.context import Context
from scripts.release.deploy import current_hashes, deploy, target_from_store
from scripts.release.lambda_api import Api
from scripts.release.sources import Sources
from scripts.release.timing import Timing
from scripts.store import S3Store

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

ENV_NAME = "local"
RECORDING = "moto-recording.jsonl"


@dataclass(frozen=True, kw_only=True)
class StateDir:
    """Everything one run leaves for the next, in one directory (`--fresh` deletes it)."""

    root: Path

    @property
    def recording(self) -> Path:
        return self.root / RECORDING

    @property
    def synth_dir(self) -> Path:
        return self.root / "cdktf.out"

    @property
    def tfstate(self) -> Path:
        # The local stack's LocalBackend path is relative to its synthesized directory.
        return self.synth_dir / "stacks" / ENV_NAME / f"terraform.{ENV_NAME}.tfstate"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def cli_config(self) -> Path:
        return self.root / "terraform.tfrc"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def consistent(self) -> bool:
        """moto's recording and terraform's state describe the same world, or neither exists."""
        return self.recording.is_file() == self.tfstate.is_file()


def _clients(env: Environment, endpoint: str) -> tuple[S3Client, LambdaClient]:
    session = boto3.session.Session(
        aws_access_key_id=local_aws.CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=local_aws.CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=env.region,
    )
    s3 = session.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))
    return s3, session.client("lambda", endpoint_url=endpoint)


def ensure_bucket(s3: S3Client, env: Environment) -> bool:
    """Create the artifact bucket unless it exists; returns whether it was created."""
    try:
        s3.head_bucket(Bucket=env.artifact_bucket)
    except ClientError:
        s3.create_bucket(
            Bucket=env.artifact_bucket,
            CreateBucketConfiguration={"LocationConstraint": env.region},  # type: ignore[typeddict-item]
        )
        return True
    return False


@contextlib.contextmanager
def _terminate_raises() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every `finally` (stopping moto) still runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass(frozen=True, kw_only=True)
class PipelineRequest:
    env: Environment
    tools: local_aws.TerraformTools
    state: StateDir
    port: int
    fresh: bool = False
    index_args: tuple[str, ...] = ()
    # False for `local up`: the world is ready, the first release is the user's to make.
    release: bool = True


def run_pipeline(request: PipelineRequest, reporter: Reporter, log: IO[str]) -> dict[str, Any]:
    """The steps, in order; the caller owns the terminal, this owns the server it starts.

    The sandbox is left running when every step passed; a server this run started is
    stopped again when a step fails, so a failed `up` leaves nothing behind.
    """
    env, state, tools = request.env, request.state, request.tools
    started = time.perf_counter()
    server: sandbox.Started | None = None
    result: dict[str, Any] = {"env": env.name, "state_dir": str(state.root)}
    try:
        with reporter.step("start moto server") as note:
            server = sandbox.start(
                state.root,
                env=env.name,
                port=request.port,
                recording=state.recording,
                log=state.logs / "moto.log",
            )
            note["text"] = (
                f"{server.endpoint}, {server.replayed} recorded requests replayed"
                if server.started
                else f"{server.endpoint}, already running (pid {server.pid})"
            )
        result["moto"] = {"endpoint": server.endpoint, "pid": server.pid}
        result["replayed_requests"] = server.replayed
        result["sandbox_started"] = server.started

        s3, lam = _clients(env, server.endpoint)
        store = S3Store(client=s3, bucket=env.artifact_bucket, prefix=env.key_prefix)
        with reporter.step(f"artifact bucket {env.artifact_bucket}") as note:
            note["text"] = "created" if ensure_bucket(s3, env) else "exists"

        built = steps.build_artifacts(
            env, state.build_dir, store, reporter, index_args=request.index_args
        )
        result.update(built.as_json())
        result["terraform"] = steps.terraform_apply(
            env, state, tools, endpoint=server.endpoint, reporter=reporter, log=log
        )
        if request.release:
            with reporter.step("deploy (scripted)") as note:
                released = _release(env, store, lam, package_zip_bytes=built.package_zip_bytes)
                note["text"] = released.pop("note")
            result.update(released)
    except BaseException:
        if server is not None and server.server is not None:
            with reporter.step("stop moto server (a step failed)"):
                server.server.stop()
        raise
    result["moto"]["running"] = sandbox.running(state.root) is not None
    result["steps"] = reporter.steps
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _release(
    env: Environment, store: S3Store, lam: LambdaClient, *, package_zip_bytes: int
) -> dict[str, Any]:
    """The scripted deploy of what the bucket holds, and the table read back from Lambda."""
    layer_hash, package_hash = current_hashes(env)
    target = target_from_store(
        Sources(store), env, layer_hash=layer_hash, package_hash=package_hash
    )
    ctx = Context(env=env, api=Api(lam), store=store, timing=Timing())
    deployed = deploy(ctx, target)
    updated = sorted(n for n, f in deployed["functions"].items() if f["steps"])
    return {
        "note": f"layer {'published' if deployed['published'] else 'reused'}, "
        f"{len(updated)} functions updated",
        "deploy": {
            "published": deployed["published"],
            "layer_version_arn": deployed["layer_version_arn"],
            "updated": updated,
            "functions": deployed["functions"],
            "release": deployed["release"],
        },
        "functions": function_rows(lam, env, package_zip_bytes=package_zip_bytes),
    }


def _prepare_state(state: StateDir, *, fresh: bool, say: Callable[[str], None]) -> None:
    if fresh:
        stopped = sandbox.stop(state.root)
        if stopped is not None:
            say(f"  stopped the sandbox's moto (pid {stopped.pid}) to start over")
        if state.root.exists():
            shutil.rmtree(state.root)
    elif sandbox.running(state.root) is None and not state.consistent():
        # One without the other (a run stopped between the two): neither can be trusted.
        say(f"  {state.root}: moto recording and terraform state disagree: starting over")
        shutil.rmtree(state.root)
    state.logs.mkdir(parents=True, exist_ok=True)


def pipeline(request: PipelineRequest) -> dict[str, Any]:
    """Run every step with one line each on stderr, then the table; the log keeps the rest."""
    env, state = request.env, request.state
    out = sys.stderr
    say: Callable[[str], None] = lambda line: print(line, file=out, flush=True)  # noqa: E731
    what = "pipeline" if request.release else "local up"
    say(f"{what} {env.name}: state in {state.root} (moto, terraform, logs)")
    _prepare_state(state, fresh=request.fresh, say=say)
    log_path = state.logs / f"{what.replace(' ', '-')}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    with log_path.open("a", encoding="utf-8", buffering=1) as log:
        reporter = Reporter(out=out, log_path=log_path)
        try:
            with _terminate_raises(), contextlib.redirect_stderr(log):
                result = run_pipeline(request, reporter, log)
        except (ToolError, ClientError, BotoCoreError, KeyboardInterrupt, ValueError):
            say(f"  full log: {log_path}")
            raise
    result["log"] = str(log_path)
    say("")
    if request.release:
        for line in format_table(result):
            say(line)
    endpoint = result["moto"]["endpoint"]
    say(f"sandbox up at {endpoint} (pid {result['moto']['pid']}); try:")
    for command in _next_commands(env.name, request.release):
        say(f"  {command}")
    say("stop it with `layers local down` (its state is kept for the next `layers local up`)")
    return result


def _next_commands(env: str, released: bool) -> tuple[str, ...]:
    first = () if released else (f"layers deploy --env {env}",)
    return (
        *first,
        f"layers status --env {env}",
        f"layers history --env {env}",
        f"layers rollback --env {env} --previous",
    )
