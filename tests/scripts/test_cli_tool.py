"""The CLI as an installed tool (issue 19 parts 1 and 5): `layers` from any folder, no
abbreviations, argument errors under --json, "did you mean", shell completion, and a README
that lists what the parser has."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from environments import ENVIRONMENTS, REPO_ROOT
from scripts.cli import COMMANDS, build_parser, main

LAYERS = Path(sys.executable).parent / "layers"


def _layers(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert LAYERS.exists(), "`layers` is not installed in this venv: run `make setup`"
    return subprocess.run(
        [str(LAYERS), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize(
    "argv",
    [
        # `--a` ran as --apply and deleted a version; `--prev` rolled back.
        ["prune-versions", "--env", "staging", "--keep", "1", "--a"],
        ["rollback", "--env", "staging", "--prev"],
        ["deploy", "--env", "staging", "--can", "10"],
        ["status", "--env", "staging", "--js"],
    ],
)
def test_abbreviated_options_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: " in err
    assert argv[-1] in err.split("unrecognized arguments: ")[1]


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def test_every_parser_refuses_abbreviations() -> None:
    parser = build_parser()
    parsers = [parser, *_commands(parser).values()]
    assert all(p.allow_abbrev is False for p in parsers)


def test_an_argument_error_under_json_prints_one_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ "--json on failure too" did not hold for argument errors: argparse printed usage."""
    assert main(["deploy", "--env", "staging", "--canary", "ten", "--json"]) == 2
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["exit_code"] == 2
    assert "--canary: invalid float value: 'ten'" in payload["error"]
    assert "usage:" in captured.err


def test_a_missing_required_option_under_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == (
        "the following arguments are required: --env"
    )


def test_a_mistyped_command_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rollbak", "--env", "staging", "--json"]) == 2
    captured = capsys.readouterr()
    assert "unknown command 'rollbak'; did you mean 'rollback'?" in captured.err
    assert json.loads(captured.out)["exit_code"] == 2


def test_a_mistyped_environment_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--env", "prdo"]) == 2
    assert "unknown environment 'prdo'; did you mean 'prod'?" in capsys.readouterr().err


def _complete(script: str, *words: str) -> list[str]:
    """COMPREPLY for the command line `words` (the last one being completed), in bash."""
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f"{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _layers; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_completes_commands_flags_and_environments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert _complete(script, "layers", "ro") == ["rollback"]
    assert set(_complete(script, "layers", "")) >= set(COMMANDS)
    assert _complete(script, "layers", "rollback", "--env", "pr") == ["prod"]
    assert _complete(script, "layers", "deploy", "--dry") == ["--dry-run"]
    assert "--apply" in _complete(script, "layers", "prune-versions", "--")


def test_zsh_completion_names_every_command_and_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["completion", "zsh"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#compdef layers\n")
    assert "compdef _layers layers" in script
    for name in [*COMMANDS, *ENVIRONMENTS]:
        assert name in script
    if shutil.which("zsh"):
        subprocess.run(["zsh", "-n", "-c", script], check=True, timeout=30)


def test_the_installed_command_runs_from_any_folder(tmp_path: Path) -> None:
    """`python -m scripts` worked only from the repository root."""
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    for cwd in (elsewhere, REPO_ROOT / "docs"):
        done = _layers("--version", cwd=cwd)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("bluemoxon-lambda-layers ")
    done = _layers("deploy", "--help", cwd=elsewhere)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: layers deploy")
    # The configuration it finds is this checkout's.
    assert ", ".join(ENVIRONMENTS) in _layers("status", "--help", cwd=elsewhere).stdout


def test_the_readme_lists_every_command() -> None:
    """The scripts table left out demo, pipeline and migrate."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## The scripts")
    table = readme[start : readme.index("\n## ", start + 1)]
    listed = set(re.findall(r"^\| `([a-z-]+)[ `]", table, flags=re.MULTILINE))
    assert listed >= {*COMMANDS, "completion"}, sorted({*COMMANDS} - listed)


def test_the_readme_says_which_commands_take_a_local_store(tmp_path: Path) -> None:
    """It said every command took a local directory; deploy, status, rollback and the
    prunes refuse one. The sentence and the parser must agree."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    sentence = readme[readme.index("`--store` takes") :].split("\n\n", 1)[0]
    local: set[str] = set()
    s3_only: set[str] = set()
    for name, sub in _commands(build_parser()).items():
        store = next((a for a in sub._actions if "--store" in a.option_strings), None)
        if store is not None:
            (local if "local directory" in (store.help or "") else s3_only).add(name)
    said_local = set(re.findall(r"`([a-z]+-?[a-z]+)`", sentence.split("also take a local")[0]))
    assert said_local == local
    for name in s3_only:
        assert name in sentence or (name.startswith("prune") and "prunes" in sentence)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for name in sorted(s3_only - {"migrate"}):
        argv = [name, "--env", "local", "--store", str(tmp_path)]
        if name == "rollback":
            argv.append("--previous")
        if name.startswith("prune"):
            argv += ["--keep", "3"]
        done = subprocess.run(
            [sys.executable, "-m", "scripts", *argv],
            cwd=REPO_ROOT,
            env={**env, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 2, (name, done.stderr)
        assert "use s3://BUCKET/PREFIX" in done.stderr


def test_every_example_function_has_a_sample_event() -> None:
    """There was no sample event for `invoke --event` (the network test in
    test_example_layer.py runs each through its handler)."""
    events = REPO_ROOT / "examples" / "events"
    for function in ENVIRONMENTS["local"].functions:  # the example backend's handlers
        event = json.loads((events / f"{function.name}.json").read_text(encoding="utf-8"))
        assert isinstance(event, dict)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "--event examples/events/api.json" in readme
