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

Cost: each paper is tokenized once (``bytes.translate`` for ASCII); each distinct surface token
is stemmed once. The profiles' terms, deduplicated, are translated into the surface tokens and
surface bigrams that match them as those surfaces are first met, so a field is searched with a
set intersection over its tokens and one over its bigrams, both in C. Scoring then visits only
the matches (an inverted index term -> papers): the work grows with papers x tokens + matches,
not with profiles x keywords x text.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from paperdigest.config import Profile
from paperdigest.errors import ConfigError
from paperdigest.models import Match, Paper, RankedItem
from paperdigest.ranking.termstats import TermStats
from paperdigest.ranking.textmatch import analyse_keyword, surface_keys_many, surface_tokens

K1 = 1.2  # how fast repetition saturates
B = 0.75  # how much a long title or abstract is discounted
TITLE_WEIGHT = 3.0  # one mention in an average title, against at most K1 + 1 for the abstract
PRIOR_DOCS = 20  # pseudo-papers (one matching) blended into IDF: the small-store fallback


# --------------------------------------------------------------------------- terms


class _Node:
    """A trie node over keys: the terms ending here and the keys that continue a phrase."""

    __slots__ = ("children", "ends")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.ends: list[int] = []


@dataclass
class _Terms:
    """Every distinct key sequence of every profile: one-word terms by key, phrases as a
    trie under their first two keys."""

    ids: dict[tuple[str, ...], int] = field(default_factory=dict)
    keys: list[tuple[str, ...]] = field(default_factory=list)
    uni: dict[str, list[int]] = field(default_factory=dict)
    bi: dict[tuple[str, str], _Node] = field(default_factory=dict)

    def add(self, keys: tuple[str, ...]) -> int:
        tid = self.ids.get(keys)
        if tid is None:
            tid = self.ids[keys] = len(self.keys)
            self.keys.append(keys)
            if len(keys) == 1:
                self.uni.setdefault(keys[0], []).append(tid)
            else:
                node = self.bi.setdefault((keys[0], keys[1]), _Node())
                for k in keys[2:]:
                    node = node.children.setdefault(k, _Node())
                node.ends.append(tid)
        return tid


@dataclass
class _Keyword:
    weight: float
    alternatives: list[tuple[str, int]]  # (alternative as written, term id)


def _keyword(profile: Profile, text: str, terms: _Terms, what: str = "keyword") -> list[tuple[str, int]]:
    alts = analyse_keyword(text)
    if not alts:
        raise ConfigError(f'profile "{profile.name}": {what} "{text}" holds no word to match')
    out: list[tuple[str, int]] = []
    seen: set[int] = set()
    for t in alts:
        tid = terms.add(t.keys)
        if tid not in seen:  # "agent|agents" analyse to the same term
            seen.add(tid)
            out.append((t.text, tid))
    return out


# --------------------------------------------------------------------------- matching


