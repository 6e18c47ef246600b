"""The vectors a ranking by meaning needs (:class:`paperdigest.ranking.semantic.Meaning`): the
papers' own from the store (embedded now only when the store lacks them), recent stored papers
as the yardstick of "top 5%", each profile's description (cached in the store by the hash of
its text) and its liked papers (found in the store, or among the papers being ranked).

Nothing is loaded, read or embedded unless some profile has a description or liked papers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from paperdigest.config import Config, Profile
from paperdigest.models import Paper, fold_title, normalize_arxiv_id
from paperdigest.pipeline.semantic import embedder_for
from paperdigest.store import Store

if TYPE_CHECKING:  # numpy and the ranking load only when a profile ranks by meaning
    import numpy as np

    from paperdigest.ranking.semantic import Meaning

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
        self._newest: tuple[list[int], np.ndarray] | None = None  # newest stored ids, their vectors
        self._fetched = 0  # how many newest ids were asked for (fewer came: the store has no more)

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
        from paperdigest.ranking.semantic import Meaning

        store_ids = list(ids) if ids is not None else self._ids_in_store(papers)
        vectors = self._paper_vectors(papers, store_ids)
        reference = self._reference({i for i in store_ids if i is not None})
        texts = self._text_vectors([p.description for p in wanting if p.description])
        descriptions = {p.name: texts[p.description] for p in wanting if p.description}
        liked: dict[str, list[tuple[str, np.ndarray]]] = {}
        if any(p.liked for p in wanting):
            rows = _Rows(papers, store_ids)
            for p in wanting:
                found = self._liked(p.liked, rows, vectors)
                if found:
                    liked[p.name] = found
        return Meaning(papers=vectors, reference=reference, descriptions=descriptions, liked=liked)

    # -- the pieces ----------------------------------------------------------------------

    def _ids_in_store(self, papers: Sequence[Paper]) -> list[int | None]:
        if self.store is None or not papers:
            return [None] * len(papers)
        return self.store.paper_ids_of(papers)

    def _paper_vectors(self, papers: Sequence[Paper], ids: Sequence[int | None]) -> np.ndarray:
        import numpy as np

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
        """Vectors of up to REFERENCE newest stored papers that are not being ranked (read once
        per source: a run ranks profile after profile against the same store)."""
        import numpy as np

        if self.store is None:
            return None
        need = REFERENCE + len(exclude)
        if self._newest is None or (need > self._fetched and len(self._newest[0]) == self._fetched):
            ids = self.store.newest_paper_ids(need)
            self._fetched = need
            self._newest = (ids, self.store.paper_vectors(self.embedder.key, ids, dim=self.embedder.dim))
        ids, vectors = self._newest
        keep = [k for k, i in enumerate(ids) if i not in exclude][:REFERENCE]
        if not keep:
            return None
        chosen = vectors[keep]
        return chosen[~np.isnan(chosen).any(axis=1)]

    def _text_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of ``texts``: cached in the store, or embedded now (in one call) and cached."""
        import numpy as np

        emb = self.embedder
        out = self.store.text_vectors(emb.key, texts) if self.store is not None else {}
        missing = [t for t in dict.fromkeys(texts) if t not in out]
        if missing:
            made = {t: np.asarray(v, dtype=np.float32) for t, v in zip(missing, emb.embed(missing), strict=True)}
            if self.store is not None and self.save:
                self.store.save_text_vectors(emb.key, made)
            out.update(made)
        return out

    def _liked(self, entries: Sequence[str], rows: _Rows, vectors: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """(title, vector) of each liked paper found, once each: among the papers ranked, else in
        the store."""
        found = dict.fromkeys(r for r in map(rows.find, entries) if r is not None)
        rest = [e for e in entries if rows.find(e) is None]
        stored: list[int] = []
        if rest and self.store is not None:
            for pid in dict.fromkeys(self.store.find_liked(rest).values()):
                row = rows.of_id.get(pid)
                if row is not None:
                    found[row] = None
                else:
                    stored.append(pid)
        out = [(rows.papers[r].title, vectors[r]) for r in found]
        if stored and self.store is not None:
            papers = dict(self.store.papers_with_ids(stored))
            kept = [i for i in stored if i in papers]
            vecs = self._paper_vectors([papers[i] for i in kept], kept)
            out += [(papers[i].title, vecs[k]) for k, i in enumerate(kept)]
        return out


class _Rows:
    """The papers being ranked, looked up by arXiv id, folded title or store id (built once)."""

    def __init__(self, papers: Sequence[Paper], store_ids: Sequence[int | None]) -> None:
        self.papers = papers
        self.by_arxiv: dict[str, int] = {}
        self.by_title: dict[str, int] = {}
        for row, p in enumerate(papers):
            if p.arxiv_id:
                self.by_arxiv.setdefault(p.arxiv_id, row)
            self.by_title.setdefault(p.title_key, row)
        self.of_id = {pid: row for row, pid in enumerate(store_ids) if pid is not None}

    def find(self, entry: str) -> int | None:
        """The row of the paper a liked entry names: by arXiv id, else by folded title."""
        aid = normalize_arxiv_id(entry)
        row = self.by_arxiv.get(aid) if aid else None
        return row if row is not None else self.by_title.get(fold_title(entry))
