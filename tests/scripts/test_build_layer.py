"""build-layer with real uv installs from locally built wheels (no network), local store."""

from __future__ import annotations

import json
import os
import stat
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from wheel_factory import BackendFactory, Pin, assert_imports_alone, offline_args

from scripts.builder.budget import SizeBudgetError
from scripts.builder.layer import LayerRequest, build_layer
from scripts.builder.layer_publish import Latest
from scripts.builder.lockfile import LockSource
from scripts.builder.wheels import MissingWheelError
from scripts.builder.zipping import FIXED_DATE_TIME
from scripts.errors import BadInputError
from scripts.store import LocalStore

NO_UV = "/nonexistent/uv"  # a build that reaches the installer with this fails loudly


def request_for(
    backend: Path,
    work: Path,
    wheelhouse: Path,
    *,
    architecture: str = "x86_64",
    runtime: str = "python3.12",
    size_limit: int = 262_144_000,
    uv: str | None = None,
    bytecode: bool = False,
    requirements: bool = False,
    lock: str = "poetry.lock",
) -> LayerRequest:
    return LayerRequest(
        lock=LockSource(
            lock_file=backend / lock,
            requirements_file=backend / "requirements.txt" if requirements else None,
        ),
        runtime=runtime,
        architecture=architecture,
        build_dir=work / "build",
        manifest_path=work / "build" / "layer-manifest.json",
        size_limit=size_limit,
        index_args=offline_args(wheelhouse),
        uv=uv,
        bytecode=bytecode,
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
    (backend / "requirements.txt").unlink()  # the lock alone is the input
    store = LocalStore(tmp_path / "store")
    result = build_layer(request_for(backend, tmp_path, wheelhouse), store)

    manifest = result.manifest
    assert result.built is True
    assert manifest["packages"] == {"alpha": "1.0", "beta": "2.0"}
    assert manifest["lock_format"] == "poetry"
    assert (manifest["allow_unhashed"], manifest["bytecode"]) == (False, None)
    with zipfile.ZipFile(store.root / f"layer-{manifest['hash']}.zip") as archive:
        infos = {info.filename: info for info in archive.infolist()}
        record = archive.read("python/alpha-1.0.dist-info/RECORD").decode()
    names = set(infos)
    assert all(name.startswith("python/") for name in names)
    assert {"python/alpha/__init__.py", "python/beta.py"} <= names
    assert "python/alpha-1.0.dist-info/METADATA" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith("python/bin/")]  # host-shebang scripts
    assert "python/.lock" not in names  # uv's bookkeeping
    assert not [n for n in names if n.endswith("uv_cache.json")]  # uv's timestamp
    # RECORD names only what the layer holds: no pruned script, bytecode or cache file.
    assert "bin/alpha" not in record
    assert "__pycache__" not in record
    assert "uv_cache.json" not in record
    assert stat.S_IMODE(infos["python/alpha/data/run.sh"].external_attr >> 16) == 0o755
    assert stat.S_IMODE(infos["python/beta.py"].external_attr >> 16) == 0o644
    assert {info.date_time for info in infos.values()} == {FIXED_DATE_TIME}
    # Store and local manifest agree, and layer.zip is the same bytes.
    stored = json.loads((store.root / f"layer-{manifest['hash']}.json").read_text())
    assert stored == json.loads(result.manifest_path.read_text()) == manifest
    assert (store.root / "layer.zip").read_bytes() == (
        store.root / f"layer-{manifest['hash']}.zip"
    ).read_bytes()


