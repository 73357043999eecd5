"""The realistic backend (examples/fastapi-backend, uv.lock) from PyPI: the network test.

Built for python3.12 on x86_64, every top-level module imports from the layer alone with
the runtime's Python, and the API answers through `invoke`; built for arm64, every
compiled module is an aarch64 ELF file. The package leaves out tests and the Dockerfile.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from wheel_factory import assert_imports_alone

from environments import REPO_ROOT
from scripts.cli import main

BACKEND = REPO_ROOT / "examples" / "fastapi-backend"
ELF_MACHINE = {"x86_64": 62, "arm64": 183}  # e_machine: EM_X86_64, EM_AARCH64


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def elf_machines(layer_zip: Path) -> dict[str, int]:
    machines = {}
    with zipfile.ZipFile(layer_zip) as archive:
        for name in archive.namelist():
            if name.endswith(".so") or ".so." in name:
                header = archive.open(name).read(20)
                assert header[:4] == b"\x7fELF", name
                machines[name] = int.from_bytes(header[18:20], "little")
    return machines


@pytest.mark.network
def test_fastapi_backend_layer_imports_and_runs_on_both_architectures(
    tmp_path: Path, python312: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    # The design's four functions (local's): the handlers this backend has.
    common = ["--env", "local", "--backend-dir", str(BACKEND), "--build-dir", str(tmp_path)]
    layer = cli(capsys, "build-layer", *common, "--store", str(store))
    assert (layer["lock_format"], layer["runtime"], layer["allow_unhashed"]) == (
        "uv",
        "python3.12",
        False,
    )
    assert {"fastapi", "mangum", "psycopg2-binary", "pillow", "uvloop", "email-validator"} <= set(
        layer["packages"]
    )
    assert "pytest" not in layer["packages"]  # a dev group
    assert layer["bytecode"]["python"].startswith("3.12.")
    x86_zip = store / f"layer-{layer['hash']}.zip"
    assert set(elf_machines(x86_zip).values()) == {ELF_MACHINE["x86_64"]}
    opt = tmp_path / "opt"
    with zipfile.ZipFile(x86_zip) as archive:
        archive.extractall(opt)
    assert_imports_alone(python312, opt / "python", dict(layer["packages"]))

    package = cli(capsys, "build-backend", *common, "--store", str(store))
    with zipfile.ZipFile(package["path"]) as archive:
        names = archive.namelist()
    assert "app/main.py" in names and "VERSION" in names
    assert not [n for n in names if "tests" in n or "Dockerfile" in n]

    (tmp_path / "event.json").write_text(
        json.dumps(
            {
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": "/health",
                "rawQueryString": "",
                "headers": {"host": "local"},
                "requestContext": {
                    "http": {"method": "GET", "path": "/health", "sourceIp": "127.0.0.1"},
                    "stage": "$default",
                },
                "isBase64Encoded": False,
            }
        )
    )
    answer = cli(
        capsys,
        "invoke",
        "api",
        "--env",
        "local",
        "--backend-dir",
        str(BACKEND),
        "--local-store",
        str(store),
        "--build-dir",
        str(tmp_path),
        "--event",
        str(tmp_path / "event.json"),
    )
    assert answer["layer_built"] is False  # the layer built above, from the same store
    assert answer["result"]["statusCode"] == 200
    assert json.loads(answer["result"]["body"]) == {"status": "ok", "version": "2.7.0"}

    arm = cli(capsys, "build-layer", *common, "--store", str(store), "--arch", "arm64")
    assert arm["latest_skipped"] and arm["platform_tag"] == "manylinux_2_34_aarch64"
    machines = elf_machines(store / f"layer-{arm['hash']}.zip")
    assert machines and set(machines.values()) == {ELF_MACHINE["arm64"]}
