"""What a dead run can leave besides torn code and aliases, and a resolution that dies too.

CI runs that die must not need a person to deploy again: whatever the killed run left
behind, the next deploy takes the lock over, puts the functions back from the `started`
record, and succeeds; `rollback --previous` afterwards serves the release before.
"""

from __future__ import annotations

from cli_world import ENV, Cli, target_of, wait_until
from crash_points import HELD_S, crash, refuse

from scripts.release import history
from scripts.release.deploy import deploy


def test_a_function_left_failed_by_a_killed_run_is_resolved(cli: Cli) -> None:
    """Killed after an update Lambda could not apply (LastUpdateStatus Failed) and before
    the run put it back: the function is broken until someone writes it again."""
    world, double = cli.world, cli.double
    deploy(world.context(), world.target("v1", "v1"))
    (r1,) = cli.records()
    broken = world.env.function_names[0]
    double.rules.update_window_s = 2.0  # time to refuse the run's own repair of it
    double.fail_update("UpdateFunctionCode", function=broken)
    double.clear_calls()

    run = cli.start(*cli.deploy_args("v2", "v2"), env={"LAYERS_CONFLICT_DELAYS": "30"})
    wait_until(
        lambda: double.calls_to("UpdateFunctionCode", broken), "the failing update", running=run
    )
    refuse(double, "UpdateFunctionCode", broken)  # the run's revert: refused, backing off
    wait_until(
        lambda: len(double.calls_to("UpdateFunctionCode", broken)) >= 2, "the revert", running=run
    )
    status = world.raw_lambda().get_function_configuration(FunctionName=broken)
    assert status["LastUpdateStatus"] == "Failed"
    run.kill()
    for fault in double.rules.faults:
        fault.times = 0
    double.rules.update_window_s = 0.2

    after = cli.run(*cli.deploy_args("v3", "v3"))

    assert after.code == 0, after
    assert "never finished: resolving it first" in after.stderr
    resolved = cli.records()[1]
    assert resolved.state == history.FAILED and resolved.kind == "deploy"
    assert world.served() == target_of(cli.records()[0])
    back = cli.run("rollback", "--env", ENV, "--previous")
    assert back.code == 0, back
    assert world.served() == target_of(r1)


def test_a_resolution_killed_midway_is_finished_by_the_next_deploy(cli: Cli) -> None:
    """CI cancels the retry too, while it is putting the first run's aliases back."""
    r1, first, r2 = crash(cli, "after_two_of_four_aliases")
    held = cli.world.env.function_names[0]
    cli.double.slow_response("UpdateAlias", HELD_S, function=held)
    cli.double.clear_calls()
    resolver = cli.start(*cli.deploy_args("v3", "v3"))
    wait_until(
        lambda: cli.double.calls_to("UpdateAlias", held), "the alias put back", running=resolver
    )
    resolver.kill()
    assert cli.records()[0].id == r2.id and cli.records()[0].state == history.STARTED

    last = cli.run(*cli.deploy_args("v4", "v4"))

    assert last.code == 0, last
    assert f"pid {resolver.pid}" in last.stderr  # the lock it took over: the resolver's
    assert f"release {r2.id} (deploy by" in last.stderr
    r4, resolved = cli.records()[:2]
    assert (resolved.id, resolved.state) == (r2.id, history.FAILED)
    assert [r.id for r in cli.records()] == [r4.id, r2.id, r1.id]  # v3 never started
    assert cli.world.served() == target_of(r4)
    back = cli.run("rollback", "--env", ENV, "--previous")
    assert back.code == 0, back
    assert cli.world.served() == target_of(r1)
    assert first.pid != resolver.pid
