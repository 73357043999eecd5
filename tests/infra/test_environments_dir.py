"""LAYERS_ENVIRONMENTS_DIR: a rehearsal reads the environment files `discover` wrote into a
folder of their own, in every command (`--env` lists and resolves them) and in synth
(main.py), without touching environments/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import main
from environments import ENVIRONMENTS, ENVIRONMENTS_DIR, REPO_ROOT
from scripts.cli import main as cli_main

VAR = "LAYERS_ENVIRONMENTS_DIR"


@pytest.fixture
def rehearsal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder holding one discovered file, `rehearsal.toml` (the local one, renamed)."""
    text = (REPO_ROOT / "environments" / "local.toml").read_text()
    (tmp_path / "rehearsal.toml").write_text(text.replace('name = "local"', 'name = "rehearsal"'))
    monkeypatch.setenv(VAR, str(tmp_path))
    yield tmp_path
    ENVIRONMENTS.use(ENVIRONMENTS_DIR)


def test_commands_resolve_env_from_the_folder(
    rehearsal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["plan-check", "--help"]) == 0
    assert "environment: rehearsal" in capsys.readouterr().out
    # Resolved, so the command gets as far as its own input: the stack it was not given.
    code = cli_main(["plan-check", "--env", "rehearsal", "--stack-dir", str(rehearsal / "no")])
    err = capsys.readouterr().err
    assert "unknown environment" not in err and code != 0
    assert ENVIRONMENTS.path("rehearsal") == rehearsal / "rehearsal.toml"


def test_synth_reads_the_folder(rehearsal: Path) -> None:
    names = [env.name for env in main.environments_for({VAR: str(rehearsal)})]
    assert names == ["rehearsal"]


def test_a_folder_that_is_not_there_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(VAR, str(tmp_path / "missing"))
    assert cli_main(["status", "--env", "staging"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {VAR}: ") and "not a directory" in err
    assert len(err.splitlines()) == 1
    assert ENVIRONMENTS.folder == ENVIRONMENTS_DIR
