"""Text analysis shared by ranking and term statistics: folding, tokens, stems, acronyms.

Both a paper's text and a profile's keywords go through the same steps, so that matching is
a comparison of analysis units ("keys"):

- fold: Unicode NFKD, accents dropped, casefolded; a possessive "'s" is dropped.
- tokens: runs of letters and digits. Hyphens, spaces and punctuation all separate tokens
  ("KV-cache" = "kv cache", "GPT-4" = "GPT 4"); "GPT4" stays one token.
- keys: every text token has two keys. Its *stem* (Snowball English, i.e. Porter2, after
  folding British "-is-" spellings to "-iz-", and keeping an "-iz-" that Porter2 would strip)
  conflates inflections: "quantized", "quantizing", "quantization" -> ``quantiz``, while
  "tokenizer" (``tokeniz``) stays apart from "token". Its *exact* key is the folded surface with a
  plural "s" dropped ("MoEs" -> ``=moe``). A keyword token uses its exact key when it looks like
  an acronym or is too short to stem safely (see :func:`is_exact`), else its stem key.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

import snowballstemmer

_TOKEN_RE = re.compile(r"[^\W_]+")
_ASCII_TOKEN_RE = re.compile(r"[a-z0-9]+")  # the same on casefolded ASCII text, faster
_POSSESSIVE_RE = re.compile(r"(?<=\w)['\u2019]s\b")
_POSSESSIVE_BYTES_RE = re.compile(rb"(?<=\w)'s\b")
# ASCII bytes: letters folded to lower case, digits kept, everything else a separator.
_BYTE_TABLE = bytes((c | 0x20) if 65 <= c <= 90 else c if (97 <= c <= 122 or 48 <= c <= 57) else 32
                    for c in range(256))
# British "-ise" family -> "-ize" so that "quantised" and "quantized" share a stem.
_BRITISH_RE = re.compile(r"^(\w{3,}?)is(e|es|ed|ing|ation|ations|er|ers)$")
_VOWELS = frozenset("aeiouy")
EXACT_PREFIX = "="
# The version of the analysis below. Stored term statistics hold keys it made; raise it when a
# change gives some word a different key, and stored statistics are rebuilt.
ANALYSIS = 2  # 2: "-iz-" kept in stems

_local = threading.local()


def _stemmer() -> Any:
    """One stemmer per thread (stemmer objects keep state while they work); snowballstemmer
    hands out PyStemmer's C implementation when it is installed."""
    st = getattr(_local, "stemmer", None)
    if st is None:
        st = _local.stemmer = snowballstemmer.stemmer("english")
    return st


def _unaccent(text: str) -> str:
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _drop_possessive(text: str) -> str:
    return _POSSESSIVE_RE.sub("", text) if ("'" in text or "\u2019" in text) else text


def fold(text: str) -> str:
    """Casefold and strip accents; drop possessive "'s" so "Zipf's law" reads "Zipf law"."""
    return _drop_possessive(_unaccent(text)).casefold()


def raw_tokens(text: str) -> list[str]:
    """Tokens with their original case (the case of a keyword decides acronym handling)."""
    return _TOKEN_RE.findall(_drop_possessive(_unaccent(text)))


def tokens(text: str) -> list[str]:
    """Folded tokens of a text."""
    text = fold(text)
    return (_ASCII_TOKEN_RE if text.isascii() else _TOKEN_RE).findall(text)


def surface_tokens(text: str) -> list[bytes]:
    """``tokens(text)`` UTF-8 encoded, computed with ``bytes.translate`` for ASCII text (fast)."""
    if text.isascii():
        raw = text.encode("ascii")
        if b"'" in raw:
            raw = _POSSESSIVE_BYTES_RE.sub(b"", raw)
        return raw.translate(_BYTE_TABLE).split()
    return [t.encode() for t in tokens(text)]


def exact_key(token: str) -> str:
    """The surface form with a plural "s" dropped ("llms" -> "=llm"), for acronym matching."""
    if len(token) >= 3 and token[-1] == "s" and token[-2] != "s":
        token = token[:-1]
    return EXACT_PREFIX + token


def _pre_stem(token: str) -> str:
    m = _BRITISH_RE.match(token)
    return f"{m.group(1)}iz{m.group(2)}" if m else token


def stem_keys(toks: list[str]) -> list[str]:
    """Stem keys of folded tokens (one call into the stemmer for the whole batch).

    Porter2 strips "-ize" and "-ization" down to the base word, so "tokenizer" and
    "tokenization" would match every "token", "generalization" every "general" and
    "normalization" every "normal". A stem that lost an "-iz-" keeps it: the "-ize" family
    still conflates ("tokenize", "tokenizer", "tokenization", "tokenized" -> ``tokeniz``), but
    not with its base ("token" -> ``token``). Stems that already end in "iz" ("quantiz")
    are unchanged.
    """
    pre = [_pre_stem(t) for t in toks]
    words: list[str] = _stemmer().stemWords(pre)
    for i, (word, stem) in enumerate(zip(pre, words, strict=True)):
        if "iz" in word:
            at = word.find("iz", max(len(stem) - 2, 1))
            if at >= 0:
                words[i] = word[:at + 2]
    return words


def stem_key(token: str) -> str:
    return stem_keys([token])[0]


def is_exact(raw: str) -> bool:
    """Whether a keyword token is matched on its exact surface rather than its stem.

    Acronyms and short tokens are: stemming "ACT" or "RAG" would let them match "acting" or
    "ragged". A token is exact when it holds a digit, has 3 characters or fewer, has a capital
    after its first letter ("MoE", "LLM", "LoRA"), or has no vowel ("llms", "rlhf").
    """
    tail = raw[1:]
    return (len(raw) <= 3 or not raw.isalpha() or tail != tail.lower()
            or _VOWELS.isdisjoint(raw.casefold()))


@dataclass(frozen=True)
class Term:
    """One alternative of a keyword, analysed: a sequence of keys that must be adjacent, in order."""

    text: str  # as written in the config
    keys: tuple[str, ...]


@functools.lru_cache(maxsize=1 << 16)
def keyword_key(raw: str) -> str:
    """The key a keyword token (as written) is matched on: exact for acronyms, else its stem."""
    folded = raw.casefold()
    return exact_key(folded) if is_exact(raw) else stem_key(folded)


def analyse_term(text: str) -> Term:
    """Keys of one keyword alternative; empty when it holds no word."""
    return Term(text=text.strip(), keys=tuple(map(keyword_key, raw_tokens(text))))


def analyse_keyword(keyword: str) -> tuple[Term, ...]:
    """A keyword's alternatives ("mixture of experts|moe"), each analysed; wordless ones dropped."""
    terms = (analyse_term(part) for part in keyword.split("|"))
    return tuple(t for t in terms if t.keys)


def surface_keys(surface: bytes) -> tuple[str, str]:
    """The (stem key, exact key) of one surface token from :func:`surface_tokens`."""
    tok = surface.decode()
    return stem_key(tok), exact_key(tok)


def surface_keys_many(surfaces: list[bytes]) -> list[tuple[str, str]]:
    """:func:`surface_keys` for many tokens with one call into the stemmer (much cheaper)."""
    toks = [s.decode() for s in surfaces]
    return [(st, exact_key(t)) for st, t in zip(stem_keys(toks), toks, strict=True)]

