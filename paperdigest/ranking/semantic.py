"""Meaning beside keywords: how close each paper is to what a reader described or liked, as a
percentile among the papers at hand, fused with the keyword score.

For a profile with a ``description`` or ``liked`` papers (the README's "Ranking" says the same):

1. Vectors are centred on the mean of the reference papers (the papers ranked, plus recent
   stored ones when there are any) and made unit length: what is common to every paper of the
   day ("we propose a model") stops counting as similarity.
2. The query is the centred description, plus the mean of the liked papers, plus the mean of the
   profile's best ``FEEDBACK`` keyword matches of the day (pseudo-relevance feedback, Rocchio
   with equal weights): the reader's words are short, their best matches say the rest in the
   papers' own vocabulary.
3. A paper's meaning percentile ``pct`` is the share of reference papers less similar to the
   query than it is; its score is ``keyword score + pct x M``, where ``M`` is the best keyword
   score among the profile's papers of the day (1 when none matches): meaning counts as much
   as the keywords' best, whatever the profile's weights, and the reasons still add up.
4. A paper that matches no keyword is listed when ``pct >= ENTRY`` (the top 5%; the top 10%,
   ``ENTRY_ALONE``, for a profile without keywords, whose list is all meaning), provided the
   reference holds at least ``MIN_REFERENCE`` papers: among a handful, "top 5%" means nothing.

Parameters (FEEDBACK 5, ENTRY 0.95 and 0.90, the equal weights) were chosen on the dev judged set only;
``tests/benchmarks/bench_quality.py`` measures them on both judged sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

FEEDBACK = 5  # best keyword matches folded into the query
ENTRY = 0.95  # meaning percentile from which a paper enters without a keyword
ENTRY_ALONE = 0.90  # the same for a profile that has no keywords at all
MIN_REFERENCE = 50  # below this many reference papers, nothing enters by meaning alone
MAX_REFERENCE = 2048  # percentiles are taken against at most this many papers (evenly spaced)
CLOSE = 0.9  # from this percentile on, a reason says "close in meaning"
EXACT_PAPERS = 5000  # up to this many papers, percentiles are exact
BINS = 4096  # histogram bins per query above that


@dataclass
class Meaning:
    """The vectors the semantic part of a ranking needs (rows of any length; they are normalised).

    ``papers``: one row per paper ranked, in order (all-zero or NaN: unknown, never similar).
    ``reference``: vectors of other recent papers, for the mean and the percentiles (may be empty).
    ``descriptions``: profile name -> its description's vector.
    ``liked``: profile name -> [(title, vector)] of the liked papers found.
    """

    papers: np.ndarray
    reference: np.ndarray | None = None
    descriptions: dict[str, np.ndarray] = field(default_factory=dict)
    liked: dict[str, list[tuple[str, np.ndarray]]] = field(default_factory=dict)

    def wants(self, name: str) -> bool:
        return name in self.descriptions or bool(self.liked.get(name))


def _unit_rows(m: np.ndarray) -> np.ndarray:
    m = np.nan_to_num(np.asarray(m, dtype=np.float32))
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


class Space:
    """The centred vector space of one ranking: papers, reference, and queries made in it."""

    def __init__(self, meaning: Meaning) -> None:
        papers = _unit_rows(meaning.papers)
        known = np.linalg.norm(papers, axis=1) > 0
        extra = _unit_rows(meaning.reference) if meaning.reference is not None and len(meaning.reference) else None
        pool = papers[known] if extra is None else np.vstack([papers[known], extra[np.linalg.norm(extra, axis=1) > 0]])
        self.n_reference = len(pool)
        self.mean = pool.mean(axis=0) if len(pool) else np.zeros(papers.shape[1], dtype=np.float32)
        self.papers = _unit_rows(papers - self.mean) * known[:, None]
        self.known = known
        if len(pool) > MAX_REFERENCE:
            pool = pool[np.linspace(0, len(pool) - 1, MAX_REFERENCE).round().astype(np.int64)]
        self.reference = _unit_rows(pool - self.mean)
        self.meaning = meaning
        # Each profile's fixed part of the query (description, liked papers), centred once.
        names = list(meaning.descriptions)
        self.descriptions = dict(zip(names, self.centred(np.array([meaning.descriptions[n] for n in names]))
                                     if names else ()))
        self.liked = {name: _unit_rows(np.mean(self.centred(np.array([v for _, v in liked])), axis=0))
                      for name, liked in meaning.liked.items() if liked}

    def centred(self, vector: np.ndarray) -> np.ndarray:
        return _unit_rows(np.asarray(vector, dtype=np.float32) - self.mean)

    def query(self, name: str, feedback: Sequence[int] | np.ndarray) -> np.ndarray:
        """The profile's query: description + liked papers + its best keyword matches (unit each)."""
        query = np.zeros_like(self.mean)
        if name in self.descriptions:
            query += self.descriptions[name]
        if name in self.liked:
            query += self.liked[name]
        if len(feedback):
            fb = self.papers[np.asarray(feedback)].sum(axis=0)
            norm = float(np.sqrt(fb @ fb))
            if norm > 0:
                query += fb / norm
        norm = float(np.sqrt(query @ query))
        return query / norm if norm > 0 else query

    def percentiles(self, queries: np.ndarray) -> np.ndarray:
        """Each paper's percentile (papers x queries): the share of the reference less similar to
        the query, ties counted half. Exact up to ``EXACT_PAPERS`` papers; above, from a histogram
        of the reference in ``BINS`` bins per query (within 1/BINS of its range)."""
        sims = self.papers @ queries.T
        ref = self.reference @ queries.T
        r = max(len(ref), 1)
        if sims.shape[0] <= EXACT_PAPERS:
            ref.sort(axis=0)
            out = np.empty_like(sims)
            for k in range(queries.shape[0]):
                out[:, k] = _share_below(ref[:, k], sims[:, k])
            return out
        lo, hi = ref.min(axis=0), ref.max(axis=0)
        scale = (BINS / np.where(hi > lo, hi - lo, 1.0)).astype(np.float32)
        m = queries.shape[0]
        offsets = (np.arange(m) * (BINS + 2)).astype(np.int32)

        def bins(values: np.ndarray) -> np.ndarray:  # 0: below the reference; BINS + 1: its top and above
            b = (values - lo) * scale
            np.floor(b, out=b)
            np.clip(b, -1, BINS, out=b)
            return b.astype(np.int32) + (offsets + 1)

        counts = np.bincount(bins(ref).ravel(), minlength=m * (BINS + 2)).astype(np.float32)
        table = ((np.cumsum(counts.reshape(m, BINS + 2), axis=1) - 0.5 * counts.reshape(m, BINS + 2)) / r).ravel()
        return table[bins(sims)]

    def rank_of(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The percentile of ``rows`` for one (already centred) query vector."""
        return _share_below(np.sort(self.reference @ vector), self.papers[rows] @ vector)

    def explain(self, name: str, rows: np.ndarray, pct: np.ndarray, ranked_among: int) -> list[str]:
        """Words for each paper's meaning contribution: what it is close to, and how close."""
        desc = self.descriptions.get(name)
        liked = self.meaning.liked.get(name) or []
        to_desc = self.rank_of(desc, rows) if desc is not None else None
        nearest: list[tuple[str, np.ndarray]] = []
        if liked:
            vecs = np.vstack([self.centred(v) for _, v in liked])
            best = np.argmax(self.papers[rows] @ vecs.T, axis=1)
            to_liked = np.array([self.rank_of(vecs[b], rows[i:i + 1])[0] for i, b in enumerate(best)])
            nearest = [(liked[b][0], to_liked[i]) for i, b in enumerate(best)]
        words = []
        for i, p in enumerate(pct):
            share = _share(p, ranked_among)
            if nearest and (to_desc is None or nearest[i][1] > to_desc[i]):
                title = nearest[i][0] if len(nearest[i][0]) <= 80 else nearest[i][0][:79] + "…"
                what = f'like "{title}", which you liked'
            else:
                what = "your description"
            words.append(f"close in meaning to {what} ({share})" if p >= CLOSE
                         else f"meaning: nearer to {what} than {p:.0%} of {ranked_among} papers")
        return words


def _share_below(ref: np.ndarray, sims: np.ndarray) -> np.ndarray:
    """The share of the sorted ``ref`` below each of ``sims`` (values equal to it counted half)."""
    below = np.searchsorted(ref, sims, side="left")
    upto = np.searchsorted(ref, sims, side="right")
    return (below + upto) / (2.0 * max(len(ref), 1))


def _share(pct: float, among: int) -> str:
    top = max(1.0 - pct, 1.0 / max(among, 1))
    return f"top {top:.0%} of {among} papers" if top >= 0.01 else f"top 1% of {among} papers"
