"""The vectors a ranking by meaning needs (:class:`paperdigest.ranking.semantic.Meaning`): the
papers' own from the store (embedded now only when the store lacks them), recent stored papers
as the yardstick of "top 5%", each profile's description (cached in the store by the hash of
its text) and its liked papers (found in the store, or among the papers being ranked).

Nothing is loaded, read or embedded unless some profile has a description or liked papers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from paperdigest.config import Config, Profile
from paperdigest.models import Paper, fold_title, normalize_arxiv_id
from paperdigest.pipeline.semantic import embedder_for
from paperdigest.ranking.semantic import Meaning
from paperdigest.store import Store

REFERENCE = 1000  # recent stored papers the percentiles are also taken against


class MeaningSource:
    """Builds :class:`Meaning` for rankings over one store (or none, for listings alone).

    ``save`` caches what it embeds (description vectors) in the store; a read-only command
    (``rank``, ``preview``) passes False and leaves the store as it was.
    """

    def __init__(self, config: Config, store: Store | None, *, save: bool = True,
                 embedder_factory: Callable[[Config], Any] = embedder_for) -> None:
        self.config = config
        self.store = store
        self.save = save
        self.embedder_factory = embedder_factory
        self._embedder: Any = None

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            self._embedder = self.embedder_factory(self.config)
        return self._embedder

    def for_papers(self, profiles: Sequence[Profile], papers: Sequence[Paper],
                   ids: Sequence[int | None] | None = None) -> Meaning | None:
        """Meaning for ranking ``papers`` (their store ids, where known, in ``ids``) for
        ``profiles``; None when no profile ranks by meaning."""
        wanting = [p for p in profiles if p.needs_embeddings]
        if not wanting:
            return None
        store_ids = list(ids) if ids is not None else self._ids_in_store(papers)
        vectors = self._paper_vectors(papers, store_ids)
        reference = self._reference({i for i in store_ids if i is not None})
        texts = self._text_vectors([p.description for p in wanting if p.description])
        descriptions = {p.name: texts[p.description] for p in wanting if p.description}
        liked = {p.name: self._liked(p.liked, papers, vectors) for p in wanting if p.liked}
        return Meaning(papers=vectors, reference=reference, descriptions=descriptions,
                       liked={k: v for k, v in liked.items() if v})

    # -- the pieces ----------------------------------------------------------------------

    def _ids_in_store(self, papers: Sequence[Paper]) -> list[int | None]:
        if self.store is None or not papers:
            return [None] * len(papers)
        return self.store.paper_ids_of(papers)

    def _paper_vectors(self, papers: Sequence[Paper], ids: Sequence[int | None]) -> np.ndarray:
        from paperdigest.ranking.embedding import paper_text

        emb = self.embedder
        out = np.full((len(papers), emb.dim), np.nan, dtype=np.float32)
        known = [(row, pid) for row, pid in enumerate(ids) if pid is not None]
        if known and self.store is not None:
            stored = self.store.paper_vectors(emb.key, [pid for _, pid in known], dim=emb.dim)
            out[[row for row, _ in known]] = stored
        missing = np.flatnonzero(np.isnan(out).any(axis=1))
        if len(missing):
            # As stored vectors are float16, so are these: the same paper scores the same either way.
            made = emb.embed([paper_text(papers[int(i)]) for i in missing])
            out[missing] = made.astype(np.float16).astype(np.float32)
        return out

    def _reference(self, exclude: set[int]) -> np.ndarray | None:
        if self.store is None:
            return None
        ids = [i for i in self.store.newest_paper_ids(REFERENCE + len(exclude)) if i not in exclude][:REFERENCE]
        if not ids:
            return None
        vectors = self.store.paper_vectors(self.embedder.key, ids, dim=self.embedder.dim)
        return vectors[~np.isnan(vectors).any(axis=1)]

    def _text_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of ``texts``: cached in the store, or embedded now (in one call) and cached."""
        emb = self.embedder
        out = self.store.text_vectors(emb.key, texts) if self.store is not None else {}
        missing = [t for t in dict.fromkeys(texts) if t not in out]
        if missing:
            made = {t: np.asarray(v, dtype=np.float32) for t, v in zip(missing, emb.embed(missing), strict=True)}
            if self.store is not None and self.save:
                self.store.save_text_vectors(emb.key, made)
            out.update(made)
        return out

    def _liked(self, entries: Sequence[str], papers: Sequence[Paper],
               vectors: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """(title, vector) of each liked paper found: among the papers ranked, else in the store."""
        found: list[tuple[str, np.ndarray]] = []
        rest: list[str] = []
        for entry in entries:
            row = _find(entry, papers)
            if row is not None:
                found.append((papers[row].title, vectors[row]))
            else:
                rest.append(entry)
        if rest and self.store is not None:
            ids = self.store.find_liked(rest)
            if ids:
                chosen = list(dict.fromkeys(ids.values()))
                stored = dict(self.store.papers_with_ids(chosen))
                vecs = self._paper_vectors([stored[i] for i in chosen], chosen)
                found += [(stored[i].title, vecs[k]) for k, i in enumerate(chosen)]
        return found


def _find(entry: str, papers: Sequence[Paper]) -> int | None:
    """The row of the paper a liked entry names (by arXiv id, else by folded title)."""
    aid = normalize_arxiv_id(entry)
    key = fold_title(entry)
    for row, p in enumerate(papers):
        if (aid and p.arxiv_id == aid) or (key and p.title_key == key):
            return row
    return None
