"""The real example lock, resolved from the package index: the one network test (CI runs it).

Builds the example backend's layer and package through `demo --skip-synth` into a temp
store, twice (the second is a cache hit), then imports every top-level package and every
handler with the runtime's Python from the extracted layer alone.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from wheel_factory import assert_imports_alone

from environments import ENVIRONMENTS, REPO_ROOT
from scripts.cli import main


@pytest.mark.network
def test_example_layer_builds_for_lambda_and_imports_with_the_runtime(
    tmp_path: Path, python312: str, capsys: pytest.CaptureFixture[str]
) -> None:
    staging = ENVIRONMENTS["staging"]
    argv = [
        "demo",
        "--skip-synth",
        "--local-store",
        str(tmp_path / "store"),
        "--build-dir",
        str(tmp_path / "build"),
        "--json",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    first = json.loads(capsys.readouterr().out)
    layer = first["layer"]
    assert layer["built"] is True
    assert layer["platform_tag"] == "manylinux_2_34_x86_64"
    assert {"pydantic-core", "sqlalchemy", "httpx", "boto3"} <= set(layer["packages"])
    assert first["backend"]["zip_bytes"] < 1024 * 1024

    assert main(argv) == 0
    captured = capsys.readouterr()
    second = json.loads(captured.out)
    assert second["layer"]["built"] is False
    assert second["layer"]["sha256"] == layer["sha256"]
    assert "cache hit" in captured.err

    store = Path(first["store"])
    opt = tmp_path / "opt"
    with zipfile.ZipFile(store / Path(layer["key"]).name) as archive:
        names = archive.namelist()
        archive.extractall(opt)
    # The compiled wheel is the Linux/CPython 3.12 one, whatever this host runs.
    assert any(
        n.startswith("python/pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu")
        for n in names
    )
    assert_imports_alone(python312, opt / "python", dict(layer["packages"]))

    # The function package runs on the layer: import every handler, call the API's health route.
    script = (
        "import importlib, json, sys\n"
        f"sys.path[:0] = [{str(staging.backend_dir)!r}, {str(opt / 'python')!r}]\n"
        f"for handler in {[f.handler for f in staging.released_functions]!r}:\n"
        "    module, _, name = handler.rpartition('.')\n"
        "    assert callable(getattr(importlib.import_module(module), name))\n"
        # Every worker answers a version probe with what it runs.
        f"for handler in {[f.handler for f in staging.released_functions if f.name != 'api']!r}:\n"
        "    module, _, name = handler.rpartition('.')\n"
        "    answer = getattr(importlib.import_module(module), name)({'version': True}, None)\n"
        f"    assert answer == {{'version': {first['backend']['version']!r}}}, (handler, answer)\n"
        "from app.main import handler\n"
        "print(json.dumps(handler({'rawPath': '/health'}, None)))\n"
    )
    completed = subprocess.run(
        [python312, "-I", "-S", "-c", script], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    response = json.loads(completed.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok", "version": first["backend"]["version"]}

    # Every sample event in examples/events/ (what README's `invoke --event` points at)
    # runs through its function's handler on the layer alone.
    example = ENVIRONMENTS["local"]  # the example backend's four handlers, one event each
    events = {
        f.handler: REPO_ROOT / "examples" / "events" / f"{f.name}.json" for f in example.functions
    }
    script = (
        "import importlib, json, sys\n"
        f"sys.path[:0] = [{str(staging.backend_dir)!r}, {str(opt / 'python')!r}]\n"
        f"for handler, path in {[(h, str(p)) for h, p in events.items()]!r}:\n"
        "    module, _, name = handler.rpartition('.')\n"
        "    event = json.loads(open(path).read())\n"
        "    answer = getattr(importlib.import_module(module), name)(event, None)\n"
        "    print(json.dumps(answer, default=str))\n"
    )
    completed = subprocess.run(
        [python312, "-I", "-S", "-c", script], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    answers = [json.loads(line) for line in completed.stdout.splitlines()]
    assert answers[0]["statusCode"] == 200  # api: GET /health
    assert answers[3] == {"results": [{"runbook": "nightly-eval", "status": None}]}
