"""What one function's steps share during a release, and the code sources they move.

Kept apart from the steps so the planners (deploy, rollback, recovery) can build facts
without importing the step machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scripts.release.engine import FunctionRun
from scripts.release.lambda_api import Alias, Latest, Version


@dataclass(frozen=True, kw_only=True)
class CodeSource:
    """A zip Lambda can read from S3, with the `CodeSha256` it must report afterwards."""

    bucket: str
    key: str
    code_sha256: str
    # The name in the store (`backend-HASH.zip`, `snapshots/SHA.zip`): what records keep.
    name: str = ""

    def __post_init__(self) -> None:
        if not self.bucket or not self.key or not self.code_sha256:
            raise ValueError("CodeSource: bucket, key and code_sha256 are all required")


@dataclass
class Facts:
    """What one function's steps share: its before-state, the target, versions found."""

    alias_name: str
    # `$LATEST` as the plan read it; None when it did not (a rollback moving aliases only).
    before: Latest | None
    before_alias: Alias | None
    description: str
    target_code: CodeSource | None = None
    target_layers: tuple[str, ...] | None = None
    # Where `$LATEST`'s code before the release can be read again (package or snapshot).
    restore_code: CodeSource | None = None
    baseline_version: str | None = None
    target_version: str | None = None
    # A canary: extra weight on the target version, the alias staying on `serving`.
    canary_weight: float | None = None
    serving: str | None = None
    versions: dict[str, Version] = field(default_factory=dict)
    # (code, layers) the target version must hold, taken from a record and not read: what
    # a switch checks if the alias turns out to have changed since (steps/_alias.py: _refresh).
    target_holds: tuple[str, tuple[str, ...]] | None = None
    # The alias was found changed since our last write to it and read again: the record
    # of this run cannot vouch for it (release.entries leaves `alias_seen` out).
    alias_reread: bool = False


def facts(run: FunctionRun) -> Facts:
    found = run.facts.get("facts")
    if not isinstance(found, Facts):
        raise TypeError(f"{run.name}: no release facts")
    return found
