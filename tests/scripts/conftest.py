"""Shared fixtures for the scripts' tests: a real moto server, boto3 clients against it,
locally built wheels (no network), small backends, and the host's runtime Python.

Reused by the deploy tests: `moto_server` (session, endpoint URL), `aws_client(service)`,
`aws_environ` (os.environ for a subprocess), `aws_env_vars` (in-process), `bucket`,
`lambda_double` (moto behind a server that behaves like real Lambda: lambda_double.py),
and `cli` (the `local` environment's real names for `python -m scripts` subprocesses, on a
moto server of the module's own: cli_world.py).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from cli_world import Cli, CliWorlds
from lambda_double import LambdaDouble
from lambda_world import World, make_world
from wheel_factory import BackendFactory, find_python, write_wheel

TEST_REGION = "us-west-2"
TEST_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": TEST_REGION,
}
# CI sets this: tests that need something missing fail there instead of skipping.
REQUIRE_ALL = os.environ.get("LAYERS_REQUIRE_E2E") == "1"


@pytest.fixture(scope="session", autouse=True)
def build_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The layer builder's deflate/bytecode cache in a session folder, not ~/.cache."""
    path = tmp_path_factory.mktemp("layers-cache")
    old = os.environ.get("LAYERS_CACHE_DIR")
    os.environ["LAYERS_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LAYERS_CACHE_DIR", None)
    else:
        os.environ["LAYERS_CACHE_DIR"] = old


# --- moto server -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One real moto server (S3, Lambda, ... over HTTP) for the session; yields its URL.

    Started once (about a second); tests keep apart by their own bucket and resource names.
    Sets fake credentials in os.environ for the session so nothing can reach AWS.
    """
    from moto.server import ThreadedMotoServer

    for name, value in TEST_CREDENTIALS.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def lambda_double(moto_server: str) -> Iterator[LambdaDouble]:
    """The session's moto server behind a double that behaves like real Lambda (RevisionId
    guards, 0.2 s update windows with 409s, downloadable code, injectable faults).

    Point clients at `lambda_double.endpoint` (S3, IAM... pass through), or pass it to
    `make_world`. Stopped after the test: its faults and call log are the test's own.
    """
    double = LambdaDouble.start(upstream=moto_server, update_window_s=0.2)
    try:
        yield double
    finally:
        double.stop()


def make_client(service: str, endpoint: str) -> Any:
    """A boto3 client against `endpoint` with test credentials in us-west-2."""
    session = boto3.session.Session(
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=TEST_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=TEST_REGION,
    )
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2})
    return session.client(service, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]


@pytest.fixture
def aws_client(moto_server: str) -> Callable[[str], Any]:
    """Factory: `aws_client("s3")`, a fresh client (its own event hooks) per call."""
    return lambda service: make_client(service, moto_server)


def aws_environ(endpoint: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Process environment for a subprocess that must talk to moto only."""
    environ = dict(os.environ if base is None else base)
    environ.update(TEST_CREDENTIALS)
    environ["AWS_ENDPOINT_URL"] = endpoint
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        environ.pop(name, None)
    return environ


@pytest.fixture
def aws_env_vars(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """In-process: boto3's standard settings point at moto (for `scripts.cli.main`)."""
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    # Clients made through boto3's default session must see the variables set above.
    boto3.DEFAULT_SESSION = None
    yield moto_server
    boto3.DEFAULT_SESSION = None


@pytest.fixture
def bucket(aws_client: Callable[[str], Any]) -> str:
    """A fresh, empty bucket in the shared moto server."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    aws_client("s3").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": TEST_REGION}
    )
    return name


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Local wheels: alpha (needs beta, has a console script, ships bytecode), beta,
    gamma (x86_64-only binary), and a pure `cli_only` with no importable package issue."""
    directory = tmp_path_factory.mktemp("wheelhouse")
    write_wheel(
        directory,
        "alpha",
        "1.0",
        requires=["beta"],
        files={
            "alpha/__init__.py": "from beta import VALUE\nVERSION = '1.0'\n",
            "alpha/cli.py": "def main() -> None:\n    print('alpha')\n",
            "alpha/__pycache__/cli.cpython-311.pyc": "not really bytecode",
            "alpha/data/run.sh": "#!/bin/sh\necho run\n",
        },
        console_scripts={"alpha": "alpha.cli:main"},
        executable=["alpha/data/run.sh"],
    )
    write_wheel(directory, "beta", "2.0", files={"beta.py": "VALUE = 42\n"})
    write_wheel(
        directory,
        "gamma",
        "3.0",
        tag="cp312-cp312-manylinux_2_17_x86_64",
        files={"gamma/__init__.py": "VERSION = '3.0'\n", "gamma/_speed.so": "\x7fELF fake"},
    )
    write_wheel(
        directory, "big", "1.0", files={"big/__init__.py": "", "big/blob.txt": "x" * 50_000}
    )
    return directory


@pytest.fixture
def make_backend(wheelhouse: Path, tmp_path: Path) -> BackendFactory:
    return BackendFactory(wheelhouse=wheelhouse, root=tmp_path / "backends")


# --- the runtime's Python on this host ---------------------------------------------------


@pytest.fixture(scope="session")
def python312() -> str:
    found = find_python("3.12")
    if found is None:
        message = "python3.12 not found (PATH or pyenv): install it to run the import smoke test"
        if REQUIRE_ALL:
            pytest.fail(message)
        pytest.skip(message)
    return found


# --- Lambda: what `cdktf deploy` leaves behind --------------------------------------------


# The client the code under test gets on the double: one attempt, a short read timeout, so
# a lost or slow response reaches the engine instead of being retried away by botocore.
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1}, read_timeout=3, connect_timeout=3)


@pytest.fixture
def dworld(lambda_double: LambdaDouble) -> World:
    """`world`, but behind the double: real Lambda's revisions, update windows, faults."""
    w = make_world(lambda_double.endpoint, lambda_config=ONE_ATTEMPT)
    w.upload_layer("v0")
    w.upload_package("v0")
    w.create_functions()
    return w


@pytest.fixture
def dworld_empty(lambda_double: LambdaDouble) -> World:
    """A world behind the double with artifacts in the bucket but no functions yet."""
    w = make_world(lambda_double.endpoint, lambda_config=ONE_ATTEMPT)
    w.upload_layer("v0")
    w.upload_package("v0")
    return w


@pytest.fixture
def world(moto_server: str) -> World:
    """A fresh environment on the session's moto server: a first layer version and four
    functions on package v0, as Terraform creates them, with v0 artifacts in the bucket."""
    w = make_world(moto_server)
    w.upload_layer("v0")
    w.upload_package("v0")
    w.create_functions()
    return w


# --- the CLI in its own processes, on the real `local` names ----------------------------


@pytest.fixture(scope="module")
def cli_worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliWorlds]:
    """A moto server of the module's own (a child process: its state is not the session
    server's), reset before each test, since the `local` environment's names are fixed."""
    from scripts.local import aws as local_aws

    for name, value in TEST_CREDENTIALS.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    server = local_aws.start_moto(log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield CliWorlds(moto=server.endpoint, base_environ=aws_environ(server.endpoint))
    finally:
        server.stop()


@pytest.fixture
def cli(cli_worlds: CliWorlds, tmp_path: Path) -> Iterator[Cli]:
    """The `local` environment on the module's moto, behind a fresh double: v0 artifacts,
    four functions as Terraform creates them; `cli.start/run(...)` run `python -m scripts`
    against it (see cli_world.py)."""
    yield from cli_worlds.make(tmp_path)
