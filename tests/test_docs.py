"""The docs a clone holds: every relative link in README and docs/ points at a file that
exists (a link outside the repository breaks in a clone), and the runbooks the issue
names are there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from environments import REPO_ROOT

DOCS = sorted([REPO_ROOT / "README.md", *(REPO_ROOT / "docs").rglob("*.md")])
_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a URL or an anchor on the same page
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(REPO_ROOT), f"{page.name}: {target} leaves the repository"
        assert path.exists(), f"{page.name}: {target} does not exist"


def test_the_design_and_the_runbooks_are_in_the_repository() -> None:
    assert (REPO_ROOT / "docs" / "design" / "lambda-layers-design.md").is_file()
    runbooks = {p.stem for p in (REPO_ROOT / "docs" / "runbooks").glob("*.md")}
    assert {
        "first-deploy",
        "deploy",
        "rollback",
        "prune",
        "add-function",
        "add-environment",
        "stale-lock",
    } <= runbooks


def test_the_front_page_is_short() -> None:
    """A newcomer reads the README first: what it is, two commands, the quickstart, links."""
    readme = REPO_ROOT / "README.md"
    assert readme.stat().st_size < 15 * 1024
    text = readme.read_text(encoding="utf-8")
    for page in ("docs/glossary.md", "docs/commands.md", "docs/releasing.md", "docs/migrating.md"):
        assert f"]({page})" in text, page
