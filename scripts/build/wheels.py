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
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from uv import find_uv_bin

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


def normalize_name(name: str) -> str:
    """PEP 503: `Typing_Extensions` and `typing-extensions` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, kw_only=True)
class Requirements:
    # name -> the pinned versions (more than one only with exclusive markers).
    pins: Mapping[str, frozenset[str]]
    hashed: bool


_HASH = re.compile(r"--hash[=\s]+\S+")
_PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;,]+)$")


def parse_requirements(text: str, *, source: str = "requirements.txt") -> Requirements:
    """Pins of an exported requirements file; anything not pinned with == is refused."""
    logical: list[str] = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append(buffer + line)
        buffer = ""
    if buffer:
        logical.append(buffer)
    pins: dict[str, set[str]] = {}
    hashed: list[str] = []
    unhashed: list[str] = []
    for number, line in enumerate(logical, start=1):
        stripped = line.split(" #", 1)[0].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("-"):
            if stripped.split()[0] in {"-r", "-c", "-e", "--requirement", "--constraint"}:
                raise BadInputError(
                    f"{source}: {stripped.split()[0]} is not supported: export one flat file "
                    "(poetry export -f requirements.txt)"
                )
            continue  # index options: uv reads them from the file itself
        hashes = _HASH.findall(stripped)
        spec = _HASH.sub("", stripped).split(";", 1)[0].strip()
        match = _PINNED.match(spec)
        if not match:
            raise BadInputError(
                f"{source}: requirement {number} ({spec!r}) is not pinned with ==: export it "
                "from the lock (poetry export -f requirements.txt)"
            )
        name = normalize_name(match[1])
        pins.setdefault(name, set()).add(match[2])
        (hashed if hashes else unhashed).append(name)
    if hashed and unhashed:
        raise BadInputError(
            f"{source}: some requirements carry hashes and some do not "
            f"({', '.join(unhashed[:5])}): re-export with hashes"
        )
    return Requirements(
        pins={name: frozenset(versions) for name, versions in pins.items()},
        hashed=bool(hashed),
    )


def parse_poetry_lock(text: str, *, source: str = "poetry.lock") -> Mapping[str, frozenset[str]]:
    """Versions of the runtime (main group, non-optional) packages a poetry lock pins."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise BadInputError(f"{source}: not a valid lock file ({err}): run `poetry lock`") from err
    pins: dict[str, set[str]] = {}
    for package in data.get("package", []):
        if package.get("optional", False):
            continue
        groups = package.get("groups")
        category = package.get("category", "main")
        in_main = "main" in groups if groups is not None else category == "main"
        if not in_main:
            continue
        pins.setdefault(normalize_name(str(package["name"])), set()).add(str(package["version"]))
    return {name: frozenset(versions) for name, versions in pins.items()}


def pin_differences(
    lock: Mapping[str, frozenset[str]], requirements: Mapping[str, frozenset[str]]
) -> list[str]:
    """Every way the requirements disagree with the lock, one readable line each."""
    differences: list[str] = []
    for name in sorted(set(lock) | set(requirements)):
        locked = lock.get(name)
        wanted = requirements.get(name)
        if locked is None:
            differences.append(f"{name}: {_fmt(wanted)} in requirements, not in the lock")
        elif wanted is None:
            differences.append(f"{name}: {_fmt(locked)} in the lock, missing from requirements")
        elif not wanted <= locked:
            differences.append(f"{name}: requirements {_fmt(wanted)}, lock {_fmt(locked)}")
    return differences


def _fmt(versions: frozenset[str] | None) -> str:
    return " / ".join(sorted(versions or ()))


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


def unpinned_installs(
    installed: Mapping[str, str], pins: Mapping[str, frozenset[str]]
) -> list[str]:
    """Installed distributions the requirements did not pin: an incomplete export."""
    problems: list[str] = []
    for name, version in sorted(installed.items()):
        if name not in pins:
            problems.append(f"{name}=={version} was installed as a dependency but is not pinned")
        elif version not in pins[name]:
            problems.append(f"{name}=={version} was installed but {_fmt(pins[name])} is pinned")
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
) -> list[str]:
    command = [
        uv,
        "pip",
        "install",
        "--no-config",
        "--python",
        sys.executable,
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
) -> None:
    """Install the pinned wheels for `platform` into `target`; failures name the package."""
    command = uv_install_command(
        uv=uv or find_uv(),
        requirements=requirements,
        target=target,
        platform=platform,
        require_hashes=require_hashes,
        index_args=index_args,
    )
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise explain_uv_failure(completed.stderr, platform)


_NO_WHEEL = re.compile(
    r"Because (?P<name>[A-Za-z0-9._-]+)(?:==(?P<version>[^\s,]+))? "
    r"(?:has no wheels with a matching platform tag|has no usable wheels|"
    r"has no wheels with a matching Python)"
)
_NOT_FOUND = re.compile(r"Because (?P<name>[A-Za-z0-9._-]+) was not found in")
_NO_HASH = re.compile(r"no trusted hash was provided for: `(?P<name>[^`]+)`")
_HASH_MISMATCH = re.compile(r"Hash mismatch for `(?P<name>[^`]+)`")


def explain_uv_failure(stderr: str, platform: TargetPlatform) -> ToolError:
    """Turn uv's resolver report into one actionable line."""
    where = f"{platform.platform_tag} (Python {platform.python_version}, {platform.runtime})"
    if match := _NO_WHEEL.search(stderr):
        pinned = f"{match['name']}=={match['version']}" if match["version"] else match["name"]
        return MissingWheelError(
            f"{pinned}: no wheel for {where}; pin a version that ships one or choose "
            "another --arch/--runtime"
        )
    if match := _NOT_FOUND.search(stderr):
        return BadInputError(f"{match['name']}: not found on the package index")
    if match := _NO_HASH.search(stderr):
        return BadInputError(
            f"{match['name']}: a dependency missing from the requirements (no pinned hash): "
            "re-export the requirements from the lock"
        )
    if match := _HASH_MISMATCH.search(stderr):
        return ToolError(
            f"{match['name']}: downloaded file does not match the pinned hash: the index served "
            "different content; check the lock"
        )
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    tail = " | ".join(lines[-4:]) if lines else "no output"
    return ToolError(f"uv pip install failed for {where}: {tail}")
