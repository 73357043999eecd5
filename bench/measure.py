"""Timing a command, peak memory of a process tree, and what machine and tools ran it.

Every timed figure is the wall time of a whole child process (interpreter start included),
because that is what a user or a CI step waits for.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench import say


class BenchError(Exception):
    """A measured command failed or broke an invariant (the bench stops: numbers would lie)."""


@dataclass(frozen=True, kw_only=True)
class Timed:
    seconds: float
    stdout: str
    stderr: str


def run_timed(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    what: str,
    umask: int | None = None,
    timeout: float = 600,
) -> Timed:
    """Run once, time it; a non-zero exit stops the bench with the command's last words."""

    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    start = time.perf_counter()
    done = subprocess.run(
        list(command),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        preexec_fn=set_umask if umask is not None else None,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{what}: exit {done.returncode}: {' '.join(command)}\n{tail}")
    say(f"    {what}: {seconds:.2f} s")
    return Timed(seconds=seconds, stdout=done.stdout, stderr=done.stderr)


def last_json_line(text: str) -> str:
    """The one JSON object a `--json` command printed (its last non-empty stdout line)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise BenchError("expected a JSON object on stdout, got nothing")
    return lines[-1]


# ---- memory of a process tree ------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match[1]) if match else None


def peak_rss(pid: int) -> int:
    """The kernel's high-water mark of resident memory (VmHWM) of one live process, bytes."""
    hwm = _status_kb(pid, "VmHWM")
    if hwm is None:
        raise BenchError(f"/proc/{pid}/status has no VmHWM")
    return hwm * 1024


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid`, from /proc/*/stat parent links."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found.extend(children)
        frontier.extend(children)
    return found


def peak_rss_of_children(pid: int) -> dict[str, int]:
    """Peak resident memory (VmHWM, bytes) of each live descendant, keyed `comm:pid`.

    VmHWM is the kernel's own high-water mark for the process, so reading it once while
    the child is still alive gives its true peak so far, without polling.
    """
    peaks: dict[str, int] = {}
    for child in descendants(pid):
        hwm = _status_kb(child, "VmHWM")
        try:
            comm = Path(f"/proc/{child}/comm").read_text(encoding="ascii").strip()
        except OSError:
            continue
        if hwm is not None:
            peaks[f"{comm}:{child}"] = hwm * 1024
    return peaks


# ---- machine and tools -----------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total() -> int | None:
    try:
        match = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    except OSError:
        return None
    return int(match[1]) * 1024 if match else None


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict[str, object]:
    return {
        "system": platform.system(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_bytes": _mem_total(),
        "load_average_start": load_average(),
    }


def command_version(command: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env=None if env is None else dict(env),
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"unavailable ({err})"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else f"unavailable (exit {done.returncode})"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def python_tools() -> dict[str, str]:
    return {
        "python": sys.version.split()[0],
        **{
            name: package_version(name)
            for name in (
                "uv",
                "pip",
                "boto3",
                "moto",
                "cdktf",
                "cdktf-cdktf-provider-aws",
                "jsii",
            )
        },
    }
