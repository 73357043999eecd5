"""The deploy jobs install only `[project] dependencies` (`make setup-runtime`): every module
`python -m scripts` can load must import nothing else at run time, and never cdktf.

Read from the source (AST), so the check costs nothing and sees lazy imports inside functions
too; imports under `if TYPE_CHECKING:` never run and are left out.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from environments import REPO_ROOT

# What the scripts can import at run time: their own package and the modules shared with
# the CDKTF app (configuration and artifact names).
FIRST_PARTY = {"scripts", "environments", "artifacts"}


def _sources(name: str) -> list[Path]:
    """A first-party module or package's source files."""
    module = REPO_ROOT / f"{name}.py"
    return [module] if module.is_file() else sorted((REPO_ROOT / name).rglob("*.py"))


RUNTIME_SOURCES = [path for name in sorted(FIRST_PARTY) for path in _sources(name)]
# boto3's own dependency: installed with it, imported for its exceptions and Config.
TRANSITIVE = {"botocore"}
# Their import costs seconds and hundreds of MB, and the runtime profile does not have them.
INFRA_ONLY = {"cdktf", "cdktf_cdktf_provider_aws", "constructs", "jsii"}


def _import_names(extra: str | None = None) -> set[str]:
    """Import names of `[project] dependencies`, or of one extra (distribution name with
    `-` as `_`: true of every package pinned here)."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements: list[str] = (
        project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    )
    return {
        re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower().replace("-", "_") for r in requirements
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, top-level module) of every import under `tree` that can run."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for statement in node.orelse:  # the body only runs under a type checker
                yield from _runtime_imports(ast.Module(body=[statement], type_ignores=[]))
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        else:
            yield from _runtime_imports(node)


def _foreign_imports(path: Path, allowed: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(REPO_ROOT)}:{line}: {module}"
        for line, module in _runtime_imports(tree)
        if module not in allowed
    ]


def _allowed() -> set[str]:
    return set(sys.stdlib_module_names) | FIRST_PARTY | TRANSITIVE | _import_names()


def test_the_scan_finds_the_scripts() -> None:
    assert REPO_ROOT / "scripts" / "cli.py" in RUNTIME_SOURCES


@pytest.mark.parametrize("path", RUNTIME_SOURCES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_scripts_import_only_runtime_dependencies(path: Path) -> None:
    assert _foreign_imports(path, _allowed()) == []


def test_the_infrastructure_packages_are_in_the_infra_extra_only() -> None:
    assert _import_names().isdisjoint(INFRA_ONLY)
    assert _import_names("infra") == INFRA_ONLY


def test_the_scan_sees_a_lazy_import_and_skips_type_checking_blocks() -> None:
    # The scan could pass by seeing nothing: a function-level cdktf import must be reported,
    # a TYPE_CHECKING-only one must not.
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import jsii\n"
        "else:\n"
        "    import json\n"
        "def synth() -> None:\n"
        "    from cdktf import App\n"
    )
    assert [module for _, module in _runtime_imports(tree)] == ["typing", "json", "cdktf"]
