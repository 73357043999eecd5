"""A stand-in `terraform` for the plan-check command tests: it reports a version, shows a
recorded plan, and `init`s and `plan`s by creating what the real one creates."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

# What a failed `terraform plan -json` prints: one JSON message per line.
PLAN_ERROR = (
    '{"@level":"info","@message":"Terraform 1.11.4","type":"version"}\n'
    '{"@level":"error","@message":"Error: Cannot import non-existent remote object",'
    '"diagnostic":{"severity":"error","summary":"Cannot import non-existent remote object",'
    '"detail":"While attempting to import an existing object to aws_lambda_function.x"}}'
)


# What terraform 1.11 prints when `show` is given a file it cannot find from its working
# directory, coloured as it is without -no-color.
SHOW_ERROR = (
    "\033[31m╷\033[0m\033[0m\n\033[31m│\033[0m \033[0m\033[1m\033[31mError: \033[0m\033[0m"
    "\033[1mFailed to read the given file as a state or plan file\033[0m\n"
    "\033[31m│\033[0m \033[0m\n\033[31m│\033[0m \033[0mState read error: Error loading "
    "statefile: open $f: no such file or directory\033[0m\n\033[31m╵\033[0m\033[0m"
)


def fake_terraform(
    directory: Path,
    *,
    version: str,
    show: Path | None = None,
    plan_fails: bool = False,
    show_coloured_error: bool = False,
) -> Path:
    """A `terraform` that reports `version`, prints `show` for `show -json FILE`, and
    `init`s and `plan -out=FILE`s by creating what the real one creates (or fails).

    Like the real one it resolves FILE against its working directory and colours its
    errors unless given -no-color."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "terraform"
    # Only this directory is on PATH in these tests: name the tools in full.
    cat, mkdir, touch = (shutil.which(tool) for tool in ("cat", "mkdir", "touch"))
    shown = f"{cat} {show}" if show else "echo '{}'"
    printf = shutil.which("printf")
    show_script = (
        'for a in "$@"; do f="$a"; done; '
        'if [ ! -f "$f" ]; then case " $* " in *" -no-color "*) '
        f"{printf} 'Error: Failed to read the given file as a state or plan file\\n\\n"
        "State read error: Error loading statefile: open %s: no such file or directory\\n' "
        '"$f" >&2;; '
        f'*) {printf} "{SHOW_ERROR}" >&2;; esac; exit 1; fi; {shown}; exit 0'
    )
    if show_coloured_error:
        # A terraform that colours whatever it is told (as one with a broken -no-color
        # would): what we relay must still be plain text.
        show_script = f'f=plan; {printf} "{SHOW_ERROR}" >&2; exit 1'

    plan = (
        f"echo '{PLAN_ERROR}'; exit 1"
        if plan_fails
        else 'for a in "$@"; do case "$a" in -out=*) '
        + f'{touch} "${{a#-out=}}";; esac; done; exit 0'
    )
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = version ]; then echo \'{{"terraform_version": "{version}"}}\'; exit 0; fi\n'
        f'if [ "$1" = show ]; then {show_script}; fi\n'
        f'if [ "$1" = init ]; then {mkdir} .terraform; exit 0; fi\n'
        f'if [ "$1" = plan ]; then {plan}; fi\n'
        "echo unexpected >&2; exit 3\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return directory
