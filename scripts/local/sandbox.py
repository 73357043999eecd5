"""A local sandbox that stays up: moto on a fixed port, found again by the next command.

`local up` starts moto (or finds the one a previous `up` left running), and the pipeline's
steps then create the bucket, build and upload the artifacts and apply the `local` stack.
What it leaves is one file, `SANDBOX_DIR/sandbox.json`: the server's pid, its endpoint and
when it started. Every later command (`deploy`, `status`, `rollback --previous`, a canary,
`logs`) reaches the sandbox through the `local` environment's endpoint, which is the port
`up` listens on, so none of them needs a flag or a variable.

moto records every request it serves into the state folder; `local down` stops the
server, and the next `up` replays the recording, so the sandbox comes back as it was
(functions, versions, aliases, the release history in the bucket).

A pid alone is not trusted: after a reboot it may belong to another program. A server is
taken as ours only while that pid still runs `moto.server` on the recorded port and the
port accepts connections.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from environments import REPO_ROOT
from scripts.errors import BadInputError, ToolError
from scripts.local.moto import HOST, STOP_TIMEOUT_S, MotoServer, replay, start_moto

STATE_FILE = "sandbox.json"
DEFAULT_STATE_DIR = REPO_ROOT / ".sandbox"


@dataclass(frozen=True, kw_only=True)
class Sandbox:
    """A moto server left running by `local up` (what `sandbox.json` holds)."""

    pid: int
    port: int
    env: str
    started_at: str
    log: str

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"


def default_port(endpoint_url: str | None) -> int:
    """The port of the environment's endpoint: commands find the sandbox there."""
    port = urlsplit(endpoint_url or "").port
    if port is None:
        raise BadInputError(
            f"the environment's endpoint_url {endpoint_url!r} names no port: "
            "give one (http://127.0.0.1:5000) or pass --port"
        )
    return port


def read(state_dir: Path) -> Sandbox | None:
    """The recorded sandbox, or None when there is none or the record is unreadable."""
    try:
        data = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
        return Sandbox(**data)
    except (OSError, ValueError, TypeError):
        return None


def _runs_moto(pid: int, port: int) -> bool:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and any(b"moto.server" in a for a in args) and str(port).encode() in args


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def alive(sandbox: Sandbox) -> bool:
    return _runs_moto(sandbox.pid, sandbox.port) and _listening(sandbox.port)


def running(state_dir: Path) -> Sandbox | None:
    """The recorded sandbox if its server still runs; a stale record is removed."""
    found = read(state_dir)
    if found is None:
        return None
    if alive(found):
        return found
    with contextlib.suppress(FileNotFoundError):
        (state_dir / STATE_FILE).unlink()
    return None


def _write(state_dir: Path, sandbox: Sandbox) -> None:
    # Written whole and renamed: a reader never sees half a record.
    path = state_dir / STATE_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(asdict(sandbox), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


@dataclass(frozen=True, kw_only=True)
class Started:
    """The server a run talks to: the sandbox's, reused or new, and how many requests the
    new one replayed from the recording."""

    endpoint: str
    pid: int
    started: bool
    replayed: int
    server: MotoServer | None


def start(state_dir: Path, *, env: str, port: int, recording: Path, log: Path) -> Started:
    """Reuse the running sandbox, or start moto on `port` and replay the recording."""
    current = running(state_dir)
    if current is not None:
        if current.port != port:
            raise BadInputError(
                f"a sandbox already runs on port {current.port} (pid {current.pid}): "
                f"stop it first (`layers local down`) to use port {port}"
            )
        return Started(
            endpoint=current.endpoint, pid=current.pid, started=False, replayed=0, server=None
        )
    if _listening(port):
        raise BadInputError(
            f"port {port} is taken by another program: stop it, or pass --port "
            "(and point AWS_ENDPOINT_URL at the sandbox's endpoint)"
        )
    server = start_moto(port=port, log_path=log, recording=recording)
    try:
        replayed = replay(server, recording)
        _write(
            state_dir,
            Sandbox(
                pid=server.pid,
                port=port,
                env=env,
                started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                log=str(log),
            ),
        )
    except BaseException:
        server.stop()
        raise
    return Started(
        endpoint=server.endpoint, pid=server.pid, started=True, replayed=replayed, server=server
    )


def stop(state_dir: Path) -> Sandbox | None:
    """Stop the sandbox's server and its process group; returns what was stopped."""
    current = running(state_dir)
    if current is None:
        return None
    # moto leads its own session (start_moto), so its pgid is its pid.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(current.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _runs_moto(current.pid, current.port) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _runs_moto(current.pid, current.port):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(current.pid, signal.SIGKILL)
        time.sleep(0.2)
    if _runs_moto(current.pid, current.port):
        raise ToolError(f"moto (pid {current.pid}) did not stop: kill it by hand")
    with contextlib.suppress(FileNotFoundError):
        (state_dir / STATE_FILE).unlink()
    return current
