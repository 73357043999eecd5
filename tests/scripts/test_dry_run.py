"""`deploy --dry-run` and `rollback --dry-run`: the plan per function, and nothing written
(issue 19 part 3): no Lambda write, no store write, no lock, no record."""

from __future__ import annotations

from cli_world import ENV, Cli

READS = ("Get", "List")


def _writes(cli: Cli) -> list[str]:
    return [c.operation for c in cli.double.calls if not c.operation.startswith(READS)]


def _snapshot(cli: Cli) -> tuple[object, ...]:
    return (
        cli.world.served(),
        cli.world.state(),
        sorted(o.name for o in cli.world.store.list("")),
        [r.id for r in cli.records()],
    )


def test_deploy_dry_run_says_what_would_move_and_writes_nothing(cli: Cli) -> None:
    assert cli.run(*cli.deploy_args("v1", "v1")).code == 0
    first = cli.records()[0]
    args = cli.deploy_args("v2", "v2")  # uploads v2's artifacts first
    before = _snapshot(cli)
    cli.double.clear_calls()

    done = cli.run(*args, "--dry-run", "--json")

    assert done.code == 0, done
    assert _writes(cli) == []
    assert _snapshot(cli) == before
    assert not cli.lock_present()
    plan = done.json()
    assert plan["dry_run"] is True
    assert plan["state"] == "planned"
    assert set(plan["functions"]) == set(cli.world.env.function_names)
    api = plan["functions"]["bluemoxon-local-api"]
    assert api["alias"] == {
        "from": first.functions["bluemoxon-local-api"].target.version,
        "to": "a new version",
    }
    assert api["code"]["from"] == first.functions["bluemoxon-local-api"].target.code_sha256
    assert api["code"]["to"] != api["code"]["from"]
    assert api["layer"]["to"] == "a new layer version"
    assert api["calls"] == [
        "UpdateFunctionCode",
        "UpdateFunctionConfiguration (Layers)",
        "PublishVersion (unless a version holds the target)",
        "UpdateAlias",
    ]
    assert api["callers"][-1] == "anyone invoking the live alias by name"
    assert "dry run: deploy local would change:" in done.stderr
    assert "bluemoxon-local-api: alias" in done.stderr


def test_a_dry_run_ignores_the_lock(cli: Cli) -> None:
    """No lock is taken, so a run holding it does not stop a dry run (nor is disturbed)."""
    from cli_world import foreign_holder

    cli.write_lock(foreign_holder(1, expires_in=300, host="ci-runner-7"))
    holder = cli.holder()
    done = cli.run(*cli.deploy_args("v1", "v1"), "--dry-run")
    assert done.code == 0, done
    assert cli.holder() == holder
    assert cli.records() == []


def test_rollback_dry_run_names_the_versions_it_would_return_to(cli: Cli) -> None:
    assert cli.run(*cli.deploy_args("v1", "v1")).code == 0
    assert cli.run(*cli.deploy_args("v2", "v2")).code == 0
    second, first = cli.records()
    before = _snapshot(cli)
    cli.double.clear_calls()

    done = cli.run("rollback", "--env", ENV, "--previous", "--dry-run", "--json")

    assert done.code == 0, done
    assert _writes(cli) == []
    assert _snapshot(cli) == before
    plan = done.json()
    assert plan["kind"] == "rollback"
    for name, step in plan["functions"].items():
        assert step["alias"] == {
            "from": second.functions[name].target.version,
            "to": first.functions[name].target.version,
        }
        assert step["calls"] == ["UpdateAlias"]


def test_a_dry_run_of_what_runs_already_changes_nothing(cli: Cli) -> None:
    args = cli.deploy_args("v1", "v1")
    assert cli.run(*args).code == 0
    done = cli.run(*args, "--dry-run", "--json")
    assert done.code == 0, done
    assert done.json()["state"] == "unchanged"
    assert all(f["calls"] == [] for f in done.json()["functions"].values())
