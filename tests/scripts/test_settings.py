"""One module reads the process environment; the README and `--help` list every variable
it reads, with its default, from that module (issue 16 part 6, issue 19 part 7)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from environments import REPO_ROOT, ConfigError, FunctionConfig
from scripts import settings
from scripts.cli import main
from scripts.errors import BadInputError
from scripts.release.timing import Timing, timing_from

_NAMED = re.compile(r"^[A-Z][A-Z0-9_]+$")


def _reads_by_name(tree: ast.AST) -> list[str]:
    """`os.environ.get("X")`, `os.environ["X"]`, `os.getenv("X")`, `"X" in os.environ`."""

    def is_environ(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    def reads(node: ast.AST) -> bool:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return node.func.attr == "getenv" or (
                node.func.attr == "get" and is_environ(node.func.value)
            )
        if isinstance(node, ast.Subscript):
            return is_environ(node.value)
        if isinstance(node, ast.Compare):
            return any(is_environ(c) for c in node.comparators)
        return False

    return [ast.unparse(node) for node in ast.walk(tree) if reads(node)]


def test_only_the_settings_module_reads_a_variable_by_name() -> None:
    offenders = []
    for path in sorted((REPO_ROOT / "scripts").rglob("*.py")):
        if path.name == "settings.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(REPO_ROOT)}: {r}" for r in _reads_by_name(tree)]
        # A knob named anywhere else would be read around the table (and not listed).
        offenders += [
            f"{path.relative_to(REPO_ROOT)}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("LAYERS_")
            and _NAMED.match(node.value)
        ]
    assert offenders == [], "read it through scripts/settings.py (one line: see its docstring)"


def test_the_readme_table_is_the_settings_table() -> None:
    readme = (REPO_ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    start = readme.index("<!-- settings table:")
    end = readme.index("<!-- end of settings table -->")
    shown = readme[start:end].split("\n", 1)[1].strip()
    assert shown == settings.markdown_table(), (
        "regenerate the table in docs/commands.md with `python -m scripts.settings`"
    )


def test_help_lists_every_variable_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "environment variables (default in brackets):" in out
    for setting in settings.SETTINGS:
        assert setting.name in out
        assert f"[{setting.default_text()}]" in out


def test_the_cdktf_app_and_the_tests_variables_are_listed_too() -> None:
    names = {s.name for s in settings.SETTINGS}
    tree = ast.parse((REPO_ROOT / "main.py").read_text(encoding="utf-8"))
    read_by_main = {
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and str(node.value.value).isupper()
        and any(isinstance(t, ast.Name) and t.id.endswith("_VAR") for t in node.targets)
    }
    assert read_by_main == {
        "LAYERS_FAST_PROVIDER_IMPORT",
        "AWS_ENDPOINT_URL",
        "LAYERS_ENVIRONMENTS_DIR",
    }
    assert read_by_main <= names
    conftest = (REPO_ROOT / "tests/scripts/conftest.py").read_text(encoding="utf-8")
    for variable in set(re.findall(r"\bLAYERS_[A-Z0-9_]+", conftest)):
        assert variable in names


def test_the_timing_defaults_are_the_settings_defaults() -> None:
    assert timing_from({}) == Timing()
    assert Timing().settle_timeout_s == settings.LAYERS_SETTLE_TIMEOUT.default


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "soon"])
def test_a_variable_that_does_not_parse_is_bad_input_naming_it(value: str) -> None:
    # nan and inf passed before: a settle timeout of nan never ends.
    with pytest.raises(BadInputError, match=r"^LAYERS_SETTLE_TIMEOUT: got"):
        timing_from({"LAYERS_SETTLE_TIMEOUT": value})


def test_an_unparsable_variable_exits_2_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LAYERS_LOCK_LEASE", "nan")
    assert main(["unlock", "--env", "local", "--store", "/nonexistent/store"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "LAYERS_LOCK_LEASE: got 'nan'" in err


def test_the_configuration_raises_its_own_typed_error() -> None:
    with pytest.raises(ConfigError, match="memory_mb"):
        FunctionConfig(name="api", handler="app.main.handler", memory_mb=1)


def test_a_bug_is_not_reported_as_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ValueError from a bug used to print as "bad input" (exit 2), as if the user erred."""
    (tmp_path / "buggy_command.py").write_text(
        "import math\n"
        "def register(subparsers):\n"
        "    parser = subparsers.add_parser('buggy')\n"
        "    parser.set_defaults(handler=lambda args: {'x': math.sqrt(-1)})\n"
        "    return parser\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from scripts import cli

    monkeypatch.setattr(cli, "COMMANDS", {**cli.COMMANDS, "buggy": "buggy_command"})
    assert main(["buggy", "--json"]) == 1
    captured = capsys.readouterr()
    assert "internal error ValueError: math domain error" in captured.err
    assert "a bug in the tool, not your input" in captured.err
    assert '"exit_code": 1' in captured.out
