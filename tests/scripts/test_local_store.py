"""The local store's recorded checksums, and a local cache hit that never loads boto3."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from wheel_factory import BackendFactory, offline_args

from environments import REPO_ROOT
from scripts.cli import COMMANDS, main
from scripts.errors import ChecksumMismatchError
from scripts.store import LocalStore, hex_to_b64, sha256_file
from scripts.store.publish import put_content_addressed


def _b64(data: bytes) -> str:
    return hex_to_b64(hashlib.sha256(data).hexdigest())


def _stored_sha(store: LocalStore, name: str) -> str | None:
    info = store.head(name)
    assert info is not None
    return info.sha256_b64


def test_head_reports_what_was_written_and_list_hides_the_records(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_bytes("layer-x.zip", b"first", overwrite=False)
    info = store.head("layer-x.zip")
    assert info is not None
    assert (info.size, info.sha256_b64) == (5, _b64(b"first"))
    assert (store.root / ".layer-x.zip.sha256").is_file()
    assert [found.name for found in store.list("")] == ["layer-x.zip"]


def test_a_replaced_or_edited_file_is_hashed_again(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_bytes("a.zip", b"aaaa", overwrite=True)
    target = store.root / "a.zip"
    # Replaced by another file (a new inode), the way `cp`/`mv` tools usually write.
    other = tmp_path / "other"
    other.write_bytes(b"bbbb")
    other.replace(target)
    assert _stored_sha(store, "a.zip") == _b64(b"bbbb")

    store.put_bytes("c.zip", b"cccc", overwrite=True)
    time.sleep(0.05)  # past one clock tick, so the edit gets a later ctime on any kernel
    # Edited in place: same inode, same size.
    with (store.root / "c.zip").open("r+b") as handle:
        handle.write(b"dddd")
    assert _stored_sha(store, "c.zip") == _b64(b"dddd")


def test_a_copied_store_or_a_broken_record_falls_back_to_hashing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_bytes("a.zip", b"aaaa", overwrite=True)
    # copytree keeps mtimes and copies the record: another inode, so it is not trusted.
    copied = LocalStore(Path(shutil.copytree(store.root, tmp_path / "copy")))
    (copied.root / "a.zip").write_bytes(b"zzzz")
    os.utime(copied.root / "a.zip", ns=((store.root / "a.zip").stat().st_mtime_ns,) * 2)
    assert _stored_sha(copied, "a.zip") == _b64(b"zzzz")

    (store.root / ".a.zip.sha256").write_text("not json")
    assert _stored_sha(store, "a.zip") == _b64(b"aaaa")
    record = {"stat": [0, 0, 4, 0, 0], "sha256": hashlib.sha256(b"forged").hexdigest()}
    (store.root / ".a.zip.sha256").write_text(json.dumps(record))
    assert _stored_sha(store, "a.zip") == _b64(b"aaaa")


def test_upload_verification_checks_the_bytes_written_not_the_claim(tmp_path: Path) -> None:
    # The record is the hash of the bytes that reached the store, so a source that differs
    # from its claimed checksum is still caught by the read-back check.
    source = tmp_path / "layer.zip"
    source.write_bytes(b"what was really built")
    wrong = hashlib.sha256(b"what the caller claims").hexdigest()
    with pytest.raises(ChecksumMismatchError, match="differs from the built"):
        put_content_addressed(
            LocalStore(tmp_path / "store"), "layer-x.zip", source, sha256_hex=wrong
        )
    right = sha256_file(source)
    assert put_content_addressed(
        LocalStore(tmp_path / "store2"), "layer-x.zip", source, sha256_hex=right
    )


# The CLI's own process: which AWS SDK modules a run loaded. `scripts.release.deploy` afterwards is
# the control: it needs botocore, so the probe must see it (the check is not vacuous).
_PROBE = """
import json, sys
from scripts.cli import main
code = main(sys.argv[1:])
def aws():
    return sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore"))
after_run = aws()
import scripts.release.deploy
print(json.dumps({"code": code, "after_run": after_run, "control": aws()[:3]}))
"""


def _run_cli(args: list[str]) -> tuple[dict[str, object], dict[str, object]]:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    *cli_out, probe = completed.stdout.strip().splitlines()
    return json.loads(cli_out[-1]), json.loads(probe)


def test_local_cache_hit_imports_no_aws_sdk(
    make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    args = [
        "build-layer",
        "--env",
        "staging",
        "--backend-dir",
        str(backend),
        "--store",
        str(tmp_path / "store"),
        "--build-dir",
        str(tmp_path / "build"),
        "--manifest",
        str(tmp_path / "m.json"),
        "--json",
        *offline_args(wheelhouse),
    ]
    built, probe = _run_cli(args)
    assert built["built"] is True
    assert probe["code"] == 0
    assert probe["after_run"] == []  # a local build needs no AWS SDK either
    hit, probe = _run_cli(args)
    assert hit["built"] is False
    assert hit["sha256"] == built["sha256"]
    assert probe["after_run"] == []
    assert probe["control"], "the probe should see botocore once scripts.release.deploy is imported"


def test_each_command_loads_alone_and_help_lists_them_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The CLI imports only the named command's module: each must register that name.
    for name in COMMANDS:
        assert main([name, "--help"]) == 0
        assert f"usage: python -m scripts {name} " in capsys.readouterr().out
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in COMMANDS)
    assert main(["no-such-command"]) == 2
    assert "unknown command 'no-such-command'" in capsys.readouterr().err
