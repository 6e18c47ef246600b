"""Static embedding models: a text's vector is the mean of its tokens' rows in one table.

WordLlama (the default) and model2vec models are such tables; reading them needs only
``safetensors`` and ``tokenizers``, and pooling is one sparse-times-dense product:
``counts (texts x vocabulary) @ table``. The unit-length result equals the library's own
mean-then-normalise (tests/test_embedding.py checks WordLlama's ``embed(norm=True)``).

Speed: a tokenizer that splits only at spaces (WordLlama's Llama-2 BPE: no pre-tokenizer, a
normalizer that turns spaces into "▁", and no vocabulary entry with "▁" after another
character) tokenizes a text as the concatenation of its space-separated pieces. Each distinct
piece is tokenized once per process and remembered, so a batch costs one dictionary lookup
per word plus numpy work, not a BPE pass over every abstract (about five times faster here).
Other tokenizers encode whole texts.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Raise when the pooling below changes: every stored vector is then stale and rebuilt.
POOLING_VERSION = 1
WORDLLAMA_CONFIG = "l2_supercat"
WORDLLAMA_DIM = 256
# Distinct pieces remembered before the memory is cleared (one entry is about 150 bytes).
MAX_PIECES = 300_000
_PIECE_RE = re.compile(r" +[^ ]*")
_SPACE = "\u2581"  # "▁", SentencePiece's visible space


class ModelFileError(Exception):
    """A model file is missing or unreadable (the loader turns it into a ConfigError)."""


def file_digest(*paths: Path) -> str:
    """A short hash of the model's files: a changed file changes the key, so vectors are rebuilt."""
    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12]


