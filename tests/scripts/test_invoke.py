"""`invoke`: a handler run locally under the runtime's Python with only package and layer."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wheel_factory import BackendFactory, offline_args

from scripts.cli import main

Invoke = Callable[..., tuple[int, dict[str, Any], str]]


@pytest.fixture
def invoke(
    backend: Path, tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> Invoke:
    """`invoke(*args)` -> (exit code, JSON on stdout or {}, stderr)."""

    def call(*extra: str) -> tuple[int, dict[str, Any], str]:
        return _invoke(backend, tmp_path, wheelhouse, capsys, list(extra))

    return call


def _invoke(
    backend: Path,
    tmp_path: Path,
    wheelhouse: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
) -> tuple[int, dict[str, Any], str]:
    code = main(
        [
            "invoke",
            "--env",
            # The design's four functions (app/ and lambdas/ of the test backend).
            "local",
            "--backend-dir",
            str(backend),
            "--local-store",
            str(tmp_path / "store"),
            "--build-dir",
            str(tmp_path / "build"),
            "--json",
            *offline_args(wheelhouse),
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


@pytest.fixture
def backend(make_backend: BackendFactory) -> Path:
    made = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    (made / "app" / "main.py").write_text(
        "import os, sys\n"
        "import alpha\n"
        "def handler(event, context):\n"
        "    print('handling', event.get('n'))\n"
        "    return {'n': event.get('n'), 'alpha': alpha.VERSION,\n"
        "            'env': os.environ['ENVIRONMENT'], 'name': context.function_name,\n"
        "            'paths': [p for p in sys.path if 'site-packages' in p]}\n"
    )
    (made / "lambdas" / "cleanup" / "handler.py").write_text(
        "from jose import jwt\ndef handler(event, context):\n    return jwt\n"
    )
    (made / "lambdas" / "db_sync" / "handler.py").write_text(
        "def handler(event, context):\n    raise RuntimeError('database unreachable')\n"
    )
    return made


def test_the_handler_runs_with_only_package_and_layer(
    invoke: Invoke, python312: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"n": 7}'))
    code, result, err = invoke("api", "--event", "-")
    assert code == 0, err
    assert result["result"] == {
        "n": 7,
        "alpha": "1.0",
        "env": "local",
        "name": "bluemoxon-local-api",
        "paths": [],
    }
    assert result["python"].startswith("3.12.")
    assert "| handling 7" in err  # the handler's output, as its log
    # The second run reuses the layer from the local store.
    code, again, err = invoke("api")
    assert (code, again["layer_built"], again["result"]["n"]) == (0, False, None)


def test_a_missing_import_names_the_distribution(invoke: Invoke, python312: str) -> None:
    code, _, err = invoke("cleanup")
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: function cleanup (handler lambdas.cleanup.handler.handler)")
    assert "No module named 'jose'" in line and "python-jose" in line


def test_a_failing_handler_exits_1_with_its_traceback_in_the_log(
    invoke: Invoke, python312: str
) -> None:
    code, _, err = invoke("db-sync")
    assert code == 1
    assert "| RuntimeError: database unreachable" in err
    assert err.strip().splitlines()[-1] == (
        "error: function db-sync: RuntimeError: database unreachable"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["nope"], "no function 'nope'; configured: api, cleanup"),
        (["api", "--event", "/nonexistent/event.json"], "--event /nonexistent/event.json"),
        (["api", "--arch", "arm64"], "cannot load here: pass --arch x86_64"),
    ],
)
def test_bad_input_is_one_line(invoke: Invoke, extra: list[str], message: str) -> None:
    code, _, err = invoke(*extra)
    assert code == 2
    assert message in err.strip().splitlines()[-1]


def test_invoking_another_backend_leaves_the_environments_layer_zip_alone(
    invoke: Invoke, tmp_path: Path, python312: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`invoke --backend-dir` overwrote the staging layer.zip in the local store: what the
    demo and Terraform's first layer version read. Only the content-addressed key is its."""
    store = tmp_path / "store"
    store.mkdir()
    (store / "layer.zip").write_bytes(b"staging's own layer")
    monkeypatch.setattr("sys.stdin", io.StringIO('{"n": 1}'))
    code, result, err = invoke("api", "--event", "-")
    assert code == 0, err
    assert (store / "layer.zip").read_bytes() == b"staging's own layer"
    assert [p.name for p in store.glob("layer-*.zip")] == [f"layer-{result['layer_hash']}.zip"]
