"""What `pipeline` shows a person: one line per step (with a heartbeat for long ones),
then a table of what every function runs, read back from Lambda."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from environments import Environment
from scripts.local import aws as local_aws

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

HEARTBEAT_S = 10.0


@dataclass
class Reporter:
    """One line per step on the terminal; the steps' own chatter goes to the log."""

    out: IO[str]
    log_path: Path
    steps: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, line: str) -> None:
        with self._lock:
            print(line, file=self.out, flush=True)

    @contextlib.contextmanager
    def step(self, title: str, *, heartbeat: bool = False) -> Iterator[dict[str, str]]:
        """Time a step; the caller may set `note["text"]`, shown after the time.

        With `heartbeat`, a line every HEARTBEAT_S seconds says it is still running and
        what the log last said, so a long install or apply never looks hung.
        """
        note: dict[str, str] = {}
        started = time.perf_counter()
        stop = threading.Event()
        beat: threading.Thread | None = None
        if heartbeat:
            beat = threading.Thread(
                target=self._beat, args=(title, started, stop), daemon=True, name="heartbeat"
            )
            beat.start()
        try:
            yield note
        except BaseException:
            seconds = time.perf_counter() - started
            self.steps.append({"step": title, "seconds": round(seconds, 1), "failed": True})
            self.say(f"  {title}: failed after {seconds:.1f}s")
            raise
        finally:
            stop.set()
            if beat is not None:
                beat.join()
        seconds = time.perf_counter() - started
        text = note.get("text", "")
        self.steps.append({"step": title, "seconds": round(seconds, 1), "note": text})
        self.say(f"  {title}: {seconds:.1f}s" + (f" ({text})" if text else ""))

    def _beat(self, title: str, started: float, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_S):
            self.tick(title, time.perf_counter() - started)

    def tick(self, title: str, elapsed: float, last: str | None = None) -> None:
        line = local_aws.last_line(self.log_path) if last is None else last
        if line.startswith("$ "):
            line = "starting (no output yet)"  # only our own command echo so far
        shown = f": {line[:100]}" if line else ""
        self.say(f"    ... {title} {elapsed:.0f}s{shown}")


def function_rows(
    client: LambdaClient, env: Environment, *, package_zip_bytes: int
) -> list[dict[str, Any]]:
    """What Lambda reports now, per function: the table is read back, not assumed."""
    rows = []
    for name in env.released_function_names:
        # What callers get: the alias's version, not $LATEST.
        config = client.get_function_configuration(FunctionName=name, Qualifier=env.alias_name)
        layers = [layer["Arn"] for layer in config.get("Layers", [])]
        deps = [arn for arn in layers if f":layer:{env.layer_name}:" in arn]
        rows.append(
            {
                "name": name,
                "layer_version_arn": deps[0] if deps else None,
                "layers": layers,
                "code_sha256": config["CodeSha256"],
                "package_zip_bytes": package_zip_bytes,
            }
        )
    return rows


def format_table(result: Mapping[str, Any]) -> list[str]:
    rows = result["functions"]
    headers = ("function", "layer version ARN", "code hash (CodeSha256)", "package zip")
    cells = [
        (
            row["name"],
            row["layer_version_arn"] or "(none)",
            row["code_sha256"],
            f"{row['package_zip_bytes']:,} B",
        )
        for row in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    layer = result["layer"]
    deploy = result["deploy"]
    updated = deploy["updated"]
    return [
        line(headers),
        *(line(c) for c in cells),
        "",
        f"layer    {layer['hash']}: {layer['zip_bytes']:,} B zipped, "
        f"{layer['unzipped_bytes']:,} B unzipped "
        f"({'built' if layer['built'] else 'cache hit: found in the bucket, nothing built'})",
        f"package  {result['package']['hash']}: {result['package']['zip_bytes']:,} B zipped, "
        f"{result['package']['unzipped_bytes']:,} B unzipped",
        f"terraform {result['terraform']['summary']}",
        f"deploy   layer version {'published' if deploy['published'] else 'reused'}; "
        f"{len(updated)} of {len(rows)} functions updated"
        + (f" ({', '.join(updated)})" if updated else " (no change)"),
    ]
