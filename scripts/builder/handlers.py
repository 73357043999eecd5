"""Every configured handler must exist in the function package, checked without importing.

The package's imports need the layer (and often AWS), so the check reads the module's
source instead: the handler's name must be bound at the module's top level (a `def`, an
assignment such as `handler = Mangum(app)`, or an import). A module with `import *` is
given the benefit of the doubt.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from scripts.errors import BadInputError


class HasHandler(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def handler(self) -> str: ...


def _bound_names(body: Iterable[ast.stmt]) -> tuple[set[str], bool]:
    names: set[str] = set()
    star = False
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            star = star or any(a.name == "*" for a in node.names)
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            blocks = [node.body, getattr(node, "orelse", [])]
            blocks += [h.body for h in getattr(node, "handlers", [])]
            blocks.append(getattr(node, "finalbody", []))
            for block in blocks:
                found, more = _bound_names(block)
                names |= found
                star = star or more
    return names, star


def handler_problem(handler: str, files: Mapping[str, Path]) -> str | None:
    """Why `module.path.function` is not in the package, or None when it is."""
    module, _, function = handler.rpartition(".")
    base = module.replace(".", "/")
    candidates = (f"{base}.py", f"{base}/__init__.py")
    name = next((c for c in candidates if c in files), None)
    if name is None:
        return f"{candidates[0]} is not in the package"
    try:
        tree = ast.parse(files[name].read_bytes(), filename=name)
    except SyntaxError as err:
        return f"{name}:{err.lineno}: syntax error ({err.msg})"
    names, star = _bound_names(tree.body)
    if function in names or star:
        return None
    return f"{name} defines no `{function}`"


def check_handlers(functions: Sequence[HasHandler], entries: Iterable[tuple[str, Path]]) -> None:
    """Refuse the package when any function's handler module or function is missing."""
    files = dict(entries)
    problems = []
    for function in functions:
        problem = handler_problem(function.handler, files)
        if problem:
            problems.append(f"function {function.name} (handler {function.handler}): {problem}")
    if problems:
        raise BadInputError(
            f"{'; '.join(problems)}: fix the handler in environments (functions[].handler) or "
            "the code, or include the module in the package"
        )
