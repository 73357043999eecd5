"""Reading every function before a release, and turning what was read into runs and a record.

Deploy, rollback and crash recovery plan differently but start alike: read each
function's `$LATEST`, its alias and the version the alias serves (waiting out an update
someone else left in progress), refuse functions spread over accounts or regions, and
find (or snapshot) a copy of the code each one runs, before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from environments import Environment
from scripts.errors import BadInputError, ToolError
from scripts.release import history
from scripts.release.engine import FunctionRun, Resource
from scripts.release.facts import CodeSource, Facts
from scripts.release.history import AliasSeen, FunctionEntry, FunctionState, ReleaseRecord
from scripts.release.lambda_api import LATEST, Alias, Api, FunctionMissingError, Latest, Version
from scripts.release.sources import Sources


@dataclass(frozen=True, kw_only=True)
class Before:
    # None when the plan did not need it (a rollback moves aliases only): `current` says
    # so loudly if a step that needs it finds it missing.
    latest: Latest | None
    alias: Alias | None
    # The version the alias serves (None without an alias, or with one on $LATEST).
    served: Version | None

    @property
    def current(self) -> Latest:
        """`$LATEST` as the plan read it (a plan that needs it and did not read it: a bug)."""
        if self.latest is None:
            raise RuntimeError(f"release plan error: {self.name}: $LATEST was not read")
        return self.latest

    @property
    def name(self) -> str:
        if self.latest is not None:
            return self.latest.name
        return self.served.arn.split(":")[6] if self.served and self.served.arn else "?"

    @property
    def arn(self) -> str:
        """An ARN of the function (qualified or not): it names the partition, region, account."""
        return (
            self.latest.arn if self.latest is not None else (self.served.arn if self.served else "")
        )

    @property
    def alias_version(self) -> str | None:
        return self.alias.version if self.alias else None

    @property
    def served_version(self) -> str | None:
        """The published version the alias serves (None without one, or on $LATEST)."""
        alias = self.alias
        return alias.version if alias is not None and alias.version != LATEST else None


def read_one(
    api: Api,
    name: str,
    alias_name: str,
    *,
    failed_ok: bool = False,
    served: bool = True,
    known: AliasSeen | None = None,
    latest: bool = True,
) -> Before:
    """One function's state. With `known` (the alias as our last release left it), the alias
    is read as the version it serves (GetFunction, its own budget) and, when that is the
    version the record says, taken from the record (unverified: the switch's RevisionId
    guard checks it) instead of a GetAlias on the writes' 15/s budget."""
    current = api.settled(name, failed_ok=failed_ok) if latest else None
    if known is not None:
        version = api.served(name, alias_name)
        if version is not None and version.version == known.version:
            alias = Alias(
                name=alias_name,
                version=known.version,
                weights=dict(known.weights),
                revision_id=known.revision_id,
                verified=False,
            )
            return Before(latest=current, alias=alias, served=version)
    if current is None:
        current = api.settled(name, failed_ok=failed_ok)
    found = Before(latest=current, alias=api.alias(name, alias_name), served=None)
    return with_served(api, found) if served else found


def with_served(api: Api, before: Before) -> Before:
    """`before` with the configuration of the version its alias serves (one read)."""
    version = before.served_version
    if version is None or before.served is not None:
        return before
    return replace(before, served=api.version(before.name, version))


def read_before(
    api: Api,
    env: Environment,
    names: Iterable[str],
    *,
    failed_ok: bool = False,
    served: bool = True,
    known: Mapping[str, AliasSeen] | None = None,
    latest: bool = True,
) -> dict[str, Before]:
    """Every function's state, read in parallel; a missing function stops here, and so
    does one whose last update failed, unless `failed_ok` (crash recovery repairs it).

    `served=False` leaves out the served version's configuration (a call per function):
    for commands that need only its number, or read it where it matters (`with_served`).
    `known`: the aliases as the last releases left them (`read_one`); `latest=False` skips
    `$LATEST` where the alias is known (a rollback moves aliases only)."""
    aliases = known or {}
    wanted = list(names)
    try:
        with ThreadPoolExecutor(
            max_workers=max(1, min(len(wanted), api.timing.lambda_workers))
        ) as pool:
            found = list(
                pool.map(
                    lambda n: read_one(
                        api,
                        n,
                        env.alias_name,
                        failed_ok=failed_ok,
                        served=served,
                        known=aliases.get(n),
                        latest=latest or n not in aliases,
                    ),
                    wanted,
                )
            )
    except FunctionMissingError as err:
        # Bad input like a missing artifact (exit 2): a step that comes first was not run.
        raise BadInputError(
            f"function {err.name} does not exist: run `cdktf deploy {env.name}` first"
        ) from err
    befores = dict(zip(wanted, found, strict=True))
    places = {_place(b.arn) for b in befores.values()}
    if len(places) > 1:
        raise ToolError(
            f"the {env.name} functions span partitions/regions/accounts {sorted(places)}"
        )
    return befores


