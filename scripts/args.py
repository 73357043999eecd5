"""Command-line arguments more than one command takes, and what they resolve to.

Commands never import each other; what two of them parse the same way lives here, so
`--env` lists the same environments and `--store` means the same thing everywhere.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from environments import ENVIRONMENTS, Environment, get_environment
from environments.packaging import detect_lock_file
from scripts import preflight
from scripts.clients import lambda_client, s3_client, sts_client
from scripts.errors import BadInputError
from scripts.local.sandbox import DEFAULT_STATE_DIR
from scripts.store import S3Store, Store, store_for
from scripts.suggest import did_you_mean

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


def env_name(name: str) -> str:
    """`--env`'s type: a configured environment, else the closest one suggested."""
    if name not in ENVIRONMENTS:
        raise argparse.ArgumentTypeError(
            f"unknown environment {name!r}{did_you_mean(name, ENVIRONMENTS)} "
            f"(configured: {', '.join(ENVIRONMENTS)})"
        )
    return name


def add_env(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    names = ", ".join(ENVIRONMENTS)
    if default is None:
        parser.add_argument(
            "--env", required=True, type=env_name, metavar="ENV", help=f"environment: {names}"
        )
    else:
        parser.add_argument(
            "--env",
            default=default,
            type=env_name,
            metavar="ENV",
            help=f"environment: {names} ({default})",
        )


def add_store(parser: argparse.ArgumentParser, *, s3_only: bool = False) -> None:
    where = "s3://BUCKET/PREFIX" if s3_only else "s3://BUCKET/PREFIX or a local directory"
    parser.add_argument(
        "--store",
        metavar="STORE",
        help=f"{where} (default: the environment's bucket and key prefix)",
    )


def add_backend_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend-dir",
        metavar="DIR",
        help="backend directory with app/, lambdas/, VERSION and its lock file "
        "(default: the environment's)",
    )


def add_sandbox_options(parser: argparse.ArgumentParser) -> None:
    """Where the local sandbox keeps its state, and moto's port (`pipeline`, `local`)."""
    parser.add_argument(
        "--state-dir",
        default=str(DEFAULT_STATE_DIR),
        help="moto recording, terraform state, logs and sandbox.json (default: .sandbox/)",
    )
    parser.add_argument(
        "--port",
        type=int,
        help="moto's port (default: the port of the environment's endpoint_url, 5000); "
        "with another one, point AWS_ENDPOINT_URL at it for later commands",
    )


def add_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--find-links",
        action="append",
        metavar="DIR",
        help="extra wheel directory (repeatable; offline builds)",
    )
    parser.add_argument("--no-index", action="store_true", help="use only --find-links")


def index_args(args: argparse.Namespace) -> tuple[str, ...]:
    """Installer arguments from `--find-links`/`--no-index`."""
    return installer_index_args(getattr(args, "find_links", None) or (), args.no_index)


def installer_index_args(find_links: Sequence[str], no_index: bool) -> tuple[str, ...]:
    found: list[str] = []
    for location in find_links:
        found += ["--find-links", location]
    if no_index:
        found.append("--no-index")
    return tuple(found)


def with_backend_dir(env: Environment, backend_dir: str | None) -> Environment:
    """`--backend-dir`: another backend for this environment, with the lock found there
    (poetry.lock, uv.lock or requirements.txt) and no second requirements file."""
    if not backend_dir:
        return env
    root = Path(backend_dir).resolve()
    if not root.is_dir():
        raise BadInputError(f"--backend-dir {backend_dir}: not a directory")
    return replace(env, backend_dir=root, lock_file=detect_lock_file(root), requirements_file=None)


def add_layer_options(parser: argparse.ArgumentParser) -> None:
    """What decides a layer's bytes besides the lock (build-layer, demo, invoke)."""
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="ship no .pyc files (default: compiled for the runtime, unchecked-hash)",
    )
    parser.add_argument(
        "--allow-unhashed",
        action="store_true",
        help="build from requirements without hashes (recorded in the manifest)",
    )


def add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--version",
        metavar="VERSION",
        help="the package's version (default: the backend's VERSION file, else git describe)",
    )


def environment(args: argparse.Namespace, name: str | None = None) -> Environment:
    """The environment `--env` (or `name`) names, with `--backend-dir` applied."""
    env = get_environment(name or args.env)
    return with_backend_dir(env, getattr(args, "backend_dir", None))


def store(args: argparse.Namespace, env: Environment, *, s3_only: bool = False) -> Store:
    """`--store`, or the environment's bucket under its key prefix."""
    spec: str | None = getattr(args, "store", None)
    if s3_only and spec and not spec.startswith("s3://"):
        raise BadInputError(f"--store {spec!r}: Lambda reads code from S3; use s3://BUCKET/PREFIX")
    return store_for(env, spec, s3_client_factory=lambda: s3_client(env))


def check_account(env: Environment, store: Store) -> None:
    """Preflight: credentials of the environment's account, when the store is in AWS."""
    if isinstance(store, S3Store):
        preflight.check_account(env, lambda: sts_client(env))


def lambda_for(env: Environment) -> LambdaClient:
    return lambda_client(env)


Subparsers = argparse._SubParsersAction  # the `add_subparsers()` result commands register on
