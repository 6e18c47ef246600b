"""A ranking of papers for many profiles at once: keyword scores for every (paper, profile)
pair, fused with meaning where a profile has a description or liked papers, then each
profile's list cut to its best and explained.

Profiles are taken a block at a time, so memory stays bounded (papers x block) however many
profiles there are; within a block everything is array work except the items a list shows.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from paperdigest.config import Profile
from paperdigest.models import Match, Paper, RankedItem
from paperdigest.ranking.lexical import score, tie_order
from paperdigest.ranking.semantic import ENTRY, ENTRY_ALONE, FEEDBACK, MIN_REFERENCE, Meaning, Space
from paperdigest.ranking.termstats import TermStats

BLOCK = 128  # profiles scored together: papers x BLOCK float64 scores at a time


@dataclass
class Ranked:
    """One profile's list: its best items (at most the limit asked for), and how many papers it
    lists in all, before the limit."""

    items: list[RankedItem]
    listed: int


def rank_profiles(papers: Sequence[Paper], profiles: Sequence[Profile], stats: TermStats | None = None, *,
                  limit: int | None = None, min_score: bool = False, meaning: Meaning | None = None
                  ) -> dict[str, Ranked]:
    """Rank ``papers`` for every profile: best first, ties on the casefolded title then the arXiv
    id. ``limit`` caps each list; ``min_score`` drops items below the profile's ``min_score``
    (a digest's rule; ``paperdigest rank`` lists every match). With ``meaning``, a profile that
    has a description or liked papers is ranked by keywords and meaning together
    (:mod:`paperdigest.ranking.semantic`); the others exactly as without it."""
    was_enabled = gc.isenabled()
    gc.disable()  # many small acyclic objects: cyclic GC passes would only cost
    try:
        return _rank(papers, profiles, stats, limit, min_score, meaning)
    finally:
        if was_enabled:
            gc.enable()


def _rank(papers: Sequence[Paper], profiles: Sequence[Profile], stats: TermStats | None, limit: int | None,
          min_score: bool, meaning: Meaning | None) -> dict[str, Ranked]:
    lexical = score(papers, profiles, stats)
    ties = tie_order(papers)
    space = Space(meaning) if meaning is not None and any(meaning.wants(p.name) for p in profiles) else None

    def rank_block(start: int) -> dict[str, Ranked]:
        stop = min(start + BLOCK, len(profiles))
        scores, excluded = lexical.block(start, stop)
        if excluded.any():
            scores[excluded] = 0.0
        fused = _with_meaning(space, profiles, start, scores, excluded, ties)
        out: dict[str, Ranked] = {}
        for k, j in enumerate(range(start, stop)):
            prof = profiles[j]
            col = scores[:, k]
            if k in fused:
                total, extra, keep, words = fused[k]
            else:
                total, extra, keep, words = col, None, col > 0, None
            if min_score and prof.min_score > 0:
                keep = keep & (total >= prof.min_score)
            rows = np.flatnonzero(keep)
            chosen = _best(rows, total, limit)
            explained = lexical.reasons(j, chosen)
            notes = words(chosen) if words is not None else None
            items = []
            for i, (d, (s, ms)) in enumerate(zip(chosen.tolist(), explained)):
                if extra is not None and notes is not None:
                    bonus = float(extra[d])
                    s, ms = s + bonus, _merged(ms, Match(notes[i], "meaning", bonus))
                items.append((-s, int(ties[d]), RankedItem(papers[d], s, ms)))
            items.sort(key=lambda it: it[:2])
            out[prof.name] = Ranked([it[2] for it in items][:limit], len(rows))
        return out

    return {name: ranked for start in range(0, len(profiles), BLOCK) for name, ranked in rank_block(start).items()}


def _with_meaning(space: Space | None, profiles: Sequence[Profile], start: int, scores: np.ndarray,
                  excluded: np.ndarray, ties: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, Any]]:
    """For the block's profiles that have a description or liked papers: (total score, meaning
    contribution, which papers are listed, a function that words the reasons), by column."""
    if space is None:
        return {}
    wanted = [k for k in range(scores.shape[1]) if space.meaning.wants(profiles[start + k].name)]
    if not wanted:
        return {}
    lexical = scores if len(wanted) == scores.shape[1] else scores[:, wanted]
    feedback = _feedback(lexical, ties)
    queries = np.vstack([space.query(profiles[start + k].name, feedback[i]) for i, k in enumerate(wanted)])
    pct = space.percentiles(queries)
    known = space.known
    if not known.all():
        pct *= known[:, None]
    best = lexical.max(axis=0)
    extra = pct * np.where(best > 0, best, 1.0).astype(np.float32)
    gates = np.array([ENTRY if profiles[start + k].keywords else ENTRY_ALONE for k in wanted], dtype=np.float32)
    keep = pct >= gates
    if space.n_reference < MIN_REFERENCE:
        keep[:] = False
    elif not known.all():
        keep &= known[:, None]
    blocked = excluded if len(wanted) == scores.shape[1] else excluded[:, wanted]
    if blocked.any():
        keep &= ~blocked
    keep |= lexical > 0
    out: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, Any]] = {}
    for i, k in enumerate(wanted):
        name, p = profiles[start + k].name, pct[:, i]

        def words(rows: np.ndarray, name: str = name, p: np.ndarray = p) -> list[str]:
            return space.explain(name, rows, p[rows], space.n_reference) if len(rows) else []

        out[k] = (lexical[:, i] + extra[:, i], extra[:, i], keep[:, i], words)
    return out


def _feedback(lexical: np.ndarray, ties: np.ndarray) -> list[np.ndarray]:
    """Each column's best FEEDBACK keyword matches (ties in the list's order)."""
    out = []
    for c in range(lexical.shape[1]):
        col = lexical[:, c]
        best = _best(np.flatnonzero(col > 0), col, FEEDBACK)
        out.append(best[np.lexsort((ties[best], -col[best]))[:FEEDBACK]])
    return out


def _merged(matches: tuple[Match, ...], note: Match) -> tuple[Match, ...]:
    """The keyword reasons and the meaning reason, best first (the keywords first on a tie)."""
    return tuple(sorted((*matches, note), key=lambda m: -m.contribution))


def _best(rows: np.ndarray, scores: np.ndarray, limit: int | None) -> np.ndarray:
    """The rows of the ``limit`` best scores (every row tied with the last one too: the exact
    scores and the tie order decide among them)."""
    if limit is None or len(rows) <= limit:
        return rows
    values = scores[rows]
    cut = np.partition(values, len(values) - limit)[len(values) - limit]
    return rows[values >= cut]
