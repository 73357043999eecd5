"""Child-process entry points the bench times: each does one real thing and reports on it.

- `scripts SPAWN_LOG ARGS...`: runs `python -m scripts ARGS...` in this process with an
  audit hook that records every process it starts (subprocess, exec, posix_spawn, system),
  written to SPAWN_LOG with whether botocore was loaded. A cache hit must start none; a
  build starts exactly uv.
- `deploy LAYER_DIR PACKAGE_DIR CALLS_LOG`: `python -m scripts deploy --env local` for the
  lock in LAYER_DIR and the app code in PACKAGE_DIR (the same calls as the CLI's handler),
  counting every AWS API call by operation into CALLS_LOG.
- `rollback CALLS_LOG`: `rollback --env local --previous`, counting calls and the bytes it
  uploads (artifacts apart from the history records).
- `synth fast|standard OUTDIR`: synthesizes, then prints one JSON line with this process's
  peak RSS and the peak RSS of its Node (jsii) children, read while they are still alive.

Imports stay inside each function: the synth probes must not load boto3, and the scripts
probe must start as fast as `python -m scripts`.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def probe_scripts(spawn_log: Path, argv: list[str]) -> int:
    spawned: list[list[str]] = []

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "subprocess.Popen":
            command = args[1]
            words = [command] if isinstance(command, str | bytes) else list(command or ())
            spawned.append([str(word) for word in words] or [str(args[0])])
        elif event in {"os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.startfile"}:
            spawned.append([str(arg) for arg in args[:2]])

    sys.addaudithook(hook)
    from scripts.cli import main

    code = main(argv)
    report = {"spawned": spawned, "aws_sdk_loaded": "botocore" in sys.modules}
    spawn_log.write_text(json.dumps(report), encoding="utf-8")
    return code


def probe_deploy(layer_dir: Path, package_dir: Path, calls_log: Path) -> int:
    from dataclasses import replace

    from environments import get_environment
    from scripts.clients import lambda_client, s3_client
    from scripts.release.context import Context
    from scripts.release.deploy import current_hashes, deploy, target_from_store
    from scripts.release.lambda_api import Api
    from scripts.release.sources import Sources
    from scripts.release.timing import Timing
    from scripts.store import store_for

    env = replace(
        get_environment("local"),
        backend_dir=package_dir,
        lock_file=layer_dir / "poetry.lock",
        requirements_file=None,
    )
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}.{model.name}"] += 1

    lam = lambda_client(env)
    s3 = s3_client(env)
    for client in (lam, s3):
        client.meta.events.register("before-call", count)
    store = store_for(env, None, s3_client_factory=lambda: s3)
    layer_hash, package_hash = current_hashes(env)
    target = target_from_store(
        Sources(store), env, layer_hash=layer_hash, package_hash=package_hash
    )
    result = deploy(Context(env=env, api=Api(lam), store=store, timing=Timing()), target)
    calls_log.write_text(json.dumps({"calls": dict(calls), "result": result}), encoding="utf-8")
    return 0


def probe_rollback(calls_log: Path) -> int:
    """`rollback --env local --previous`, counting AWS calls and the bytes it uploads."""
    from environments import get_environment
    from scripts.clients import lambda_client, s3_client
    from scripts.release.context import Context
    from scripts.release.lambda_api import Api
    from scripts.release.rollback import RollbackRequest, rollback
    from scripts.release.timing import Timing
    from scripts.store import store_for

    env = get_environment("local")
    calls: Counter[str] = Counter()
    uploaded = {"artifact_bytes": 0, "history_bytes": 0}

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls[f"{model.service_model.service_name}.{model.name}"] += 1
        if model.name == "PutObject":
            body = params.get("Body", b"")
            size = len(body) if isinstance(body, bytes) else 0
            where = "history_bytes" if "/deployments/" in params["Key"] else "artifact_bytes"
            uploaded[where] += size

    lam = lambda_client(env)
    s3 = s3_client(env)
    for client in (lam, s3):
        client.meta.events.register("provide-client-params", count)
    store = store_for(env, None, s3_client_factory=lambda: s3)
    ctx = Context(env=env, api=Api(lam), store=store, timing=Timing())
    result = rollback(ctx, RollbackRequest(previous=True))
    calls_log.write_text(
        json.dumps({"calls": dict(calls), "result": result, **uploaded}), encoding="utf-8"
    )
    return 0


def _standard_synth(outdir: str) -> None:
    """The usual way to write a CDKTF app: import the bindings by name, one small stack.

    Importing any submodule runs the package `__init__`, which imports all of them.
    """
    from cdktf import App, TerraformStack
    from cdktf_cdktf_provider_aws.iam_role import IamRole
    from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
    from cdktf_cdktf_provider_aws.lambda_layer_version import LambdaLayerVersion
    from cdktf_cdktf_provider_aws.provider import AwsProvider

    app = App(outdir=outdir)
    stack = TerraformStack(app, "minimal")
    AwsProvider(stack, "aws", region="us-west-2")
    layer = LambdaLayerVersion(
        stack,
        "deps",
        layer_name="bench-deps",
        s3_bucket="bench-artifacts",
        s3_key="lambda/layer.zip",
        compatible_runtimes=["python3.12"],
    )
    assume = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = IamRole(stack, "role", name="bench-fn", assume_role_policy=json.dumps(assume))
    LambdaFunction(
        stack,
        "fn",
        function_name="bench-fn",
        role=role.arn,
        handler="app.main.handler",
        runtime="python3.12",
        s3_bucket="bench-artifacts",
        s3_key="lambda/backend.zip",
        layers=[layer.arn],
    )
    app.synth()


def probe_synth(mode: str, outdir: str) -> int:
    import os

    from bench.measure import peak_rss, peak_rss_of_children

    if mode == "fast":
        import main

        main.build_app(environ={}, outdir=outdir).synth()
    elif mode == "standard":
        _standard_synth(outdir)
    else:
        print(f"synth mode {mode!r}: use fast or standard", file=sys.stderr)
        return 2
    children = peak_rss_of_children(os.getpid())
    node = {name: size for name, size in children.items() if name.startswith("node:")}
    report = {
        # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the process
        # that forked us (the bench, with its moto server), so it would report the parent.
        "python_peak_rss_bytes": peak_rss(os.getpid()),
        "node_peak_rss_bytes": sum(node.values()),
        "node_processes": len(node),
        "provider_modules_loaded": sum(
            1 for name in sys.modules if name.startswith("cdktf_cdktf_provider_aws.")
        ),
        "stacks": sorted(p.parent.name for p in Path(outdir).glob("stacks/*/cdk.tf.json")),
    }
    print(json.dumps(report))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "scripts":
        return probe_scripts(Path(argv[1]), argv[2:])
    if len(argv) == 4 and argv[0] == "deploy":
        return probe_deploy(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    if len(argv) == 2 and argv[0] == "rollback":
        return probe_rollback(Path(argv[1]))
    if len(argv) == 3 and argv[0] == "synth":
        return probe_synth(argv[1], argv[2])
    print(
        "usage: python -m bench.probe scripts SPAWN_LOG ARGS... | "
        "deploy LAYER_DIR PACKAGE_DIR CALLS_LOG | synth fast|standard OUTDIR",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
