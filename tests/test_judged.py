"""The quality benchmark's judged sets stay usable, and the ranker stays ahead of the baseline.

The figures themselves are the benchmark's to print (``tests.benchmarks.bench_quality``); these
tests only hold what must not silently break: every paper of the snapshots is graded for every
profile of each set, nDCG behaves, and on the mean of all judged profiles paperdigest ranks
better than the naive baseline.
"""

from __future__ import annotations

import pytest

from tests.benchmarks import bench_quality as bq


@pytest.fixture
def papers(snapshot_files: list) -> list:  # snapshot_files fails clearly without ../shared
    return bq.load_papers()


@pytest.mark.parametrize("name", bq.SETS)
def test_every_paper_is_graded_for_every_profile(papers, name: str) -> None:
    profiles, grades = bq.load_judged(name)
    assert len(profiles) == 3
    hashes = {bq.paper_hash(p) for p in papers}
    assert len(hashes) == len(papers) == 252
    assert set(grades) == {p.name for p in profiles}
    for g in grades.values():
        assert set(g) == hashes  # no paper missing, none left over from another listing
        assert set(g.values()) <= {0, 1, 2}
        assert sum(v == 2 for v in g.values()) >= 9  # each profile has relevant papers to find


def test_ndcg_is_one_for_the_ideal_order_and_less_otherwise() -> None:
    grades = {"a": 2, "b": 1, "c": 0, "d": 2}
    assert bq.ndcg(["a", "d", "b", "c"], grades) == pytest.approx(1.0)
    assert bq.ndcg(["c", "b", "a", "d"], grades) < bq.ndcg(["a", "b", "d", "c"], grades) < 1.0
    assert bq.ndcg(["a", "d", "b"], grades, k=2) == pytest.approx(1.0)
    assert bq.ndcg([], grades) == 0.0


def test_ranking_beats_the_naive_baseline_and_meaning_beats_keywords_alone_on_the_mean(papers, capsys) -> None:
    rows = [row for name in bq.SETS for row in bq.evaluate(papers, name) or []]
    capsys.readouterr()
    assert len(rows) == 6
    ours, keywords, baseline, words, ceiling = (sum(r[i] for r in rows) / len(rows) for i in range(5))
    assert max(baseline, words) < keywords < ours <= ceiling  # meaning adds to the keywords, on the mean
