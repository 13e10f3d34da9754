"""scripts/evaluate.py is a gate: it passes the shipped ranking and fails a deliberately broken one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parents[2]


FULL = "full ranking (use-multilingual-v3 + English)"
GAPS = "gap signal"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    """One run of the script on the whole dev set, as ``make evaluate`` runs it (one model, to keep it short),
    and the results it wrote with ``--json``."""
    folder = tmp_path_factory.mktemp("evaluate")
    script = str(ROOT / "scripts" / "evaluate.py")
    done = subprocess.run(
        [sys.executable, script, "--models", "use-multilingual-v3", "--json", str(folder / "r.json")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=folder,
    )
    results = json.loads((folder / "r.json").read_text(encoding="utf-8")) if done.returncode in (0, 1) else {}
    return done, results


def test_evaluation_passes_the_shipped_ranking_against_its_own_channels(run: tuple) -> None:
    """On the whole dev set the full ranking beats BM25 and its own dense model on every slice."""
    done, _ = run
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: the full ranking is at least as good" in done.stdout
    assert "direction inference" in done.stdout and "95% bootstrap interval" in done.stdout


def test_evaluation_writes_every_slice_of_every_channel_with_an_interval(run: tuple) -> None:
    _, results = run
    assert {FULL, "lexical (BM25)", "dense use-multilingual-v3"} <= set(results)
    for name, row in results.items():
        if name == GAPS:
            continue
        assert {"overall", "zh→zh", "en→zh", "short"} <= set(row)
        assert set(row["overall"]) >= {"ndcg@10", "mrr", "recall@10", "hit@1"}
    for s in ("overall", "en→zh", "short"):
        lo, hi = results[FULL][s]["ndcg@10_ci95"]
        assert lo <= results[FULL][s]["ndcg@10"] <= hi


def test_the_gate_fails_a_ranking_worse_than_one_of_its_channels(run: tuple) -> None:
    """The measured rows pass the gate; the same rows with the full ranking's en→zh below the dense channel's
    fail it, naming that slice (the script then prints FAIL and exits 1)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from evaluate import gate_failures

    _, results = run
    rows = [(name, row) for name, row in results.items() if name != GAPS]
    assert gate_failures(rows, results[FULL]) == []
    broken = {s: dict(v) for s, v in results[FULL].items()}
    broken["en→zh"]["ndcg@10"] = results["dense use-multilingual-v3"]["en→zh"]["ndcg@10"] - 0.01
    (failure,) = gate_failures(rows, broken)
    assert failure.startswith("en→zh: full ranking NDCG@10")


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


def test_evaluation_reports_the_gap_signal_per_language_with_intervals(run: tuple) -> None:
    done, results = run
    assert "gap signal at the unmet-demand cut" in done.stdout
    gaps = results[GAPS]
    assert {"overall", "zh", "en", "short"} <= set(gaps)
    for row in gaps.values():
        for rate in ("gap_recall", "false_gap_rate", "good_precision", "possible_precision"):
            value, lo, hi = row[rate]
            assert lo <= value <= hi
        assert 0.5 < row["auc"] <= 1.0 and 0 <= row["ece"] < 1
        assert row["n_no_fit"] > 0 and row["n_fitting"] > 0
    # Both kinds of no-fit need are asked: the written ones and the dev needs without their platforms.
    assert {"gap_recall_written", "gap_recall_removed"} <= set(gaps["overall"])


def test_gap_figures_count_what_they_say() -> None:
    """AUC, ECE, gap recall, false gaps and label precision on a hand-made answer set."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from gaps import Asked, auc, ece, gap_metrics

    def asked(i: str, has_fit: bool, relevant: bool, best: float | None, fit: str | None) -> Asked:
        return Asked(i, ("overall", "en"), has_fit, relevant, best, fit, "" if has_fit else "written")

    answers = [
        asked("a", True, True, 0.9, "good"),
        asked("b", True, True, 0.4, "possible"),  # a false gap at cut 0.5
        asked("c", True, False, 0.7, "good"),  # its first result is wrong: not counted for false gaps
        asked("d", False, False, 0.6, "possible"),  # a gap the cut misses
        asked("e", False, False, 0.2, "weak"),
        asked("f", False, False, None, None),  # no result at all: unmet
    ]
    table = gap_metrics(answers, 0.5, lambda values: (min(values), max(values)))["overall"]
    assert table["gap_recall"][0] == round(2 / 3, 4)
    assert table["false_gap_rate"][0] == 0.5
    assert table["good_precision"][0] == 0.5 and table["possible_precision"][0] == 0.5
    assert table["n_fitting"] == 2 and table["n_no_fit"] == 3
    assert auc([0.9, 0.4], [0.6, 0.2, 0.0]) == 5 / 6
    assert auc([0.5], [0.5]) == 0.5
    # Each score has a bin of its own: |score - relevant| averaged over the five with a result.
    expected = (abs(0.9 - 1) + abs(0.4 - 1) + abs(0.7 - 0) + abs(0.6 - 0) + abs(0.2 - 0)) / 5
    assert abs(ece(answers) - expected) < 1e-9
