"""The embedding models: WordLlama read from its wheel and pooled by us (equal to WordLlama's own
``embed``), offline; local model2vec and sentence-transformers static folders; every model that
cannot be loaded is a one-line config error naming ``[semantic] model``."""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from paperdigest.errors import ConfigError
from paperdigest.models import Paper
from paperdigest.ranking import embedding, staticmodel
from paperdigest.ranking.embedding import load_embedder, paper_text

from .conftest import FEEDS

# Invented texts that stress the tokenizer: doubled, leading and trailing spaces, tabs and
# newlines, accents, other scripts, an emoji, digits and punctuation glued to words, and the
# tokenizer's own visible space "\u2581" typed into a text (it may merge with a real space).
ODD_TEXTS = ["  two leading spaces", "trailing spaces  ", "a  b   c    d", "tab\tand\nnewline inside",
             " ", "émigré naïve façade", "混合专家模型 and ÜBER-large models 🙂", "x", "GPT-4o's (v2.1) 3.5x speed-up;",
             "a\u2581 b \u2581\u2581c\u2581", "the\u2581  model"]


def real_abstracts() -> list[str]:
    """Every distinct paper of the shared feed snapshots, as title + abstract (read, not copied)."""
    texts: dict[str, str] = {}
    for f in sorted(FEEDS.glob("*.json")):
        for item in json.loads(f.read_text("utf-8")).get("items", []):
            texts.setdefault(item["id"], paper_text(Paper(item["title"], item.get("content_text") or "")))
    return list(texts.values())


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test loads for itself (load_embedder caches per process)."""
    monkeypatch.setattr(embedding, "_cache", {})


@pytest.fixture
def root_logger_kept() -> Iterator[None]:
    """Importing wordllama configures the root logger (logging.basicConfig); undo it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_paper_text_is_title_then_abstract() -> None:
    assert paper_text(Paper("Sparse Experts", "We route tokens.")) == "Sparse Experts. We route tokens."
    assert paper_text(Paper("Sparse Experts", "  ")) == "Sparse Experts"


def test_wordllama_pooling_equals_wordllamas_own_embed(root_logger_kept: None) -> None:
    from wordllama import WordLlama

    texts = real_abstracts()
    assert len(texts) > 200
    texts += ODD_TEXTS
    ours = staticmodel.load_wordllama().embed(texts)
    theirs = WordLlama.load(config="l2_supercat", dim=256, cache_dir=staticmodel.wordllama_folder(),
                            disable_download=True).embed(texts, norm=True)
    assert ours.dtype == np.float32 and ours.shape == (len(texts), 256)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_wordllama_batches_and_order_do_not_change_a_vector() -> None:
    texts = real_abstracts()[:60] + ODD_TEXTS
    model = staticmodel.load_wordllama()
    whole = model.embed(texts)
    again = np.vstack([model.embed(texts[i:i + 7]) for i in range(0, len(texts), 7)])
    np.testing.assert_allclose(again, whole, atol=1e-6)
    np.testing.assert_allclose(model.embed(texts[::-1])[::-1], whole, atol=1e-6)
    empty = model.embed(["", "relevant"])
    assert not empty[0].any() and abs(np.linalg.norm(empty[1]) - 1) < 1e-5
    assert model.embed([]).shape == (0, 256)


def test_loading_and_embedding_need_no_network(monkeypatch: pytest.MonkeyPatch, fresh_cache: None) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    model = load_embedder("wordllama")
    vectors = model.embed(["Speculative decoding with a tiny drafter", "Herbarium sheets of eleven genera"])
    assert vectors.shape == (2, model.dim) == (2, 256)
    assert model.key.startswith("wordllama/l2_supercat/256/")
    assert load_embedder("wordllama") is model  # cached per process


# --------------------------------------------------------------------------- local folders


def write_static_folder(folder: Path, *, st_layout: bool = False, weights: bool = False,
                        mapping: bool = False) -> dict[str, np.ndarray]:
    """A tiny static model of invented words, in model2vec's layout (or sentence-transformers')."""
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab = {"[UNK]": 0, "sparse": 1, "experts": 2, "route": 3, "tokens": 4, "herbarium": 5, "leaves": 6}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    rng = np.random.default_rng(7)
    table = rng.normal(size=(len(vocab) - (2 if mapping else 0), 8)).astype(np.float32)
    tensors: dict[str, np.ndarray] = {("embedding.weight" if st_layout else "embeddings"): table}
    if weights:
        tensors["weights"] = rng.uniform(0.5, 2.0, size=len(vocab)).astype(np.float32)
    if mapping:
        tensors["mapping"] = np.array([0, 1, 2, 3, 4, 0, 1], dtype=np.int64)
    target = folder / "0_StaticEmbedding" if st_layout else folder
    target.mkdir(parents=True)
    save_file(tensors, str(target / "model.safetensors"))
    tok.save(str(target / "tokenizer.json"))
    if st_layout:
        (folder / "modules.json").write_text('[{"idx": 0, "name": "0", "path": "0_StaticEmbedding", '
                                             '"type": "sentence_transformers.models.StaticEmbedding"}]')
    else:
        (folder / "config.json").write_text('{"normalize": true, "hidden_dim": 8}')
    return tensors


