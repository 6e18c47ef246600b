"""Ranking quality: nDCG@20 of our ranker and of a naive baseline against human judgements.

The judged papers: every paper of the three listings in ``../shared/snapshots`` (deduplicated
by folded title). Two judged sets of reader profiles, each in ``judged/<set>/``: the profiles
(``profiles.toml``) and a 0/1/2 grade of every paper for every profile, given by reading it
(``judgements.json``, keyed by the sha256 of ``fold_title(title)`` so that no text of
``../shared`` enters the project).

- ``dev``: the profiles the ranker was built and examined against.
- ``heldout``: profiles written from three readers' descriptions of their interest by someone
  who had not seen the listings, papers graded by judges who had not seen the ranker or its
  output; measured once the ranker was settled. This is the honest figure for profiles the
  ranker has not seen.

The baseline scores a paper by substring counts in its lower-cased title and abstract times the
keyword's weight (alternatives summed); "(words)" is the same baseline counting whole words
only. "ceiling" is the nDCG of a perfect ordering of the papers our ranker lists: what no
ranker that keeps the issue's matching rules (a phrase is its words adjacent and in order; a
paper matching no keyword is never listed) can beat.

Run: ``.venv/bin/python -m tests.benchmarks.bench_quality`` (or the file as a script); add
``--variants`` to also rank under standard alternatives to the shipped parameters.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from paperdigest.ranking import lexical as ranking  # noqa: E402
from paperdigest.config import Profile, parse_config  # noqa: E402
from paperdigest.models import Paper, fold_title  # noqa: E402
from paperdigest.sources.parse import parse_listing  # noqa: E402
from paperdigest.ranking import rank  # noqa: E402

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


SETS = ("dev", "heldout")


def load_judged(name: str = "dev") -> tuple[list[Profile], dict[str, dict[str, int]]]:
    """A judged set: its profiles, and per profile name the grade of each paper hash."""
    folder = HERE / "judged" / name
    path = folder / "profiles.toml"
    profiles = list(parse_config(tomllib.loads(path.read_text()), path).profiles)
    data = json.loads((folder / "judgements.json").read_text())
    grades: dict[str, dict[str, int]] = {n: {} for n in data["profiles"]}
    for h, row in data["grades"].items():
        for n, g in zip(data["profiles"], row, strict=True):
            grades[n][h] = g
    return profiles, grades


def ndcg(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    def dcg(rels: list[int]) -> float:
        return sum((2 ** r - 1) / math.log2(i + 2) for i, r in enumerate(rels[:k]))

    ideal = dcg(sorted(grades.values(), reverse=True))
    return dcg([grades.get(h, 0) for h in ranked]) / ideal if ideal else 0.0


def naive_order(papers: list[Paper], profile: Profile, whole_words: bool = False) -> list[Paper]:
    """The baseline; ``whole_words`` counts only whole-word occurrences ("math" not in "mathematical")."""
    alts = [(alt.strip().lower(), w) for kw, w in profile.keywords.items() for alt in kw.split("|")]
    if whole_words:
        patterns = [(re.compile(rf"\b{re.escape(t)}\b"), w) for t, w in alts]
    scored = []
    for i, p in enumerate(papers):
        text = (p.title + "\n" + p.abstract).lower()
        if whole_words:
            s = sum(len(pat.findall(text)) * w for pat, w in patterns)
        else:
            s = sum(text.count(t) * w for t, w in alts)
        if s > 0:
            scored.append((-s, i, p))
    scored.sort(key=lambda x: x[:2])
    return [p for _, _, p in scored]


Row = tuple[float, float, float, float]  # ours, baseline, baseline on whole words, ceiling


def evaluate(papers: list[Paper], name: str) -> list[Row] | None:
    """Print one judged set's table; return its rows (one per profile), or None if unusable."""
    profiles, grades = load_judged(name)
    missing = [p.title for p in papers if any(paper_hash(p) not in g for g in grades.values())]
    if missing:
        print(f"{name}: {len(missing)} papers have no judgement (listings changed?)", file=sys.stderr)
        return None
    ours = rank(papers, profiles)
    print(f"\n{name} set: {len(profiles)} profiles; nDCG@{K}")
    print(f"{'profile':<22}{'ours':>8}{'baseline':>10}{'(words)':>9}{'ceiling':>9}{'relevant (2/1)':>16}")
    rows: list[Row] = []
    for prof in profiles:
        g = grades[prof.name]
        listed = [paper_hash(it.paper) for it in ours[prof.name]]
        row = (ndcg(listed, g), ndcg([paper_hash(p) for p in naive_order(papers, prof)], g),
               ndcg([paper_hash(p) for p in naive_order(papers, prof, whole_words=True)], g),
               ndcg(sorted(listed, key=lambda h: -g[h]), g))
        rows.append(row)
        rel = f"{sum(v == 2 for v in g.values())}/{sum(v == 1 for v in g.values())}"
        print(f"{prof.name:<22}{row[0]:>8.3f}{row[1]:>10.3f}{row[2]:>9.3f}{row[3]:>9.3f}{rel:>16}")
    print(f"{'mean':<22}{_mean(rows, 0):>8.3f}{_mean(rows, 1):>10.3f}{_mean(rows, 2):>9.3f}{_mean(rows, 3):>9.3f}")
    return rows


