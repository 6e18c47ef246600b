"""Embeddings in the store: one vector per paper under the key of the model that made it
(float16, 512 bytes for WordLlama's 256 dimensions), a cache of other texts' vectors (a
profile's description) by hash, and the look-ups of semantic relevance (liked papers, what a
profile was given).

A vector is computed once: a later run reads it back. A vector made by another model (another
key) is stale: :meth:`VectorStore.paper_ids_without_vectors` lists it with the missing ones,
and saving the new vector replaces it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from paperdigest.models import Paper
from paperdigest.store.base import StoreBase
from paperdigest.store.rows import chunks, paper_from_row
from paperdigest.store.schema import digest_items, digests, paper_vectors, papers, text_vectors

if TYPE_CHECKING:
    import numpy as np

_CHUNK = 500  # ids per IN (...) list
# Little-endian float16 for papers (compact), float32 for the few other texts (exact).
_PAPER_DTYPE, _PAPER_BYTES = "<f2", 2
_TEXT_DTYPE, _TEXT_BYTES = "<f4", 4


def text_digest(model_key: str, text: str) -> str:
    return hashlib.sha256(f"{model_key}\n{text}".encode()).hexdigest()


def _rows(vectors: np.ndarray, n: int) -> np.ndarray:
    import numpy as np  # imported when vectors are used: the store's other users start faster

    arr = np.asarray(vectors)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"expected {n} vectors in a 2-D array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("vectors must be finite")
    return arr


def _upsert(dialect: str) -> Any:
    """An insert that replaces the paper's vector, for the databases that have one."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:
        return None
    stmt = insert(paper_vectors)
    return stmt.on_conflict_do_update(index_elements=[paper_vectors.c.paper_id],
                                      set_={"model_key": stmt.excluded.model_key, "vector": stmt.excluded.vector})


