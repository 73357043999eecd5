"""`pipeline`: the whole flow on one machine, no AWS account: moto, builds, terraform, deploy.

Starts a moto server, creates the `local` environment's artifact bucket (it stands in for
the frontend bucket that exists before the stack), builds and uploads the layer and the
function package, applies the `local` stack with real terraform (`cdktf deploy local`,
providers from the offline mirror), runs the scripted deploy, and prints per function its
layer version ARN, code hash and the sizes.

Run it twice: the second run finds the layer in the bucket (cache hit, nothing built),
terraform reports no changes, and the deploy updates no function. moto keeps its state in
memory, so each run records every request moto serves into `.pipeline/` (moto's recorder)
and the next run's fresh server replays them first; terraform's state, the synthesized
stack and the logs live there too. `--fresh` starts over.

The server it starts is always stopped: on success, on failure, on Ctrl-C and on SIGTERM.
What a person reads is one line per step with its time (long steps add a line every few
seconds), then the table; everything else goes to `.pipeline/logs/`.
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

from environments import REPO_ROOT, Environment
from scripts.errors import ToolError
from scripts.local import aws as local_aws
from scripts.local import pipeline_steps as steps
from scripts.local.report import Reporter, format_table, function_rows
from scripts.store import S3Store

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

ENV_NAME = "local"
DEFAULT_STATE_DIR = REPO_ROOT / ".pipeline"
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
    fresh: bool = False
    index_args: tuple[str, ...] = ()


def run_pipeline(request: PipelineRequest, reporter: Reporter, log: IO[str]) -> dict[str, Any]:
    """The steps, in order; the caller owns the terminal, this owns the server."""
    env, state = request.env, request.state
    started = time.perf_counter()
    server: local_aws.MotoServer | None = None
    result: dict[str, Any] = {"env": env.name, "state_dir": str(state.root)}
    try:
        with reporter.step("start moto server") as note:
            server = local_aws.start_moto(
                log_path=state.logs / "moto.log", recording=state.recording
            )
            note["text"] = server.endpoint
        result["moto"] = {"endpoint": server.endpoint, "pid": server.pid}
        with reporter.step("restore moto state") as note:
            replayed = local_aws.replay(server, state.recording)
            note["text"] = (
                f"{replayed} recorded requests replayed" if replayed else "nothing recorded yet"
            )
        result["replayed_requests"] = replayed

        s3, lam = _clients(env, server.endpoint)
        store = S3Store(client=s3, bucket=env.artifact_bucket, prefix=env.key_prefix)
        with reporter.step(f"artifact bucket {env.artifact_bucket}") as note:
            note["text"] = "created" if ensure_bucket(s3, env) else "exists"
        built = steps.build_artifacts(
            env, state.build_dir, store, reporter, index_args=request.index_args
        )
        result.update(built.as_json())
        result["terraform"] = steps.terraform_apply(
            env, state, request.tools, endpoint=server.endpoint, reporter=reporter, log=log
        )
        result["deploy"] = steps.deploy_release(env, store, lam, reporter)
        result["functions"] = function_rows(lam, env, package_zip_bytes=built.package_zip_bytes)
    finally:
        if server is not None:
            with reporter.step("stop moto server"):
                server.stop()
            result.setdefault("moto", {})["stopped"] = server.process.poll() is not None
    result["steps"] = reporter.steps
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _prepare_state(state: StateDir, *, fresh: bool, say: Callable[[str], None]) -> None:
    if fresh and state.root.exists():
        shutil.rmtree(state.root)
    elif not state.consistent():
        # One without the other (a run stopped between the two): neither can be trusted.
        say(f"  {state.root}: moto recording and terraform state disagree: starting over")
        shutil.rmtree(state.root)
    state.logs.mkdir(parents=True, exist_ok=True)


def pipeline(
    *,
    env: Environment,
    tools: local_aws.TerraformTools,
    state: StateDir,
    fresh: bool,
    index_args: tuple[str, ...],
) -> dict[str, Any]:
    """Run every step with one line each on stderr, then the table; the log keeps the rest."""
    out = sys.stderr
    say: Callable[[str], None] = lambda line: print(line, file=out, flush=True)  # noqa: E731
    say(f"pipeline {env.name}: state in {state.root} (moto, terraform, logs)")
    _prepare_state(state, fresh=fresh, say=say)
    log_path = state.logs / f"pipeline-{time.strftime('%Y%m%d-%H%M%S')}.log"
    request = PipelineRequest(env=env, tools=tools, state=state, fresh=fresh, index_args=index_args)
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
    for line in format_table(result):
        say(line)
    return result