class StaticEmbedder:
    """Mean of token rows, unit length; a text without a known token gives an all-zero row."""

    def __init__(self, table: np.ndarray, tokenizer: Any, *, key: str, drop_ids: Sequence[int] = (),
                 max_tokens: int | None = None, max_chars: int | None = None, spec: dict[str, Any] | None = None) -> None:
        """``spec`` is the tokenizer's JSON (read from it when not given). A tokenizer that
        splits only at spaces is changed here to tokenize pieces (see the module docstring)."""
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.dim = int(self.table.shape[1])
        self.key = key
        self._tokenizer = tokenizer
        self._drop = np.array(sorted(set(drop_ids)), dtype=np.int64)
        self._max_tokens = max_tokens
        self._max_chars = max_chars
        self._lock = threading.Lock()
        by_pieces = max_tokens is None and not len(self._drop) and _to_pieces(tokenizer, spec)
        self._pieces = tokenizer if by_pieces else None
        self._reset_pieces()

    def _reset_pieces(self) -> None:
        self._index: dict[str, int] = {}
        self._flat = np.zeros(0, dtype=np.int64)
        self._starts = np.zeros(0, dtype=np.int64)
        self._lens = np.zeros(0, dtype=np.int64)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            tokens, indptr = self._by_pieces(texts) if self._pieces is not None else self._by_texts(texts)
        return self._pool(tokens, indptr, len(texts))

    # -- tokens ---------------------------------------------------------------------------

    def _by_texts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self._max_chars:
            texts = [t[:self._max_chars] for t in texts]
        encodings = self._tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        ids = [e.ids for e in encodings]
        lens = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        tokens = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lens.sum()))
        if len(self._drop):  # model2vec drops the unknown token (it carries no meaning)
            keep = ~np.isin(tokens, self._drop)
            text_of = np.repeat(np.arange(len(ids)), lens)[keep]
            tokens = tokens[keep]
            lens = np.bincount(text_of, minlength=len(ids))
        return tokens, np.concatenate(([0], np.cumsum(lens)))

    def _by_pieces(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Tokens of every text from its remembered pieces (a piece is a word with its one
        leading space removed; a run of spaces stays with the word after it)."""
        words: list[str] = []
        counts: list[int] = []
        for t in texts:
            # The tokenizer prepends one space; a text with no doubled, leading or trailing
            # space splits at single spaces (the usual case, and a C-speed split).
            if _SPACE in t:  # a literal "▁" may join the space after it: the text is one piece
                ws = [t]
            elif "  " in t or t[:1] == " " or t[-1:] == " ":
                ws = [p[1:] for p in _PIECE_RE.findall(" " + t)]
            else:
                ws = t.split(" ") if t else []
            words += ws
            counts.append(len(ws))
        index = self._index
        if len(index) > MAX_PIECES:
            self._reset_pieces()
            index = self._index
        new = set(words).difference(index)
        if new:
            self._learn(sorted(new))
        piece = np.fromiter(map(index.__getitem__, words), dtype=np.int64, count=len(words))
        lens = self._lens[piece]
        ends = np.cumsum(lens)
        total = int(ends[-1]) if len(ends) else 0
        # token k of occurrence i sits at flat[starts[i] + k]: expand all occurrences at once
        positions = np.arange(total) + np.repeat(self._starts[piece] - (ends - lens), lens)
        tokens = self._flat[positions]
        word_ends = np.cumsum(counts)
        indptr = np.concatenate(([0], np.concatenate(([0], ends))[word_ends]))
        return tokens, indptr

    def _learn(self, pieces: list[str]) -> None:
        assert self._pieces is not None
        encodings = self._pieces.encode_batch_fast([" " + p for p in pieces], add_special_tokens=False)
        ids = [e.ids for e in encodings]
        lens = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lens.sum()))
        starts = len(self._flat) + np.concatenate(([0], np.cumsum(lens)[:-1]))
        self._flat = np.concatenate((self._flat, flat))
        self._starts = np.concatenate((self._starts, starts))
        self._lens = np.concatenate((self._lens, lens))
        n = len(self._index)
        self._index.update(zip(pieces, range(n, n + len(pieces))))

    # -- pooling ---------------------------------------------------------------------------

    def _pool(self, tokens: np.ndarray, indptr: np.ndarray, n: int) -> np.ndarray:
        import scipy.sparse as sp

        vocab = self.table.shape[0]
        np.clip(tokens, 0, vocab - 1, out=tokens)  # as WordLlama does for ids beyond its table
        counts = sp.csr_matrix((np.ones(len(tokens), dtype=np.float32), tokens, indptr), shape=(n, vocab))
        out = np.asarray(counts @ self.table, dtype=np.float32)  # the sum; its direction is the mean's
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


def _to_pieces(tokenizer: Any, spec: dict[str, Any] | None) -> bool:
    """Make ``tokenizer`` tokenize one space-led piece, when a whole text's tokens are exactly
    the concatenation of its pieces' tokens; False (and unchanged) otherwise."""
    from tokenizers import normalizers

    spec = spec if spec is not None else json.loads(tokenizer.to_str())
    norm, model = spec.get("normalizer") or {}, spec.get("model") or {}
    steps = norm.get("normalizers", []) if norm.get("type") == "Sequence" else [norm]
    prepend = [{"type": "Prepend", "prepend": _SPACE}, {"type": "Replace", "pattern": {"String": " "},
                                                         "content": _SPACE}]
    if spec.get("pre_tokenizer") is not None or model.get("type") != "BPE" or steps != prepend:
        return False
    if spec.get("truncation") is not None:
        return False
    if any(_SPACE in tok.lstrip(_SPACE) for tok in model.get("vocab", {})):
        return False  # some token joins a word to the space after it: pieces are not independent
    tokenizer.normalizer = normalizers.Replace(" ", _SPACE)  # the piece brings its own space
    return True


# --------------------------------------------------------------------------- loaders


def _tokenizer(path: Path) -> tuple[Any, dict[str, Any]]:
    """The tokenizer of a ``tokenizer.json`` file, and the file's JSON."""
    from tokenizers import Tokenizer

    if not path.is_file():
        raise ModelFileError(f"{path.name} is missing")
    try:
        text = path.read_text("utf-8")
        tok = Tokenizer.from_str(text)
        spec = json.loads(text)
    except Exception as e:  # noqa: BLE001 - the tokenizers library raises plain Exceptions
        raise ModelFileError(f"{path.name} is not a tokenizer file ({type(e).__name__}: {e})") from None
    tok.no_padding()
    return tok, spec


def _tensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    if not path.is_file():
        raise ModelFileError(f"{path.name} is missing")
    try:
        return load_file(str(path))
    except Exception as e:  # noqa: BLE001 - safetensors raises its own, unexported errors
        raise ModelFileError(f"{path.name} is not a safetensors file ({type(e).__name__}: {e})") from None


def tensor_names(path: Path) -> set[str]:
    """The tensors a safetensors file holds (read from its header only); empty if it is not one."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            return set(f.keys())
    except Exception:  # noqa: BLE001 - missing or not a safetensors file: the caller decides
        return set()


def _table(tensors: dict[str, np.ndarray], name: str, file: str) -> np.ndarray:
    table = tensors.get(name)
    if table is None:
        raise ModelFileError(f'{file} has no "{name}" tensor')
    if table.ndim != 2 or not table.shape[0] or not table.shape[1]:
        raise ModelFileError(f'{file}: "{name}" is not a table of token vectors (shape {table.shape})')
    return table.astype(np.float32)


def wordllama_folder() -> Path | None:
    """The installed ``wordllama`` package's folder, found without importing it (its import
    configures the root logger)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def load_wordllama() -> StaticEmbedder:
    """WordLlama l2_supercat, 256 dimensions, from the files inside its wheel: no network."""
    pkg = wordllama_folder()
    if pkg is None:
        raise ModelFileError("the wordllama package is not installed")
    weights = pkg / "weights" / f"{WORDLLAMA_CONFIG}_{WORDLLAMA_DIM}.safetensors"
    tok_file = pkg / "tokenizers" / f"{WORDLLAMA_CONFIG}_tokenizer_config.json"
    table = _table(_tensors(weights), "embedding.weight", weights.name)
    key = f"wordllama/{WORDLLAMA_CONFIG}/{table.shape[1]}/mean-v{POOLING_VERSION}/{file_digest(weights, tok_file)}"
    tokenizer, spec = _tokenizer(tok_file)
    return StaticEmbedder(table, tokenizer, key=key, spec=spec)


