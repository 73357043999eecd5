"""The release history as it may be found: unreadable, wrong-shaped, tampered with.

Before issue 9 one unreadable object under `deployments/ENV/` blocked deploy, rollback and
prune with a traceback or an error naming no key; a record naming prod's layer made
`rollback --previous` attach it to another environment; an `arn:aws-cn` layer was
accepted. Now a record that is not one of ours is skipped with a warning naming its key,
and a record that is ours but does not match Lambda, names another environment's layer
or functions, or another partition, is refused (exit 2) before any write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from lambda_double import LambdaDouble
from lambda_world import World

import artifacts
from scripts.errors import BadInputError
from scripts.release import history
from scripts.release.deploy import deploy
from scripts.release.history import RecordShapeError, ReleaseRecord
from scripts.release.lambda_api import Api
from scripts.release.prune import prune_layers
from scripts.release.prune_versions import prune_versions
from scripts.release.rollback import RollbackRequest, rollback
from scripts.release.status import history_report, status

WRITES = frozenset(
    {"UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion", "UpdateAlias"}
    | {"CreateAlias", "DeleteAlias", "PublishLayerVersion", "DeleteFunction"}
)
NEWEST = "99990101T000000.000000Z-"  # sorts after every real release id


def _writes(double: LambdaDouble) -> list[str]:
    return [c.operation for c in double.calls if c.operation in WRITES]


def _releases(world: World, *tags: str) -> list[ReleaseRecord]:
    for tag in tags:
        deploy(world.context(), world.target(tag, tag))
    return history.load_releases(world.store, world.env.name)[::-1]


def _raw(world: World, record_id: str) -> dict[str, Any]:
    name = artifacts.release_record(world.env.name, record_id)
    data = json.loads(world.store.read_bytes(name))
    assert isinstance(data, dict)
    return data


def _put(world: World, record_id: str, data: bytes | dict[str, Any]) -> str:
    name = artifacts.release_record(world.env.name, record_id)
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    world.store.put_bytes(name, body, overwrite=True)
    return f"{world.store.location}{name}"


def _started_copy(world: World, record: ReleaseRecord, suffix: str) -> dict[str, Any]:
    """A real record re-keyed as the newest, still `started`: the one a deploy resolves."""
    data = _raw(world, record.id)
    data.update(id=NEWEST + suffix, state="started")
    return data


# Field corruptions that leave valid JSON with the record's keys: each must be a wrong
# shape (skipped), never a record some command trips over later.
CORRUPT: dict[str, Callable[[dict[str, Any]], None]] = {
    "by-a-list": lambda d: d.update(by=["root", "vm"]),
    "serves-a-number": lambda d: d.update(serves=7),
    "started_at-an-object": lambda d: d.update(started_at={"t": 1}),
    "layers-a-string": lambda d: next(iter(d["functions"].values()))["before"].update(
        layers="arn:aws:lambda:us-west-2:123456789012:layer:x:1"
    ),
    "version-a-number": lambda d: next(iter(d["functions"].values()))["target"].update(version=3),
    "alias_version-a-list": lambda d: next(iter(d["functions"].values())).update(
        alias_version=["1"]
    ),
    "functions-a-list": lambda d: d.update(functions=[]),
    "an-unknown-field": lambda d: d.update(surprise=True),
}


def _a_record() -> dict[str, Any]:
    state = history.FunctionState(code_sha256="Y29kZQ==", layers=("arn:l:1",), version="2")
    entry = history.FunctionEntry(before=state, target=state, latest=state, alias_version="2")
    record = ReleaseRecord(
        id="20260101T000000.000000Z-0000abcd",
        env="local",
        kind="deploy",
        state="succeeded",
        alias="live",
        started_at="2026-01-01T00:00:00+00:00",
        functions={"fn": entry},
        by={"user": "ci"},
        serves="20260101T000000.000000Z-0000abcd",
    )
    data: dict[str, Any] = json.loads(history.encode(record))
    return data


@pytest.mark.parametrize("corruption", list(CORRUPT))
def test_a_record_with_wrong_types_is_a_wrong_shape(corruption: str) -> None:
    data = _a_record()
    history.from_json(data)  # the original is fine
    CORRUPT[corruption](data)

    with pytest.raises(RecordShapeError):
        history.from_json(data)


def test_bad_records_are_skipped_by_every_command_with_a_warning_naming_each(
    dworld: World,
) -> None:
    r1, r2 = _releases(dworld, "v1", "v2")
    foreign = _raw(dworld, r2.id)
    foreign.update(id=NEWEST + "otherenv", env="prod")
    misnamed = _raw(dworld, r2.id)  # its id is r2's, its key another's
    bad: dict[str, bytes | dict[str, Any]] = {
        "notjson0": b"{not json",
        "notutf80": b"\xff\xfe\x00",
        "alist000": b"[]",
        "noformat": {"state": "started", "kind": "deploy"},
        "missing0": {"format": 1, "state": "started", "kind": "deploy"},
        "otherenv": foreign,
        "wrongid0": misnamed,
    }
    for corruption, corrupt in CORRUPT.items():
        data = _started_copy(dworld, r2, corruption[:8])
        corrupt(data)
        bad[corruption[:8]] = data
    keys = [_put(dworld, NEWEST + suffix, data) for suffix, data in bad.items()]
    ctx = dworld.context()
    api = Api(dworld.lam, ctx.timing)

    def warned_each(what: str) -> None:
        said = "\n".join(dworld.said)
        missing = [k for k in keys if f"warning: skipped {k}" not in said]
        assert not missing, f"{what}: no warning naming {missing}"
        dworld.said.clear()

    shown = status(dworld.env, api, dworld.store, say=dworld.said.append)
    assert (shown["current_release"], shown["unfinished_release"]) == (r2.id, None)
    warned_each("status")
    listed = history_report(dworld.store, dworld.env, limit=50, say=dworld.said.append)
    assert [row["id"] for row in listed["releases"]] == [r2.id, r1.id]
    warned_each("history")
    r3 = deploy(ctx, dworld.target("v3", "v3"))
    assert r3["state"] == "succeeded"
    warned_each("deploy")
    back = rollback(dworld.context(), RollbackRequest(previous=True))
    assert (back["state"], back["serves"]) == ("succeeded", r2.id)
    warned_each("rollback")
    pruned = prune_layers(
        env=dworld.env,
        lambda_client=dworld.lam,
        store=dworld.store,
        keep=1,
        apply=False,
        say=dworld.said.append,
    )
    assert pruned["would_delete"] == []  # every version is named by a (readable) release
    warned_each("prune-layers")
    prune_versions(
        env=dworld.env, api=api, store=dworld.store, keep=1, apply=False, say=dworld.said.append
    )
    warned_each("prune-versions")


def _prod_layer(world: World) -> str:
    prefix = world.env.name_prefix
    return world.first_layer_arn.replace(f"{prefix}-local-deps", f"{prefix}-prod-deps")


def _cn_layer(world: World) -> str:
    return world.first_layer_arn.replace("arn:aws:", "arn:aws-cn:")


TAMPER: dict[str, Callable[[World, dict[str, Any]], None]] = {
    "another-environments-layer": lambda w, e: e["target"].update(layers=[_prod_layer(w)]),
    "an-aws-cn-layer": lambda w, e: e["target"].update(layers=[_cn_layer(w)]),
    "code-the-version-does-not-hold": lambda w, e: e["target"].update(
        code_sha256=e["before"]["code_sha256"]
    ),
}


@pytest.mark.parametrize("tamper", list(TAMPER))
def test_a_tampered_record_is_refused_before_any_write(
    dworld: World, lambda_double: LambdaDouble, tamper: str
) -> None:
    # R1, R2, R3: --previous goes to R2, whose record is tampered with; so does --to R2.
    _, r2, _ = _releases(dworld, "v1", "v2", "v3")
    data = _raw(dworld, r2.id)
    TAMPER[tamper](dworld, data["functions"][dworld.env.function_names[1]])
    _put(dworld, r2.id, data)
    served = dworld.served()
    lambda_double.clear_calls()

    for request in (RollbackRequest(previous=True), RollbackRequest(to=r2.id)):
        with pytest.raises(BadInputError) as refused:
            rollback(dworld.context(), request)
        assert refused.value.exit_code == 2
        assert dworld.env.function_names[1] in str(refused.value) or "layer" in str(refused.value)

    assert _writes(lambda_double) == []
    assert dworld.served() == served
    assert [r.kind for r in history.load_releases(dworld.store, dworld.env.name)] == ["deploy"] * 3


def test_a_record_naming_another_environments_functions_is_refused(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    r1, _ = _releases(dworld, "v1", "v2")
    data = _raw(dworld, r1.id)
    prod_api = dworld.env.function_names[0].replace("-local-", "-prod-")
    data["functions"][prod_api] = data["functions"][dworld.env.function_names[0]]
    _put(dworld, r1.id, data)
    lambda_double.clear_calls()

    with pytest.raises(BadInputError, match=f"outside {dworld.env.name}: {prod_api}"):
        rollback(dworld.context(), RollbackRequest(to=r1.id))

    assert _writes(lambda_double) == []


@pytest.mark.parametrize(
    ("layer", "refusal"),
    [
        pytest.param(_cn_layer, "partition aws-cn", id="aws-cn"),
        pytest.param(_prod_layer, "not this environment's layer", id="prods-layer"),
    ],
)
def test_a_layer_version_elsewhere_is_refused_before_any_write(
    dworld: World, lambda_double: LambdaDouble, layer: Callable[[World], str], refusal: str
) -> None:
    _releases(dworld, "v1")
    lambda_double.clear_calls()

    with pytest.raises(BadInputError, match=refusal) as refused:
        rollback(dworld.context(), RollbackRequest(layer_version=layer(dworld)))

    assert refused.value.exit_code == 2
    assert _writes(lambda_double) == []


def test_an_archived_record_is_skipped_with_a_warning_naming_it(dworld: World) -> None:
    # A lifecycle rule moved an old record to Glacier: S3 refuses to read it (403
    # InvalidObjectState). It is history nobody can read, not a missing permission.
    r1, r2 = _releases(dworld, "v1", "v2")
    name = artifacts.release_record(dworld.env.name, r1.id)
    body = dworld.store.read_bytes(name)
    dworld.s3.put_object(
        Bucket=dworld.store.bucket,
        Key=dworld.store.prefix + name,
        Body=body,
        StorageClass="GLACIER",
    )
    ctx = dworld.context()
    warning = f"warning: skipped {dworld.store.location}{name}: "

    listed = history_report(dworld.store, dworld.env, limit=50, say=dworld.said.append)
    pruned = prune_versions(
        env=dworld.env, api=ctx.api, store=dworld.store, keep=5, apply=False, say=ctx.say
    )
    deployed = deploy(ctx, dworld.target("v3", "v3"))

    assert [row["id"] for row in listed["releases"]] == [r2.id]
    assert pruned["functions"] and deployed["state"] == "succeeded"
    lines = [line for line in dworld.said if line.startswith(warning)]
    assert len(lines) == 3 and all("archived (storage class GLACIER)" in line for line in lines)
