"""`layers completion bash|zsh`: a shell completion script made from the parser itself.

Generated, not handwritten, so a new command or flag completes without touching this file:
the commands, each command's flags and the environment names come from the same parser and
configuration the tool runs with. The script is static (no Python run per TAB press).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping

SHELLS = ("bash", "zsh")


def flags_by_command(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """Command -> its long and short option strings, from the registered subparsers."""
    found: dict[str, list[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sorted(
                    option for act in sub._actions for option in act.option_strings
                )
    return found


def script(
    shell: str, parser: argparse.ArgumentParser, environments: Iterable[str], *, prog: str
) -> str:
    flags = flags_by_command(parser)
    envs = " ".join(sorted(environments))
    return (_bash if shell == "bash" else _zsh)(prog, flags, envs)


def _cases(flags: Mapping[str, list[str]], indent: str, end: str) -> str:
    return "\n".join(
        f'{indent}{name}) opts="{" ".join(options)}" {end}' for name, options in flags.items()
    )


def _bash(prog: str, flags: Mapping[str, list[str]], envs: str) -> str:
    fn = "_" + prog.replace("-", "_")
    return f"""# bash completion for {prog}: eval "$({prog} completion bash)"
{fn}() {{
    local cur prev cmd opts
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{" ".join(flags)} --help --version" -- "$cur"))
        return
    fi
    if [ "$prev" = "--env" ]; then
        COMPREPLY=($(compgen -W "{envs}" -- "$cur"))
        return
    fi
    cmd="${{COMP_WORDS[1]}}"
    case "$cmd" in
{_cases(flags, "        ", ";;")}
        *) opts="" ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}}
complete -o default -F {fn} {prog}
"""


def _zsh(prog: str, flags: Mapping[str, list[str]], envs: str) -> str:
    fn = "_" + prog.replace("-", "_")
    return f"""#compdef {prog}
# zsh completion for {prog}: eval "$({prog} completion zsh)" (after compinit)
{fn}() {{
    local opts
    if (( CURRENT == 2 )); then
        compadd -- {" ".join(flags)} --help --version
        return
    fi
    if [[ "${{words[CURRENT-1]}}" == --env ]]; then
        compadd -- {envs}
        return
    fi
    if [[ "$PREFIX" != -* ]]; then
        _files
        return
    fi
    case "${{words[2]}}" in
{_cases(flags, "        ", ";;")}
        *) opts="" ;;
    esac
    compadd -- ${{=opts}}
}}
compdef {fn} {prog}
"""
