"""scripts/evaluate.py is a gate: it passes the shipped ranking and fails a deliberately broken one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parents[2]


def _subset(tmp_path: Path, n: int = 24) -> Path:
    """A small dev set with every language pair, to keep the run short."""
    lines = []
    for path in sorted((ROOT / "eval" / "dev").glob("*.jsonl")):
        lines += path.read_text(encoding="utf-8").splitlines()[: n // 3]
    folder = tmp_path / "dev"
    folder.mkdir()
    (folder / "subset.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "evaluate.py"), "--models", "use-multilingual-v3", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


def test_evaluation_fails_a_deliberately_broken_ranking(tmp_path: Path) -> None:
    dev = _subset(tmp_path)
    broken = _run(tmp_path, "--dev-set", str(dev), "--fusion", "lexical", "--json", str(tmp_path / "r.json"))
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "FAIL" in broken.stdout
    results = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    full = results["full ranking (use-multilingual-v3 + English)"]
    assert full["en→zh"]["ndcg@10"] < results["dense use-multilingual-v3"]["en→zh"]["ndcg@10"]
    for s in ("overall", "en→zh", "short"):
        lo, hi = full[s]["ndcg@10_ci95"]
        assert lo <= full[s]["ndcg@10"] <= hi
    assert "95% bootstrap interval" in broken.stdout
    for row in results.values():
        assert {"overall", "zh→zh", "en→zh", "short"} <= set(row)
        assert set(row["overall"]) >= {"ndcg@10", "mrr", "recall@10", "hit@1"}


def test_evaluation_passes_the_shipped_ranking_against_its_own_channels(tmp_path: Path) -> None:
    """On the whole dev set the full ranking beats BM25 and its own dense model on every slice."""
    ok = _run(tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "direction inference" in ok.stdout


def test_a_need_with_ideal_platforms_in_both_languages_counts_in_its_own_language(tmp_path: Path) -> None:
    """Slices must not depend on hash order: a tie between a Chinese and an English ideal platform is the
    query's own language, in every process."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from evaluate import load_dev_set

    item = {
        "id": "x-t1",
        "title": "Fuel cell stack test",
        "summary": "We need stack durability tests.",
        "relevant": {"p-zh": 2, "p-en": 2, "p-zh2": 1},
    }
    (tmp_path / "tie.jsonl").write_text(json.dumps(item) + "\n", encoding="utf-8")
    for order in ({"p-zh": "zh", "p-en": "en"}, {"p-en": "en", "p-zh": "zh"}):
        (loaded, _title) = load_dev_set(tmp_path, order)
        assert loaded.slices == ("overall", "en→en")
    item["relevant"] = {"p-zh": 2, "p-zh2": 2, "p-en": 2}
    (tmp_path / "tie.jsonl").write_text(json.dumps(item) + "\n", encoding="utf-8")
    assert load_dev_set(tmp_path, {"p-zh": "zh", "p-zh2": "zh", "p-en": "en"})[0].slices == (
        "overall",
        "en→zh",
    )


def test_bootstrap_interval_covers_the_mean_narrows_with_more_items_and_repeats() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from evaluate import bootstrap_interval

    values = [0.0, 0.25, 0.5, 1.0, 1.0, 0.75, 0.9, 0.1]
    lo, hi = bootstrap_interval(values)
    assert lo < sum(values) / len(values) < hi
    assert (lo, hi) == bootstrap_interval(values)
    lo4, hi4 = bootstrap_interval(values * 4)
    assert hi4 - lo4 < (hi - lo) * 0.7  # four times the items: about half the width
    assert bootstrap_interval([0.8] * 10) == (0.8, 0.8)