def load_static_folder(folder: Path) -> StaticEmbedder:
    """A model2vec folder (``model.safetensors`` with "embeddings", optional "weights" and
    "mapping"; ``tokenizer.json``; ``config.json``) or a sentence-transformers
    ``0_StaticEmbedding`` folder, pooled as model2vec's ``encode`` pools."""
    st_static = folder.name == "0_StaticEmbedding"
    model_file, tok_file = folder / "model.safetensors", folder / "tokenizer.json"
    tensors = _tensors(model_file)
    tokenizer, spec = _tokenizer(tok_file)
    config: dict[str, Any] = {}
    if not st_static:
        try:
            config = json.loads((folder / "config.json").read_text("utf-8"))
        except FileNotFoundError:
            raise ModelFileError("config.json is missing") from None
        except (OSError, ValueError) as e:
            raise ModelFileError(f"config.json is not readable JSON ({e})") from None
        if not isinstance(config, dict):
            raise ModelFileError("config.json is not a JSON object")
    table = _table(tensors, "embedding.weight" if st_static else "embeddings", model_file.name)
    vocab = tokenizer.get_vocab_size()
    mapping, weights = tensors.get("mapping"), tensors.get("weights")
    if mapping is not None:  # vocabulary quantization: token id -> row of the table
        if mapping.shape != (vocab,) or mapping.min() < 0 or mapping.max() >= len(table):
            raise ModelFileError(f'{model_file.name}: "mapping" does not fit the tokenizer and the table')
        table = table[mapping.astype(np.int64)]
    if weights is not None:  # a weight per token
        if weights.shape != (len(table),):
            raise ModelFileError(f'{model_file.name}: "weights" does not fit the table')
        table = table * weights.astype(np.float32)[:, None]
    if len(table) < vocab:
        raise ModelFileError(f"the table has {len(table)} rows for a vocabulary of {vocab} tokens")
    max_tokens = config.get("max_length", 512) if not st_static else None
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ModelFileError(f'config.json: "max_length" must be a positive integer, not {max_tokens!r}')
    unk = _unk_id(tokenizer, spec)
    max_chars = None
    if max_tokens:
        tokenizer.enable_truncation(max_tokens)
        lengths = [len(t) for t in tokenizer.get_vocab()]
        max_chars = max_tokens * int(np.median(lengths))  # model2vec's cut before tokenizing
    digest = file_digest(model_file, tok_file, *([folder / "config.json"] if not st_static else []))
    kind = "sentence-transformers-static" if st_static else "model2vec"
    key = f"{kind}/{folder.name}/{table.shape[1]}/mean-v{POOLING_VERSION}/{digest}"
    return StaticEmbedder(table, tokenizer, key=key, drop_ids=(unk,) if unk is not None and not st_static else (),
                          max_tokens=max_tokens, max_chars=max_chars, spec=spec)


def _unk_id(tokenizer: Any, spec: dict[str, Any]) -> int | None:
    model = spec.get("model") or {}
    if "unk_token" in model:
        return tokenizer.token_to_id(model["unk_token"]) if model["unk_token"] is not None else None
    unk = model.get("unk_id")
    return unk if isinstance(unk, int) else None
