"""The bench's smoke mode runs end to end and reports every figure (values not asserted).

It is the same code as `make bench` on a tiny offline lock, so a change that breaks the
bench (a renamed CLI flag, a moved function) fails here, not on the next full run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from bench.results import FIGURE_KEYS
from bench.workspace import strip_markers
from environments import ENVIRONMENTS, REPO_ROOT

SKIPPED_IN_SMOKE = {
    "layer_build_cold_ours",
    "layer_build_cold_pip",
    "layer_build_warm_ours_host_python",
    "sam_build_cold",
    "sam_build_cached",
    "synth_standard_one_stack",
    # bench/realistic.py: PyPI and python3.12
    "cold_import_no_bytecode",
    "cold_import_bytecode",
    "realistic_build_cold_ours",
    "realistic_build_cold_pip",
    "realistic_build_warm_ours",
    "realistic_build_warm_pip",
    "realistic_cache_hit",
    "size_realistic_layer",
}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    work = tmp_path_factory.mktemp("bench")
    out = work / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--work", str(work / "w"), "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout)  # the figures, for the log: printed, never asserted
    return json.loads(out.read_text()), done.stdout


def test_every_figure_is_reported(smoke: tuple[dict[str, Any], str]) -> None:
    data, table = smoke
    assert data["mode"] == "smoke"
    assert set(data["figures"]) == set(FIGURE_KEYS)
    for key, figure in data["figures"].items():
        assert key in table
        if key in SKIPPED_IN_SMOKE:
            assert figure["skipped"], key
            continue
        assert figure["skipped"] is None, (key, figure["skipped"])
        assert figure["runs"], key
        assert isinstance(figure["median"], float), key
        if figure["baseline"] and data["figures"][figure["baseline"]]["median"] is not None:
            assert isinstance(figure["ratio"], float), key


def test_machine_tools_and_targets_are_described(smoke: tuple[dict[str, Any], str]) -> None:
    data, _ = smoke
    assert data["machine"]["cpus"] >= 1
    assert {"python", "uv", "pip_baseline", "cdktf"} <= set(data["tools"])
    assert len(data["targets"]) == 12
    assert all(target["pass"] in (True, False, None) for target in data["targets"])


def test_behaviours_behind_the_figures(smoke: tuple[dict[str, Any], str]) -> None:
    """Not timings: what each figure claims to have measured really happened."""
    figures = smoke[0]["figures"]
    for key, sdk in (("cache_hit_local", False), ("cache_hit_s3", True)):
        expected = {"built": False, "processes_started": 0, "botocore_loaded": sdk}
        assert figures[key]["details"] == expected
    assert figures["layer_build_warm_ours"]["details"]["installer_processes"] == 1
    assert figures["deploy_code_only"]["details"]["functions_updated"] == 4
    assert figures["deploy_layer_change"]["details"]["publish_calls"] == 1
    assert figures["deploy_no_change"]["details"]["api_calls"] > 0
    rollback = figures["rollback_by_alias"]["details"]
    assert rollback["artifact_bytes_uploaded"] == 0
    assert rollback["update_calls"] == 0  # aliases move; no code or layer update
    assert rollback["calls_by_operation"].get("lambda.UpdateAlias") == 4
    assert "lambda.PublishVersion" not in rollback["calls_by_operation"]
    # One stack per configured environment.
    assert figures["synth_fast_all_stacks"]["details"]["stacks"] == len(ENVIRONMENTS)
    for key in ("size_layer", "size_package"):
        assert figures[key]["details"]["unzipped_bytes"] > 0
    # bench/checks.py: one hook and four smoke checks ran per checked release (in the double).
    assert figures["deploy_checks_with"]["details"]["per_release"] == 5


def test_strip_markers_keeps_pins_and_hashes() -> None:
    text = (
        'a==1.0 ; python_version == "3.12" \\\n    --hash=sha256:ab\n'
        'b==2 ; sys_platform == "linux"\n'
    )
    assert strip_markers(text) == "a==1.0 \\\n    --hash=sha256:ab\nb==2\n"
