"""A moto server on this machine: started on a free loopback port in its own process
group, stopped with everything it spawned, its state recorded and replayed.

moto runs as a child process in its own session: a Ctrl-C in the terminal then reaches us
first, and `stop` ends the server without touching other processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scripts.errors import ToolError

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # The child leads its own session (start_new_session), so its pgid is its pid.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


@dataclass
class MotoServer:
    """A running `python -m moto.server`; `stop()` is idempotent."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """End the server's whole process group: SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        signal_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            signal_group(self.process, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)


def _wait_listening(server: MotoServer, timeout: float) -> None:
    """Until the port accepts connections (a TCP probe: an HTTP one would be recorded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            where = f": see {server.log_path}" if server.log_path else ""
            raise ToolError(
                f"moto server exited with {server.process.returncode} on start{where}; "
                "run `make setup` (moto[server] is a dev dependency)"
            )
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((HOST, server.port)) == 0:
                return
        time.sleep(0.1)
    raise ToolError(f"moto server did not listen on {HOST}:{server.port} within {timeout:.0f}s")


def start_moto(
    *,
    port: int | None = None,
    log_path: Path | None = None,
    recording: Path | None = None,
    python: str = sys.executable,
    timeout: float = START_TIMEOUT_S,
    server_args: Sequence[str] = ("-m", "moto.server"),
    extra_environ: Mapping[str, str] | None = None,
) -> MotoServer:
    """Start moto on a loopback port and wait until it listens.

    With `recording`, moto appends every request it serves to that file (its recorder),
    so `replay` can rebuild the same state in a later server. `server_args` is what Python runs
    (a script that patches moto first, for one); `extra_environ` are moto settings such
    as MOTO_IAM_LOAD_MANAGED_POLICIES.
    """
    chosen = port if port is not None else free_port()
    environ = {**os.environ, **(extra_environ or {})}
    if recording is not None:
        recording.parent.mkdir(parents=True, exist_ok=True)
        environ["MOTO_ENABLE_RECORDING"] = "True"
        environ["MOTO_RECORDER_FILEPATH"] = str(recording)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") if log_path else open(os.devnull, "wb") as log:  # noqa: PTH123
        process = subprocess.Popen(
            [python, *server_args, "-H", HOST, "-p", str(chosen)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environ,
            start_new_session=True,
        )
    server = MotoServer(process=process, port=chosen, log_path=log_path)
    try:
        _wait_listening(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def replay(server: MotoServer, recording: Path, *, timeout: float = 600.0) -> int:
    """Replay a previous server's recording into this one; returns the request count.

    moto re-sends each recorded request to itself in order (not recording them again),
    so buckets, objects, layer versions and functions come back as they were.
    """
    if not recording.is_file():
        return 0
    with recording.open("rb") as handle:
        count = sum(1 for line in handle if line.strip())
    if count == 0:
        return 0
    request = urllib.request.Request(  # noqa: S310 - a loopback URL we built
        f"{server.endpoint}/moto-api/recorder/replay-recording", method="POST", data=b""
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        if response.status != 200:
            raise ToolError(f"moto replay of {recording} failed: HTTP {response.status}")
    return count
