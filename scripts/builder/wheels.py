"""Linux wheels for Lambda without Docker: pins, target platform, and the uv install.

The design builds the layer inside a Docker image so compiled packages match Lambda. The
same result comes from asking the installer for wheels of the runtime's platform: Lambda's
Python 3.12+ runs on Amazon Linux 2023 (glibc 2.34), 3.10/3.11 on Amazon Linux 2 (glibc
2.26), so any wheel tagged manylinux at or below that glibc loads there. Binary wheels only:
building an sdist would compile for this host, not for Lambda.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from uv import find_uv_bin

from scripts.builder.pins import normalize_name
from scripts.errors import BadInputError, ToolError

# glibc of the Amazon Linux generation under each managed runtime.
RUNTIME_GLIBC: Mapping[str, tuple[int, int]] = {
    "python3.10": (2, 26),
    "python3.11": (2, 26),
    "python3.12": (2, 34),
    "python3.13": (2, 34),
}
# The manylinux levels uv can target (`uv pip install --python-platform`), oldest first.
_UV_MANYLINUX = ((2, 17), (2, 28), *((2, minor) for minor in range(31, 41)))
_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}


class MissingWheelError(BadInputError):
    """A pinned package publishes no wheel for the target platform (fix: the lock or --arch)."""


@dataclass(frozen=True, kw_only=True)
class TargetPlatform:
    """Where the layer runs: decides which wheels are acceptable."""

    runtime: str
    architecture: str
    python_version: str
    # What uv's --python-platform takes, e.g. x86_64-manylinux_2_34.
    uv_platform: str
    # The wheel platform tag, e.g. manylinux_2_34_x86_64: part of the cache key.
    platform_tag: str


def target_platform(runtime: str, architecture: str) -> TargetPlatform:
    if runtime not in RUNTIME_GLIBC:
        raise BadInputError(
            f"--runtime {runtime!r}: unsupported; use one of {', '.join(RUNTIME_GLIBC)}"
        )
    if architecture not in _MACHINE:
        raise BadInputError(f"--arch {architecture!r}: use one of {', '.join(_MACHINE)}")
    glibc = RUNTIME_GLIBC[runtime]
    major, minor = max(level for level in _UV_MANYLINUX if level <= glibc)
    machine = _MACHINE[architecture]
    return TargetPlatform(
        runtime=runtime,
        architecture=architecture,
        python_version=runtime.removeprefix("python"),
        uv_platform=f"{machine}-manylinux_{major}_{minor}",
        platform_tag=f"manylinux_{major}_{minor}_{machine}",
    )


def installed_distributions(site_dir: Path) -> dict[str, str]:
    """name -> version of every distribution installed in `site_dir`, from its metadata."""
    found: dict[str, str] = {}
    for metadata in sorted(site_dir.glob("*.dist-info/METADATA")):
        fields: dict[str, str] = {}
        for line in metadata.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                break  # headers end at the first blank line
            key, _, value = line.partition(":")
            fields.setdefault(key.strip().lower(), value.strip())
        if "name" in fields and "version" in fields:
            found[normalize_name(fields["name"])] = fields["version"]
    return found


def unpinned_installs(installed: Mapping[str, str], pins: Mapping[str, str]) -> list[str]:
    """Installed distributions the lock did not pin: an incomplete lock or export."""
    problems: list[str] = []
    for name, version in sorted(installed.items()):
        if name not in pins:
            problems.append(f"{name}=={version} was installed as a dependency but is not pinned")
        elif version != pins[name]:
            problems.append(f"{name}=={version} was installed but {pins[name]} is pinned")
    return problems


def find_uv() -> str:
    """The uv binary pinned in pyproject (installed into this venv as the `uv` package)."""
    return find_uv_bin()


def uv_install_command(
    *,
    uv: str,
    requirements: Path,
    target: Path,
    platform: TargetPlatform,
    require_hashes: bool,
    index_args: Sequence[str] = (),
    python: str | None = None,
) -> list[str]:
    command = [
        uv,
        "pip",
        "install",
        "--no-config",
        # Only a stand-in: --python-version/--python-platform decide what is installed.
        "--python",
        python or sys.executable,
        "--target",
        str(target),
        "--python-platform",
        platform.uv_platform,
        "--python-version",
        platform.python_version,
        "--only-binary",
        ":all:",
        # Copies, not hard links into uv's cache: pruning must never touch the cache.
        "--link-mode",
        "copy",
    ]
    if require_hashes:
        command.append("--require-hashes")
    return [*command, *index_args, "-r", str(requirements)]


def install_wheels(
    *,
    requirements: Path,
    target: Path,
    platform: TargetPlatform,
    require_hashes: bool,
    index_args: Sequence[str] = (),
    uv: str | None = None,
    python: str | None = None,
    source: Path | None = None,
) -> None:
    """Install the pinned wheels for `platform` into `target`; failures name the package."""
    command = uv_install_command(
        uv=uv or find_uv(),
        requirements=requirements,
        target=target,
        platform=platform,
        require_hashes=require_hashes,
        index_args=index_args,
        python=python,
    )
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise explain_uv_failure(completed.stderr, platform, source)


# uv names a requirement as `name`, `name[extra]`, `name{marker}` or with `==version`.
_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?(?:\{[^}]*\})?"
_NO_WHEEL = re.compile(rf"{_NAME}(?:==(?P<version>[^\s,]+))? has no (?:usable )?wheels")
_NOT_FOUND = re.compile(rf"Because {_NAME} was not found in")
_NO_HASH = re.compile(r"no trusted hash was provided for: `(?P<name>[^`]+)`")
_HASH_MISMATCH = re.compile(r"Hash mismatch for `(?P<name>[^`]+)`")


def explain_uv_failure(
    stderr: str, platform: TargetPlatform, source: Path | None = None
) -> ToolError:
    """Turn uv's resolver report into one actionable line naming the package and the lock."""
    where = f"{platform.platform_tag} ({platform.runtime} on {platform.architecture})"
    lock = f"{source}: " if source else ""
    if match := _NO_WHEEL.search(stderr):
        pinned = f"{match['name']}=={match['version']}" if match["version"] else match["name"]
        return MissingWheelError(
            f"{lock}{pinned}: no wheel for {where}: pin a version that ships one, or build "
            "for another --arch/--runtime"
        )
    if match := _NOT_FOUND.search(stderr):
        return BadInputError(
            f"{lock}{match['name']}: not found on the package index: check the name and the "
            "index options"
        )
    if match := _NO_HASH.search(stderr):
        return BadInputError(
            f"{lock}{match['name']}: installed as a dependency but not locked (no pinned hash): "
            "lock again (`poetry lock`, `uv lock`, `pip-compile --generate-hashes`)"
        )
    if match := _HASH_MISMATCH.search(stderr):
        return ToolError(
            f"{lock}{match['name']}: downloaded file does not match the locked hash: the index "
            "served different content; check the index and the lock"
        )
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    tail = " | ".join(lines[-4:]) if lines else "no output"
    return ToolError(f"{lock}uv pip install failed for {where}: {tail}")