def test_same_key_same_bytes_whatever_venv_path_uv_cache_umask_and_directory(
    make_backend: BackendFactory,
    wheelhouse: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    # Another path to this interpreter: console scripts' shebangs (and their RECORD lines)
    # name it, and uv_cache.json records when the wheel entered uv's cache.
    elsewhere = tmp_path / "some" / "other-venv" / "bin"
    elsewhere.mkdir(parents=True)
    (elsewhere / "python").symlink_to(sys.executable)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache-1"))
    with umask(0o077):
        first = build_layer(
            request_for(backend, tmp_path / "a", wheelhouse), LocalStore(tmp_path / "s1")
        )
    for wheel in wheelhouse.glob("*.whl"):
        os.utime(wheel, (1_800_000_000, 1_800_000_000))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache-2"))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with umask(0o022):
        second = build_layer(
            replace(
                request_for(backend, tmp_path / "b" / "deeper", wheelhouse),
                scratch_dir=scratch,
                installer_python=str(elsewhere / "python"),
            ),
            LocalStore(tmp_path / "s2"),
        )
    assert first.built and second.built
    assert first.manifest["sha256"] == second.manifest["sha256"]
    assert first.manifest == second.manifest
    assert list(scratch.iterdir()) == []  # the staged install is removed


def test_the_build_cache_returns_the_bytes_a_fresh_build_makes(
    make_backend: BackendFactory,
    wheelhouse: Path,
    tmp_path: Path,
    python312: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0"), ("big", "1.0")])
    digests = []
    for index, cache in enumerate(("off", str(tmp_path / "cache"), str(tmp_path / "cache"))):
        monkeypatch.setenv("LAYERS_CACHE_DIR", cache)
        request = request_for(backend, tmp_path / str(index), wheelhouse, bytecode=True)
        built = build_layer(request, LocalStore(tmp_path / f"store-{index}"))
        digests.append(built.manifest["sha256"])
    assert digests[0] == digests[1] == digests[2]
    assert list((tmp_path / "cache").glob("pyc/*/*")) and list(
        (tmp_path / "cache").glob("deflate/*/*")
    )


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


def test_a_lock_edit_that_changes_no_pin_reuses_the_layer(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("beta", "2.0"), Pin("big", "1.0", main=False)])
    store = LocalStore(tmp_path / "store")
    first = build_layer(request_for(backend, tmp_path / "one", wheelhouse), store)
    lock = backend / "poetry.lock"
    lock.write_text(lock.read_text().replace('version = "1.0"', 'version = "1.1"'))  # dev only
    again = build_layer(request_for(backend, tmp_path / "two", wheelhouse, uv=NO_UV), store)
    assert (again.built, again.manifest["hash"]) == (False, first.manifest["hash"])


def test_an_override_build_never_moves_layer_zip(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("beta", "2.0")])
    store = LocalStore(tmp_path / "store")
    x86 = build_layer(request_for(backend, tmp_path / "x", wheelhouse), store)
    latest = (store.root / "layer.zip").read_bytes()
    skip = Latest(update=False, reason="layer.zip left alone: arm64")
    arm = build_layer(
        replace(
            request_for(backend, tmp_path / "a", wheelhouse, architecture="arm64"), latest=skip
        ),
        store,
    )
    assert arm.built is True
    assert arm.manifest["hash"] != x86.manifest["hash"]
    assert arm.manifest["platform_tag"] == "manylinux_2_34_aarch64"
    assert (arm.latest_updated, arm.latest_skipped) == (False, skip.reason)
    assert arm.manifest["latest_key"] is None
    assert (store.root / "layer.zip").read_bytes() == latest
    # Its cache hit leaves layer.zip alone as well, even when layer.zip is not x86's.
    (store.root / "layer.zip").write_bytes(b"x86 layer")
    hit = build_layer(
        replace(
            request_for(backend, tmp_path / "b", wheelhouse, architecture="arm64", uv=NO_UV),
            latest=skip,
        ),
        store,
    )
    assert (hit.built, hit.latest_updated) == (False, False)
    assert (store.root / "layer.zip").read_bytes() == b"x86 layer"