class _Scanner:
    """Counts term occurrences in a field with set operations over its surface tokens.

    The first time a surface token is met, its keys are computed and it is filed under the
    one-word terms it matches and, paired with every known surface of a phrase's other first
    key, under the surface bigrams that start a phrase. A field is then searched with one
    intersection over its distinct tokens and one over its bigrams; Python-level work happens
    only for what is found.
    """

    def __init__(self, terms: _Terms) -> None:
        self.terms = terms
        self.keys_of: dict[bytes, tuple[str, str]] = {}
        self.known: set[bytes] = set()
        self.uni_terms: dict[bytes, list[int]] = {}
        self.uni_set: set[bytes] = set()
        self.pair_nodes: dict[tuple[bytes, bytes], list[_Node]] = {}
        self.pair_set: set[tuple[bytes, bytes]] = set()
        self.first_of: dict[str, list[tuple[str, _Node]]] = {}
        self.second_of: dict[str, list[tuple[str, _Node]]] = {}
        for (k1, k2), node in terms.bi.items():
            self.first_of.setdefault(k1, []).append((k2, node))
            self.second_of.setdefault(k2, []).append((k1, node))
        self.surfaces_of: dict[str, list[bytes]] = {}

    def _learn(self, surface: bytes, keys: tuple[str, str]) -> None:
        self.keys_of[surface] = keys
        uni = self.terms.uni
        for k in keys:
            if k in uni:
                self.uni_terms.setdefault(surface, []).extend(uni[k])
                self.uni_set.add(surface)
            if k in self.first_of or k in self.second_of:
                self.surfaces_of.setdefault(k, []).append(surface)
        for k in keys:
            for k2, node in self.first_of.get(k, ()):
                for s2 in self.surfaces_of.get(k2, ()):
                    self._pair(surface, s2, node)
            for k1, node in self.second_of.get(k, ()):
                for s1 in self.surfaces_of.get(k1, ()):
                    self._pair(s1, surface, node)

    def _pair(self, s1: bytes, s2: bytes, node: _Node) -> None:
        nodes = self.pair_nodes.setdefault((s1, s2), [])
        if not any(n is node for n in nodes):
            nodes.append(node)
            self.pair_set.add((s1, s2))

    def scan(self, title: list[bytes], abstract: list[bytes]) -> dict[int, list[int]]:
        """Term id -> [title tf, abstract tf] for one paper."""
        counts: dict[int, list[int]] = {}
        toks = title + [b""] + abstract  # b"" is never a token: no phrase spans the two fields
        n_title = len(title)
        distinct = set(toks)
        if not distinct.issubset(self.known):
            new = [surface for surface in distinct - self.known if surface]
            for surface, keys in zip(new, surface_keys_many(new), strict=True):
                self._learn(surface, keys)
            self.known |= distinct
        for surface in self.uni_set.intersection(distinct):
            in_title = title.count(surface)
            in_abstract = toks.count(surface) - in_title
            for tid in self.uni_terms[surface]:
                c = counts.get(tid)
                if c is None:
                    counts[tid] = [in_title, in_abstract]
                else:
                    c[0] += in_title
                    c[1] += in_abstract
        found = self.pair_set.intersection(zip(toks, toks[1:]))
        if not found:
            return counts
        last = len(toks) - 1
        for pair in found:
            s1, s2 = pair
            nodes = self.pair_nodes[pair]
            i = -1
            for _ in range(toks.count(s1)):
                i = toks.index(s1, i + 1)
                if i < last and toks[i + 1] == s2:
                    field_ix = 0 if i < n_title else 1
                    for node in nodes:
                        self._walk(node, toks, i + 2, field_ix, counts)
        return counts

    def _walk(self, node: _Node, toks: list[bytes], i: int, field_ix: int, counts: dict[int, list[int]]) -> None:
        """Count the phrases under ``node`` (matched so far) that continue at position ``i``."""
        for tid in node.ends:
            c = counts.get(tid)
            if c is None:
                c = counts[tid] = [0, 0]
            c[field_ix] += 1
        if node.children and i < len(toks) and toks[i]:
            for key in self.keys_of[toks[i]]:
                child = node.children.get(key)
                if child is not None:
                    self._walk(child, toks, i + 1, field_ix, counts)


def _index(papers: Sequence[Paper], terms: _Terms
           ) -> tuple[list[list[tuple[int, int, int]]], list[int], list[int]]:
    """Postings per term id: (paper index, title tf, abstract tf); title and abstract lengths."""
    postings: list[list[tuple[int, int, int]]] = [[] for _ in terms.keys]
    title_lengths: list[int] = []
    lengths: list[int] = []
    scanner = _Scanner(terms)
    for d, p in enumerate(papers):
        title = surface_tokens(p.title)
        abstract = surface_tokens(p.abstract)
        title_lengths.append(len(title))
        lengths.append(len(abstract))
        for tid, (a, b) in scanner.scan(title, abstract).items():
            postings[tid].append((d, a, b))
    return postings, title_lengths, lengths


def _norms(lengths: list[int]) -> list[float]:
    """BM25's length normalisation of one field: 1 for a field of average length.

    The average is over the papers that have the field: an abstract not yet available is
    absent, not short, so it neither lowers the average (raising every other paper's norm)
    nor counts as a perfectly focused abstract (it has no term to score anyway)."""
    present = [n for n in lengths if n]
    avg = max(sum(present) / len(present), 1.0) if present else 1.0
    return [1.0 - B + B * n / avg for n in lengths]


# --------------------------------------------------------------------------- scoring


def _idf(n_docs: int, df: float) -> float:
    n, d = n_docs + PRIOR_DOCS, min(df, n_docs) + 1
    return math.log(1.0 + (n - d + 0.5) / (d + 0.5))


def _doc_freq(tid: int, terms: _Terms, postings: list[list[tuple[int, int, int]]],
              stats: TermStats | None, anchors: dict[int, int]) -> float:
    """A term's df: counted in ``papers``; with store stats, the store's (estimated for phrases)."""
    local = len(postings[tid])
    if stats is None:
        return local
    keys = terms.keys[tid]
    if len(keys) == 1:
        return max(local, stats.df.get(keys[0], 0))
    # A phrase: the store knows only its words. Take the rarest word's store df, scaled by the
    # share of that word's papers (among those being ranked) that hold the whole phrase.
    anchor = anchors[tid]
    a_local = len(postings[anchor])
    est = stats.df.get(terms.keys[anchor][0], 0) * (local / a_local if a_local else 1.0)
    return max(local, est)


_WHERE = ("abstract", "title", "title+abstract")  # by (tf_title > 0) + (both > 0)


