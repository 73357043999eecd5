"""The steps a release is made of, one module each, and the plan that picks them.

Prepare (callers see nothing change), in each step's `order`:
  baseline  a published version holding the function's state before the release
            (found, or published first) -- only when the alias is missing or on $LATEST;
  pin       the alias created on (or moved from $LATEST to) that baseline version;
  code      `$LATEST` code from the content-addressed package;
  layers    `$LATEST` layers, this environment's deps layer swapped;
  publish   a version holding exactly the target (found, or published with the
            expected CodeSha256 and the RevisionId our writes left).
Switch (callers move):
  switch    the alias to the target version (or weighted to it, for a canary).
Crash recovery: `alias back`, then the `$LATEST` steps (`latest_restore`) towards the
recorded `latest`.

Each step's module says in one place what it needs and does: `needs` (the facts its write
needs set), `calls` (the Lambda calls its read, write and undo make, each with its IAM
scope), `read`/`wanted`/`landed` (how it is verified), `apply` and `revert` (its write and
its undo), and where the planners put it (`phase`, `order`, `targeted`,
`latest_restore`). Every module in this folder is imported here and its step registers
itself (_base.ReleaseStep): a new step is a new module, with no list to edit.
`python -m scripts.release.steps` writes the steps' calls to
environments/release_steps.json, which the deployer policy is built from (infra never
imports scripts/); tests/scripts/test_step_calls.py holds the steps to their calls and
the file to the steps.
"""

from __future__ import annotations

import importlib
import pkgutil

from scripts.release.engine import Step
from scripts.release.facts import Facts
from scripts.release.steps._base import Phase, ReleaseStep, needs_pin, registered
from scripts.release.steps.baseline import Baseline
from scripts.release.steps.code import Code
from scripts.release.steps.layers import Layers
from scripts.release.steps.pin import Pin
from scripts.release.steps.publish import Publish
from scripts.release.steps.restore_alias import RestoreAlias
from scripts.release.steps.switch import Switch

__all__ = [
    "Baseline",
    "Code",
    "Layers",
    "Phase",
    "Pin",
    "Publish",
    "ReleaseStep",
    "RestoreAlias",
    "Switch",
    "discover",
    "latest_steps",
    "needs_pin",
    "prepare_steps",
    "registered",
]


def discover() -> None:
    """Import every step module in this package (the ones named above are only those
    other modules use by name): importing a module registers its steps."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


discover()


def latest_steps(f: Facts) -> list[Step]:
    """The `$LATEST` steps a release applies, in order; crash recovery runs the same list
    towards the record's `latest`. Each runs only when its target is set."""
    return [cls() for cls in registered(Phase.PREPARE) if cls.latest_restore and cls.targeted(f)]


def prepare_steps(f: Facts) -> list[Step]:
    """Baseline and pin when the alias must first hold the state before the release, the
    `$LATEST` steps whose targets are set, and always publish (the switch needs the
    version holding the target: found, else published)."""
    return [cls() for cls in registered(Phase.PREPARE) if cls.targeted(f)]
