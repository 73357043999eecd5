"""The release commands as a person or CI runs them: `python -m scripts ...` in a process
of its own, against a world with the real `local` environment's names behind the double.

A CLI process looks its environment up by name (`--env local`), so the world keeps the
real names (`bluemoxon-local-api`, bucket `bluemoxon-frontend-local`) on a moto server of
its own (module-scoped), reset before every test; a fresh LambdaDouble in front of it per
test carries the faults and the call log. Every delay the CLI would wait for real comes
from `LAYERS_*` variables (scripts/release/timing.py) and boto3's standard settings:
nothing is patched, so what runs here is what CI runs.

    cli.start("deploy", ...)      -> Running (its own process group; signal, kill, wait)
    cli.run("status", "--json")   -> Finished (exit code, stdout, stderr, .json())
    cli.deploy_args("v2", "v2")   -> the arguments that deploy those fake artifacts
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botocore.config import Config
from lambda_double import LambdaDouble
from lambda_world import World, make_world

import artifacts
from environments import REPO_ROOT
from scripts.release import history
from scripts.release.history import ReleaseRecord
from scripts.release.lock import Holder, read_holder

ENV = "local"
# The client the in-process code gets (setup releases): one attempt, quick timeouts.
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1}, read_timeout=10, connect_timeout=5)
# What a CLI process waits: short polls and backoff, a lease long enough that no test's
# run loses its lock by accident. Held responses in the tests stay under the read timeout.
TIMING_ENV: Mapping[str, str] = {
    "LAYERS_POLL_DELAY": "0.05",
    "LAYERS_CONFLICT_DELAYS": "0.1,0.2,0.4,0.8,1.6,3.2",
    "LAYERS_SETTLE_TIMEOUT": "30",
    "LAYERS_LOCK_LEASE": "30",
    "LAYERS_AWS_READ_TIMEOUT": "20",
    "LAYERS_AWS_CONNECT_TIMEOUT": "5",
    # One attempt: a fault the double injects reaches the engine instead of a retry.
    "AWS_RETRY_MODE": "standard",
    "AWS_MAX_ATTEMPTS": "1",
}
# Generous bounds for a loaded 2-core machine: a process that hangs fails the test.
PROCESS_TIMEOUT_S = 180.0
WAIT_TIMEOUT_S = 90.0


def wait_until(
    condition: Callable[[], Any],
    what: str,
    *,
    timeout: float = WAIT_TIMEOUT_S,
    running: Running | None = None,
) -> Any:
    """Poll `condition` until it returns something truthy; fail naming `what` otherwise
    (early, with its output, when `running` exits meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if running is not None and running.proc.poll() is not None:
            raise AssertionError(
                f"waiting for {what}: the process exited {running.proc.returncode}\n"
                f"{running.stderr()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass(frozen=True)
class Finished:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        """The one JSON object `--json` prints (exactly one line on stdout)."""
        lines = self.stdout.splitlines()
        assert len(lines) == 1, f"expected one JSON line, got {self.stdout!r}\n{self.stderr}"
        value = json.loads(lines[0])
        assert isinstance(value, dict)
        return value

    def __str__(self) -> str:
        return f"{' '.join(self.args)} -> {self.code}\n{self.stderr}{self.stdout}"


@dataclass
class Running:
    args: tuple[str, ...]
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL its whole process group and reap it (a zombie's pid still exists)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=PROCESS_TIMEOUT_S)

    def wait(self, timeout: float = PROCESS_TIMEOUT_S) -> Finished:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{' '.join(self.args)} did not end:\n{self.stderr()}") from None
        return Finished(self.args, code, self.out.read_text(), self.stderr())


@dataclass
class Cli:
    world: World
    double: LambdaDouble
    environ: dict[str, str]
    tmp: Path
    running: list[Running] = field(default_factory=list)

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> Running:
        n = len(self.running)
        out, err = self.tmp / f"cli{n}.out", self.tmp / f"cli{n}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "scripts", *args],
                cwd=REPO_ROOT,
                env={**self.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # its own process group: killpg ends only it
            )
        running = Running(tuple(args), proc, out, err)
        self.running.append(running)
        return running

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> Finished:
        return self.start(*args, env=env).wait()

    def deploy_args(self, layer_tag: str, package_tag: str, *extra: str) -> list[str]:
        """`deploy --env local` of these fake artifacts (uploaded now), by their hashes."""
        return [
            "deploy",
            "--env",
            ENV,
            "--layer-hash",
            self.world.upload_layer(layer_tag),
            "--package-hash",
            self.world.upload_package(package_tag),
            *extra,
        ]

    def records(self) -> list[ReleaseRecord]:
        """The release history, newest first."""
        return history.load_releases(self.world.store, ENV)

    def holder(self) -> Holder | None:
        return read_holder(self.world.store, ENV)[0]

    def lock_present(self) -> bool:
        return read_holder(self.world.store, ENV)[2]

    def write_lock(self, holder: Holder) -> None:
        """A lock object as another run would have left it."""
        data = json.dumps(asdict(holder), sort_keys=True).encode()
        self.world.store.put_bytes(artifacts.lock_name(ENV), data, overwrite=True)

    def wait_lock_expired(self) -> None:
        """Until the lock's lease has expired by the store's (moto's) clock."""
        from scripts.release.lock import look

        lease = float(TIMING_ENV["LAYERS_LOCK_LEASE"])
        wait_until(
            lambda: (seen := look(self.world.store, ENV)) is not None and seen.expired(lease),
            "the lock's lease to expire by the store's clock",
        )

    def stop_all(self) -> None:
        for running in self.running:
            if running.proc.poll() is None:
                running.kill()


def target_of(record: ReleaseRecord) -> dict[str, tuple[str | None, str, tuple[str, ...]]]:
    """What the aliases serve when this release is live, in `World.served()`'s shape."""
    return {
        name: (entry.target.version, entry.target.code_sha256, entry.target.layers)
        for name, entry in record.functions.items()
    }


def foreign_holder(
    pid: int, *, expires_in: float, host: str | None = None, lease_s: float | None = None
) -> Holder:
    """A lock holder that is not this test: `pid` on this host (or on `host`).

    Its lease counts by the store's clock from when the lock object is written: an
    `expires_in` <= 0 gets a one-second lease, expired once `Cli.wait_lock_expired()`."""
    from scripts.release.lock import _process_start

    now = time.time()
    return Holder(
        lease_s=lease_s or (expires_in if expires_in > 0 else 1.0),
        token="f" * 32,
        command="deploy",
        user="ci-bot",
        host=host or socket.gethostname(),
        pid=pid,
        started_at=now - 60,
        expires_at=now + expires_in,
        release_id="20200101T000000.000000Z-deadbeef",
        process_start=_process_start(pid) if host is None else None,
    )


def reset_moto(endpoint: str) -> None:
    """Every backend of this (dedicated) moto server back to empty."""
    url = f"{endpoint}/moto-api/reset"
    request = urllib.request.Request(url, method="POST", data=b"")  # noqa: S310 - local moto
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()


@dataclass
class CliWorlds:
    """A module's moto server: each test gets it reset, a fresh double and a new world."""

    moto: str
    base_environ: Mapping[str, str]

    def make(self, tmp: Path) -> Iterator[Cli]:
        reset_moto(self.moto)
        double = LambdaDouble.start(upstream=self.moto, update_window_s=0.2)
        cli: Cli | None = None
        try:
            world = make_world(double.endpoint, lambda_config=ONE_ATTEMPT, keep_names=True)
            world.upload_layer("v0")
            world.upload_package("v0")
            world.create_functions()
            environ = {**self.base_environ, "AWS_ENDPOINT_URL": double.endpoint, **TIMING_ENV}
            cli = Cli(world=world, double=double, environ=environ, tmp=tmp)
            yield cli
        finally:
            if cli is not None:
                cli.stop_all()
            double.stop()
