"""The build commands as a team uses them, through the CLI only (no network: local wheels).

Each case below broke on a real backend before: a missing VERSION stopped build-layer
after the install, unhashed exports built silently, an arm64 build replaced layer.zip,
a symlink leaked a file outside the backend into the package, and several bad inputs
ended in tracebacks. Every failure must be one `error:` line naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wheel_factory import BackendFactory, Pin, offline_args

from scripts.cli import main

Run = Callable[..., tuple[int, dict[str, Any], str]]


@pytest.fixture
def run(tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """`run(command, backend, *extra)` -> (exit code, JSON on stdout or {}, stderr)."""

    def call(command: str, backend: Path, *extra: str, store: Path | None = None) -> Any:
        argv = [
            command,
            "--env",
            # The design's four functions (app/ and lambdas/ of the test backends).
            "local",
            "--backend-dir",
            str(backend),
            "--store",
            str(store or tmp_path / "store"),
            "--build-dir",
            str(tmp_path / "build"),
            "--json",
            *extra,
        ]
        if command == "build-layer":
            argv += ["--manifest", str(tmp_path / "m.json"), *offline_args(wheelhouse)]
        code = main(argv)
        out, err = capsys.readouterr()
        return code, (json.loads(out) if out.strip() else {}), err

    return call


def one_error_line(err: str) -> str:
    """Exactly one `error:` line, and it is the last thing printed (no traceback after)."""
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert err.strip().splitlines()[-1] == errors[0]
    assert "Traceback" not in err
    return errors[0]


def layer_names(store: Path, result: dict[str, Any]) -> list[str]:
    with zipfile.ZipFile(store / f"layer-{result['hash']}.zip") as archive:
        return archive.namelist()


def test_build_layer_needs_no_version_file(make_backend: BackendFactory, run: Run) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    (backend / "VERSION").unlink()
    code, result, err = run("build-layer", backend)
    assert code == 0, err
    assert result["built"] is True


def test_the_lock_is_read_directly_without_an_export(
    make_backend: BackendFactory, run: Run
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    (backend / "requirements.txt").unlink()
    code, result, err = run("build-layer", backend)
    assert code == 0, err
    assert result["packages"] == {"alpha": "1.0", "beta": "2.0"}
    assert result["lock_format"] == "poetry"


def test_unhashed_requirements_are_refused_unless_allowed_and_then_reported(
    make_backend: BackendFactory, run: Run, tmp_path: Path
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")], hashes=False)
    (backend / "poetry.lock").unlink()  # the usual `poetry export --without-hashes` alone
    code, _, err = run("build-layer", backend)
    assert code == 2
    line = one_error_line(err)
    assert str(backend / "requirements.txt") in line
    assert "no hash" in line and "--allow-unhashed" in line
    code, result, err = run("build-layer", backend, "--allow-unhashed")
    assert code == 0, err
    assert (result["allow_unhashed"], result["unhashed"]) == (True, ["alpha==1.0", "beta==2.0"])
    assert "without hash checking" in err
    code, result, err = run("build-layer", backend, "--allow-unhashed")
    assert (code, result["built"]) == (0, False)
    assert "WITHOUT hash checking" in err  # every later report of that layer says so


def test_layer_carries_bytecode_for_the_runtime(
    make_backend: BackendFactory, run: Run, tmp_path: Path, python312: str
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    code, result, err = run("build-layer", backend)
    assert code == 0, err
    names = layer_names(tmp_path / "store", result)
    assert "python/alpha/__pycache__/__init__.cpython-312.pyc" in names
    assert not [n for n in names if n.endswith(".pyc") and "cpython-312" not in n]
    with zipfile.ZipFile(tmp_path / "store" / f"layer-{result['hash']}.zip") as archive:
        header = archive.read("python/__pycache__/beta.cpython-312.pyc")
    # PEP 552: flags 0b01 = hash-based, source not checked (unchecked-hash).
    assert int.from_bytes(header[4:8], "little") == 1
    assert result["bytecode"]["python"].startswith("3.12.")
    code, plain, err = run("build-layer", backend, "--no-bytecode")
    assert code == 0, err
    assert plain["hash"] != result["hash"]
    assert not [n for n in layer_names(tmp_path / "store", plain) if n.endswith(".pyc")]


def test_an_arm64_build_leaves_the_environments_layer_zip_alone(
    make_backend: BackendFactory, run: Run, tmp_path: Path, wheelhouse: Path
) -> None:
    arm_only = 'platform_machine == "aarch64"'  # so the two layers differ in content
    backend = make_backend([("beta", "2.0"), Pin("big", "1.0", marker=arm_only)])
    lines = []
    for name, version, marker in (("beta", "2.0", ""), ("big", "1.0", f" ; {arm_only}")):
        wheel = next(wheelhouse.glob(f"{name}-{version}-*.whl"))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        lines.append(f"{name}=={version}{marker} --hash=sha256:{digest}\n")
    (backend / "requirements.txt").write_text("".join(lines))
    code, x86, err = run("build-layer", backend)
    assert code == 0, err
    latest = tmp_path / "store" / "layer.zip"
    assert hashlib.sha256(latest.read_bytes()).hexdigest() == x86["sha256"]
    code, arm, err = run("build-layer", backend, "--arch", "arm64")
    assert code == 0, err
    assert arm["built"] is True and arm["sha256"] != x86["sha256"]
    assert hashlib.sha256(latest.read_bytes()).hexdigest() == x86["sha256"]
    assert "layer.zip left alone" in err
    assert (tmp_path / "store" / f"layer-{arm['hash']}.zip").is_file()
    # And the next x86_64 cache hit has nothing to switch back.
    code, hit, err = run("build-layer", backend)
    assert (code, hit["built"], hit["latest_updated"]) == (0, False, False)


def test_same_cache_key_same_bytes_from_another_venv_path_and_uv_cache(
    make_backend: BackendFactory,
    run: Run,
    tmp_path: Path,
    wheelhouse: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])  # alpha has a console script
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache-1"))
    code, first, err = run("build-layer", backend, store=tmp_path / "s1")
    assert code == 0, err
    other = tmp_path / "elsewhere" / "venv" / "bin"
    other.mkdir(parents=True)
    (other / "python").symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(other / "python"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache-2"))
    for wheel in wheelhouse.glob("*.whl"):
        os.utime(wheel, (1_900_000_000, 1_900_000_000))
    code, second, err = run("build-layer", backend, store=tmp_path / "s2")
    assert code == 0, err
    assert second["hash"] == first["hash"]
    assert second["sha256"] == first["sha256"]


def test_a_runtime_the_lock_does_not_cover_names_the_locks_constraint(
    make_backend: BackendFactory, run: Run
) -> None:
    backend = make_backend([("beta", "2.0")])  # python = "~3.12"
    code, _, err = run("build-layer", backend, "--runtime", "python3.13")
    assert code == 2
    line = one_error_line(err)
    assert "'~3.12'" in line and "python3.13" in line and "poetry.lock" in line


def test_a_marker_qualified_requirement_without_a_linux_wheel_exits_2_naming_it(
    make_backend: BackendFactory, run: Run, wheelhouse: Path
) -> None:
    backend = make_backend([Pin("gamma", "3.0", marker='sys_platform == "linux"')])
    digest = hashlib.sha256(next(wheelhouse.glob("gamma-3.0-*.whl")).read_bytes()).hexdigest()
    (backend / "requirements.txt").write_text(
        f'gamma==3.0 ; sys_platform == "linux" --hash=sha256:{digest}\n'
    )
    code, _, err = run("build-layer", backend, "--arch", "arm64")
    assert code == 2
    line = one_error_line(err)
    assert "gamma==3.0" in line and "manylinux_2_34_aarch64" in line


def test_a_binary_lock_is_one_line_naming_the_file(make_backend: BackendFactory, run: Run) -> None:
    backend = make_backend([("beta", "2.0")])
    (backend / "poetry.lock").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    code, _, err = run("build-layer", backend)
    assert code == 2
    assert str(backend / "poetry.lock") in one_error_line(err)


def test_a_store_path_that_is_a_file_is_one_line_naming_it(
    make_backend: BackendFactory, run: Run, tmp_path: Path
) -> None:
    backend = make_backend([("beta", "2.0")])
    not_a_dir = tmp_path / "store-file"
    not_a_dir.write_text("oops")
    for command in ("build-layer", "build-backend"):
        code, _, err = run(command, backend, store=not_a_dir)
        assert code == 2, err
        assert f"{not_a_dir} is a file" in one_error_line(err)


def test_a_read_only_store_is_one_line_naming_it(
    make_backend: BackendFactory, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = make_backend([("beta", "2.0")])
    store = tmp_path / "read-only-store"
    real = tempfile.mkstemp

    def refuse(*args: Any, **kwargs: Any) -> tuple[int, str]:
        # What a read-only mount answers (a chmod'ed directory does not stop root).
        if str(kwargs.get("dir", "")).startswith(str(store)):
            raise PermissionError(30, "Read-only file system", str(kwargs["dir"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    code, _, err = run("build-layer", backend, store=store)
    assert code == 2
    line = one_error_line(err)
    assert str(store) in line and "Read-only file system" in line


def test_an_invalid_manifest_is_one_line_naming_it(
    make_backend: BackendFactory, run: Run, tmp_path: Path
) -> None:
    backend = make_backend([("beta", "2.0")])
    code, result, err = run("build-layer", backend)
    assert code == 0, err
    manifest = tmp_path / "store" / f"layer-{result['hash']}.json"
    manifest.write_text("{not json")
    code, _, err = run("build-layer", backend)
    assert code == 2
    assert str(manifest) in one_error_line(err)
    manifest.write_text(json.dumps({"hash": result["hash"]}))
    code, _, err = run("build-layer", backend)
    assert code == 2
    assert "lacks sha256" in one_error_line(err)


def test_the_package_leaves_out_tests_dockerfiles_env_files_and_scratch(
    make_backend: BackendFactory, run: Run, tmp_path: Path
) -> None:
    backend = make_backend([("beta", "2.0")])
    for relative in (
        "app/tests/test_api.py",
        "app/test_models.py",
        "app/conftest.py",
        "app/Dockerfile",
        "app/.env",
        "lambdas/cleanup/__pycache__/x.pyc",
    ):
        (backend / relative).parent.mkdir(parents=True, exist_ok=True)
        (backend / relative).write_text("not for Lambda")
    code, result, err = run("build-backend", backend)
    assert code == 0, err
    with zipfile.ZipFile(result["path"]) as archive:
        names = archive.namelist()
    assert "app/main.py" in names
    assert [n for n in names if "test" in n or "Docker" in n or ".env" in n or ".pyc" in n] == []


def test_a_symlink_out_of_the_backend_is_refused(
    make_backend: BackendFactory, run: Run, tmp_path: Path
) -> None:
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = hunter2\n")
    backend = make_backend([("beta", "2.0")])
    (backend / "app" / "config.ini").symlink_to(secret)
    code, _, err = run("build-backend", backend)
    assert code == 2
    assert str(backend / "app" / "config.ini") in one_error_line(err)
    assert not list((tmp_path / "store").glob("backend-*.zip"))


def test_a_missing_handler_is_named(make_backend: BackendFactory, run: Run) -> None:
    backend = make_backend([("beta", "2.0")])
    (backend / "lambdas" / "db_sync" / "handler.py").write_text("def run(event, context): ...\n")
    code, _, err = run("build-backend", backend)
    assert code == 2
    line = one_error_line(err)
    assert "function db-sync (handler lambdas.db_sync.handler.handler)" in line


def test_version_from_the_flag_when_the_backend_has_no_file(
    make_backend: BackendFactory, run: Run
) -> None:
    backend = make_backend([("beta", "2.0")])
    (backend / "VERSION").unlink()
    code, result, err = run("build-backend", backend, "--version", "2.3.4")
    assert code == 0, err
    assert (result["version"], result["version_source"]) == ("2.3.4", "--version")
    with zipfile.ZipFile(result["path"]) as archive:
        assert archive.read("VERSION") == b"2.3.4\n"


def test_the_unzipped_size_is_checked_too(make_backend: BackendFactory, run: Run) -> None:
    backend = make_backend([("beta", "2.0")])
    (backend / "app" / "fixtures.json").write_text("0" * 6_000_000)  # zips to a few kB
    code, _, err = run("build-backend", backend)
    assert code == 2
    assert "unzipped" in one_error_line(err)


def test_json_output_and_exit_codes(make_backend: BackendFactory, run: Run, tmp_path: Path) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    code, payload, err = run("build-layer", backend)
    assert code == 0, err
    for key in (
        "hash",
        "key",
        "latest_key",
        "built",
        "sha256",
        "code_sha256",
        "zip_bytes",
        "unzipped_bytes",
        "bytecode",
        "allow_unhashed",
        "lock_format",
    ):
        assert key in payload
    assert payload["key"] == f"layer-{payload['hash']}.zip"
    assert "install 2 wheels" in err
    code, again, err = run("build-layer", backend)
    assert (code, again["built"]) == (0, False)
    assert "cache hit" in err
    code, package, err = run("build-backend", backend)
    assert code == 0, err
    assert {"key", "latest_key", "sha256", "code_sha256", "zip_bytes", "unzipped_bytes"} <= set(
        package
    )
    assert (tmp_path / "store" / package["key"]).is_file()
    code, out, err = run("build-layer", backend, "--runtime", "python2.7")
    # A failure with --json is one object too: the error and the exit code.
    assert code == 2
    assert out["exit_code"] == 2
    assert "--runtime 'python2.7'" in out["error"]
    one_error_line(err)


def test_a_uv_lock_is_found_in_the_backend_and_read(
    make_backend: BackendFactory, run: Run, wheelhouse: Path
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    (backend / "poetry.lock").unlink()
    (backend / "requirements.txt").unlink()

    def entry(name: str, version: str, deps: str = "") -> str:
        wheel = next(wheelhouse.glob(f"{name}-{version}-*.whl"))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        return (
            f'[[package]]\nname = "{name}"\nversion = "{version}"\n'
            'source = { registry = "https://pypi.org/simple" }\n'
            f'{deps}wheels = [{{ url = "https://x/{wheel.name}", hash = "sha256:{digest}" }}]\n\n'
        )

    (backend / "uv.lock").write_text(
        'version = 1\nrequires-python = ">=3.12"\n\n'
        '[[package]]\nname = "svc"\nversion = "0.1.0"\nsource = { virtual = "." }\n'
        'dependencies = [{ name = "alpha" }]\n\n'
        + entry("alpha", "1.0", 'dependencies = [{ name = "beta" }]\n')
        + entry("beta", "2.0")
    )
    code, result, err = run("build-layer", backend)
    assert code == 0, err
    assert (result["lock_format"], result["packages"]) == ("uv", {"alpha": "1.0", "beta": "2.0"})
