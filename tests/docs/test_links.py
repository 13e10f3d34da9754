"""Links between README.md and the pages under docs/ lead somewhere: the file exists, and so does the heading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.examples import ROOT

pytestmark = pytest.mark.backend_independent

LINK = re.compile(r"\]\(([^)\s]+)\)|<img src=\"([^\"]+)\"")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.MULTILINE)}


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_a_file_and_heading(page: Path) -> None:
    broken = []
    for match in LINK.finditer(page.read_text(encoding="utf-8")):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z]+:", target):
            continue  # an outside address
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        missing_heading = anchor and file.suffix == ".md" and file.exists() and anchor not in _anchors(file)
        if not file.exists() or missing_heading:
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_slugs_follow_github() -> None:
    assert _slug("Deleting, and who sees what") == "deleting-and-who-sees-what"
    assert _slug("Calibration and `fit`") == "calibration-and-fit"
    assert _slug("A platform's key") == "a-platforms-key"


PATH_IN_CODE = re.compile(r"`((?:matcher|api|scripts|tests|eval|docs)/[\w./-]*)`")


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_files_named_in_the_text_exist(page: Path) -> None:
    named = {m.group(1).rstrip("/.") for m in PATH_IN_CODE.finditer(page.read_text(encoding="utf-8"))}
    missing = sorted(path for path in named if "..." not in path and not (ROOT / path).exists())
    assert not missing, f"{page.relative_to(ROOT)} names files that do not exist: {missing}"
