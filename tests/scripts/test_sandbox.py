"""The local sandbox's server outlives the command that started it, is found again by the
next one, and is stopped only when it is really ours (scripts/local/sandbox.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from environments import REPO_ROOT
from scripts.errors import BadInputError
from scripts.local import sandbox
from scripts.local.moto import free_port


@pytest.fixture
def state(tmp_path: Path) -> Path:
    root = tmp_path / "sandbox"
    root.mkdir()
    return root


def _start(state: Path, port: int) -> sandbox.Started:
    return sandbox.start(
        state, env="local", port=port, recording=state / "rec.jsonl", log=state / "moto.log"
    )


def test_started_server_is_recorded_reused_and_stopped(state: Path) -> None:
    port = free_port()
    first = _start(state, port)
    try:
        assert first.started is True
        recorded = sandbox.running(state)
        assert recorded is not None
        assert (recorded.pid, recorded.port) == (first.pid, port)
        # A second start finds it: same server, nothing started or replayed.
        again = _start(state, port)
        assert (again.started, again.pid, again.server) == (False, first.pid, None)
        with pytest.raises(BadInputError, match="already runs on port"):
            _start(state, free_port())
    finally:
        stopped = sandbox.stop(state)
    assert stopped is not None and stopped.pid == first.pid
    assert sandbox.running(state) is None
    assert not (state / sandbox.STATE_FILE).exists()
    assert sandbox.stop(state) is None


def test_a_stale_record_is_not_taken_for_a_server(state: Path) -> None:
    # A pid that runs something else (this test's own process) on a port nobody listens on.
    port = free_port()
    (state / sandbox.STATE_FILE).write_text(
        json.dumps(
            {"pid": os.getpid(), "port": port, "env": "local", "started_at": "x", "log": "x"}
        )
    )
    assert sandbox.running(state) is None
    assert not (state / sandbox.STATE_FILE).exists()
    # And stop never signals a process that is not the sandbox's moto.
    assert sandbox.stop(state) is None


def test_a_port_taken_by_another_program_is_refused(state: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(BadInputError, match=f"port {port} is taken"):
            _start(state, port)
    assert not (state / sandbox.STATE_FILE).exists()


def test_the_server_outlives_the_process_that_started_it(state: Path) -> None:
    port = free_port()
    code = (
        "import sys; from pathlib import Path; from scripts.local import sandbox; "
        "s = Path(sys.argv[1]); "
        "sandbox.start(s, env='local', port=int(sys.argv[2]), recording=s / 'r.jsonl', "
        "log=s / 'm.log')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(state), str(port)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = sandbox.running(state)
    try:
        assert found is not None and found.port == port
    finally:
        stopped = sandbox.stop(state)
        if stopped is None and found is not None:
            os.killpg(found.pid, signal.SIGKILL)
    assert sandbox.running(state) is None


def test_local_status_and_down_without_a_sandbox(state: Path) -> None:
    for action in ("status", "down"):
        done = subprocess.run(
            [sys.executable, "-m", "scripts", "local", action, "--json", "--state-dir", str(state)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) in ({"running": False}, {"stopped": False})
