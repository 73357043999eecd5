"""Issue 19, as a new user met it: the release commands' rough edges, each against the real
`local` environment's names behind the Lambda double (cli_world.py)."""

from __future__ import annotations

from cli_world import ENV, Cli

import artifacts
from scripts.release.history import ReleaseRecord


def _served(cli: Cli) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    return dict(cli.world.served())


def test_a_missing_package_is_bad_input_as_the_runbook_says(cli: Cli) -> None:
    """It exited 1 while a missing layer exited 2; docs/runbooks/deploy.md says 2."""
    before = _served(cli)
    done = cli.run(
        "deploy", "--env", ENV, "--layer-hash", cli.world.upload_layer("v1"),
        "--package-hash", "c" * 64, "--json",
    )  # fmt: skip
    assert done.code == 2, done
    assert "is missing: run build-backend --env local" in done.stderr
    assert done.json()["exit_code"] == 2
    assert _served(cli) == before
    assert cli.records() == []


def test_a_deploy_ends_with_a_summary_line(cli: Cli) -> None:
    """The runbook promised a summary; the last line named one function only."""
    done = cli.run(*cli.deploy_args("v1", "v1"))
    assert done.code == 0, done
    (record,) = cli.records()
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"deploy {ENV}: release {record.id} succeeded (4 functions: 4 changed)"
    again = cli.run(*cli.deploy_args("v1", "v1"))
    assert again.stderr.strip().splitlines()[-1] == (
        f"deploy {ENV}: nothing to change (4 unchanged); no release recorded"
    )


def test_an_empty_history_says_so(cli: Cli) -> None:
    done = cli.run("history", "--env", ENV)
    assert done.code == 0, done
    assert done.stderr.startswith(f"no releases recorded for {ENV} yet (in s3://")


def test_deploy_to_a_missing_bucket_names_the_bucket_not_the_build(cli: Cli) -> None:
    """It said "run build-layer first": wrong advice, the bucket was the problem."""
    before = _served(cli)
    done = cli.run(*cli.deploy_args("v1", "v1"), "--store", "s3://no-such-bucket/lambda/", "--json")
    assert done.code == 2, done
    assert "bucket no-such-bucket does not exist" in done.stderr
    assert "build-layer" not in done.stderr
    assert done.json()["exit_code"] == 2
    assert _served(cli) == before


def test_the_write_check_leaves_nothing_in_the_bucket(cli: Cli) -> None:
    done = cli.run(*cli.deploy_args("v1", "v1"))
    assert done.code == 0, done
    names = {o.name for o in cli.world.store.list("")}
    assert not any("write-check" in n for n in names), names


def test_a_live_lock_is_busy_before_anything_is_read(cli: Cli) -> None:
    from cli_world import foreign_holder

    cli.write_lock(foreign_holder(1, expires_in=300, host="ci-runner-7"))
    before = _served(cli)
    done = cli.run(*cli.deploy_args("v1", "v1"), "--json")
    assert done.code == 3, done
    assert "local is busy: deploy by ci-bot@ci-runner-7" in done.stderr
    assert "unlock --env local" in done.stderr
    assert _served(cli) == before
    records: list[ReleaseRecord] = cli.records()
    assert records == []
    assert cli.world.store.head(artifacts.lock_name(ENV)) is not None
