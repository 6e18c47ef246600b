"""Rank papers against keyword profiles: BM25-style scores with an explanation per keyword.

Scoring (the README's "Ranking" section says the same for readers): for a keyword alternative ``t`` (a word
or a phrase) and a paper,

    field(t) = TITLE_WEIGHT * sat(tf_title, norm_title) + sat(tf_abstract, norm_abstract)
    sat(tf, n) = tf * (K1 + 1) / (tf + K1 * n),   norm_f = 1 - B + B * len_f / avg_len_f
    idf(t)   = ln(1 + (N' - df' + 0.5) / (df' + 0.5)),   N' = N + PRIOR_DOCS,  df' = df + 1
    contribution = weight * idf(t) * field(t)

A keyword's contribution is that of its best alternative; a paper's score is the sum over the
profile's keywords. Since ``sat`` never exceeds ``K1 + 1`` (2.2) and one title mention gives
``TITLE_WEIGHT`` (3) in a title of average length, a title mention outweighs any number of
abstract mentions of the same term. Both fields are normalised by length (BM25F): a term in a
short title is more what the paper is about than the same term in a long one.
The prior (as if the store also held PRIOR_DOCS papers, one of them matching) keeps IDF sane on
a small store and fades as the store grows.

Cost: :mod:`paperdigest.ranking.index` finds every term of every profile in every paper once.
Scoring is then array work, whatever the profiles: one vector of contributions per distinct term
(numpy), one sparse column per distinct keyword (its best alternative per paper), and the
profiles' scores as one sparse matrix product (keywords x weights), taken a block of profiles at
a time so memory stays bounded. Python-level work is left for what is shown: the items of each
profile's list and their reasons. So a broad profile ("of the", "results") costs about what a
narrow one does, where a loop over its matches would cost in proportion to them.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from paperdigest.config import Profile
from paperdigest.models import Match, Paper, RankedItem
from paperdigest.ranking.termstats import TermStats
from paperdigest.ranking.index import Postings, Terms, index, keyword_terms

K1 = 1.2  # how fast repetition saturates
B = 0.75  # how much a long title or abstract is discounted
TITLE_WEIGHT = 3.0  # one mention in an average title, against at most K1 + 1 for the abstract
PRIOR_DOCS = 20  # pseudo-papers (one matching) blended into IDF: the small-store fallback


_WHERE = ("abstract", "title", "title+abstract")  # by (tf_title > 0) + (both > 0)


def _norms(lengths: np.ndarray) -> np.ndarray:
    """BM25's length normalisation of one field: 1 for a field of average length.

    The average is over the papers that have the field: an abstract not yet available is
    absent, not short, so it neither lowers the average (raising every other paper's norm)
    nor counts as a perfectly focused abstract (it has no term to score anyway)."""
    present = lengths[lengths > 0]
    avg = max(float(present.sum()) / len(present), 1.0) if len(present) else 1.0
    return 1.0 - B + B * lengths / avg


def _idf(n_docs: int, df: float) -> float:
    n, d = n_docs + PRIOR_DOCS, min(df, n_docs) + 1
    return math.log(1.0 + (n - d + 0.5) / (d + 0.5))


def _doc_freq(tid: int, terms: Terms, postings: Postings, stats: TermStats | None, anchors: dict[int, int]) -> float:
    """A term's df: counted in ``papers``; with store stats, the store's (estimated for phrases)."""
    local = postings.df(tid)
    if stats is None:
        return local
    keys = terms.keys[tid]
    if len(keys) == 1:
        return max(local, stats.df.get(keys[0], 0))
    # A phrase: the store knows only its words. Take the rarest word's store df, scaled by the
    # share of that word's papers (among those being ranked) that hold the whole phrase.
    anchor = anchors[tid]
    a_local = postings.df(anchor)
    est = stats.df.get(terms.keys[anchor][0], 0) * (local / a_local if a_local else 1.0)
    return max(local, est)


@dataclass
class _Column:
    """One distinct keyword ("a|b" as term ids): its best alternative in each paper that has one."""

    rows: np.ndarray  # paper indices, ascending
    base: np.ndarray  # idf x field weight of the best alternative (before the keyword's weight)
    code: np.ndarray  # alternative index x 4 + where index (into _WHERE)


# A profile's keywords, in order: (weight, alternatives as written, column of the keyword matrix).
_Plan = list[tuple[float, list[str], int]]


class LexicalScores:
    """Every profile's keyword score of every paper, and the reasons behind any of them.

    ``block`` gives the scores of a range of profiles as a dense array (papers x profiles) in
    one sparse matrix product; ``reasons`` explains the few (paper, profile) pairs a list shows.
    """

    def __init__(self, n_papers: int, plans: list[_Plan], columns: list[_Column], excluded: sp.csc_matrix) -> None:
        self.plans = plans
        self.columns = columns
        n = n_papers
        indptr = np.zeros(len(columns) + 1, dtype=np.int64)
        np.cumsum([len(c.rows) for c in columns], out=indptr[1:])
        data = np.concatenate([c.base for c in columns]) if columns else np.zeros(0)
        rows = np.concatenate([c.rows for c in columns]) if columns else np.zeros(0, dtype=np.int32)
        self.matrix = sp.csc_matrix((data, rows, indptr), shape=(n, len(columns))).tocsr()
        w_rows = [col for plan in plans for _, _, col in plan]
        w_cols = [j for j, plan in enumerate(plans) for _ in plan]
        w_data = [w for plan in plans for w, _, _ in plan]
        # Duplicates (two keywords of one profile on the same terms) add up, as their reasons do.
        self.weights = sp.csc_matrix((w_data, (w_rows, w_cols)), shape=(len(columns), len(plans)))
        self.excluded = excluded

    def block(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores (papers x profiles start:stop, 0 where no keyword matches) and the mask of
        excluded papers, which no list may show."""
        scores = (self.matrix @ self.weights[:, start:stop]).toarray()
        return scores, self.excluded[:, start:stop].toarray()

    def reasons(self, j: int, rows: np.ndarray) -> list[tuple[float, tuple[Match, ...]]]:
        """(score, matches best first) of profile ``j`` for the papers ``rows``. The score is the
        sum of the contributions in keyword order, so the same papers always get the same score."""
        found: list[tuple[int, float, list[bool], list[float], list[int], list[str]]] = []
        for order, (w, alts, col) in enumerate(self.plans[j]):
            c = self.columns[col]
            if not len(c.rows):
                continue
            pos = np.minimum(np.searchsorted(c.rows, rows), len(c.rows) - 1)
            hit = c.rows[pos] == rows
            if hit.any():
                found.append((order, w, hit.tolist(), c.base[pos].tolist(), c.code[pos].tolist(), alts))
        out: list[tuple[float, tuple[Match, ...]]] = []
        for i in range(len(rows)):
            ms = [(w * base[i], order, alts[code[i] >> 2], _WHERE[code[i] & 3])
                  for order, w, hit, base, code, alts in found if hit[i]]
            score = sum([m[0] for m in ms])  # in keyword order: the same sum on every run
            if len(ms) > 1:
                ms.sort(key=lambda m: (-m[0], m[1]))
            out.append((score, tuple([Match(m[2], m[3], m[0]) for m in ms])))
        return out


def score(papers: Sequence[Paper], profiles: Sequence[Profile], stats: TermStats | None = None) -> LexicalScores:
    """Analyse the profiles' keywords, find them in the papers and score every pair.

    With ``stats`` None, IDF counts ``papers`` themselves. Otherwise ``stats`` should be the
    store's statistics *including* these papers; N and df are never taken below what ``papers``
    show, so stats that lack them are still safe.
    """
    terms = Terms()
    specs: list[tuple[Profile, list[tuple[float, list[tuple[str, int]]]], list[int]]] = []
    for prof in profiles:
        kws = [(float(w), keyword_terms(prof, text, terms)) for text, w in prof.keywords.items()]
        excl = [tid for text in prof.exclude for _, tid in keyword_terms(prof, text, terms, "exclude term")]
        specs.append((prof, kws, excl))
    anchors: dict[int, int] = {}
    if stats is not None:
        for tid, keys in list(enumerate(terms.keys)):
            if len(keys) > 1:
                rarest = min(keys, key=lambda k: stats.df.get(k, 0))
                anchors[tid] = terms.add((rarest,))
    postings = index(papers, terms)
    n_docs = len(papers) if stats is None else max(stats.n_docs, len(papers))
    title_norms, norms = _norms(postings.title_lengths), _norms(postings.abstract_lengths)
    k1p = K1 + 1

    bases: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def term_base(tid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(papers, idf x field weight, where index) of one term: one vector operation."""
        got = bases.get(tid)
        if got is None:
            s = postings.of(tid)
            d = postings.paper[s]
            a = postings.tf_title[s].astype(np.float64)
            b = postings.tf_abstract[s].astype(np.float64)
            idf = _idf(n_docs, _doc_freq(tid, terms, postings, stats, anchors))
            base = idf * (TITLE_WEIGHT * a * k1p / (a + K1 * title_norms[d]) + b * k1p / (b + K1 * norms[d]))
            where = (a > 0).astype(np.int16) + ((a > 0) & (b > 0))
            got = bases[tid] = (d, base, where)
        return got

    column_of: dict[tuple[int, ...], int] = {}
    columns: list[_Column] = []
    plans: list[_Plan] = []
    for _, kws, _ in specs:
        plan: _Plan = []
        for w, alts in kws:
            key = tuple(tid for _, tid in alts)
            col = column_of.get(key)
            if col is None:
                col = column_of[key] = len(columns)
                columns.append(_best_alternative([term_base(tid) for tid in key], len(papers)))
            plan.append((w, [text for text, _ in alts], col))
        plans.append(plan)
    ex_rows: list[np.ndarray] = []
    ex_cols: list[np.ndarray] = []
    for j, (_, _, excl) in enumerate(specs):
        for tid in excl:
            d = postings.paper[postings.of(tid)]
            ex_rows.append(d)
            ex_cols.append(np.full(len(d), j, dtype=np.int32))
    rows = np.concatenate(ex_rows) if ex_rows else np.zeros(0, dtype=np.int32)
    cols = np.concatenate(ex_cols) if ex_cols else np.zeros(0, dtype=np.int32)
    excluded = sp.csc_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(len(papers), len(plans)))
    return LexicalScores(len(papers), plans, columns, excluded)


def _best_alternative(alternatives: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n: int) -> _Column:
    """Synonyms: in each paper the alternative with the highest weight counts (the first on a tie)."""
    if len(alternatives) == 1:
        d, base, where = alternatives[0]
        return _Column(d, base, where)
    best = np.zeros(n)
    code = np.zeros(n, dtype=np.int16)
    for i, (d, base, where) in enumerate(alternatives):
        better = base > best[d]  # strictly: an earlier alternative keeps a tie
        hit = d[better]
        best[hit] = base[better]
        code[hit] = where[better] + 4 * i
    rows = np.unique(np.concatenate([a[0] for a in alternatives]))
    return _Column(rows, best[rows], code[rows])


def tie_order(papers: Sequence[Paper]) -> np.ndarray:
    """Each paper's place among equal scores: by casefolded title, then arXiv id, so a list's order
    never depends on the order of the input."""
    order = sorted(range(len(papers)), key=lambda d: (papers[d].title.casefold(), papers[d].arxiv_id or "", d))
    rank_of = np.empty(len(papers), dtype=np.int64)
    rank_of[order] = np.arange(len(papers))
    return rank_of


def rank(papers: Sequence[Paper], profiles: Sequence[Profile], stats: TermStats | None = None, *,
         limit: int | None = None) -> dict[str, list[RankedItem]]:
    """Every paper that matches a profile's keywords and none of its excludes, best first (at
    most ``limit`` per profile). Ties break on the casefolded title, then the arXiv id."""
    from paperdigest.ranking.ranker import rank_profiles

    return {name: ranked.items for name, ranked in rank_profiles(papers, profiles, stats, limit=limit).items()}


def select(items: Sequence[RankedItem], profile: Profile) -> list[RankedItem]:
    """What a digest shows: ranked items at or above ``min_score``, at most ``max_items``."""
    return [it for it in items if it.score >= profile.min_score][: profile.max_items]


def items_to_json(items: Iterable[RankedItem]) -> list[dict[str, Any]]:
    """:func:`item_to_json` for many items, with cyclic GC paused: building tens of thousands of
    small dicts otherwise triggers full collections over a large heap (several times slower)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [item_to_json(it) for it in items]
    finally:
        if was_enabled:
            gc.enable()


def item_to_json(item: RankedItem) -> dict[str, Any]:
    """One ranked item as the JSON outputs show it (scores rounded to 4 decimals)."""
    p = item.paper
    ms = item.matches
    return {
        "title": p.title,
        "score": round(item.score, 4),
        "matched": item.matched,
        "reasons": [{"term": m.term, "where": m.where, "contribution": round(m.contribution, 4)} for m in ms],
        "why": item.why(),
        "url": p.url,
        "arxiv_id": p.arxiv_id,
    }


__all__ = ["K1", "B", "TITLE_WEIGHT", "PRIOR_DOCS", "rank", "select", "item_to_json", "items_to_json"]
