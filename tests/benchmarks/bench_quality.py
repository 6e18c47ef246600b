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

Every profile has keywords and a ``description`` (held-out: the readers' own quoted words; dev:
written from the grading guide before any paper was read). "ours" ranks by both, keywords and
meaning (the default embedding model, WordLlama); "keywords" ranks the same profiles without their
description, as paperdigest did before meaning. The baseline scores a paper by substring counts
in its lower-cased title and abstract times the keyword's weight (alternatives summed);
"(words)" is the same baseline counting whole words only. "ceiling" is the nDCG of a perfect
ordering of the papers our ranker lists.

Two more tables: profiles with only their description (no keywords), and the effect of two liked
papers per profile (the two grade-2 papers with the smallest hashes, a reader's "more like
this"), measured on the other papers (the two are left out of the ranking and of the ideal).

Run: ``.venv/bin/python -m tests.benchmarks.bench_quality`` (or the file as a script); add
``--variants`` to also rank under standard alternatives to the shipped parameters (keywords only).
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

import dataclasses  # noqa: E402
from functools import lru_cache  # noqa: E402

import numpy as np  # noqa: E402

from paperdigest.config import Profile, parse_config  # noqa: E402
from paperdigest.models import Paper, fold_title  # noqa: E402
from paperdigest.ranking import lexical as ranking  # noqa: E402
from paperdigest.ranking import rank, rank_profiles  # noqa: E402
from paperdigest.ranking.semantic import Meaning  # noqa: E402
from paperdigest.sources.parse import parse_listing  # noqa: E402

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


Row = tuple[float, float, float, float, float]  # ours, keywords only, baseline, baseline on whole words, ceiling


@lru_cache(maxsize=1)
def _embedder():  # type: ignore[no-untyped-def]
    from paperdigest.ranking.embedding import load_embedder

    return load_embedder("wordllama")


def meaning_of(papers: list[Paper], profiles: list[Profile], liked: dict[str, list[Paper]] | None = None) -> Meaning:
    """The vectors a ranking by meaning needs: the papers', each description's, the liked papers'."""
    from paperdigest.ranking.embedding import paper_text

    emb = _embedder()
    vectors = emb.embed([paper_text(p) for p in papers]).astype(np.float16).astype(np.float32)
    descriptions = {p.name: emb.embed([p.description])[0] for p in profiles if p.description}
    likes = {name: [(p.title, emb.embed([paper_text(p)])[0].astype(np.float16).astype(np.float32)) for p in ps]
             for name, ps in (liked or {}).items()}
    return Meaning(papers=vectors, descriptions=descriptions, liked=likes)


def ranked_hashes(papers: list[Paper], profiles: list[Profile], meaning: Meaning | None) -> dict[str, list[str]]:
    out = rank_profiles(papers, profiles, meaning=meaning)
    return {name: [paper_hash(it.paper) for it in r.items] for name, r in out.items()}


def keywords_only(profiles: list[Profile]) -> list[Profile]:
    return [dataclasses.replace(p, description="", liked=()) for p in profiles]


def evaluate(papers: list[Paper], name: str) -> list[Row] | None:
    """Print one judged set's table; return its rows (one per profile), or None if unusable."""
    profiles, grades = load_judged(name)
    missing = [p.title for p in papers if any(paper_hash(p) not in g for g in grades.values())]
    if missing:
        print(f"{name}: {len(missing)} papers have no judgement (listings changed?)", file=sys.stderr)
        return None
    ours = ranked_hashes(papers, profiles, meaning_of(papers, profiles))
    plain = ranked_hashes(papers, keywords_only(profiles), None)
    print(f"\n{name} set: {len(profiles)} profiles; nDCG@{K}")
    print(f"{'profile':<22}{'ours':>8}{'keywords':>10}{'baseline':>10}{'(words)':>9}{'ceiling':>9}{'relevant (2/1)':>16}")
    rows: list[Row] = []
    for prof in profiles:
        g = grades[prof.name]
        listed = ours[prof.name]
        row = (ndcg(listed, g), ndcg(plain[prof.name], g), ndcg([paper_hash(p) for p in naive_order(papers, prof)], g),
               ndcg([paper_hash(p) for p in naive_order(papers, prof, whole_words=True)], g),
               ndcg(sorted(listed, key=lambda h: -g[h]), g))
        rows.append(row)
        rel = f"{sum(v == 2 for v in g.values())}/{sum(v == 1 for v in g.values())}"
        print(f"{prof.name:<22}{row[0]:>8.3f}{row[1]:>10.3f}{row[2]:>10.3f}{row[3]:>9.3f}{row[4]:>9.3f}{rel:>16}")
    print(f"{'mean':<22}{_mean(rows, 0):>8.3f}{_mean(rows, 1):>10.3f}{_mean(rows, 2):>10.3f}{_mean(rows, 3):>9.3f}"
          f"{_mean(rows, 4):>9.3f}")
    return rows


def description_only(papers: list[Paper]) -> list[float]:
    """nDCG@K of every judged profile ranked by its description alone (no keywords)."""
    print(f"\ndescription only (no keywords); nDCG@{K}")
    out = []
    for name in SETS:
        profiles, grades = load_judged(name)
        bare = [dataclasses.replace(p, keywords={}) for p in profiles]
        ranked = ranked_hashes(papers, bare, meaning_of(papers, bare))
        for prof in bare:
            out.append(ndcg(ranked[prof.name], grades[prof.name]))
            print(f"{name:<8} {prof.name:<22}{out[-1]:>8.3f}")
    print(f"{'mean':<31}{sum(out) / len(out):>8.3f}")
    return out


def with_liked(papers: list[Paper]) -> None:
    """Two liked papers per profile (its two grade-2 papers with the smallest hashes), measured on
    the other papers: keywords; keywords and description; and both with the liked papers."""
    print(f"\ntwo liked papers per profile, ranked on the other papers; nDCG@{K}")
    print(f"{'profile':<22}{'keywords':>10}{'+desc':>8}{'+liked':>8}{'+both':>8}{'liked only':>12}")
    cols: list[list[float]] = [[], [], [], [], []]
    for name in SETS:
        profiles, grades = load_judged(name)
        for prof in profiles:
            g = grades[prof.name]
            liked = sorted(h for h, v in g.items() if v == 2)[:2]
            rest = [p for p in papers if paper_hash(p) not in liked]
            kept = [p for p in papers if paper_hash(p) in liked]
            g_rest = {h: v for h, v in g.items() if h not in liked}
            variants = [
                (keywords_only([prof])[0], None),
                (prof, None),
                (dataclasses.replace(prof, description="", liked=tuple(p.title for p in kept)), kept),
                (dataclasses.replace(prof, liked=tuple(p.title for p in kept)), kept),
                (dataclasses.replace(prof, keywords={}, description="", liked=tuple(p.title for p in kept)), kept),
            ]
            scores = []
            for variant, likes in variants:
                wants = bool(variant.description or variant.liked)
                meaning = meaning_of(rest, [variant], {variant.name: likes} if likes else None) if wants else None
                scores.append(ndcg(ranked_hashes(rest, [variant], meaning)[variant.name], g_rest))
            for c, s in zip(cols, scores):
                c.append(s)
            print(f"{prof.name:<22}{scores[0]:>10.3f}{scores[1]:>8.3f}{scores[2]:>8.3f}{scores[3]:>8.3f}{scores[4]:>12.3f}")
    print(f"{'mean':<22}" + "".join(f"{sum(c) / len(c):>{w}.3f}" for c, w in zip(cols, (10, 8, 8, 8, 12))))


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
                ours = rank(papers, keywords_only(profiles))
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
    above = sum(r[0] > max(r[2], r[3]) for r in every)
    print(f"\nall {len(every)} profiles, mean nDCG@{K}: ours {_mean(every, 0):.3f}, keywords only {_mean(every, 1):.3f}, "
          f"baseline {_mean(every, 2):.3f} ({_mean(every, 3):.3f} on whole words), ceiling {_mean(every, 4):.3f}; "
          f"ours above both baselines on {above} of {len(every)} (goal: >= 0.93 mean, every profile above both)")
    description_only(papers)
    with_liked(papers)
    if "--variants" in argv:
        variants(papers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