class VectorStore(StoreBase):
    """Paper vectors, the text-vector cache, and the papers a profile was given."""

    # -- paper vectors ------------------------------------------------------------------

    def save_paper_vectors(self, model_key: str, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Keep ``vectors[i]`` as paper ``ids[i]``'s vector under ``model_key`` (replacing any
        older one, stale or made by a concurrent run)."""
        arr = _rows(vectors, len(ids)).astype(_PAPER_DTYPE)
        blob = arr.tobytes()
        width = arr.shape[1] * _PAPER_BYTES
        rows = list({int(pid): {"paper_id": int(pid), "model_key": model_key,
                                "vector": blob[i * width:(i + 1) * width]} for i, pid in enumerate(ids)}.values())
        if not rows:
            return
        with self._write() as conn:
            upsert = _upsert(conn.dialect.name)
            if upsert is None:  # any other database: replace by delete and insert
                for part in chunks([r["paper_id"] for r in rows], _CHUNK):
                    conn.execute(paper_vectors.delete().where(paper_vectors.c.paper_id.in_(list(part))))
                upsert = paper_vectors.insert()
            conn.execute(upsert, rows)

    def paper_vectors(self, model_key: str, ids: Sequence[int], *, dim: int | None = None) -> np.ndarray:
        """float32 (len(ids), dim): the papers' vectors under ``model_key``; the row of a paper
        with no vector under this key is all NaN (the caller embeds it).

        ``dim`` is learnt from the stored vectors when not given; with no vector at all under
        this key and no ``dim``, the result has 0 columns (every row "missing").
        """
        import numpy as np

        found: dict[int, bytes] = {}
        with self._read() as conn:
            for part in chunks(sorted(set(map(int, ids))), _CHUNK):
                q = sa.select(paper_vectors.c.paper_id, paper_vectors.c.vector).where(
                    paper_vectors.c.paper_id.in_(list(part)), paper_vectors.c.model_key == model_key)
                found.update((r.paper_id, bytes(r.vector)) for r in conn.execute(q))
            if dim is None:
                dim = self._stored_dim(conn, model_key, found)
        out = np.full((len(ids), dim), np.nan, dtype=np.float32)
        width = dim * _PAPER_BYTES
        where = [i for i, pid in enumerate(ids) if len(found.get(int(pid), b"")) == width]
        if where and dim:
            blob = b"".join(found[int(ids[i])] for i in where)
            out[where] = np.frombuffer(blob, dtype=_PAPER_DTYPE).reshape(len(where), dim)
        return out

    @staticmethod
    def _stored_dim(conn: Any, model_key: str, found: dict[int, bytes]) -> int:
        if found:
            return len(next(iter(found.values()))) // _PAPER_BYTES
        row = conn.execute(sa.select(paper_vectors.c.vector).where(paper_vectors.c.model_key == model_key)
                           .limit(1)).first()
        if row is not None:
            return len(bytes(row.vector)) // _PAPER_BYTES
        row = conn.execute(sa.select(text_vectors.c.vector).where(text_vectors.c.model_key == model_key)
                           .limit(1)).first()
        return len(bytes(row.vector)) // _TEXT_BYTES if row is not None else 0

    def _without_vectors(self, model_key: str) -> Any:
        joined = papers.outerjoin(paper_vectors, sa.and_(paper_vectors.c.paper_id == papers.c.id,
                                                         paper_vectors.c.model_key == model_key))
        return joined, paper_vectors.c.paper_id.is_(None)

    def paper_ids_without_vectors(self, model_key: str, limit: int | None = None) -> list[int]:
        """Papers with no vector under ``model_key`` (none yet, or a stale one), oldest first."""
        joined, missing = self._without_vectors(model_key)
        q = sa.select(papers.c.id).select_from(joined).where(missing).order_by(papers.c.id)
        with self._read() as conn:
            return [int(r[0]) for r in conn.execute(q.limit(limit) if limit else q)]

    def papers_to_embed(self, model_key: str, limit: int) -> list[tuple[int, Paper]]:
        """The next ``limit`` papers with no current vector, oldest first: their title and
        abstract (what is embedded; the other fields are left empty)."""
        joined, missing = self._without_vectors(model_key)
        q = (sa.select(papers.c.id, papers.c.title, papers.c.abstract).select_from(joined).where(missing)
             .order_by(papers.c.id).limit(limit))
        with self._read() as conn:
            return [(row.id, Paper(row.title, row.abstract)) for row in conn.execute(q)]

    # -- other texts ----------------------------------------------------------------------

    def text_vectors(self, model_key: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those ``texts`` that have one under ``model_key`` (one query a
        chunk: a ranking of thousands of profiles reads their descriptions at once)."""
        import numpy as np

        digests = {text_digest(model_key, t): t for t in texts}
        out: dict[str, np.ndarray] = {}
        with self._read() as conn:
            for part in chunks(sorted(digests), _CHUNK):
                q = sa.select(text_vectors.c.digest, text_vectors.c.vector).where(text_vectors.c.digest.in_(list(part)))
                for r in conn.execute(q):
                    out[digests[r.digest]] = np.frombuffer(bytes(r.vector), dtype=_TEXT_DTYPE).astype(np.float32)
        return out

    def save_text_vectors(self, model_key: str, vectors: dict[str, np.ndarray]) -> None:
        """Cache texts' vectors (kept as float32: read back bit-identical), replacing older ones."""
        rows = [{"digest": text_digest(model_key, t), "model_key": model_key,
                 "vector": _rows(v.reshape(1, -1), 1).astype(_TEXT_DTYPE).tobytes()} for t, v in vectors.items()]
        if not rows:
            return
        with self._write() as conn:
            for part in chunks([r["digest"] for r in rows], _CHUNK):
                conn.execute(text_vectors.delete().where(text_vectors.c.digest.in_(list(part))))
            conn.execute(text_vectors.insert(), rows)

    # -- what a profile was given -------------------------------------------------------------

    def profile_paper_ids(self, profile: str, *, recent_digests: int | None = None,
                          top: int | None = None) -> list[int]:
        """Papers the profile's digests held: all of them, or the first ``top`` items of each of
        its ``recent_digests`` newest digests (its best-ranked recent papers)."""
        q = (sa.select(digest_items.c.paper_id).select_from(
            digest_items.join(digests, digests.c.id == digest_items.c.digest_id))
             .where(digest_items.c.profile == profile))
        if top is not None:
            q = q.where(digest_items.c.position < top)
        if recent_digests is not None:
            newest = (sa.select(digests.c.id).where(digests.c.profile == profile)
                      .order_by(digests.c.id.desc()).limit(recent_digests))
            q = q.where(digest_items.c.digest_id.in_(newest.scalar_subquery()))
        with self._read() as conn:
            return sorted({int(r[0]) for r in conn.execute(q)})

    def papers_with_ids(self, ids: Sequence[int]) -> list[tuple[int, Paper]]:
        """The papers of ``ids`` that exist, in the order given."""
        rows: dict[int, Paper] = {}
        with self._read() as conn:
            for part in chunks(sorted(set(map(int, ids))), _CHUNK):
                rows.update((r.id, paper_from_row(r)) for r in conn.execute(
                    sa.select(papers).where(papers.c.id.in_(list(part)))))
        return [(int(i), rows[int(i)]) for i in ids if int(i) in rows]

    def newest_paper_ids(self, limit: int) -> list[int]:
        """The ids of the ``limit`` papers first seen last, newest first."""
        with self._read() as conn:
            return [int(r[0]) for r in conn.execute(sa.select(papers.c.id).order_by(papers.c.id.desc())
                                                    .limit(limit))]