def expected(tensors: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    table = tensors.get("embeddings", tensors.get("embedding.weight"))
    assert table is not None
    rows = table[tensors["mapping"][ids]] if "mapping" in tensors else table[ids]
    if "weights" in tensors:
        rows = rows * tensors["weights"][ids][:, None]
    v = rows.mean(axis=0)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("variant", [{}, {"weights": True}, {"mapping": True, "weights": True}])
def test_model2vec_folder_relative_to_the_config(tmp_path: Path, fresh_cache: None, variant: dict) -> None:
    tensors = write_static_folder(tmp_path / "models" / "tiny", **variant)
    model = load_embedder("models/tiny", base=tmp_path)
    assert model.dim == 8 and model.key.startswith("model2vec/tiny/8/")
    got = model.embed(["Sparse experts route tokens", "unknownword HERBARIUM leaves", "nothing known", ""])
    np.testing.assert_allclose(got[0], expected(tensors, [1, 2, 3, 4]), atol=1e-6)
    np.testing.assert_allclose(got[1], expected(tensors, [5, 6]), atol=1e-6)  # the unknown token is dropped
    assert not got[2].any() and not got[3].any()


def test_sentence_transformers_static_folder_needs_no_torch(tmp_path: Path, fresh_cache: None) -> None:
    tensors = write_static_folder(tmp_path / "st-static", st_layout=True)
    model = load_embedder(str(tmp_path / "st-static"))
    assert model.key.startswith("sentence-transformers-static/")
    np.testing.assert_allclose(model.embed(["sparse leaves"])[0], expected(tensors, [1, 6]), atol=1e-6)


def test_a_changed_model_file_changes_the_key(tmp_path: Path, fresh_cache: None) -> None:
    write_static_folder(tmp_path / "m")
    first = load_embedder(str(tmp_path / "m")).key
    (tmp_path / "m" / "config.json").write_text('{"normalize": true, "hidden_dim": 8, "max_length": 64}')
    embedding._cache.clear()
    assert load_embedder(str(tmp_path / "m")).key != first


# --------------------------------------------------------------------------- errors


def broken(folder: Path, case: str) -> None:
    write_static_folder(folder)
    if case == "not safetensors":
        (folder / "model.safetensors").write_bytes(b"this is not a tensor file")
    elif case == "no tokenizer":
        (folder / "tokenizer.json").unlink()
    elif case == "bad tokenizer":
        (folder / "tokenizer.json").write_text('{"version": "1.0", "model": 42}')
    elif case == "bad config":
        (folder / "config.json").write_text("{not json")
    elif case == "wrong tensor":
        from safetensors.numpy import save_file
        save_file({"something": np.zeros((7, 4), dtype=np.float32)}, str(folder / "model.safetensors"))
    elif case == "too few rows":
        from safetensors.numpy import save_file
        save_file({"embeddings": np.ones((3, 4), dtype=np.float32)}, str(folder / "model.safetensors"))


@pytest.mark.parametrize("case, reason", [
    ("not safetensors", "model.safetensors is not a safetensors file"),
    ("no tokenizer", "tokenizer.json is missing"),
    ("bad tokenizer", "tokenizer.json is not a tokenizer file"),
    ("bad config", "config.json is not readable JSON"),
    ("wrong tensor", 'model.safetensors has no "embeddings" tensor'),
    ("too few rows", "the table has 3 rows for a vocabulary of 7 tokens"),
])
def test_a_broken_model_folder_is_a_config_error(tmp_path: Path, fresh_cache: None, case: str, reason: str) -> None:
    broken(tmp_path / "m", case)
    with pytest.raises(ConfigError) as info:
        load_embedder("m", base=tmp_path)
    message = str(info.value)
    assert message.startswith('semantic: key "model" "m": cannot load the model: ') and reason in message
    assert "\n" not in message


@pytest.mark.parametrize("model, reason", [
    ("glove", 'names no known model: "glove"'),
    ("./models/absent", "is not a model folder"),
    ("someorg/some-model", "downloading a model is off"),
])
def test_unknown_models_are_config_errors(tmp_path: Path, fresh_cache: None, model: str, reason: str) -> None:
    with pytest.raises(ConfigError, match='^semantic: key "model" ') as info:
        load_embedder(model, base=tmp_path)
    assert reason in str(info.value)


def test_a_folder_of_something_else_is_a_config_error(tmp_path: Path, fresh_cache: None) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="is neither a model2vec folder"):
        load_embedder("m", base=tmp_path)
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "modules.json").write_text("[]")
    if importlib.util.find_spec("sentence_transformers") is None:
        with pytest.raises(ConfigError, match="the sentence-transformers package is not installed"):
            load_embedder("st", base=tmp_path)


def test_a_hub_model_is_fetched_only_when_allowed(tmp_path: Path, fresh_cache: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    write_static_folder(tmp_path / "cache" / "tiny")
    asked: list[str] = []

    def snapshot_download(repo_id: str, **_k: object) -> str:
        asked.append(repo_id)
        return str(tmp_path / "cache" / "tiny")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    with pytest.raises(ConfigError, match="allow_download = false"):
        load_embedder("someorg/tiny", base=tmp_path)
    assert asked == []
    model = load_embedder("someorg/tiny", base=tmp_path, allow_download=True)
    assert asked == ["someorg/tiny"] and model.dim == 8
