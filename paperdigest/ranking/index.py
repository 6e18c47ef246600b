"""Where the profiles' terms occur: every keyword and exclude term of every profile, analysed
once, searched for in every paper once, as postings (term, paper, title tf, abstract tf).

Cost: each paper is tokenized once (``bytes.translate`` for ASCII); each distinct surface token
is stemmed once. The terms, deduplicated over all profiles, are translated into the surface
tokens and surface bigrams that match them as those surfaces are first met, so a field is
searched with one set intersection over its tokens and one over its bigrams, both in C; the
counts of what is found come from ``Counter`` (C as well). Only phrases of three words or more
are followed word by word, and only where their first two words occur.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from paperdigest.config import Profile
from paperdigest.errors import ConfigError
from paperdigest.models import Paper
from paperdigest.ranking.textmatch import analyse_keyword, surface_keys_many, surface_tokens


TF_SHIFT = 1 << 20  # a term's count in a paper: title tf x TF_SHIFT + abstract tf


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


class _Scanner:
    """Counts term occurrences in a field with set operations over its surface tokens.

    The first time a surface token is met, its keys are computed and it is filed under the
    one-word terms it matches and, paired with every known surface of a phrase's other first
    key, under the surface bigrams that start a phrase. A field is then searched with one
    intersection over its distinct tokens and one over its bigrams; Python-level work happens
    only for what is found.
    """

    def __init__(self, terms: Terms) -> None:
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

    def scan(self, title: list[bytes], abstract: list[bytes]) -> dict[int, int]:
        """Term id -> title tf x TF_SHIFT + abstract tf, for one paper (one int: cheaper to
        collect than a pair, and a field never holds 2**20 tokens)."""
        counts: dict[int, int] = {}
        toks = title + [b""] + abstract  # b"" is never a token: no phrase spans the two fields
        n_title = len(title)
        distinct = set(toks)
        if not distinct.issubset(self.known):
            new = [surface for surface in distinct - self.known if surface]
            for surface, keys in zip(new, surface_keys_many(new), strict=True):
                self._learn(surface, keys)
            self.known |= distinct
        words = self.uni_set.intersection(distinct)
        if words:
            in_title = Counter(title)
            in_abstract = Counter(abstract)
            get = counts.get
            for surface in words:
                packed = in_title[surface] * TF_SHIFT + in_abstract[surface]
                for tid in self.uni_terms[surface]:
                    counts[tid] = get(tid, 0) + packed
        pairs = list(zip(toks, toks[1:]))
        found = self.pair_set.intersection(pairs)
        if not found:
            return counts
        title_pairs = Counter(pairs[:n_title])  # the pair (last title word, b"") is no phrase
        abstract_pairs = Counter(pairs[n_title:])
        last = len(toks) - 1
        for pair in found:
            nodes = self.pair_nodes[pair]
            packed = title_pairs[pair] * TF_SHIFT + abstract_pairs[pair]
            longer = False
            for node in nodes:
                longer = longer or bool(node.children)
                for tid in node.ends:  # two-word phrases: the pair counts are their counts
                    counts[tid] = counts.get(tid, 0) + packed
            if not longer:
                continue
            s1, s2 = pair
            i = -1
            for _ in range(toks.count(s1)):
                i = toks.index(s1, i + 1)
                if i < last and toks[i + 1] == s2:
                    field_ix = 0 if i < n_title else 1
                    for node in nodes:
                        if node.children:
                            self._descend(node, toks, i + 2, field_ix, counts)
        return counts

    def _walk(self, node: _Node, toks: list[bytes], i: int, field_ix: int, counts: dict[int, int]) -> None:
        """Count the phrases ending at ``node`` (matched up to position ``i``), then go on."""
        one = TF_SHIFT if field_ix == 0 else 1
        for tid in node.ends:
            counts[tid] = counts.get(tid, 0) + one
        if node.children:
            self._descend(node, toks, i, field_ix, counts)

    def _descend(self, node: _Node, toks: list[bytes], i: int, field_ix: int, counts: dict[int, int]) -> None:
        """Follow the phrases under ``node`` that continue with the token at position ``i``."""
        if i < len(toks) and toks[i]:
            for key in self.keys_of[toks[i]]:
                child = node.children.get(key)
                if child is not None:
                    self._walk(child, toks, i + 1, field_ix, counts)


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
    """Search every paper for every term, once."""
    tids: list[int] = []
    docs: list[int] = []
    packed: list[int] = []
    title_lengths: list[int] = []
    lengths: list[int] = []
    scanner = _Scanner(terms)
    for d, p in enumerate(papers):
        title = surface_tokens(p.title)
        abstract = surface_tokens(p.abstract)
        title_lengths.append(len(title))
        lengths.append(len(abstract))
        counts = scanner.scan(title, abstract)
        if counts:
            tids.extend(counts)
            packed.extend(counts.values())
            docs.extend([d] * len(counts))
    tid_arr = np.array(tids, dtype=np.int32)
    tf = np.array(packed, dtype=np.int64)[np.argsort(tid_arr, kind="stable")]
    order = np.argsort(tid_arr, kind="stable")  # papers stay ascending within a term
    counts = np.bincount(tid_arr, minlength=len(terms.keys))
    starts = np.zeros(len(terms.keys) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return Postings(starts=starts, paper=np.array(docs, dtype=np.int32)[order],
                    tf_title=(tf >> 20).astype(np.int32), tf_abstract=(tf & (TF_SHIFT - 1)).astype(np.int32),
                    title_lengths=np.array(title_lengths, dtype=np.float64),
                    abstract_lengths=np.array(lengths, dtype=np.float64))
