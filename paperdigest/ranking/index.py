"""Where the profiles' terms occur: every keyword and exclude term of every profile, analysed
once, searched for in every paper once, as postings (term, paper, title tf, abstract tf).

Cost: each paper is tokenized once (``bytes.translate`` for ASCII) into token ids; each distinct
surface token is stemmed once. The terms, deduplicated over all profiles, are matched as sparse
products over those ids (one-word terms over tokens, two-word phrases over adjacent pairs); a
longer phrase is checked by one array lookup of its third token where its first two occur, and
followed word by word in Python only where that third token fits.
"""

from __future__ import annotations

from itertools import chain
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from paperdigest.config import Profile
from paperdigest.errors import ConfigError
from paperdigest.models import Paper
from paperdigest.ranking.textmatch import analyse_keyword, surface_keys_many, surface_tokens


TF_SHIFT = 1 << 20  # a term's count in a paper: title tf x TF_SHIFT + abstract tf
CHUNK = 2048  # papers tokenized at a time


class _Node:
    """A trie node over keys: the terms ending here and the keys that continue a phrase."""

    __slots__ = ("children", "ends")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.ends: list[int] = []


@dataclass
class Terms:
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


def keyword_terms(profile: Profile, text: str, terms: Terms, what: str = "keyword") -> list[tuple[str, int]]:
    """The alternatives of one keyword ("a|b") as (alternative as written, term id)."""
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


@dataclass
class Postings:
    """Every match of every term, grouped by term (papers ascending within a term)."""

    starts: np.ndarray  # term id -> first row; rows of term t are starts[t]:starts[t + 1]
    paper: np.ndarray  # int32 paper index
    tf_title: np.ndarray  # int32
    tf_abstract: np.ndarray  # int32
    title_lengths: np.ndarray  # per paper, tokens
    abstract_lengths: np.ndarray

    def of(self, tid: int) -> slice:
        return slice(int(self.starts[tid]), int(self.starts[tid + 1]))

    def df(self, tid: int) -> int:
        return int(self.starts[tid + 1] - self.starts[tid])


