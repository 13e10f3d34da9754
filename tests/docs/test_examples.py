"""Every shell example in README.md and docs/*.md runs against a live server on the demo data, and every JSON
answer they show has the keys the service really answers with (rules in tests/docs/examples.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from matcher.runtime import Runtime
from tests import live
from tests.conftest import ADMIN_KEY, copy_demo
from tests.docs.examples import ROOT, Block, Example, blocks, differences, examples, pages, script

pytestmark = pytest.mark.backend_independent

#: The most one page's examples may take (the CLI loads the models once per command).
PAGE_TIMEOUT = 180


@pytest.fixture(scope="module")
def shell_env(demo_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment the examples run in: a live `pilotmatch serve` on a copy of the demo, `$BASE`,
    `$ADMIN_KEY`, and a `pilotmatch` command on the same database."""
    folder = tmp_path_factory.mktemp("docs-examples")
    database_url = copy_demo(demo_runtime, folder)
    port = live.free_port()
    server = live.serve(folder, port, database_url)
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    cli = bin_dir / "pilotmatch"
    cli.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m api.cli "$@"\n', encoding="utf-8")
    cli.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "BASE": f"http://127.0.0.1:{port}",
        "ADMIN_KEY": ADMIN_KEY,
        "PILOTMATCH_DATABASE_URL": database_url,
        "PILOTMATCH_INDEX_DIR": str(folder / "indexes"),
        "PILOTMATCH_ADMIN_KEY": ADMIN_KEY,
        "NO_COLOR": "1",
        "COLUMNS": "120",
    }
    try:
        yield env
    finally:
        server.terminate()
        server.wait(timeout=30)


def _pages_with_examples() -> list[Path]:
    return [page for page in pages() if any(b.lang in ("sh", "json") and b.runs for b in blocks(page))]


@pytest.mark.parametrize("page", _pages_with_examples(), ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run_and_answer_as_shown(page: Path, shell_env: dict[str, str], tmp_path: Path) -> None:
    steps = examples(page)
    done = subprocess.run(
        ["bash", "-c", script(steps, tmp_path)],
        cwd=ROOT,
        env=shell_env,
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT,
    )
    problems: list[str] = []
    for n, step in enumerate(steps):
        out = (tmp_path / f"{n}.out").read_text(encoding="utf-8") if (tmp_path / f"{n}.out").exists() else ""
        if not (tmp_path / f"{n}.ok").exists():
            err = (
                (tmp_path / f"{n}.err").read_text(encoding="utf-8")
                if (tmp_path / f"{n}.err").exists()
                else ""
            )
            problems.append(
                f"{step.command.where}: exited with {done.returncode}\n--- output\n{out[-2000:]}\n--- errors\n"
                f"{err[-2000:]}{done.stderr[-500:]}"
            )
            break
        if step.answer is not None:
            problems += _answer_problems(step, out)
    assert not problems, "\n\n".join(problems)


def _answer_problems(step: Example, out: str) -> list[str]:
    answer: Block = step.answer  # type: ignore[assignment]
    try:
        shown = json.loads(answer.body)
    except json.JSONDecodeError as exc:
        return [f"{answer.where}: the answer shown is not valid JSON ({exc})"]
    try:
        real = json.loads(out)
    except json.JSONDecodeError:
        return [f"{step.command.where}: printed something other than one JSON document:\n{out[:1000]}"]
    found = differences(shown, real, values="values" in answer.flags)
    return [f"{answer.where}: {d}" for d in found]


def test_a_json_block_must_answer_a_command_or_say_no_run(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('Text.\n\n```json\n{"a": 1}\n```\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no-run"):
        examples(page)
    page.write_text('```sh\necho \'{"a": 1}\'\n```\n\n```json\n{"a": 1}\n```\n', encoding="utf-8")
    [example] = examples(page)
    assert example.answer is not None and json.loads(example.answer.body) == {"a": 1}


def test_an_answer_with_other_keys_is_reported() -> None:
    shown = {"matches": [{"platform_id": 1, "score": 0.5, "...": "..."}], "inferred_directions": []}
    assert (
        differences(
            shown, {"matches": [{"platform_id": 7, "score": 0.9, "name": "x"}], "inferred_directions": []}
        )
        == []
    )
    assert differences(shown, {"matches": [{"platform_id": 7}], "inferred_directions": []}) == [
        "$.matches[0]: no key 'score'"
    ]
    assert differences(shown, {"technologies": [], "inferred_directions": []}) == [
        "$: no key 'matches'",
        "$: key 'technologies' is not shown",
    ]
    assert differences({"score": 0.653, "fit": "good"}, {"score": 0.552, "fit": "possible"}, values=True) == [
        "$.score: shown 0.653, got 0.552",
        "$.fit: shown 'good', got 'possible'",
    ]
