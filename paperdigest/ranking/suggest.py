"""Keywords a profile lacks: the words and phrases that set the papers a reader keeps apart from
the rest of the store.

Terms are analysed as keywords are (:mod:`paperdigest.ranking.textmatch`: stems, exact keys for
acronyms), as words and as phrases of two or three words within a sentence part, neither
starting nor ending with a function word ("of the" and "models show" are not terms; "mixture of
experts" is). Each term is scored by its *offer weight* (Robertson 1990, "On term selection
for query expansion"), the standard way to pick terms from relevant documents to add to a query:
``r * w``, where ``w`` is the Robertson/Sparck Jones relevance weight

    w = log((r + 0.5) / (R - r + 0.5)) - log((n - r + 0.5) / (N - n - R + r + 0.5))

for ``R`` reader's papers of which ``r`` hold the term, among ``N`` papers in all of which ``n``
hold it. ``w`` is how much more often the term occurs among the reader's papers than among the
others (0: as often); the factor ``r`` favours terms that would bring in papers like many of
the reader's, not one. A term must occur in at least ``MIN_SUPPORT`` of the reader's papers
and be more frequent among them than among the others.

Terms the profile's keywords already cover (a term holding a keyword alternative matches no
paper the keyword does not) and overlapping terms of a better suggestion are left out.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from paperdigest.config import Profile
from paperdigest.models import Paper
from paperdigest.ranking.textmatch import EXACT_PREFIX, analyse_keyword, keyword_key, raw_tokens

MIN_SUPPORT = 2  # reader's papers a term must occur in (1 when there is only one)
MAX_WORDS = 3
# A sentence part ends at punctuation (a full stop only before a space: "3.5" stays whole).
_PARTS_RE = re.compile(r"[,;:!?()\[\]{}\"\u201c\u201d]|\.(?=\s|$)")
STOPWORDS = frozenset("""
a about above across after again against all almost also although am among an and another any are
as at be because been before being below between both but by can could did do does doing done down
during each either else even every for from further had has have having he her here hers him his how
however i if in into is it its itself just least less like many may me might more most much must my
neither no nor not now of off often on once one only onto or other our ours out over own per rather
same several she should since so some such than that the their theirs them then there these they this
those though through thus to too toward towards under until up upon us use used uses using very via
was we well were what when where whether which while who whom whose why will with within without would
yet you your
""".split())


@dataclass
class Suggestion:
    term: str  # as it would be written in the profile's keywords
    score: float  # the offer weight above
    support: int  # how many of the reader's papers hold it
    would_add: list[int] = field(default_factory=list)  # other papers holding it (their ids), newest first


def _parts(paper: Paper) -> Iterable[list[str]]:
    for part in _PARTS_RE.split(f"{paper.title}. {paper.abstract}"):
        toks = raw_tokens(part)
        if toks:
            yield toks


def _is_edge(token: str) -> bool:
    """Whether a token may not start or end a term: a function word, a number, one letter."""
    folded = token.casefold()
    return folded in STOPWORDS or folded.isdigit() or len(folded) < 2


def _surface(tokens: Sequence[str]) -> str:
    """How a term is shown: acronyms as written ("MoE"), other words in lower case."""
    return " ".join(t if keyword_key(t).startswith(EXACT_PREFIX) and not t.islower() else t.lower()
                    for t in tokens)


def _terms(paper: Paper, surfaces: dict[tuple[str, ...], Counter[str]] | None = None) -> set[tuple[str, ...]]:
    """The key sequences of every candidate term of a paper (and, if asked, how each was written)."""
    found: set[tuple[str, ...]] = set()
    for toks in _parts(paper):
        keys = [keyword_key(t) for t in toks]
        for i, first in enumerate(toks):
            if _is_edge(first):
                continue
            for n in range(1, MAX_WORDS + 1):
                if i + n > len(toks):
                    break
                if _is_edge(toks[i + n - 1]):
                    continue
                term = tuple(keys[i:i + n])
                found.add(term)
                if surfaces is not None:
                    surfaces[term][_surface(toks[i:i + n])] += 1
    return found


def _covered(term: tuple[str, ...], known: list[tuple[str, ...]]) -> bool:
    """Whether a known keyword alternative occurs inside ``term`` (then it adds no paper)."""
    for k in known:
        for i in range(len(term) - len(k) + 1):
            if term[i:i + len(k)] == k:
                return True
    return False


def _overlaps(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return any(long_[i:i + len(short)] == short for i in range(len(long_) - len(short) + 1))


def offer_weight(r: int, big_r: int, n: int, big_n: int) -> float:
    """``r * w`` (see the module docstring): ``r`` of the ``big_r`` reader's papers hold the term,
    ``n`` of all ``big_n`` papers do."""
    w = (math.log((r + 0.5) / (big_r - r + 0.5))
         - math.log((n - r + 0.5) / (big_n - n - big_r + r + 0.5)))
    return r * w


def suggest_terms(profile: Profile, kept: Sequence[Paper], others: Sequence[tuple[int, Paper]],
                  limit: int = 15) -> list[Suggestion]:
    """Terms that distinguish ``kept`` (the reader's papers) from ``others`` ((id, paper), newest
    first), best first; each with the other papers holding it."""
    if not kept or not others:
        return []
    surfaces: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    fg: Counter[tuple[str, ...]] = Counter()
    for p in kept:
        fg.update(_terms(p, surfaces))
    known = [t.keys for kw in profile.keywords for t in analyse_keyword(kw)]
    known += [t.keys for ex in profile.exclude for t in analyse_keyword(ex)]
    support = MIN_SUPPORT if len(kept) >= MIN_SUPPORT else 1
    candidates = {t for t, c in fg.items() if c >= support and not _covered(t, known)}
    holders: dict[tuple[str, ...], list[int]] = defaultdict(list)
    starts = {t[0] for t in candidates}
    for pid, p in others:  # only the candidates are looked for: the background is large
        for toks in _parts(p):
            keys = [keyword_key(t) for t in toks]
            for i, k in enumerate(keys):
                if k in starts:
                    for n in range(1, MAX_WORDS + 1):
                        term = tuple(keys[i:i + n])
                        if len(term) == n and term in candidates and (not holders[term] or holders[term][-1] != pid):
                            holders[term].append(pid)
    big_r, big_n = len(kept), len(kept) + len(others)
    scored = []
    for t in candidates:
        r, held = fg[t], len(holders.get(t, ()))
        if r / big_r > held / len(others):  # more frequent among the reader's papers
            scored.append((offer_weight(r, big_r, r + held, big_n), t))
    scored.sort(key=lambda st: (-st[0], -len(st[1]), st[1]))
    chosen: list[tuple[tuple[str, ...], Suggestion]] = []
    for weight, term in scored:
        if len(chosen) >= limit:
            break
        if any(_overlaps(term, c) for c, _ in chosen):
            continue
        term_text = surfaces[term].most_common(1)[0][0]
        chosen.append((term, Suggestion(term_text, round(weight, 2), fg[term],
                                        list(holders.get(term, [])))))
    return [s for _, s in chosen]