def index(papers: Sequence[Paper], terms: Terms) -> Postings:
    """Search every paper for every term, once, with array operations.

    Every distinct surface token gets an id and its keys (stem and exact) once. A field is a run
    of token ids; one-word terms are counted as a sparse product (papers x tokens) x (tokens x
    terms). Two-word phrases the same way over the ids of adjacent token pairs, and a phrase of
    three words or more is followed token by token from where its first two words occur.
    """
    n = len(papers)
    vocab: dict[bytes, int] = {}
    keys: list[tuple[str, str]] = []
    runs: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    lengths: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    for at in range(0, n, CHUNK):  # tokens held a chunk at a time: only their ids are kept
        chunk = papers[at:at + CHUNK]
        fields_toks = ([surface_tokens(p.title) for p in chunk], [surface_tokens(p.abstract) for p in chunk])
        new = list(set(chain.from_iterable(fields_toks[0])).union(chain.from_iterable(fields_toks[1])).difference(vocab))
        vocab.update(zip(new, range(len(vocab), len(vocab) + len(new))))
        keys.extend(surface_keys_many(new))
        for f, toks in enumerate(fields_toks):
            sizes = np.fromiter(map(len, toks), dtype=np.int64, count=len(chunk))
            lengths[f].append(sizes)
            runs[f].append(np.fromiter(map(vocab.__getitem__, chain.from_iterable(toks)), dtype=np.int32,
                                       count=int(sizes.sum())))
    fields = [_Field(np.concatenate(runs[f]) if runs[f] else np.zeros(0, dtype=np.int32),
                     np.concatenate(lengths[f]) if lengths[f] else np.zeros(0, dtype=np.int64), n) for f in (0, 1)]
    width = len(keys)  # one entry per token id
    n_terms = len(terms.keys)
    by_key: dict[str, list[int]] = {}  # key -> the token ids that have it
    for sid, pair in enumerate(keys):
        for k in pair:
            by_key.setdefault(k, []).append(sid)

    # One-word terms: which terms each token matches (by either of its keys).
    rows, cols = [], []
    for k, sids in by_key.items():
        for tid in terms.uni.get(k, ()):
            rows += sids
            cols += [tid] * len(sids)
    word_terms = _binary(rows, cols, (width, n_terms))
    counts = [f.tokens_per_paper(width) @ word_terms for f in fields]

    # Phrases: the token pairs that can start one, then their two-word terms and their longer ones.
    pair_nodes: dict[int, list[_Node]] = {}
    for (k1, k2), node in terms.bi.items():
        for s1 in by_key.get(k1, ()):
            for s2 in by_key.get(k2, ()):
                pair_nodes.setdefault(s1 * width + s2, []).append(node)
    if pair_nodes:
        codes = np.fromiter(pair_nodes, dtype=np.int64, count=len(pair_nodes))
        codes.sort()
        rows, cols = [], []
        for c, code in enumerate(codes.tolist()):
            for node in pair_nodes[code]:
                for tid in node.ends:
                    rows.append(c)
                    cols.append(tid)
        pair_terms = _binary(rows, cols, (len(codes), n_terms))
        firsts = np.zeros(width, dtype=bool)
        firsts[codes // width] = True
        # Phrases of three words or more: the (pair, third token) combinations that continue one.
        third: dict[int, list[_Node]] = {}
        for c, code in enumerate(codes.tolist()):
            for node in pair_nodes[code]:
                for key, child in node.children.items():
                    for sid in by_key.get(key, ()):
                        third.setdefault(c * width + sid, []).append(child)
        third_codes = np.array(sorted(third), dtype=np.int64)
        for i, field in enumerate(fields):
            docs, code_ix, positions = field.pairs_in(codes, width, firsts)
            counts[i] = counts[i] + _count(docs, code_ix, (n, len(codes))) @ pair_terms
            if len(third_codes):
                extra = _follow(field, docs, code_ix, positions, width, third, third_codes, keys, n_terms)
                if extra is not None:
                    counts[i] = counts[i] + extra

    # Postings by term: title and abstract counts packed into one sparse matrix, by column.
    packed = (counts[0].astype(np.int64) * TF_SHIFT + counts[1].astype(np.int64)).tocsc()
    packed.sum_duplicates()
    packed.sort_indices()
    packed.eliminate_zeros()
    tf = packed.data
    return Postings(starts=packed.indptr.astype(np.int64), paper=packed.indices.astype(np.int32),
                    tf_title=(tf // TF_SHIFT).astype(np.int32), tf_abstract=(tf % TF_SHIFT).astype(np.int32),
                    title_lengths=fields[0].lengths.astype(np.float64),
                    abstract_lengths=fields[1].lengths.astype(np.float64))


class _Field:
    """One field (title or abstract) of every paper as token ids: one flat run, and its papers."""

    def __init__(self, ids: np.ndarray, lengths: np.ndarray, n: int) -> None:
        self.lengths = lengths
        self.ids = ids
        self.docs = np.repeat(np.arange(n, dtype=np.int32), self.lengths)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)])[:-1]
        self.n = n

    def tokens_per_paper(self, n_surfaces: int) -> sp.csr_matrix:
        return _count(self.docs, self.ids, (self.n, n_surfaces))

    def pairs_in(self, codes: np.ndarray, width: int, firsts: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(paper, index into ``codes``, position in the paper's field) of every adjacent pair of
        tokens whose code (first id x width + second id) is in the sorted ``codes``; ``firsts``
        marks the ids that start any code (a cheap filter before the search)."""
        if len(self.ids) < 2:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        at = np.flatnonzero(firsts[self.ids[:-1]] & (self.docs[:-1] == self.docs[1:]))
        pair = self.ids[at].astype(np.int64) * width + self.ids[at + 1]
        where = np.searchsorted(codes, pair)
        where[where == len(codes)] = 0
        hit = codes[where] == pair
        at, where = at[hit], where[hit]
        docs = self.docs[at]
        return docs, where, at - self.starts[docs]


def _binary(rows: list[int], cols: list[int], shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape=shape)
    m.data[:] = 1  # a surface matching a term by both keys still counts once
    return m


def _count(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """How often each (row, col) occurs, as a sparse matrix (duplicates add up)."""
    return sp.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape=shape)


def _follow(field: _Field, docs: np.ndarray, code_ix: np.ndarray, positions: np.ndarray, width: int,
            third: dict[int, list[_Node]], third_codes: np.ndarray, keys: list[tuple[str, str]],
            n_terms: int) -> sp.csr_matrix | None:
    """Counts of the phrases of three words or more: the third token of every pair found is
    checked with one array lookup; only the occurrences that go on are followed in Python."""
    ends = field.starts[docs] + field.lengths[docs]  # one past each occurrence's field
    at = field.starts[docs] + positions + 2  # the third token
    ok = at < ends
    enc = code_ix[ok].astype(np.int64) * width + field.ids[at[ok]]
    hit = np.isin(enc, third_codes)
    if not hit.any():
        return None
    ids = field.ids
    counter: dict[tuple[int, int], int] = {}

    def walk(node: _Node, doc: int, i: int, end: int) -> None:
        for tid in node.ends:
            counter[(doc, tid)] = counter.get((doc, tid), 0) + 1
        if node.children and i < end:
            for key in keys[int(ids[i])]:
                child = node.children.get(key)
                if child is not None:
                    walk(child, doc, i + 1, end)

    for doc, code, i, end in zip(docs[ok][hit].tolist(), enc[hit].tolist(), at[ok][hit].tolist(),
                                 ends[ok][hit].tolist()):
        for child in third[code]:
            walk(child, doc, i + 1, end)
    if not counter:
        return None
    (rows, tids), values = zip(*counter.keys()), list(counter.values())
    return sp.csr_matrix((np.array(values, dtype=np.int64), (rows, tids)), shape=(field.n, n_terms))