def test_no_wheel_for_the_platform_names_package_platform_and_lock(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([Pin("gamma", "3.0", marker='sys_platform == "linux"')])
    store = LocalStore(tmp_path / "store")
    with pytest.raises(MissingWheelError) as caught:
        build_layer(request_for(backend, tmp_path, wheelhouse, architecture="arm64"), store)
    message = str(caught.value)
    assert "gamma==3.0: no wheel for manylinux_2_34_aarch64 (python3.12 on arm64)" in message
    assert str(backend / "poetry.lock") in message
    assert store.list("") == []
    # The x86_64 wheel exists: the same lock builds for x86_64.
    assert build_layer(request_for(backend, tmp_path, wheelhouse), store).built


def test_marker_qualified_requirement_without_a_wheel_names_it(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    """A hashed requirements file as the lock, with a marker uv would print inside braces."""
    backend = make_backend([("gamma", "3.0")])
    text = (backend / "requirements.txt").read_text()
    (backend / "requirements.txt").write_text(
        text.replace("gamma==3.0", 'gamma==3.0 ; sys_platform == "linux"')
    )
    request = request_for(
        backend, tmp_path, wheelhouse, architecture="arm64", lock="requirements.txt"
    )
    with pytest.raises(MissingWheelError, match=r"gamma==3.0: no wheel for manylinux_2_34_aarch64"):
        build_layer(request, LocalStore(tmp_path / "store"))


def test_lock_and_configured_requirements_mismatch_fails_before_installing(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend(
        [("alpha", "1.0"), ("beta", "2.0")], requirement_pins=[("alpha", "1.1"), ("gamma", "3.0")]
    )
    store = LocalStore(tmp_path / "store")
    with pytest.raises(BadInputError) as caught:
        build_layer(request_for(backend, tmp_path, wheelhouse, uv=NO_UV, requirements=True), store)
    message = str(caught.value)
    assert "alpha: requirements 1.1, lock 1.0" in message
    assert "beta: 2.0 in the lock, missing from requirements" in message
    assert "gamma: 3.0 in requirements, not in the lock" in message
    assert store.list("") == []


def test_dev_dependencies_in_the_lock_are_not_installed(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("beta", "2.0"), Pin("big", "1.0", main=False)])
    result = build_layer(request_for(backend, tmp_path, wheelhouse), LocalStore(tmp_path / "s"))
    assert result.manifest["packages"] == {"beta": "2.0"}


def test_markers_are_evaluated_for_the_target_not_this_host(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend(
        [("beta", "2.0"), Pin("big", "1.0", marker='platform_machine == "aarch64"')]
    )
    store = LocalStore(tmp_path / "s")
    x86 = build_layer(request_for(backend, tmp_path / "x", wheelhouse), store)
    arm = build_layer(request_for(backend, tmp_path / "a", wheelhouse, architecture="arm64"), store)
    assert x86.manifest["packages"] == {"beta": "2.0"}
    assert arm.manifest["packages"] == {"beta": "2.0", "big": "1.0"}


@pytest.mark.parametrize("hashes", [True, False])
def test_a_dependency_missing_from_the_lock_fails(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path, hashes: bool
) -> None:
    # alpha needs beta; the lock forgot it.
    backend = make_backend([("alpha", "1.0")], hashes=hashes)
    store = LocalStore(tmp_path / "store")
    request = replace(request_for(backend, tmp_path, wheelhouse), allow_unhashed=not hashes)
    with pytest.raises(BadInputError, match="beta"):
        build_layer(request, store)
    assert store.list("") == []


def test_unhashed_lock_is_refused_unless_allowed_and_then_recorded(
    make_backend: BackendFactory,
    wheelhouse: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")], hashes=False)
    store = LocalStore(tmp_path / "store")
    with pytest.raises(BadInputError, match=r"2 of 2 requirements have no hash .*--allow-unhashed"):
        build_layer(request_for(backend, tmp_path, wheelhouse, uv=NO_UV), store)
    allowed = replace(request_for(backend, tmp_path, wheelhouse), allow_unhashed=True)
    built = build_layer(allowed, store)
    assert built.manifest["allow_unhashed"] is True
    assert built.manifest["unhashed"] == ["alpha==1.0", "beta==2.0"]
    capsys.readouterr()
    hit = build_layer(replace(allowed, uv=NO_UV), store)
    assert hit.built is False
    assert "built WITHOUT hash checking" in capsys.readouterr().err


def test_a_runtime_the_lock_does_not_cover_names_its_constraint(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("beta", "2.0")])  # locked for python ~3.12
    with pytest.raises(
        BadInputError, match=r"locked for Python '~3.12', which excludes python3.13"
    ):
        build_layer(
            request_for(backend, tmp_path, wheelhouse, runtime="python3.13", uv=NO_UV),
            LocalStore(tmp_path / "store"),
        )


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
    result = build_layer(request_for(backend, tmp_path, wheelhouse, bytecode=True), store)
    opt = tmp_path / "opt"
    with zipfile.ZipFile(store.root / f"layer-{result.manifest['hash']}.zip") as archive:
        archive.extractall(opt)
    assert_imports_alone(python312, opt / "python", {"alpha": "1.0", "beta": "2.0"})
