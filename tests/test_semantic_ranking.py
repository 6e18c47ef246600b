"""Meaning beside keywords (paperdigest/ranking/semantic.py and ranker.py), with hand-made vectors:
what enters by meaning and why, what never does, and that keyword-only profiles are untouched."""

from __future__ import annotations

import numpy as np
import pytest

from paperdigest.config import Profile
from paperdigest.models import Paper
from paperdigest.ranking import rank_profiles
from paperdigest.ranking import semantic
from paperdigest.ranking.semantic import Meaning, Space

DIM = 16
TOPIC, OTHER = 0, 1  # two directions of the toy space: what the reader wants, and something else


def _vec(axis: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(0.0, 0.3, DIM)
    v[axis] += strength
    return v


def _listing(n: int = 120, seed: int = 3) -> tuple[list[Paper], np.ndarray]:
    """``n`` filler papers far from the topic; paper 0 says "quantization" and is on topic;
    paper 1 never names the keyword but is the closest in meaning; paper 2 is on topic but
    says "survey" (excluded)."""
    rng = np.random.default_rng(seed)
    papers = [Paper(f"Filler paper {i} about general matters", f"We study matter number {i} in general.")
              for i in range(n)]
    vectors = np.vstack([_vec(OTHER, 1.0, rng) for _ in range(n)])
    papers[0] = Paper("Low-bit quantization of language models", "Quantization makes models small.")
    vectors[0] = _vec(TOPIC, 2.0, rng)
    papers[1] = Paper("Fewer bits per weight without accuracy loss", "Weights stored in four bits lose nothing.")
    vectors[1] = _vec(TOPIC, 4.0, rng)
    papers[2] = Paper("A survey of compact weights", "This survey covers weights stored in few bits.")
    vectors[2] = _vec(TOPIC, 4.0, rng)
    return papers, vectors


def _profile(name: str = "p", keywords: dict[str, float] | None = None, **kw: object) -> Profile:
    return Profile(name=name, title=name.title(), keywords={"quantization": 3} if keywords is None else keywords,
                   **kw)  # type: ignore[arg-type]


def _description() -> np.ndarray:
    v = np.zeros(DIM)
    v[TOPIC] = 1.0
    return v


def test_a_paper_without_the_keywords_enters_by_meaning_and_says_why() -> None:
    papers, vectors = _listing()
    prof = _profile(exclude=("survey",))
    ranked = rank_profiles(papers, [prof], meaning=Meaning(vectors, descriptions={"p": _description()}))["p"]
    titles = [it.paper.title for it in ranked.items]
    assert titles[:2] == [papers[0].title, papers[1].title] or titles[:2] == [papers[1].title, papers[0].title]
    entrant = next(it for it in ranked.items if it.paper is papers[1])
    assert entrant.matched == []
    assert entrant.why().startswith("close in meaning to your description (top 1% of 120 papers)")
    keyword = next(it for it in ranked.items if it.paper is papers[0])
    assert keyword.matched == ["quantization"]
    assert "quantization (title+abstract" in keyword.why() and "close in meaning" in keyword.why()
    # The reasons add up to the score, the meaning one included.
    for it in ranked.items:
        assert it.score == pytest.approx(sum(m.contribution for m in it.matches))
    # An excluded paper never enters, however close in meaning.
    assert papers[2].title not in titles


def test_keyword_only_profiles_are_untouched_by_meaning() -> None:
    papers, vectors = _listing()
    plain, described = _profile("plain"), _profile("described")
    alone = rank_profiles(papers, [plain])["plain"].items
    beside = rank_profiles(papers, [plain, described],
                           meaning=Meaning(vectors, descriptions={"described": _description()}))
    assert [(it.paper.title, it.score, it.matches) for it in beside["plain"].items] == \
        [(it.paper.title, it.score, it.matches) for it in alone]


def test_nothing_enters_by_meaning_among_too_few_papers() -> None:
    papers, vectors = _listing(n=semantic.MIN_REFERENCE - 1)
    ranked = rank_profiles(papers, [_profile()], meaning=Meaning(vectors, descriptions={"p": _description()}))["p"]
    assert [it.paper.title for it in ranked.items] == [papers[0].title]
    # ... unless the store's recent papers make the reference big enough.
    rng = np.random.default_rng(9)
    reference = np.vstack([_vec(OTHER, 1.0, rng) for _ in range(200)])
    ranked = rank_profiles(papers, [_profile()], meaning=Meaning(vectors, reference=reference,
                                                                 descriptions={"p": _description()}))["p"]
    assert papers[1].title in [it.paper.title for it in ranked.items]
    assert "of 249 papers" in ranked.items[0].why() or "of 249 papers" in ranked.items[1].why()


def test_a_description_only_profile_lists_only_its_closest_papers() -> None:
    papers, vectors = _listing(n=200)
    ranked = rank_profiles(papers, [_profile(keywords={})],
                           meaning=Meaning(vectors, descriptions={"p": _description()}))["p"]
    assert 1 <= len(ranked.items) <= 0.11 * len(papers)  # its top 10%
    assert ranked.items[0].paper is papers[1]
    assert all(it.matched == [] and it.why() for it in ranked.items)


def test_liked_papers_pull_their_like_and_are_named() -> None:
    papers, vectors = _listing()
    liked = [("Four-bit weights for everyone", vectors[1] + 0.01)]
    ranked = rank_profiles(papers, [_profile(keywords={"nothing matches this": 1})],
                           meaning=Meaning(vectors, liked={"p": liked}))["p"]
    top = ranked.items[0]
    assert top.paper is papers[1]
    assert top.why().startswith('close in meaning to like "Four-bit weights for everyone", which you liked') or \
        'like "Four-bit weights for everyone", which you liked' in top.why()


def test_min_score_applies_to_the_fused_score() -> None:
    papers, vectors = _listing()
    prof = _profile(min_score=1e9)
    ranked = rank_profiles(papers, [prof], meaning=Meaning(vectors, descriptions={"p": _description()}),
                           min_score=True)["p"]
    assert ranked.items == [] and ranked.listed == 0


def test_unknown_vectors_never_enter_and_get_no_meaning() -> None:
    papers, vectors = _listing()
    vectors[1] = np.nan  # not embedded
    ranked = rank_profiles(papers, [_profile()], meaning=Meaning(vectors, descriptions={"p": _description()}))["p"]
    assert papers[1] not in [it.paper for it in ranked.items]


def test_binned_percentiles_agree_with_exact_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    space = Space(Meaning(rng.standard_normal((3000, DIM)) + 0.2))
    queries = semantic._unit_rows(rng.standard_normal((7, DIM)))
    exact = space.percentiles(queries)
    monkeypatch.setattr(semantic, "EXACT_PAPERS", 0)
    binned = space.percentiles(queries)
    # Within a bin the count is shared half and half: off by a few reference papers at most.
    assert np.abs(exact - binned).max() <= 0.005 and np.abs(exact - binned).mean() <= 0.001
    assert ((exact >= 0) & (exact <= 1)).all()


# --------------------------------------------------------------------------- through the command line

MEANING_CONFIG = """
[store]
url = "sqlite:///state.db"

[[profile]]
name = "languages"
title = "Languages other than English"
description = "I build language models for languages other than English: multilingual pre-training, cross-lingual transfer, low-resource languages and translation."
keywords = { "multilingual" = 3 }
"""


def test_rank_json_items_that_entered_by_meaning_keep_the_contract(tmp_path, snapshot_files) -> None:
    """``rank --json`` with a description (the real WordLlama, offline): every item has a title,
    a score, ``matched`` (empty for a paper that entered by meaning) and a non-empty ``why``."""
    import json

    from click.testing import CliRunner

    from paperdigest.cli import main

    cfg = tmp_path / "paperdigest.toml"
    cfg.write_text(MEANING_CONFIG)
    result = CliRunner().invoke(main, ["rank", "--config", str(cfg), "--json", *map(str, snapshot_files)])
    assert result.exit_code == 0, result.output
    (profile,) = json.loads(result.stdout)["profiles"]
    items = profile["items"]
    assert items and all(it["title"] and it["why"] and isinstance(it["score"], float) for it in items)
    assert [it["score"] for it in items] == sorted((it["score"] for it in items), reverse=True)
    by_meaning = [it for it in items if not it["matched"]]
    by_keyword = [it for it in items if it["matched"]]
    assert by_meaning and by_keyword
    assert all(it["why"].startswith("close in meaning to your description (top ") for it in by_meaning)
    assert all(any(r["where"] == "meaning" for r in it["reasons"]) for it in items)
    assert not (tmp_path / "state.db").exists()  # rank stores nothing


def test_run_json_digest_items_say_how_close_in_meaning(tmp_path, snapshot_files) -> None:
    """A whole run with a description profile: the digest's items carry their meaning reason, and
    the vectors and the description's vector are kept in the store for the next run."""
    import json

    from click.testing import CliRunner

    from paperdigest.cli import main
    from paperdigest.config import load_config
    from paperdigest.ranking.embedding import load_embedder
    from paperdigest.store import Store

    cfg = tmp_path / "paperdigest.toml"
    cfg.write_text(MEANING_CONFIG + 'min_score = 0.0\nmax_items = 20\n\n[output]\ndir = "out"\n')
    result = CliRunner().invoke(main, ["run", "--config", str(cfg), "--without-prefect", "--json",
                                       *[a for f in snapshot_files for a in ("--snapshot", str(f))]],
                                env={"PAPERDIGEST_NOW": "2026-11-25T07:00:00Z"})
    assert result.exit_code == 0, result.output
    (digest,) = json.loads(result.stdout)["digests"]
    items = digest["items"]
    assert 1 <= len(items) <= 20
    assert all(it["why"] and any(r["where"] == "meaning" for r in it["reasons"]) for it in items)
    assert any(not it["matched"] for it in items) and any(it["matched"] for it in items)
    config = load_config(cfg)
    key = load_embedder("wordllama").key
    with Store(config.store_url) as store:
        assert store.paper_ids_without_vectors(key) == []
        description = config.profile("languages").description
        assert description in store.text_vectors(key, [description])
