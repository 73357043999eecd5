"""`python -m scripts plan-check`: exit codes and output, with a stand-in `terraform` that
reports a version and shows a recorded plan (the real one runs in tests/e2e)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_terraform import fake_terraform

from environments import ENVIRONMENTS
from scripts.cli import main
from scripts.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK
from scripts.migration import phases
from scripts.migration.phases import State

PLANS = Path(__file__).resolve().parent / "plans"


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "stacks" / "legacy"
    directory.mkdir(parents=True)
    (directory / "cdk.tf.json").write_text("{}")
    (directory / "tfplan").write_text("binary plan")
    return directory


def _plan_check(stack_dir: Path, *extra: str) -> int:
    return main(["plan-check", "--env", "legacy", "--stack-dir", str(stack_dir), *extra])


def test_refused_plan_exits_1_with_the_table_and_one_error_line(
    stack_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    binary = fake_terraform(
        tmp_path / "bin", version="1.11.4", show=PLANS / "legacy-forgetful.json"
    )
    monkeypatch.setenv("PATH", str(binary))
    assert _plan_check(stack_dir, "--plan-file", "tfplan") == EXIT_FAILURE
    out, err = capsys.readouterr()
    assert "refused (2):" in out
    assert err.startswith("error: plan-check refused the plan: aws_lambda_function.")
    assert "(and 1 more)" in err and len(err.strip().splitlines()) == 1


def test_ok_plan_with_json_prints_one_object(
    stack_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    binary = fake_terraform(tmp_path / "bin", version="1.5.0", show=PLANS / "legacy-adoption.json")
    monkeypatch.setenv("PATH", str(binary))
    assert _plan_check(stack_dir, "--plan-file", "tfplan", "--json") == EXIT_OK
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["ok"] is True and result["env"] == "legacy"
    assert result["summary"]["import"] == 17
    assert err.startswith("plan-check legacy: 17 to import")


def _bad_input(capsys: pytest.CaptureFixture[str], code: int) -> str:
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_old_terraform_is_bad_input(
    stack_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(fake_terraform(tmp_path / "bin", version="1.4.6")))
    line = _bad_input(capsys, _plan_check(stack_dir))
    assert line == (
        "error: terraform 1.4.6 is older than 1.5, which adoption's import blocks need: "
        "install terraform >= 1.5"
    )


def test_missing_terraform_is_bad_input(
    stack_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    line = _bad_input(capsys, _plan_check(stack_dir))
    assert line.startswith("error: terraform CLI not on PATH: install terraform >= 1.5")


def test_missing_stack_and_plan_file_are_bad_input(
    stack_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(fake_terraform(tmp_path / "bin", version="1.11.4")))
    line = _bad_input(capsys, _plan_check(tmp_path / "nowhere"))
    assert "no synthesized stack at" in line and "npx cdktf synth" in line
    line = _bad_input(capsys, _plan_check(stack_dir, "--plan-file", "missing.tfplan"))
    assert "--plan-file missing.tfplan: no such file" in line


def test_bad_allow_is_bad_input(
    stack_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(fake_terraform(tmp_path / "bin", version="1.11.4")))
    line = _bad_input(capsys, _plan_check(stack_dir, "--allow", "api.publish"))
    assert line.startswith("error: --allow 'api.publish': use RESOURCE.ATTRIBUTE")


def test_without_a_plan_file_it_inits_plans_and_keeps_the_checked_plan(
    stack_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    binary = fake_terraform(tmp_path / "bin", version="1.11.4", show=PLANS / "legacy-adoption.json")
    monkeypatch.setenv("PATH", str(binary))
    assert _plan_check(stack_dir) == EXIT_OK
    assert (stack_dir / ".terraform").is_dir()
    # Apply this file to apply exactly what was checked.
    assert (stack_dir / "plan-check.tfplan").is_file()
    assert "ok: nothing deleted, replaced or forgotten" in capsys.readouterr().out


def test_a_failing_plan_is_one_line_with_terraforms_error(
    stack_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(
        "PATH", str(fake_terraform(tmp_path / "bin", version="1.11.4", plan_fails=True))
    )
    assert _plan_check(stack_dir) == EXIT_FAILURE
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: terraform plan failed in ")
    assert line.endswith(
        "Cannot import non-existent remote object: While attempting to import an existing "
        "object to aws_lambda_function.x"
    )


@pytest.mark.parametrize("plan_file", [None, "tfplan"])
def test_the_default_stack_dir_is_relative_to_where_the_command_runs(
    plan_file: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 19: terraform runs in the stack folder, so a path relative to the repository
    must not be handed to it as it is (the folder would be applied twice)."""
    binary = fake_terraform(tmp_path / "bin", version="1.11.4", show=PLANS / "legacy-adoption.json")
    monkeypatch.setenv("PATH", str(binary))
    repo = tmp_path / "repo"
    stack = repo / "cdktf.out" / "stacks" / "legacy"
    stack.mkdir(parents=True)
    (stack / "cdk.tf.json").write_text("{}")
    (stack / "tfplan").write_text("binary plan")
    monkeypatch.chdir(repo)
    extra = ["--plan-file", plan_file] if plan_file else []
    assert main(["plan-check", "--env", "legacy", *extra]) == EXIT_OK, capsys.readouterr().err
    assert capsys.readouterr().out.startswith("plan-check legacy: 17 to import")
    if plan_file is None:
        assert (stack / "plan-check.tfplan").is_file()


def test_migrate_phase_one_reads_the_plan_from_the_default_stack_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19, `migrate --env local`: its first phase runs plan-check on the same default."""
    binary = fake_terraform(tmp_path / "bin", version="1.11.4", show=PLANS / "legacy-adoption.json")
    repo = tmp_path / "repo"
    stack = repo / "cdktf.out" / "stacks" / "legacy"
    stack.mkdir(parents=True)
    (stack / "cdk.tf.json").write_text("{}")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PATH", str(binary))
    phase = phases.infrastructure(
        ENVIRONMENTS["legacy"], Path("cdktf.out/stacks/legacy"), environ={"PATH": str(binary)}
    )
    assert phase.state is State.TODO, phase.checked
    assert phase.checked[0].startswith("plan-check: 17 to import")


def test_terraforms_errors_are_relayed_as_one_plain_line(
    stack_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    binary = fake_terraform(tmp_path / "bin", version="1.11.4", show_coloured_error=True)
    monkeypatch.setenv("PATH", str(binary))
    assert _plan_check(stack_dir, "--plan-file", "tfplan") == EXIT_FAILURE
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "\x1b" not in line and "│" not in line
    assert line.endswith(
        "failed: Error: Failed to read the given file as a state or plan file | State read "
        "error: Error loading statefile: open plan: no such file or directory"
    )
