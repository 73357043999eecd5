"""What tests/e2e/test_estate_migration.py does to the estate (tests/e2e/estate.py) between
the commands it runs: the platform team's hands.

- `synth`: the CDKTF app as `cdktf synth` runs it (main.py in a child process), reading the
  discovered file through LAYERS_ENVIRONMENTS_DIR.
- `follow_handover`: what `migrate --handover` told the team to do in the old root: delete
  the blocks of what moved, replace each listed reference, drop the moved keys of
  resources that stay in part, run the `state rm` commands.
- `terraform_plan_exit`: `terraform plan -detailed-exitcode` in a root (0: no change).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from environments import REPO_ROOT

from .adoption import run, run_ok
from .estate import ALIAS, Estate

ENV = "staging"


def scripts(
    args: Sequence[str], environ: Mapping[str, str], *, ok: bool = True
) -> tuple[int, dict[str, Any], str]:
    """`python -m scripts ARGS --json`: (exit code, the JSON object, stderr)."""
    done = run([sys.executable, "-m", "scripts", *args, "--json"], cwd=REPO_ROOT, environ=environ)
    if ok:
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stderr[-5000:]}"
    print(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, result, done.stderr


def synth(envs_dir: Path, outdir: Path, environ: Mapping[str, str], name: str) -> Path:
    """main.py, as `cdktf synth` runs it, with the discovered environments only."""
    run_ok(
        [sys.executable, str(REPO_ROOT / "main.py")],
        cwd=outdir.parent,
        environ={**environ, "LAYERS_ENVIRONMENTS_DIR": str(envs_dir), "CDKTF_OUTDIR": str(outdir)},
    )
    return outdir / "stacks" / name


def _block_span(text: str, header: str) -> tuple[int, int]:
    start = text.index(header)
    return start, text.index("\n}\n", start) + 3


def follow_handover(
    root: Path, result: Mapping[str, Any], terraform: str, environ: Mapping[str, str]
) -> list[str]:
    """Do what the hand-over listed, as a person would; returns the lines deleted by hand."""
    main = root / "main.tf"
    lines = main.read_text().splitlines(keepends=True)
    # The keys that moved out of resources that stay in part (a for_each over a map).
    keys = {re.findall(r'\["([^"]+)"\]', c)[-1] for c in result["state_rm"]}
    dropped: list[str] = []
    for ref in result["references"]:
        assert ref["file"] == "main.tf", ref
        index = ref["line"] - 1
        entry = re.match(r"\s*([\w-]+)\s*=\s*\{", lines[index])
        if ref["replacement"].startswith("(") or (entry and entry[1] in keys):
            # A for expression over a module that leaves, or the map entry of a key that
            # moved: the line goes.
            if lines[index]:
                dropped.append(lines[index].strip())
            lines[index] = ""
        else:
            lines[index] = lines[index].replace(ref["expression"], ref["replacement"])
    text = "".join(lines)
    for removed in result["removed"]:
        kind, name = removed.split(".", 1)
        header = f'module "{name}" {{' if kind == "module" else f'resource "{kind}" "{name}" {{'
        start, end = _block_span(text, header)
        text = text[:start] + text[end:]
    main.write_text(text)
    blocks = sorted({r["data"] for r in result["references"] if r["data"]})
    (root / "handover_data.tf").write_text("\n\n".join(blocks) + "\n")
    for command in result["state_rm"]:
        address = command.split("'")[1]
        run_ok([terraform, "state", "rm", address], cwd=root, environ=environ)
    return dropped


def terraform_plan_exit(terraform: str, where: Path, environ: Mapping[str, str]) -> tuple[int, str]:
    plan = subprocess.run(
        [terraform, "plan", "-detailed-exitcode", "-input=false", "-no-color"],
        cwd=where,
        env=dict(environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return plan.returncode, plan.stdout[-4000:] + plan.stderr[-2000:]


def served(lam: Any, name: str, qualifier: str | None) -> tuple[str, tuple[str, ...]]:
    """(CodeSha256, layer ARNs) of what `qualifier` (an alias; None: $LATEST) runs."""
    extra = {"Qualifier": qualifier} if qualifier else {}
    config = lam.get_function_configuration(FunctionName=name, **extra)
    return str(config["CodeSha256"]), tuple(x["Arn"] for x in config.get("Layers", []))


def change_in_old_root(root: Path, change: str) -> str:
    """Make the change migrate printed for another root's caller (`TYPE ID (in OWNER):
    ATTRIBUTE = VALUE`): the attribute's line in the old root's code gets VALUE as printed."""
    attribute, value = re.search(r": (\w+) = (\".*\")$", change).groups()  # type: ignore[union-attr]
    main = root / "main.tf"
    text, count = re.subn(rf"(?m)^(\s*{attribute}\s*=\s*).*$", rf"\g<1>{value}", main.read_text())
    assert count == 1, f"{attribute}: {count} lines in {main}"
    main.write_text(text)
    return value


def plans_clean(terraform: str, roots: Sequence[Path], environ: Mapping[str, str]) -> None:
    for where in roots:
        code, out = terraform_plan_exit(terraform, where, environ)
        assert code == 0, f"{where}: plan exit {code}\n{out}"


def code_sha256(path: Path) -> str:
    """Lambda's CodeSha256 of a zip."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def migrate_apply(
    world: Estate, build_dir: Path, stack_dir: Path, environ: Mapping[str, str]
) -> dict[int, dict[str, Any]]:
    """`migrate --apply`'s phases by number."""
    dirs = ("--backend-dir", str(world.backend_dir), "--build-dir", str(build_dir))
    index = ("--find-links", str(world.wheels), "--no-index")
    args = ["migrate", "--env", ENV, "--apply", "--stack-dir", str(stack_dir), *dirs, *index]
    _, report, _ = scripts(args, environ)
    return {int(p["phase"]): p for p in report["phases"]}


def mappings_on_alias(lam: Any) -> int:
    """How many queues feed an alias; every mapping still reports partial batch failures
    (dropping it would delete failed messages)."""
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)
    return sum(m["FunctionArn"].endswith(f":{ALIAS}") for m in mappings)
