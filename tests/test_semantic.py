"""Semantic relevance's plumbing: profiles with a description or liked papers, embeddings kept in
the store (computed once, rebuilt when the model changes), the embedding step of a run, and a bad
``[semantic] model`` as a one-line config error (exit 2)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperdigest import pipeline
from paperdigest.cli import main
from paperdigest.config import Config, load_config
from paperdigest.errors import ConfigError
from paperdigest.models import Listing, Match, Paper, RankedItem
from paperdigest.store import MIGRATIONS, SCHEMA_VERSION, Store, content_hash

from .conftest import NOW
from .test_pipeline import LISTING_A, LISTING_B

MEANING = '''
[[profile]]
name = "meaning"
title = "Read by meaning"
description = "Making language models cheaper to run: fewer bits, smaller drafts."
'''


class CountingEmbedder:
    """A stand-in model: deterministic unit vectors from letter counts, and a log of every call."""

    def __init__(self, key: str = "fake/a", dim: int = 4) -> None:
        self.key, self.dim = key, dim
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.array([[len(t), t.count("a") + 1, t.count("e"), t.count(" ")][:self.dim] for t in texts],
                       dtype=np.float32).reshape(len(texts), self.dim)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    @property
    def embedded(self) -> int:
        return sum(map(len, self.calls))


def factory(model: CountingEmbedder):
    return lambda _config: model


def ingest_listing(config: Config, text: str, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with Store(config.store_url) as store:
        for cap in pipeline.read_path_captures([str(path)], max_bytes=config.max_input_bytes, now=NOW):
            pipeline.ingest_capture(store, cap, output_dir=config.output_dir, now=NOW)


# --------------------------------------------------------------------------- config


def test_profiles_may_use_description_or_liked_instead_of_keywords(make_config) -> None:
    cfg = load_config(make_config(MEANING + '''
        [[profile]]
        name = "liked"
        liked = ["2501.01234", "  Speculative Decoding with Tiny Drafters "]
        '''))
    inference, meaning, liked = cfg.profiles
    assert inference.keywords and not inference.needs_embeddings
    assert meaning.keywords == {} and meaning.description.startswith("Making language models")
    assert meaning.needs_embeddings and liked.needs_embeddings
    assert liked.liked == ("2501.01234", "Speculative Decoding with Tiny Drafters")
    assert cfg.semantic.model == "wordllama" and cfg.semantic.allow_download is False
    spaced = load_config(make_config('[[profile]]\nname = "m"\ndescription = """Two\n   lines."""\n'))
    assert spaced.profiles[1].description == "Two lines."


@pytest.mark.parametrize("extra, message", [
    ('[[profile]]\nname = "x"\n', 'profile "x": needs "keywords" (a table of term = weight), "description" or "liked"'),
    ('[[profile]]\nname = "x"\nkeywords = {}\ndescription = " "\n', 'profile "x": needs "keywords"'),
    ('[[profile]]\nname = "x"\ndescription = 3\n', 'profile "x": key "description" must be a string'),
    ('[[profile]]\nname = "x"\ndescription = "' + "word " * 500 + '"\n',
     'profile "x": key "description" is longer than 2000 characters'),
    ('[[profile]]\nname = "x"\ndescription = "bell\\u0007"\n', 'key "description" must not hold control characters'),
    ('[[profile]]\nname = "x"\nliked = "2501.01234"\n', 'profile "x": key "liked" must be a list of strings'),
    ('[[profile]]\nname = "x"\nliked = ["2501.01234", " "]\n', 'profile "x": key "liked" holds an empty entry'),
    ('[[profile]]\nname = "x"\nliked = ["' + "t" * 501 + '"]\n', 'key "liked" holds an entry longer than 500'),
    ('[[profile]]\nname = "x"\nliked = [' + ", ".join(['"a"'] * 201) + ']\n', 'key "liked" lists more than 200'),
    ('[semantic]\nmodle = "wordllama"\n', 'semantic: unknown key "modle"'),
    ('[semantic]\nmodel = ""\n', 'semantic: key "model" must name a model'),
    ('[semantic]\nallow_download = "yes"\n', 'semantic: key "allow_download" must be true or false'),
])
def test_bad_semantic_settings_are_one_line(make_config, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(make_config(extra))
    assert message in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- store


def check_vectors_round_trip(store: Store) -> None:
    """Float16 storage, NaN rows for the missing, stale vectors replaced; shared with test_postgres."""
    first = store.ingest(Listing([Paper(f"Paper {i}", f"Abstract {i}", arxiv_id=f"2501.0000{i}") for i in range(4)]),
                         source="s", hash_=content_hash(b"vectors"), captured=None, now=NOW)
    ids = list(first.new_ids)
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3, 256)).astype(np.float32)
    assert store.paper_ids_without_vectors("m/1") == ids
    store.save_paper_vectors("m/1", ids[:3], vectors)
    got = store.paper_vectors("m/1", [ids[2], ids[3], ids[0], ids[2]])
    assert got.dtype == np.float32 and got.shape == (4, 256)
    f16 = vectors.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(got[[0, 2, 3]], f16[[2, 0, 2]])
    assert np.isnan(got[1]).all()
    assert store.paper_ids_without_vectors("m/1") == [ids[3]]
    assert store.paper_ids_without_vectors("m/1", limit=1) == [ids[3]]
    # another model: everything is stale for it; its vectors replace the old ones
    assert store.paper_ids_without_vectors("m/2") == ids
    assert store.paper_vectors("m/2", ids).shape == (4, 0)  # nothing under this key: dim unknown
    assert store.paper_vectors("m/2", ids, dim=8).shape == (4, 8)
    store.save_paper_vectors("m/2", ids[:2], rng.normal(size=(2, 8)))
    assert store.paper_ids_without_vectors("m/1") == ids[:2] + [ids[3]]
    assert np.isnan(store.paper_vectors("m/1", ids[:2])).all()
    assert store.paper_vectors("m/2", ids[2:]).shape == (2, 8)  # dim learnt from the stored ones
    with pytest.raises(ValueError):
        store.save_paper_vectors("m/1", ids[:2], np.full((2, 4), np.nan))
    # the text cache: float32, exact
    desc = rng.normal(size=256).astype(np.float32)
    assert store.text_vectors("m/1", ["a description"]) == {}
    store.save_text_vectors("m/1", {"a description": desc})
    store.save_text_vectors("m/1", {"a description": desc})  # again: replaces, no duplicate key
    np.testing.assert_array_equal(store.text_vectors("m/1", ["a description"])["a description"], desc)
    assert store.text_vectors("m/2", ["a description"]) == {}


def test_vectors_round_trip(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        check_vectors_round_trip(store)


def test_liked_papers_are_found_by_arxiv_id_or_title(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        r = store.ingest(Listing([Paper("Sparse Experts, Dense Savings", "x", arxiv_id="2501.04321"),
                                  Paper("Herbarium Graphs: Leaf Venation", "y")]),
                         source="s", hash_="h", captured=None, now=NOW)
        sparse, herb = r.new_ids
        entries = ["https://arxiv.org/abs/2501.04321v2", "arXiv:2501.04321", "sparse experts dense savings",
                   "HERBARIUM GRAPHS - leaf venation", "2501.99999", "A paper we never saw"]
        assert store.find_liked(entries) == {entries[0]: sparse, entries[1]: sparse, entries[2]: sparse,
                                             entries[3]: herb}


def test_what_a_profile_was_given(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        ids = list(store.ingest(Listing([Paper(f"P{i}", "a") for i in range(6)]), source="s", hash_="h",
                                captured=None, now=NOW).new_ids)
        cursor = None
        for day, chunk in enumerate((ids[:3], ids[3:])):
            items = [(pid, RankedItem(Paper(f"P{pid}", "a"), 1.0, (Match("a", "title", 1.0),))) for pid in chunk]
            rec = store.create_digest(profile="p", profile_title="P", expected_cursor=cursor, new_cursor=chunk[-1],
                                      day=NOW.date(), now=NOW, new_papers=3, matched=3, items=items, recipients=[])
            assert rec is not None
            cursor = chunk[-1]
        assert store.profile_paper_ids("p") == ids
        assert store.profile_paper_ids("p", recent_digests=1) == ids[3:]
        assert store.profile_paper_ids("p", top=1) == [ids[0], ids[3]]
        assert store.profile_paper_ids("other") == []
        assert [pid for pid, _ in store.papers_with_ids([ids[4], 999, ids[1]])] == [ids[4], ids[1]]
        assert store.newest_paper_ids(2) == [ids[5], ids[4]]


def test_a_store_from_before_the_vectors_gains_their_tables(tmp_path: Path) -> None:
    before = next(v for v, step in MIGRATIONS.items() if step.__name__ == "_add_vectors")
    db = tmp_path / "old.db"
    Store(f"sqlite:///{db}").close()
    con = sqlite3.connect(db)
    con.execute("DROP TABLE paper_vectors")
    con.execute("DROP TABLE text_vectors")
    con.execute(f"UPDATE meta SET value = '{before}' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with Store(f"sqlite:///{db}") as store:
        assert store.schema_version() == SCHEMA_VERSION == before + 1
        check_vectors_round_trip(store)


# --------------------------------------------------------------------------- the embedding step


def test_no_profile_by_meaning_loads_no_model(make_config, tmp_path: Path) -> None:
    config = load_config(make_config())
    ingest_listing(config, LISTING_A, tmp_path, "a.txt")

    def no_model(_config: Config) -> None:
        raise AssertionError("a model was loaded")

    with Store(config.store_url) as store:
        assert pipeline.embed_papers(store, config, no_model) == 0
        pipeline.check_embedder(config, no_model)


def test_papers_are_embedded_once_and_again_after_a_model_change(make_config, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline.semantic, "EMBED_BATCH", 2)
    config = load_config(make_config(MEANING))
    a, b = CountingEmbedder("fake/a"), CountingEmbedder("fake/b")
    ingest_listing(config, LISTING_A, tmp_path, "a.txt")
    with Store(config.store_url) as store:
        assert pipeline.embed_papers(store, config, factory(a)) == 3
        assert [len(c) for c in a.calls] == [2, 1]  # in batches
        assert a.calls[0][0] == ("Quantization Without Calibration Data for Small Language Models. We quantize "
                                 "small language models to four bits without any calibration data by matching "
                                 "weight statistics layer by layer. The quantized models keep their accuracy on "
                                 "reasoning benchmarks while using a third of the memory.")
        assert pipeline.embed_papers(store, config, factory(a)) == 0 and a.embedded == 3  # never recomputed
    ingest_listing(config, LISTING_B, tmp_path, "b.txt")  # one new paper, one seen before
    with Store(config.store_url) as store:
        assert pipeline.embed_papers(store, config, factory(a)) == 1
        assert a.calls[-1] == [t for t in a.calls[-1] if t.startswith("Mixture of Experts Routing")]
        # another model: every stored vector is stale and rebuilt, once
        assert pipeline.embed_papers(store, config, factory(b)) == 4 and b.embedded == 4
        assert pipeline.embed_papers(store, config, factory(b)) == 0
        ids = [pid for pid, _ in store.papers_after(0)]
        stored = store.paper_vectors("fake/b", ids)
        assert not np.isnan(stored).any()
        texts = [t for call in b.calls for t in call]
        np.testing.assert_allclose(stored, b.embed(texts), atol=1e-3)  # float16 of what the model said
        assert store.paper_ids_without_vectors("fake/a") == ids


def test_a_scheduled_run_embeds_only_the_new_papers(make_config, tmp_path: Path) -> None:
    config = load_config(make_config(MEANING))
    description = config.profile("meaning").description
    model = CountingEmbedder()

    def papers_embedded() -> int:  # the profile's description is embedded once, then cached
        return sum(1 for call in model.calls for text in call if text != description)

    (tmp_path / "a.txt").write_text(LISTING_A)
    (tmp_path / "b.txt").write_text(LISTING_B)
    pipeline.run_digest(config, extra_snapshots=[str(tmp_path / "a.txt")], now=NOW, embedder_factory=factory(model))
    assert papers_embedded() == 3
    pipeline.run_digest(config, extra_snapshots=[str(tmp_path / "b.txt")], now=NOW, embedder_factory=factory(model))
    assert papers_embedded() == 4 and [t[:26] for t in model.calls[-1]] == ["Mixture of Experts Routing"]
    pipeline.run_digest(config, now=NOW, embedder_factory=factory(model))
    assert papers_embedded() == 4
    assert sum(call.count(description) for call in model.calls) == 1


def test_a_web_readers_description_is_enough_to_embed(make_config, tmp_path: Path) -> None:
    from paperdigest.pipeline.subscribers import next_send_time
    from paperdigest.store import ReaderSettings

    config = load_config(make_config())  # no config profile reads by meaning
    ingest_listing(config, LISTING_A, tmp_path, "a.txt")
    model = CountingEmbedder()
    with Store(config.store_url) as store:
        assert pipeline.embed_papers(store, config, factory(model)) == 0
        settings = ReaderSettings(("inference",), "UTC", 7, description="Smaller and faster language models.")
        sid = store.request_subscription("reader@example.org", settings, nonce="n", now=NOW)
        assert store.confirm_subscription(sid, "n", now=NOW,
                                          next_send=lambda tz, hour: next_send_time(tz, hour, NOW)) == "confirmed"
        assert pipeline.embed_papers(store, config, factory(model)) == 3


def test_the_flow_task_embeds_with_wordllama(make_config, tmp_path: Path) -> None:
    from paperdigest.flows.digest import embed_papers

    config = load_config(make_config(MEANING))
    ingest_listing(config, LISTING_A, tmp_path, "a.txt")
    assert embed_papers.fn(config) == 3
    assert embed_papers.fn(config) == 0
    key = pipeline.embedder_for(config).key
    with Store(config.store_url) as store:
        vectors = store.paper_vectors(key, [pid for pid, _ in store.papers_after(0)])
    assert vectors.shape == (3, 256) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-2)


# --------------------------------------------------------------------------- a bad model, through the CLI


@pytest.mark.parametrize("model, reason", [
    ("glove", 'semantic: key "model" names no known model: "glove"'),
    ("models/broken", 'semantic: key "model" "models/broken": cannot load the model: model.safetensors is not'),
])
@pytest.mark.parametrize("command", [["ingest"], ["run", "--without-prefect"], ["run"]])
def test_a_bad_model_is_a_config_error_before_anything_changes(make_config, tmp_path: Path, model: str,
                                                                reason: str, command: list[str]) -> None:
    (tmp_path / "models" / "broken").mkdir(parents=True)
    (tmp_path / "models" / "broken" / "model.safetensors").write_bytes(b"\x00" * 20)
    (tmp_path / "models" / "broken" / "tokenizer.json").write_text("{}")
    cfg = make_config(MEANING + f'\n[semantic]\nmodel = "{model}"\n')
    (tmp_path / "a.txt").write_text(LISTING_A)
    args = [*command, "--config", str(cfg)] + (["--json", str(tmp_path / "a.txt")] if command == ["ingest"] else
                                                ["--snapshot", str(tmp_path / "a.txt")])
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("paperdigest: error: " + reason) and result.stderr.count("\n") == 1
    assert result.stdout == "" and not (tmp_path / "state.db").exists()


def test_ingest_reports_how_many_papers_it_embedded(make_config, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(LISTING_A)
    result = CliRunner().invoke(main, ["ingest", "--config", str(make_config(MEANING)), "--json",
                                       str(tmp_path / "a.txt")], catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.stdout)["embedded"] == 3
