"""SIGINT and SIGTERM during a CLI deploy: stop writing, put everything back, record, exit 1.

Before issue 9 a Ctrl-C exited 130 after all four functions had changed, with no record.
Now the signal only sets a stop: the call in flight finishes, no further write is made,
every write of the release is undone (verified by reading), the record ends `failed`
naming the signal, the lock is released, and `--json` prints one object saying what each
function was left at.

The signal is sent while one of the release's writes is held by the double (applied,
answered a few seconds later), so it always arrives in the middle of the phase under test.
"""

from __future__ import annotations

import signal

import pytest
from cli_world import Cli, foreign_holder, wait_until

from scripts.release import history
from scripts.release.deploy import deploy

HOLD_S = 5.0  # long enough to signal inside it, well under the CLI's read timeout
# The first write of each phase when the aliases already exist (a second release).
FIRST_WRITE = {"prepare": "UpdateFunctionCode", "switch": "UpdateAlias"}


@pytest.mark.parametrize(
    ("sig", "phase"),
    [
        pytest.param(sig, phase, id=f"{sig.name}-{phase}")
        for phase in FIRST_WRITE
        for sig in (signal.SIGINT, signal.SIGTERM)
    ],
)
def test_a_signal_puts_every_function_back_and_records_it(
    cli: Cli, sig: signal.Signals, phase: str
) -> None:
    world = cli.world
    deploy(world.context(), world.target("v1", "v1"))
    state, served = world.state(), world.served()
    records = len(cli.records())
    held = world.env.function_names[0]
    operation = FIRST_WRITE[phase]
    cli.double.slow_response(operation, HOLD_S, function=held)
    cli.double.clear_calls()

    run = cli.start(*cli.deploy_args("v2", "v2"), "--json")
    wait_until(lambda: cli.double.calls_to(operation, held), f"{held}'s {operation}", running=run)
    run.signal(sig)
    done = run.wait()

    assert done.code == 1, done
    assert f"{sig.name}: stopping after the current call" in done.stderr
    # Every function and alias as before the release, read back from Lambda.
    assert world.state() == state
    assert world.served() == served
    record = cli.records()[0]
    assert len(cli.records()) == records + 1
    assert record.state == history.FAILED
    assert f"interrupted by {sig.name}" in (record.error or "")
    assert not cli.lock_present()
    result = done.json()
    assert f"interrupted by {sig.name}" in result["error"]
    assert (result["release"], result["state"], result["exit_code"]) == (record.id, "failed", 1)
    assert set(result["functions"]) == set(world.env.function_names)
    for name, outcome in result["functions"].items():
        assert outcome["status"] in {"restored", "untouched"}, outcome
        assert outcome["line"].startswith(f"{name}: ")
    # The one that was changed when the signal came was put back.
    assert result["functions"][held]["status"] == "restored"


def test_a_signal_while_waiting_for_the_lock_ends_the_wait_without_a_change(cli: Cli) -> None:
    """CI cancels a job queued behind another deploy (--wait): it must end now, not after
    the wait, and never take the lock or touch a function."""
    world = cli.world
    served = world.served()
    cli.write_lock(foreign_holder(4242, expires_in=900, host="ci-runner-7"))
    cli.double.clear_calls()
    # Longer than the process timeout: a run that ignores the signal fails this test.
    run = cli.start(*cli.deploy_args("v1", "v1"), "--wait", "900", "--json")
    wait_until(
        lambda: [p for p in cli.double.passed("lock.json") if p[0] == "PUT" and p[2] == 412],
        "a refused attempt at the lock",
        running=run,
    )
    run.signal(signal.SIGTERM)
    done = run.wait()

    assert done.code == 1, done
    assert "SIGTERM" in done.json()["error"]
    assert cli.double.calls == []  # not even a read: the lock comes first
    assert world.served() == served
    assert cli.records() == []
    holder = cli.holder()
    assert holder is not None and holder.host == "ci-runner-7"


def test_a_signal_during_a_rollback_puts_every_alias_back(cli: Cli) -> None:
    world = cli.world
    deploy(world.context(), world.target("v1", "v1"))
    deploy(world.context(), world.target("v2", "v2"))
    served = world.served()
    held = world.env.function_names[-1]
    cli.double.slow_response("UpdateAlias", HOLD_S, function=held)
    cli.double.clear_calls()

    run = cli.start("rollback", "--env", "local", "--previous", "--json")
    wait_until(lambda: cli.double.calls_to("UpdateAlias", held), f"{held}'s switch", running=run)
    run.signal(signal.SIGTERM)
    done = run.wait()

    assert done.code == 1, done
    assert world.served() == served
    record = cli.records()[0]
    assert (record.kind, record.state) == ("rollback", history.FAILED)
    assert "switch stopped: interrupted by SIGTERM" in (record.error or "")
    assert done.json()["functions"][held]["status"] == "restored"
    assert not cli.lock_present()
