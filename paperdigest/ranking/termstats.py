"""Document frequencies over the store: what IDF is computed from. The store keeps one, made by
one version of the text analysis; a newer analysis makes it stale (rebuilt by the next run)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from paperdigest.errors import StoreError
from paperdigest.models import Paper
from paperdigest.ranking.textmatch import ANALYSIS, surface_keys_many, surface_tokens


class TermStats:
    """Document frequencies of analysis keys (stems, and exact forms prefixed "=") over the store.

    The store keeps one and calls :meth:`add` with each paper once, when it first sees it.
    """

    def __init__(self, n_docs: int = 0, df: dict[str, int] | None = None, analysis: int = ANALYSIS) -> None:
        self.n_docs = n_docs
        self.df: dict[str, int] = dict(df or {})
        self.analysis = analysis  # the text analysis the keys come from (textmatch.ANALYSIS)

    @property
    def current(self) -> bool:
        """False when the keys were made by an older text analysis: rebuild from the papers."""
        return self.analysis == ANALYSIS

    def add(self, papers: Iterable[Paper]) -> None:
        df = self.df
        keys_of: dict[bytes, tuple[str, str]] = {}
        for p in papers:
            surfaces = set(surface_tokens(p.title)).union(surface_tokens(p.abstract))
            new = [surface for surface in surfaces if surface not in keys_of]
            if new:
                keys_of.update(zip(new, surface_keys_many(new), strict=True))
            keys: set[str] = set()
            for surface in surfaces:
                keys.update(keys_of[surface])
            for k in keys:
                df[k] = df.get(k, 0) + 1
            self.n_docs += 1

    def to_json(self) -> str:
        return json.dumps({"version": 1, "analysis": self.analysis, "n_docs": self.n_docs, "df": self.df},
                          separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, s: str) -> TermStats:
        try:
            data = json.loads(s)
            n_docs, df, analysis = data["n_docs"], data["df"], data.get("analysis", 1)
            ok = (data.get("version") == 1 and isinstance(n_docs, int) and n_docs >= 0
                  and isinstance(analysis, int)
                  and isinstance(df, dict) and all(isinstance(v, int) for v in df.values()))
        except (ValueError, TypeError, KeyError, AttributeError):
            ok = False
        if not ok:
            raise StoreError("term statistics: stored value is not valid term-stats JSON")
        return cls(n_docs, df, analysis)