def _place(arn: str) -> tuple[str, str, str]:
    parts = arn.split(":")
    return parts[1], parts[3], parts[4]


def place(befores: Mapping[str, Before]) -> tuple[str, str, str]:
    """(partition, region, account) every function lives in."""
    return _place(next(iter(befores.values())).arn)


def code_copies(
    api: Api,
    sources: Sources,
    befores: Mapping[str, Before],
    *,
    needed: Iterable[str],
) -> dict[str, tuple[CodeSource, bool]]:
    """name -> (a checked copy of the code `$LATEST` runs, whether it is a new snapshot).

    Functions in `needed` (their code is about to change) must have one: code that no
    package or snapshot holds is snapshotted now, before any change.
    """
    copies: dict[str, tuple[CodeSource, bool]] = {}
    by_code: dict[str, tuple[CodeSource, bool]] = {}
    required = set(needed)
    for name, before in befores.items():
        code = before.current.code_sha256
        if code not in by_code:
            found = sources.find(code)
            if found is not None:
                by_code[code] = (found, False)
            elif name in required:
                by_code[code] = (sources.snapshot(api, name, code), True)
        if code in by_code:
            copies[name] = by_code[code]
    return copies


def new_run(api: Api, name: str, facts: Facts) -> FunctionRun:
    """A function's run, starting from what the plan read (its first steps read nothing)."""
    run = FunctionRun(name=name, api=api, facts={"facts": facts})
    if facts.before is not None:  # else the first step that needs `$LATEST` reads it
        run.seen[Resource.LATEST] = facts.before
    run.seen[Resource.ALIAS] = facts.before_alias
    return run


def facts_for(
    env: Environment, before: Before, *, description: str, restore: CodeSource | None
) -> Facts:
    return Facts(
        alias_name=env.alias_name,
        before=before.latest,
        before_alias=before.alias,
        description=description,
        restore_code=restore,
        serving=before.served_version,
    )


def served_state(before: Before, *, code_key: str | None = None) -> FunctionState:
    """What callers get: the version the alias serves with that version's own code and
    layers; without an alias (or one on `$LATEST`), `$LATEST` itself (its version is the
    baseline a release publishes). `code_key` names a copy of `$LATEST`'s code."""
    served = before.served
    if served is None:
        if before.alias is not None and before.alias.version != LATEST:
            # Recording `$LATEST` beside the alias's version is the defect of issue 16.5:
            # a plan that skipped reading the served version must fail, not record that.
            raise RuntimeError(
                f"release plan error: {before.name}: the version its alias serves "
                f"({before.alias.version}) was not read"
            )
        latest = before.current
        return FunctionState(
            code_sha256=latest.code_sha256, layers=latest.layers, code_key=code_key
        )
    return FunctionState(
        code_sha256=served.code_sha256,
        layers=served.layers,
        code_key=code_key
        if before.latest is not None and served.code_sha256 == before.latest.code_sha256
        else None,
        version=served.version,
    )


def entry(
    before: Before,
    *,
    code_key: str | None,
    snapshot: bool,
    target_code: str,
    target_layers: tuple[str, ...],
    target_key: str | None,
    target_version: str | None = None,
) -> FunctionEntry:
    return FunctionEntry(
        before=served_state(before, code_key=code_key),
        target=FunctionState(
            code_sha256=target_code,
            layers=target_layers,
            code_key=target_key,
            version=target_version,
        ),
        # Not read (a rollback that leaves `$LATEST` alone): nothing of it to put back.
        latest=None
        if before.latest is None
        else FunctionState(
            code_sha256=before.latest.code_sha256,
            layers=before.latest.layers,
            code_key=code_key,
        ),
        revision_id=before.latest.revision_id if before.latest else None,
        alias_version=before.alias_version,
        alias_weights=dict(before.alias.weights) if before.alias else {},
        snapshot=snapshot,
    )


def new_record(
    env: Environment,
    *,
    kind: str,
    functions: Mapping[str, FunctionEntry],
    release_id: str | None = None,
    serves: str | None = None,
    **fields: object,
) -> ReleaseRecord:
    rid = release_id or history.new_release_id()
    return ReleaseRecord(
        id=rid,
        env=env.name,
        kind=kind,
        state=history.STARTED,
        alias=env.alias_name,
        started_at=history.now(),
        by=history.who(),
        serves=serves or rid,
        functions=dict(functions),
        **fields,  # type: ignore[arg-type]
    )


def already_serving(before: Before, *, code_sha256: str, layers: tuple[str, ...]) -> bool:
    """The alias alone serves a version with this code and layers, frozen with the
    configuration `$LATEST` has now (Terraform may have changed memory since): no call."""
    served = before.served
    if served is None or before.alias is None or before.alias.weights:
        return False
    return (
        served.code_sha256 == code_sha256
        and served.layers == layers
        and served.fingerprint[2:] == before.current.fingerprint[2:]
    )