def _mean(rows: list[Row], i: int) -> float:
    return sum(r[i] for r in rows) / len(rows)


_BM25_IDF = ranking._idf


def _sqrt_idf(n_docs: int, df: float) -> float:
    return math.sqrt(_BM25_IDF(n_docs, df))

# Standard alternatives to the shipped parameters, to show how much (or little) they matter.
VARIANTS: tuple[tuple[str, dict[str, object]], ...] = (
    ("as shipped: k1 1.2, b 0.75, title 3", {}),
    ("k1 2.0", {"K1": 2.0}),
    ("k1 100 (repetition barely saturates)", {"K1": 100.0}),
    ("title weight 2", {"TITLE_WEIGHT": 2.0}),
    ("title weight 1 (fields equal)", {"TITLE_WEIGHT": 1.0}),
    ("b 0 (no length normalisation)", {"B": 0.0}),
    ("square root of IDF", {"_idf": _sqrt_idf}),
    ("no IDF", {"_idf": lambda n, df: 1.0}),
)


@contextlib.contextmanager
def patched(changes: dict[str, object]) -> Iterator[None]:
    saved = {k: getattr(ranking, k) for k in changes}
    try:
        for k, v in changes.items():
            setattr(ranking, k, v)
        yield
    finally:
        for k, v in saved.items():
            setattr(ranking, k, v)


def variants(papers: list[Paper]) -> None:
    """nDCG@K of every profile of every set under each variant (one line per variant)."""
    judged = [load_judged(name) for name in SETS]
    names = [p.name for profiles, _ in judged for p in profiles]
    print(f"\nvariants; nDCG@{K} per profile ({', '.join(names)}), then the mean of all")
    for label, changes in VARIANTS:
        with patched(changes):
            row = []
            for profiles, grades in judged:
                ours = rank(papers, profiles)
                row += [ndcg([paper_hash(it.paper) for it in ours[prof.name]], grades[prof.name])
                        for prof in profiles]
        print(f"{label:<40}{''.join(f'{x:>7.3f}' for x in row)}   mean {sum(row) / len(row):.3f}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    papers = load_papers()
    print(f"{len(papers)} judged papers (all papers of ../shared/snapshots)")
    results = [evaluate(papers, name) for name in SETS]
    if any(r is None for r in results):
        return 1
    every = [row for r in results if r for row in r]
    print(f"\nall {len(every)} profiles, mean nDCG@{K}: ours {_mean(every, 0):.3f}, "
          f"baseline {_mean(every, 1):.3f} ({_mean(every, 2):.3f} on whole words), ceiling {_mean(every, 3):.3f}")
    if "--variants" in argv:
        variants(papers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
