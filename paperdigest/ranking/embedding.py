"""Text embeddings for semantic relevance: what is embedded, and which model does it.

``[semantic] model`` names the model:

- ``"wordllama"`` (the default): WordLlama l2_supercat, 256 dimensions, read from the files
  inside the ``wordllama`` wheel and pooled here (:mod:`paperdigest.ranking.staticmodel`);
  never touches the network.
- the path of a local folder (relative to the config's folder): a model2vec model
  (``model.safetensors`` + ``tokenizer.json`` + ``config.json``), a sentence-transformers
  static model (``0_StaticEmbedding/``), or any sentence-transformers model when the
  ``sentence_transformers`` package is installed (paperdigest does not install it).
- with ``allow_download = true`` only: a Hugging Face Hub id ("org/name") of such a model,
  fetched once into the Hugging Face cache.

Every vector is unit length, so a dot product is the cosine similarity. An embedder's ``key``
names the model, its dimension, the pooling and a digest of its files; it is stored with
every vector, and a vector under another key is stale (rebuilt by the next run).
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from paperdigest.errors import ConfigError
from paperdigest.models import Paper

DEFAULT_MODEL = "wordllama"
_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_cache: dict[tuple[str, str | None], Embedder] = {}
_cache_lock = threading.Lock()


class Embedder(Protocol):
    """Texts in, one unit-length float32 row per text out (all zeros for a text with no known
    token)."""

    key: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def paper_text(paper: Paper) -> str:
    """What is embedded for a paper: its title, then its abstract."""
    abstract = paper.abstract.strip()
    return f"{paper.title}. {abstract}" if abstract else paper.title


def model_error(why: str) -> ConfigError:
    return ConfigError(f'semantic: key "model" {why}')


def load_embedder(model: str, *, base: Path | None = None, allow_download: bool = False) -> Embedder:
    """The embedder ``model`` names (see the module docstring), loaded once per process.

    A model that cannot be loaded (an unknown name, a missing or broken folder, a download
    that is not allowed) is a :class:`ConfigError` naming ``[semantic] model``.
    """
    cache_key = (model, str(base) if base is not None else None)
    with _cache_lock:
        found = _cache.get(cache_key)
        if found is None:
            found = _cache[cache_key] = _load(model, base, allow_download)
        return found


def _load(model: str, base: Path | None, allow_download: bool) -> Embedder:
    from paperdigest.ranking import staticmodel

    try:
        if model == DEFAULT_MODEL:
            return staticmodel.load_wordllama()
        folder = Path(os.path.expanduser(model))
        folder = folder if folder.is_absolute() else (base or Path.cwd()) / folder
        if not folder.exists():
            if not _HUB_ID_RE.match(model):
                if os.sep not in model and "/" not in model and not model.startswith("."):
                    raise model_error(f'names no known model: "{model}" (use "wordllama" or the path of a '
                                      "local model2vec or sentence-transformers folder)")
                raise model_error(f'is not a model folder: "{folder}" does not exist')
            if not allow_download:
                raise model_error(f'"{model}": no such folder ("{folder}"), and downloading a model is off '
                                  "([semantic] allow_download = false)")
            folder = _download(model)
        return _load_folder(folder, model, allow_download)
    except staticmodel.ModelFileError as e:
        raise model_error(f'"{model}": cannot load the model: {e}') from None
    except OSError as e:  # an unreadable file or folder
        raise model_error(f'"{model}": cannot read the model: {e.strerror or e}') from None


def _load_folder(folder: Path, model: str, allow_download: bool) -> Embedder:
    from paperdigest.ranking import staticmodel

    if not folder.is_dir():
        raise model_error(f'is not a model folder: "{folder}" is a file')
    if "embeddings" in staticmodel.tensor_names(folder / "model.safetensors"):
        return staticmodel.load_static_folder(folder)  # model2vec (it writes a modules.json too)
    if (folder / "0_StaticEmbedding").is_dir():
        return staticmodel.load_static_folder(folder / "0_StaticEmbedding")
    if (folder / "modules.json").is_file() or (folder / "config_sentence_transformers.json").is_file():
        if importlib.util.find_spec("sentence_transformers") is None:
            raise model_error(f'"{model}" is a sentence-transformers model, and the sentence-transformers '
                              "package is not installed (pip install sentence-transformers)")
        return SentenceTransformerEmbedder(folder, allow_download=allow_download)
    if (folder / "model.safetensors").is_file() or (folder / "tokenizer.json").is_file():
        return staticmodel.load_static_folder(folder)  # a model2vec folder with something wrong: say what
    raise model_error(f'"{folder}" is neither a model2vec folder (model.safetensors, tokenizer.json, '
                      "config.json) nor a sentence-transformers folder (modules.json)")


def _download(model: str) -> Path:
    """Fetch a Hub model once (allowed by ``[semantic] allow_download``); later loads read the cache."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model))
    except Exception as e:  # noqa: BLE001 - network and hub errors vary
        raise model_error(f'"{model}": download failed: {type(e).__name__}: {e}') from None


class SentenceTransformerEmbedder:
    """Any sentence-transformers model folder (needs the ``sentence_transformers`` package)."""

    def __init__(self, folder: Path, *, allow_download: bool) -> None:
        if not allow_download:
            # Read at import by huggingface_hub: a folder that names a base model on the Hub
            # must not fetch it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer

            self.model: Any = SentenceTransformer(str(folder), device="cpu", local_files_only=not allow_download)
        except Exception as e:  # noqa: BLE001 - torch/transformers errors vary
            raise model_error(f'"{folder}": cannot load the sentence-transformers model: '
                              f"{type(e).__name__}: {e}") from None
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        from paperdigest.ranking.staticmodel import file_digest

        files = sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts)
        self.key = f"sentence-transformers/{folder.name}/{self.dim}/st-v1/{file_digest(*files)}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(list(texts), batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                                show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)
