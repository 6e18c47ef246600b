"""Ranking quality: nDCG@20 of our ranker and of a naive baseline against human judgements.

The judged set: every paper of the three listings in ``../shared/snapshots`` (deduplicated by
folded title), graded 0/1/2 for each profile of ``judged/profiles.toml`` by reading it. The
grades live in ``judged/judgements.json``, keyed by the sha256 of ``fold_title(title)`` so that
no text of ``../shared`` enters the project. The baseline scores a paper by substring counts
in its lower-cased title and abstract times the keyword's weight (alternatives summed).

Run: ``.venv/bin/python -m tests.benchmarks.bench_quality`` (or the file as a script).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flows.config import Profile, parse_config  # noqa: E402
from flows.models import Paper, fold_title  # noqa: E402
from flows.parse import parse_listing  # noqa: E402
from flows.ranking import TermStats, rank  # noqa: E402

HERE = Path(__file__).resolve().parent
SNAPSHOTS = ROOT.parent / "shared" / "snapshots"
K = 20


def paper_hash(p: Paper) -> str:
    return hashlib.sha256(fold_title(p.title).encode()).hexdigest()


def load_papers() -> list[Paper]:
    seen: dict[str, Paper] = {}
    for f in sorted(SNAPSHOTS.glob("*.txt")):
        for p in parse_listing(f.read_bytes(), name=f.name).papers:
            seen.setdefault(p.title_key, p)
    return list(seen.values())


def load_judged() -> tuple[list[Profile], dict[str, dict[str, int]]]:
    path = HERE / "judged" / "profiles.toml"
    profiles = list(parse_config(tomllib.loads(path.read_text()), path).profiles)
    data = json.loads((HERE / "judged" / "judgements.json").read_text())
    names = data["profiles"]
    grades = {h: dict(zip(names, g)) for h, g in data["grades"].items()}
    return profiles, grades


def ndcg(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    def dcg(rels: list[int]) -> float:
        return sum((2 ** r - 1) / math.log2(i + 2) for i, r in enumerate(rels[:k]))

    ideal = dcg(sorted(grades.values(), reverse=True))
    return dcg([grades.get(h, 0) for h in ranked]) / ideal if ideal else 0.0


def naive_order(papers: list[Paper], profile: Profile) -> list[Paper]:
    terms = [(alt.strip().lower(), w) for kw, w in profile.keywords.items() for alt in kw.split("|")]
    scored = []
    for i, p in enumerate(papers):
        text = (p.title + "\n" + p.abstract).lower()
        s = sum(text.count(t) * w for t, w in terms)
        if s > 0:
            scored.append((-s, i, p))
    scored.sort(key=lambda x: x[:2])
    return [p for _, _, p in scored]


def main() -> int:
    papers = load_papers()
    profiles, grades = load_judged()
    missing = [p.title for p in papers if paper_hash(p) not in grades]
    if missing:
        print(f"{len(missing)} papers have no judgement (listings changed?)", file=sys.stderr)
        return 1
    ours = rank(papers, profiles)
    stats = TermStats()
    stats.add(papers)
    ours_stats = rank(papers, profiles, stats)
    print(f"{len(papers)} judged papers; nDCG@{K}")
    print(f"{'profile':<22}{'ours':>8}{'ours+stats':>12}{'baseline':>10}{'relevant (2/1)':>16}")
    totals = [0.0, 0.0, 0.0]
    for prof in profiles:
        g = {h: v[prof.name] for h, v in grades.items()}
        row = [ndcg([paper_hash(it.paper) for it in ours[prof.name]], g),
               ndcg([paper_hash(it.paper) for it in ours_stats[prof.name]], g),
               ndcg([paper_hash(p) for p in naive_order(papers, prof)], g)]
        totals = [t + r for t, r in zip(totals, row)]
        rel = f"{sum(v == 2 for v in g.values())}/{sum(v == 1 for v in g.values())}"
        print(f"{prof.name:<22}{row[0]:>8.3f}{row[1]:>12.3f}{row[2]:>10.3f}{rel:>16}")
    n = len(profiles)
    print(f"{'mean':<22}{totals[0] / n:>8.3f}{totals[1] / n:>12.3f}{totals[2] / n:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
