"""Reading every function before a release, and turning what was read into runs and a record.

Deploy, rollback and crash recovery plan differently but start alike: read each
function's `$LATEST`, its alias and the version the alias serves (waiting out an update
someone else left in progress), refuse functions spread over accounts or regions, and
find (or snapshot) a copy of the code each one runs, before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from environments import Environment
from scripts.errors import BadInputError, ToolError
from scripts.release import history
from scripts.release.engine import FunctionRun
from scripts.release.facts import CodeSource, Facts
from scripts.release.history import FunctionEntry, FunctionState, ReleaseRecord
from scripts.release.lambda_api import LATEST, Alias, Api, FunctionMissingError, Latest, Version
from scripts.release.sources import Sources


@dataclass(frozen=True, kw_only=True)
class Before:
    latest: Latest
    alias: Alias | None
    # The version the alias serves (None without an alias, or with one on $LATEST).
    served: Version | None

    @property
    def alias_version(self) -> str | None:
        return self.alias.version if self.alias else None


def read_one(api: Api, name: str, alias_name: str, *, failed_ok: bool = False) -> Before:
    latest = api.settled(name, failed_ok=failed_ok)
    alias = api.alias(name, alias_name)
    served = None
    if alias is not None and alias.version != LATEST:
        served = api.version(name, alias.version)
    return Before(latest=latest, alias=alias, served=served)


def read_before(
    api: Api, env: Environment, names: Iterable[str], *, failed_ok: bool = False
) -> dict[str, Before]:
    """Every function's state, read in parallel; a missing function stops here, and so
    does one whose last update failed, unless `failed_ok` (crash recovery repairs it)."""
    wanted = list(names)
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
            found = list(
                pool.map(lambda n: read_one(api, n, env.alias_name, failed_ok=failed_ok), wanted)
            )
    except FunctionMissingError as err:
        # Bad input like a missing artifact (exit 2): a step that comes first was not run.
        raise BadInputError(
            f"function {err.name} does not exist: run `cdktf deploy {env.name}` first"
        ) from err
    befores = dict(zip(wanted, found, strict=True))
    places = {(b.latest.partition, b.latest.region, b.latest.account) for b in befores.values()}
    if len(places) > 1:
        raise ToolError(
            f"the {env.name} functions span partitions/regions/accounts {sorted(places)}"
        )
    return befores


def place(befores: Mapping[str, Before]) -> tuple[str, str, str]:
    """(partition, region, account) every function lives in."""
    latest = next(iter(befores.values())).latest
    return latest.partition, latest.region, latest.account


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
        code = before.latest.code_sha256
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
    return FunctionRun(name=name, api=api, facts={"facts": facts})


def facts_for(
    env: Environment, before: Before, *, description: str, restore: CodeSource | None
) -> Facts:
    return Facts(
        alias_name=env.alias_name,
        before=before.latest,
        before_alias=before.alias,
        description=description,
        restore_code=restore,
        serving=before.served.version if before.served else None,
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
                f"release plan error: {before.latest.name}: the version its alias serves "
                f"({before.alias.version}) was not read"
            )
        return FunctionState(
            code_sha256=before.latest.code_sha256, layers=before.latest.layers, code_key=code_key
        )
    return FunctionState(
        code_sha256=served.code_sha256,
        layers=served.layers,
        code_key=code_key if served.code_sha256 == before.latest.code_sha256 else None,
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
        latest=FunctionState(
            code_sha256=before.latest.code_sha256,
            layers=before.latest.layers,
            code_key=code_key,
        ),
        revision_id=before.latest.revision_id,
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
        and served.fingerprint[2:] == before.latest.fingerprint[2:]
    )