def rank(papers: Sequence[Paper], profiles: Sequence[Profile],
         stats: TermStats | None = None) -> dict[str, list[RankedItem]]:
    """Every paper that matches a profile's keywords and none of its excludes, best first.

    With ``stats`` None, IDF counts ``papers`` themselves. Otherwise ``stats`` should be the
    store's statistics *including* these papers; N and df are never taken below what ``papers``
    show, so stats that lack them are still safe. Ties break on the casefolded title, then the
    arXiv id, so the order does not depend on the order of ``papers``.
    """
    # Ranking allocates many small acyclic objects; cyclic GC passes over them would only cost.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _rank(papers, profiles, stats)
    finally:
        if was_enabled:
            gc.enable()


def _rank(papers: Sequence[Paper], profiles: Sequence[Profile],
          stats: TermStats | None) -> dict[str, list[RankedItem]]:
    terms = _Terms()
    plans: list[tuple[Profile, list[_Keyword], list[int]]] = []
    for prof in profiles:
        kws = [_Keyword(float(w), _keyword(prof, text, terms)) for text, w in prof.keywords.items()]
        excl = [tid for text in prof.exclude for _, tid in _keyword(prof, text, terms, "exclude term")]
        plans.append((prof, kws, excl))
    anchors: dict[int, int] = {}
    if stats is not None:
        for tid, keys in list(enumerate(terms.keys)):
            if len(keys) > 1:
                rarest = min(keys, key=lambda k: stats.df.get(k, 0))
                anchors[tid] = terms.add((rarest,))

    postings, title_lengths, lengths = _index(papers, terms)
    n_docs = len(papers) if stats is None else max(stats.n_docs, len(papers))
    title_norms, norms = _norms(title_lengths), _norms(lengths)
    k1p = K1 + 1

    scored: dict[int, list[tuple[int, float, str]]] = {}  # term id -> (paper, idf * field, where)

    def term_scores(tid: int) -> list[tuple[int, float, str]]:
        got = scored.get(tid)
        if got is None:
            idf = _idf(n_docs, _doc_freq(tid, terms, postings, stats, anchors))
            got = scored[tid] = [
                (d, idf * (TITLE_WEIGHT * a * k1p / (a + K1 * title_norms[d]) + b * k1p / (b + K1 * norms[d])),
                 _WHERE[(a > 0) + (a > 0 < b)])
                for d, a, b in postings[tid]]
        return got

    ties: dict[int, tuple[str, str]] = {}
    result: dict[str, list[RankedItem]] = {}
    for prof, kws, excl in plans:
        # paper -> its keywords' (contribution, keyword order, alternative, where), in keyword order
        acc: dict[int, list[tuple[float, int, str, str]]] = {}
        for order, kw in enumerate(kws):
            w = kw.weight
            if len(kw.alternatives) == 1:
                alt_text, tid = kw.alternatives[0]
                for d, base, where in term_scores(tid):
                    entry = acc.get(d)
                    if entry is None:
                        acc[d] = [(w * base, order, alt_text, where)]
                    else:
                        entry.append((w * base, order, alt_text, where))
                continue
            best: dict[int, tuple[float, str, str]] = {}
            for alt_text, tid in kw.alternatives:  # synonyms: the best alternative counts
                for d, base, where in term_scores(tid):
                    prev = best.get(d)
                    if prev is None or base > prev[0]:
                        best[d] = (base, alt_text, where)
            for d, (base, alt_text, where) in best.items():
                acc.setdefault(d, []).append((w * base, order, alt_text, where))
        for tid in excl:
            for d, _, _ in postings[tid]:
                acc.pop(d, None)
        items: list[tuple[float, tuple[str, str], int, RankedItem]] = []
        for d, ms in acc.items():
            if len(ms) == 1:
                c, _, alt_text, where = ms[0]
                item = RankedItem(papers[d], c, (Match(alt_text, where, c),))
            else:
                score = sum([m[0] for m in ms])  # in keyword order: the same sum on every run
                ms.sort(key=lambda m: (-m[0], m[1]))
                item = RankedItem(papers[d], score, tuple([Match(m[2], m[3], m[0]) for m in ms]))
            tie = ties.get(d)
            if tie is None:  # independent of input order; cheaper than fold_title
                tie = ties[d] = (papers[d].title.casefold(), papers[d].arxiv_id or "")
            items.append((-item.score, tie, d, item))
        items.sort(key=lambda it: it[:3])
        result[prof.name] = [it[3] for it in items]
    return result


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
        "matched": [m.term for m in ms],
        "reasons": [{"term": m.term, "where": m.where, "contribution": round(m.contribution, 4)} for m in ms],
        "why": item.why(),
        "url": p.url,
        "arxiv_id": p.arxiv_id,
    }


__all__ = ["K1", "B", "TITLE_WEIGHT", "PRIOR_DOCS", "rank", "select", "item_to_json", "items_to_json"]
