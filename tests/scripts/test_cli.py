"""The command line as a new user meets it: help that explains, a version, errors that
name the fix, quiet and verbose, colour only where it belongs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from environments import REPO_ROOT
from scripts import helptext, progress
from scripts.builder.cache_key import FORMAT_VERSION
from scripts.cli import COMMANDS, main
from scripts.clients import explain_aws_error


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts", *args],
        cwd=REPO_ROOT,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_top_level_help_is_for_users_not_for_developers() -> None:
    done = _run("--help")
    assert done.returncode == 0
    assert "Exit codes: 0 ok, 1 failed, 2 bad input" in done.stdout
    assert "AWS_ENDPOINT_URL" in done.stdout
    # The module docstrings are notes for this project's developers.
    assert "map typed errors" not in done.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_says_what_it_does_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command in helptext.COMMANDS, f"add {command} to scripts/helptext.py"
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    description, example = helptext.COMMANDS[command]
    assert description.split()[0] in out
    assert f"example:\n  {example}" in out
    assert example.startswith(f"python -m scripts {command}")


def test_version_names_the_project_and_the_build_format() -> None:
    done = _run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == (
        f"bluemoxon-lambda-layers 0.1.0 (layer build format {FORMAT_VERSION})"
    )


def test_no_credentials_names_the_fix_and_exits_2(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "NO_COLOR"}
    env.update({"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    # No instance metadata here: fail fast instead of waiting for it.
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    done = _run("status", "--env", "staging", env=env)
    assert done.returncode == 2
    assert "no AWS credentials" in done.stderr
    assert "AWS_PROFILE" in done.stderr and "AWS_ENDPOINT_URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_endpoint_names_it() -> None:
    from botocore.exceptions import EndpointConnectionError

    err = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    message, code = explain_aws_error(err, {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
    assert code == 2
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:1" in message
    assert "moto" in message


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    assert progress.wants_color({}, is_tty=True) is True
    assert progress.wants_color({}, is_tty=False) is False
    assert progress.wants_color({"NO_COLOR": "1"}, is_tty=True) is False
    assert progress.wants_color({"TERM": "dumb"}, is_tty=True) is False


def test_quiet_keeps_warnings_and_verbose_adds_detail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    try:
        progress.configure(level=progress.QUIET, environ={})
        progress.say("a step")
        progress.say("warning: something to know")
        progress.detail("a detail")
        quiet = capsys.readouterr().err
        progress.configure(level=progress.VERBOSE, environ={})
        progress.detail("a detail")
        verbose = capsys.readouterr().err
    finally:
        progress.configure(level=progress.NORMAL, environ={})
    assert quiet == "warning: something to know\n"
    assert verbose == "a detail\n"


def test_bad_usage_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy"]) == 2
    assert "--env" in capsys.readouterr().err
