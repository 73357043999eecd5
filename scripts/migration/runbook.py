"""`migrate`: the design's four phases as a checked runbook, safe to run again and again.

Each run checks every phase and says what it found and the next command; with --apply it
also does what is due and safe: phase 2 (build, handler check, first release) once phase
1 is done, phase 4 (retire the hand-made policy) once phases 2 and 3 are done. Applying
the infrastructure (phase 1) stays a reviewed `terraform apply` of the plan that
plan-check read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.errors import ToolError
from scripts.migration import callers_phase, phases
from scripts.migration.bootstrap import BuildInputs, bootstrap
from scripts.migration.phases import Phase, State
from scripts.release import plan
from scripts.release.context import Context

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

WORKFLOW = ".github/workflows/_deploy.yml"


class MigrationFailedError(ToolError):
    """A phase failed its check; the report says which and why."""

    def __init__(self, message: str, payload: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.payload = dict(payload)

    def result(self) -> dict[str, Any]:
        return {**self.payload, "error": str(self)}


def _timed(run: Callable[[], Phase]) -> Phase:
    started = time.perf_counter()
    phase = run()
    return phase if phase.seconds else replace(phase, seconds=time.perf_counter() - started)


def migrate(
    ctx: Context,
    *,
    iam: IAMClient,
    stack_dir: Path,
    inputs: BuildInputs,
    environ: Mapping[str, str],
    apply: bool,
    allow: Sequence[str] = (),
    aws: Mapping[str, Any] | None = None,
    env_file: Path | None = None,
) -> dict[str, Any]:
    env = ctx.env
    first = _timed(lambda: phases.infrastructure(env, stack_dir, environ=environ, allow=allow))
    account = plan.place(plan.read_before(ctx.api, env, env.function_names[:1]))[2]
    fifth = None
    if aws is not None and env_file is not None:
        # Checked (and with --apply written) before the bootstrap: it is due before the
        # first release, and a file it just rewrote is not synthesized yet, so the stack
        # in stack_dir does not say what the release would run under.
        fifth = _timed(
            lambda: callers_phase.callers(
                env, aws=aws, account=account, env_file=env_file, apply=apply
            )
        )
    stale = fifth is not None and bool(fifth.details.get("env_file_written"))
    second = _timed(
        lambda: bootstrap(
            ctx,
            inputs,
            ready=first.state is State.DONE and not stale,
            apply=apply,
            waiting="phase 5's change to the environment file is synthesized, plan-checked "
            "and applied"
            if stale
            else "phase 1 is done (the aliases must exist)",
        )
    )
    third = _timed(lambda: phases.ci(env, iam, workflow=WORKFLOW))
    ready = second.state is State.DONE and third.state is State.DONE
    fourth = _timed(lambda: phases.cleanup(env, iam, account=account, ready=ready, apply=apply))
    # Listed last so the design's phases keep their places.
    found = [first, second, third, fourth, *([fifth] if fifth is not None else [])]
    for phase in found:
        for line in phase.lines():
            ctx.say(line)
    result = {
        "env": env.name,
        "applied": apply,
        "phases": [p.to_json() for p in found],
        "done": all(p.state is State.DONE for p in found),
    }
    failed = [p for p in found if p.state is State.FAILED]
    if failed:
        raise MigrationFailedError(
            f"migration phase {failed[0].number} failed: {failed[0].checked[-1]}", result
        )
    pending = next((p for p in found if p.state is State.TODO), None)
    ctx.say(
        "migration complete: every phase is done" if pending is None else f"next: {pending.next}"
    )
    return result
