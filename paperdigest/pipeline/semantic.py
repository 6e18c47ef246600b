"""Step 1b of a run: give every stored paper its embedding, once.

Runs right after ingest, and only when some profile ranks by meaning (a ``description`` or
``liked`` papers, in the config or a web reader's personal profile); otherwise it loads no
model and does nothing. It embeds the papers that
have no vector under the current model's key (the new ones; all of them after a model
change), in batches, each batch saved in its own transaction, so a run killed halfway keeps
what it saved and the next run embeds only the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from paperdigest.config import Config
from paperdigest.store import Store

log = logging.getLogger("paperdigest")

EMBED_BATCH = 2000  # papers per embed call and per transaction


def embedder_for(config: Config) -> Any:
    """The embedder ``[semantic]`` names, loaded once per process (a ConfigError if it cannot be)."""
    from paperdigest.ranking.embedding import load_embedder

    return load_embedder(config.semantic.model, base=config.path.resolve().parent,
                         allow_download=config.semantic.allow_download)


def needs_embeddings(config: Config, store: Store | None = None) -> bool:
    """Whether some profile ranks by meaning: a config profile, or (given the store) a web
    reader's personal profile with a description or liked papers."""
    if any(p.needs_embeddings for p in config.profiles):
        return True
    if store is None:
        return False
    from paperdigest.pipeline.subscribers import personal_profiles

    return any(p.needs_embeddings for p in personal_profiles(store))


def check_embedder(config: Config, embedder_factory: Callable[[Config], Any] = embedder_for) -> None:
    """Load the model before a run changes anything, so a bad ``[semantic] model`` is a config
    error (exit 2) up front; the loaded model is cached for the run. With ``[web]``, readers may
    describe their interest at any time, so the model is checked then too."""
    if needs_embeddings(config) or config.web is not None:
        embedder_factory(config)


def embed_papers(store: Store, config: Config, embedder_factory: Callable[[Config], Any] = embedder_for) -> int:
    """Embed every paper without a vector under the current model; returns how many."""
    if not needs_embeddings(config, store):
        return 0
    from paperdigest.ranking.embedding import paper_text

    embedder = embedder_factory(config)
    done = 0
    last = 0
    while True:
        batch = store.papers_to_embed(embedder.key, EMBED_BATCH)
        if not batch:
            break
        if batch[0][0] <= last:
            # Saved, and stale again already: another process embeds with another model.
            log.warning("paper %d: its vector was replaced by another model's; not embedding again", batch[0][0])
            break
        ids = [pid for pid, _ in batch]
        store.save_paper_vectors(embedder.key, ids, embedder.embed([paper_text(p) for _, p in batch]))
        done += len(ids)
        last = ids[-1]
    if done:
        log.info("embedded %d papers (%s)", done, embedder.key)
    return done
