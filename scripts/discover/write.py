"""Discover end to end: read, express, check the file reads back equal, write it whole.

Nothing is written when anything could not be read or said (DiscoverGapsError, exit 2,
every gap named), and the file is never seen half-written (scripts/atomic.py). The
environment is written by the model's own dumper (environments.catalog.environment_text)
and read back by its loader before the write: a value the format cannot carry is a gap
too, not a file that adopts something else.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from environments.catalog import environment_text
from environments.codec import loads
from environments.model import REPO_ROOT, Environment
from scripts.atomic import write_atomically
from scripts.discover.express import STATE_BUCKET_PLACEHOLDER, Discovered, express
from scripts.discover.facts import Gap
from scripts.discover.reads import read_estate
from scripts.errors import BadInputError


class DiscoverGapsError(BadInputError):
    """The estate has something discover cannot read or the configuration cannot say."""

    def __init__(self, gaps: tuple[Gap, ...], payload: Mapping[str, Any]) -> None:
        lines = [g.line() for g in gaps]
        super().__init__(
            f"{len(gaps)} thing(s) discover cannot read or express; nothing written:\n  "
            + "\n  ".join(lines)
        )
        self.payload = {**payload, "gaps": lines}

    def result(self) -> dict[str, Any]:
        return {**self.payload, "error": str(self).splitlines()[0]}


def discover(
    clients: Mapping[str, Any],
    *,
    env_name: str,
    prefix: str,
    region: str,
    out: Path,
    state: str,
    endpoint: str | None,
    alias: str | None = None,
) -> dict[str, Any]:
    estate = read_estate(clients, prefix=prefix, region=region)
    if not estate.functions and not estate.gaps:
        raise BadInputError(f"--prefix {prefix}: no function's name starts with it; check it")
    found = express(estate, env_name=env_name, state=state, endpoint=endpoint, alias=alias)
    payload = _payload(found, estate.functions, out)
    if found.env is None:
        raise DiscoverGapsError(found.gaps, payload)
    text = environment_text(found.env)
    back = loads(text, Environment, source=str(out), root=REPO_ROOT)
    if back != found.env:
        gap = Gap(
            resource=f"environment {env_name}", attribute="file", reason="does not read back equal"
        )
        raise DiscoverGapsError((gap,), payload)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, text)
    return {**payload, "written": str(out)}


def _payload(found: Discovered, functions: tuple[Any, ...], out: Path) -> dict[str, Any]:
    env = found.env
    return {
        "out": str(out),
        "functions": sorted(f.name for f in functions),
        "unmanaged": [u.name for u in env.unmanaged_functions] if env else [],
        "bypass": found.bypass,
        "notes": list(found.notes),
        "state_backend": (
            None
            if env is None or env.state_backend is None
            else {
                "bucket": env.state_backend.bucket,
                "key": env.state_backend.key,
                "placeholder": env.state_backend.bucket == STATE_BUCKET_PLACEHOLDER,
            }
        ),
    }


def lines(result: Mapping[str, Any]) -> list[str]:
    """What a person reads after a run: the file, the callers bypassing the alias, notes."""
    found = [f"wrote {result['written']}: {len(result['functions'])} functions read"]
    if result["unmanaged"]:
        found.append(f"  left alone (not zip): {', '.join(result['unmanaged'])}")
    for function, callers in sorted(result["bypass"].items()):
        if callers:
            found.append(f"  {function}: {len(callers)} caller(s) bypass the alias:")
            found += [f"    {c}" for c in callers]
    backend = result["state_backend"]
    if backend and backend["placeholder"]:
        found.append(
            f"  state_backend.bucket is a placeholder ({backend['bucket']}): fill in the bucket "
            "holding this environment's state (and dynamodb_table if it uses one)"
        )
    found += [f"  note: {n}" for n in result["notes"]]
    return found
