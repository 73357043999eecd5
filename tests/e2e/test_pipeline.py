"""`python -m scripts pipeline`, twice, as a person runs it: the first run builds and
deploys everything and leaves the sandbox up (`status` and `history` then work against it);
after `local down` the second run starts moto again, replays the recording, finds the layer
in the bucket, terraform changes nothing, and the deploy updates no function. `local down`
leaves no moto server behind.

The backend's dependencies are local wheels (`--find-links --no-index`), so the test
stays offline; moto, `cdktf deploy local` and terraform are the real ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from environments import ENVIRONMENTS, REPO_ROOT
from scripts.local import aws as local_aws

from .offline_backend import make_backend, write_wheel

pytestmark = pytest.mark.e2e

ENV = ENVIRONMENTS["local"]


def _scripts(
    *args: str, environ: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts", *args],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def _pipeline(
    state: Path, backend: Path, wheels: Path, environ: dict[str, str], port: int
) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts",
            "pipeline",
            "--json",
            "--state-dir",
            str(state),
            "--port",
            str(port),
            "--backend-dir",
            str(backend),
            "--find-links",
            str(wheels),
            "--no-index",
        ],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result, done.stderr


def _moto_processes(port: int) -> list[int]:
    """Live (not zombie) processes running `moto.server` on `port`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"moto.server" in args and str(port).encode() in args and state != "Z":
            found.append(int(entry.name))
    return found


def _assert_table(result: dict[str, Any]) -> None:
    rows = result["functions"]
    assert [row["name"] for row in rows] == list(ENV.function_names)
    arns = {row["layer_version_arn"] for row in rows}
    assert len(arns) == 1, arns
    (arn,) = arns
    assert arn == result["deploy"]["layer_version_arn"]
    assert f":layer:{ENV.layer_name}:" in arn
    assert {row["code_sha256"] for row in rows} == {result["package"]["code_sha256"]}
    assert {row["package_zip_bytes"] for row in rows} == {result["package"]["zip_bytes"]}
    # A tiny layer zips larger than it unpacks (zip headers): both are reported, both real.
    assert result["layer"]["zip_bytes"] > 0
    assert result["layer"]["unzipped_bytes"] > 0


def test_pipeline_twice_cache_hit_and_no_change(
    tools: local_aws.TerraformTools, tmp_path: Path
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write_wheel(wheels, "e2e_alpha", "1.0")
    backend = make_backend(tmp_path, wheels)
    state = tmp_path / "state"
    environ = {**os.environ, local_aws.MIRROR_VAR: str(tools.mirror)}

    port = local_aws.free_port()
    first, first_err = _pipeline(state, backend, wheels, environ, port)
    _assert_table(first)
    assert first["replayed_requests"] == 0
    assert first["sandbox_started"] is True
    assert first["layer"]["built"] is True
    assert first["package"]["uploaded"] is True
    assert first["terraform"]["changed"] is True
    assert first["deploy"]["published"] is True
    # The sandbox stays up: later commands reach it with nothing but its endpoint.
    assert first["moto"]["running"] is True
    assert _moto_processes(port) == [first["moto"]["pid"]]
    endpoint = first["moto"]["endpoint"]
    assert endpoint == f"http://127.0.0.1:{port}"
    bare = {k: v for k, v in environ.items() if not k.startswith("AWS_")}
    history = _scripts("history", "--env", "local", environ={**bare, "AWS_ENDPOINT_URL": endpoint})
    assert history.returncode == 0, history.stderr
    assert first["deploy"]["release"] in history.stdout + history.stderr
    # Short output: terraform's log stays in the log file; the terminal gets one line per
    # step, a heartbeat line per 10 s of a long step, and the table.
    log = Path(first["log"]).read_text()
    assert "Apply complete!" in log
    assert "Apply complete!" not in first_err
    terminal = first_err.splitlines()
    assert len(terminal) < 40, first_err
    assert len(log.splitlines()) > 3 * len(terminal)
    step_lines = [line for line in terminal if line.startswith("  ") and ": " in line]
    assert any(line.startswith("  build layer: ") for line in step_lines)
    assert any(line.startswith("  cdktf deploy local (terraform apply): ") for line in step_lines)

    down = _scripts("local", "down", "--json", "--state-dir", str(state), environ=environ)
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout) == {
        "stopped": True,
        "pid": first["moto"]["pid"],
        "endpoint": endpoint,
    }
    assert _moto_processes(port) == []

    second, second_err = _pipeline(state, backend, wheels, environ, port)
    _assert_table(second)
    assert second["sandbox_started"] is True
    assert second["replayed_requests"] > 0
    assert second["layer"]["built"] is False
    assert second["layer"]["hash"] == first["layer"]["hash"]
    assert second["package"]["uploaded"] is False
    assert second["terraform"] == {"summary": "no changes", "changed": False}
    assert second["deploy"]["published"] is False
    assert second["deploy"]["updated"] == []
    assert not any(f["steps"] for f in second["deploy"]["functions"].values())
    assert second["functions"] == first["functions"]
    assert "cache hit" in second_err
    assert "0 of 4 functions updated (no change)" in second_err
    down = _scripts("local", "down", "--state-dir", str(state), environ=environ)
    assert down.returncode == 0, down.stderr
    assert _moto_processes(port) == []


def _run_expecting_bad_input(environ: dict[str, str], tmp_path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "scripts", "pipeline", "--state-dir", str(tmp_path / "s")],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert not (tmp_path / "s").exists(), "nothing may be started or written on bad input"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_missing_mirror_is_one_line_exit_2(tmp_path: Path) -> None:
    environ = {**os.environ, local_aws.MIRROR_VAR: str(tmp_path)}
    line = _run_expecting_bad_input(environ, tmp_path)
    assert "TF_PLUGIN_MIRROR" in line
    assert "terraform providers mirror" in line


def test_missing_terraform_is_one_line_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    environ = {**os.environ, "PATH": str(empty)}
    line = _run_expecting_bad_input(environ, tmp_path)
    assert line.startswith("error: terraform CLI not on PATH: install terraform")
