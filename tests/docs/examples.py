"""Find the shell and JSON examples in README.md and docs/*.md, run them, and compare shown answers.

The rules (also in docs/development.md):

* A fenced `` ```sh `` block is run by bash, in the repository's root, against a live `pilotmatch serve` on a
  copy of the demo data. ``$BASE`` is the service's address and ``$ADMIN_KEY`` its admin key; `pilotmatch` runs
  the CLI on the same database. The blocks of one page run in order in one shell (a variable set in one block
  is there in the next), with ``set -eo pipefail``, and ``curl`` fails on an HTTP error status.
* A `` ```json `` block right after a `sh` block (no other fenced block between) is the answer that block
  prints: the real answer must have the same keys, at every level. Values may differ. A ``"..."`` key allows
  keys that are not shown; a ``"..."`` item in a list stands for items not shown.
* Words after the language mark a block: ``no-run`` (never run, for `make run`, installs and the like; on a
  json block: not an answer to check), ``error`` (the request is meant to get an HTTP error status), and on a
  json block ``values`` (strings must match too, numbers to within 0.002; a string ending in ``...`` is a
  prefix).
* Any other `json` block must say ``no-run``, so no example is left unchecked by accident.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```([\w-]*)([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
TOLERANCE = 0.002


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    flags: frozenset[str]
    body: str

    @property
    def where(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page
        return f"{page}:{self.line}"

    @property
    def runs(self) -> bool:
        return "no-run" not in self.flags


@dataclass(frozen=True)
class Example:
    """A shell block to run and, when the page shows one, the JSON answer it must print."""

    command: Block
    answer: Block | None = None


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [
        Block(page, text.count("\n", 0, m.start()) + 1, m.group(1), frozenset(m.group(2).split()), m.group(3))
        for m in FENCE.finditer(text)
    ]


def examples(page: Path) -> list[Example]:
    """The page's runnable examples, each with its answer. A json block that answers nothing is an error."""
    found: list[Example] = []
    previous: Block | None = None
    for block in blocks(page):
        if block.lang == "sh" and block.runs:
            found.append(Example(block))
        elif block.lang == "json" and block.runs:
            if previous is None or previous.lang != "sh" or not previous.runs:
                raise ValueError(
                    f"{block.where}: a json block that does not follow a sh block it answers; mark it ```json no-run"
                )
            found[-1] = Example(found[-1].command, block)
        previous = block
    return found


def script(steps: list[Example], out: Path) -> str:
    """One bash script for a page: each block's output goes to ``out/<n>.out`` and ``out/<n>.err``, and
    ``out/<n>.ok`` is written when the block has finished without error."""
    lines = [
        "set -eo pipefail",
        'curl() { if [ -n "${EXPECT_ERROR:-}" ]; then command curl "$@"; '
        'else command curl --fail-with-body "$@"; fi; }',
    ]
    for n, step in enumerate(steps):
        expect = "EXPECT_ERROR=1" if "error" in step.command.flags else "EXPECT_ERROR="
        target = shlex.quote(str(out / str(n)))
        lines += [
            f"# {step.command.where}",
            expect,
            "{",
            step.command.body.rstrip("\n"),
            f"}} > {target}.out 2> {target}.err",
            f": > {target}.ok",
        ]
    return "\n".join(lines) + "\n"


def differences(shown: Any, real: Any, values: bool = False, where: str = "$") -> list[str]:
    """How the real answer differs from the one shown: keys (always) and values (with ``values``)."""
    if isinstance(shown, dict):
        if not isinstance(real, dict):
            return [f"{where}: shown an object, got {json.dumps(real, ensure_ascii=False)[:80]}"]
        keys = [k for k in shown if k != "..."]
        found = [f"{where}: no key {k!r}" for k in keys if k not in real]
        if "..." not in shown:
            found += [f"{where}: key {k!r} is not shown" for k in real if k not in shown]
        for k in keys:
            if k in real:
                found += differences(shown[k], real[k], values, f"{where}.{k}")
        return found
    if isinstance(shown, list):
        if not isinstance(real, list):
            return [f"{where}: shown a list, got {json.dumps(real, ensure_ascii=False)[:80]}"]
        items = [item for item in shown if item != "..."]
        if items and not real:
            return [f"{where}: shown {len(items)} items, got an empty list"]
        if values and len(real) < len(items):
            return [f"{where}: shown {len(items)} items, got {len(real)}"]
        found = []
        for i, item in enumerate(items):
            found += differences(item, real[min(i, len(real) - 1)], values, f"{where}[{i}]")
        return found
    if isinstance(real, dict | list):
        return [f"{where}: shown {shown!r}, got a {type(real).__name__}"]
    if not values or shown == real:
        return []
    if (
        isinstance(shown, str)
        and isinstance(real, str)
        and shown.endswith("...")
        and real.startswith(shown[:-3])
    ):
        return []
    if _number(shown) and _number(real) and abs(shown - real) <= TOLERANCE:
        return []
    return [f"{where}: shown {shown!r}, got {real!r}"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
