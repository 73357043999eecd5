"""build-layer with real uv installs from locally built wheels (no network), local store."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from wheel_factory import BackendFactory, Pin, assert_imports_alone, offline_args

from scripts.build.layer import LayerRequest, SizeBudgetError, build_layer
from scripts.build.wheels import MissingWheelError
from scripts.build.zipping import FIXED_DATE_TIME
from scripts.cli import main
from scripts.errors import BadInputError
from scripts.store import LocalStore

NO_UV = "/nonexistent/uv"  # a build that reaches the installer with this fails loudly


def request_for(
    backend: Path,
    work: Path,
    wheelhouse: Path,
    *,
    architecture: str = "x86_64",
    size_limit: int = 262_144_000,
    uv: str | None = None,
) -> LayerRequest:
    return LayerRequest(
        lock_file=backend / "poetry.lock",
        requirements_file=backend / "requirements.txt",
        runtime="python3.12",
        architecture=architecture,
        build_dir=work / "build",
        manifest_path=work / "build" / "layer-manifest.json",
        backend_dir=backend,
        size_limit=size_limit,
        index_args=offline_args(wheelhouse),
        uv=uv,
    )


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def test_layer_layout_pruned_and_normalised(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    store = LocalStore(tmp_path / "store")
    result = build_layer(request_for(backend, tmp_path, wheelhouse), store)

    manifest = result.manifest
    assert result.built is True
    assert manifest["packages"] == {"alpha": "1.0", "beta": "2.0"}
    with zipfile.ZipFile(store.root / f"layer-{manifest['hash']}.zip") as archive:
        infos = {info.filename: info for info in archive.infolist()}
    names = set(infos)
    assert all(name.startswith("python/") for name in names)
    assert {"python/alpha/__init__.py", "python/beta.py"} <= names
    assert "python/alpha-1.0.dist-info/METADATA" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith("python/bin/")]  # host-shebang scripts
    assert "python/.lock" not in names  # uv's bookkeeping
    assert stat.S_IMODE(infos["python/alpha/data/run.sh"].external_attr >> 16) == 0o755
    assert stat.S_IMODE(infos["python/beta.py"].external_attr >> 16) == 0o644
    assert {info.date_time for info in infos.values()} == {FIXED_DATE_TIME}
    # Store and local manifest agree, and layer.zip is the same bytes.
    stored = json.loads((store.root / f"layer-{manifest['hash']}.json").read_text())
    assert stored == json.loads(result.manifest_path.read_text()) == manifest
    assert (store.root / "layer.zip").read_bytes() == (
        store.root / f"layer-{manifest['hash']}.zip"
    ).read_bytes()


def test_two_builds_in_different_dirs_and_umasks_are_byte_identical(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    with umask(0o077):
        first = build_layer(
            request_for(backend, tmp_path / "a", wheelhouse), LocalStore(tmp_path / "s1")
        )
    # The second stages its install in a separate scratch folder (a RAM disk in the CLI).
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with umask(0o022):
        second = build_layer(
            replace(
                request_for(backend, tmp_path / "b" / "deeper", wheelhouse), scratch_dir=scratch
            ),
            LocalStore(tmp_path / "s2"),
        )
    assert first.built and second.built
    assert first.manifest["sha256"] == second.manifest["sha256"]
    assert first.manifest == second.manifest
    assert list(scratch.iterdir()) == []  # the staged install is removed


def test_second_build_is_a_cache_hit_that_installs_nothing(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    store = LocalStore(tmp_path / "store")
    first = build_layer(request_for(backend, tmp_path / "one", wheelhouse), store)
    # No uv at all: any attempt to install would fail.
    again = build_layer(request_for(backend, tmp_path / "two", wheelhouse, uv=NO_UV), store)
    assert again.built is False
    assert again.manifest == first.manifest
    # layer.zip pointed elsewhere (an older build) is pointed back on a hit.
    (store.root / "layer.zip").write_bytes(b"older layer")
    third = build_layer(request_for(backend, tmp_path / "three", wheelhouse, uv=NO_UV), store)
    assert third.built is False
    assert third.latest_updated is True
    assert (store.root / "layer.zip").read_bytes() == (
        store.root / f"layer-{first.manifest['hash']}.zip"
    ).read_bytes()


def test_a_different_architecture_is_a_different_layer(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("beta", "2.0")])
    store = LocalStore(tmp_path / "store")
    x86 = build_layer(request_for(backend, tmp_path / "x", wheelhouse), store)
    arm = build_layer(request_for(backend, tmp_path / "a", wheelhouse, architecture="arm64"), store)
    assert arm.built is True
    assert arm.manifest["hash"] != x86.manifest["hash"]
    assert arm.manifest["platform_tag"] == "manylinux_2_34_aarch64"


def test_no_wheel_for_the_platform_names_package_and_platform(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("gamma", "3.0")])
    store = LocalStore(tmp_path / "store")
    with pytest.raises(MissingWheelError, match=r"gamma==3.0: no wheel for manylinux_2_34_aarch64"):
        build_layer(request_for(backend, tmp_path, wheelhouse, architecture="arm64"), store)
    assert store.list("") == []
    # The x86_64 wheel exists: the same lock builds for x86_64.
    assert build_layer(request_for(backend, tmp_path, wheelhouse), store).built


def test_lock_and_requirements_mismatch_fails_before_installing(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend(
        [("alpha", "1.0"), ("beta", "2.0")], requirement_pins=[("alpha", "1.1"), ("gamma", "3.0")]
    )
    store = LocalStore(tmp_path / "store")
    with pytest.raises(BadInputError) as caught:
        build_layer(request_for(backend, tmp_path, wheelhouse, uv=NO_UV), store)
    message = str(caught.value)
    assert "alpha: requirements 1.1, lock 1.0" in message
    assert "beta: 2.0 in the lock, missing from requirements" in message
    assert "gamma: 3.0 in requirements, not in the lock" in message
    assert store.list("") == []


def test_dev_dependencies_in_the_lock_are_not_required(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("beta", "2.0"), Pin("big", "1.0", main=False)])
    result = build_layer(request_for(backend, tmp_path, wheelhouse), LocalStore(tmp_path / "s"))
    assert result.manifest["packages"] == {"beta": "2.0"}


@pytest.mark.parametrize("hashes", [True, False])
def test_a_dependency_missing_from_the_export_fails(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path, hashes: bool
) -> None:
    # alpha needs beta; the lock and export forgot it.
    backend = make_backend([("alpha", "1.0")], hashes=hashes)
    store = LocalStore(tmp_path / "store")
    with pytest.raises(BadInputError, match="beta"):
        build_layer(request_for(backend, tmp_path, wheelhouse), store)
    assert store.list("") == []


def test_size_budget_stops_before_any_upload(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("big", "1.0")])
    store = LocalStore(tmp_path / "store")
    with pytest.raises(SizeBudgetError, match=r"over Lambda's 40,000-byte limit.*big"):
        build_layer(request_for(backend, tmp_path, wheelhouse, size_limit=40_000), store)
    assert store.list("") == []


def test_import_smoke_with_the_runtime_python(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path, python312: str
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    store = LocalStore(tmp_path / "store")
    result = build_layer(request_for(backend, tmp_path, wheelhouse), store)
    opt = tmp_path / "opt"
    with zipfile.ZipFile(store.root / f"layer-{result.manifest['hash']}.zip") as archive:
        archive.extractall(opt)
    assert_imports_alone(python312, opt / "python", {"alpha": "1.0", "beta": "2.0"})


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_json_and_exit_codes(
    make_backend: BackendFactory,
    wheelhouse: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    common = [
        "--env",
        "staging",
        "--backend-dir",
        str(backend),
        "--store",
        str(tmp_path / "store"),
        "--build-dir",
        str(tmp_path / "build"),
        "--json",
    ]
    layer_args = [
        "build-layer",
        *common,
        "--manifest",
        str(tmp_path / "m.json"),
        "--no-index",
        "--find-links",
        str(wheelhouse),
    ]
    code, out, err = _cli(layer_args, capsys)
    assert code == 0, err
    payload = json.loads(out)  # exactly one JSON object on stdout
    for key in (
        "hash",
        "key",
        "latest_key",
        "built",
        "sha256",
        "code_sha256",
        "zip_bytes",
        "unzipped_bytes",
    ):
        assert key in payload
    assert payload["built"] is True
    assert payload["key"] == f"layer-{payload['hash']}.zip"
    assert "install wheels" in err

    code, out, err = _cli(layer_args, capsys)
    assert (code, json.loads(out)["built"]) == (0, False)
    assert "cache hit" in err

    code, out, err = _cli(["build-backend", *common], capsys)
    assert code == 0, err
    package = json.loads(out)
    assert {"key", "latest_key", "sha256", "code_sha256", "zip_bytes"} <= set(package)
    assert (tmp_path / "store" / package["key"]).is_file()

    (backend / "requirements.txt").write_text("alpha==9.9\n")
    code, out, err = _cli(layer_args, capsys)
    # With --json a failure is one object too: the error and the exit code.
    assert code == 2
    failure = json.loads(out)
    assert failure["exit_code"] == 2
    assert "alpha: requirements 9.9, lock 1.0" in failure["error"]
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert "alpha: requirements 9.9, lock 1.0" in errors[0]
    assert err.strip().splitlines()[-1] == errors[0]

    code, out, err = _cli(["build-layer", *common[:-1], "--runtime", "python2.7"], capsys)
    assert code == 2
