"""Seeded synthetic papers and profiles that look like an ML listing (all text invented here).

Papers mix a few research topics (Zipf-popular, as on a real listing page), generic
scientific prose, a long tail of adjective-noun phrases, coined compound words in varied
inflections, method names and acronyms. Titles have 6-14 words, abstracts 120-220.
Profiles draw their keywords from the same distributions, mostly from the rarer end, so that
each profile matches a modest share of the papers, as a reader's profile does.
"""

from __future__ import annotations

import itertools
import random
import re
import string
from pathlib import Path
from typing import Sequence

from paperdigest.config import Profile
from paperdigest.models import Paper
from paperdigest.ranking.textmatch import exact_key, tokens

TOPICS: dict[str, list[str]] = {
    "quantization": ["quantization", "post-training quantization", "low-bit weights", "quantized models",
                     "integer arithmetic", "activation outliers", "weight-only quantization"],
    "pruning": ["pruning", "structured sparsity", "pruned networks", "unstructured pruning", "sparse models"],
    "distillation": ["knowledge distillation", "distilled students", "teacher model", "student network"],
    "kv-cache": ["KV cache", "cache eviction", "attention sinks", "long-context inference", "memory footprint"],
    "speculative": ["speculative decoding", "draft model", "token acceptance", "decoding latency"],
    "moe": ["mixture of experts", "MoE layers", "expert routing", "sparse experts", "load balancing"],
    "agents": ["language agents", "tool use", "web navigation", "agentic workflows", "task planning"],
    "rl": ["reinforcement learning", "policy optimization", "reward models", "RLHF", "preference data"],
    "reasoning": ["chain of thought", "mathematical reasoning", "multi-step reasoning", "self-consistency"],
    "retrieval": ["retrieval-augmented generation", "dense retrieval", "RAG pipelines", "document retrievers"],
    "multimodal": ["vision-language models", "multimodal understanding", "image captioning", "visual grounding"],
    "video": ["video generation", "temporal consistency", "video understanding", "frame interpolation"],
    "diffusion": ["diffusion models", "denoising steps", "text-to-image synthesis", "latent diffusion"],
    "speech": ["speech recognition", "text-to-speech", "audio tokens", "spoken language"],
    "code": ["code generation", "program synthesis", "unit tests", "code completion"],
    "robotics": ["robot manipulation", "embodied agents", "motion planning", "sim-to-real transfer"],
    "safety": ["jailbreak attacks", "safety alignment", "red teaming", "harmful outputs"],
    "evaluation": ["benchmark construction", "human evaluation", "evaluation metrics", "data contamination"],
    "multilingual": ["low-resource languages", "machine translation", "cross-lingual transfer", "tokenizer coverage"],
    "graphs": ["graph neural networks", "message passing", "node classification", "molecular graphs"],
    "3d": ["3D reconstruction", "neural radiance fields", "Gaussian splatting", "novel view synthesis"],
    "efficiency-training": ["parameter-efficient fine-tuning", "low-rank adapters", "LoRA", "gradient checkpointing"],
    "interpretability": ["mechanistic interpretability", "sparse autoencoders", "attention heads", "feature circuits"],
    "medical": ["clinical notes", "medical imaging", "radiology reports", "patient outcomes"],
    "time-series": ["time series forecasting", "temporal patterns", "anomaly detection", "sensor data"],
    "long-context": ["long-context modeling", "position interpolation", "context windows", "needle retrieval"],
    "data": ["synthetic data", "data curation", "instruction tuning", "data mixtures"],
    "theory": ["scaling laws", "generalization bounds", "loss landscapes", "in-context learning"],
}

ADJECTIVES = """adaptive robust scalable efficient hierarchical sparse dense latent implicit explicit
contrastive generative discriminative probabilistic stochastic deterministic causal temporal spatial
semantic structural modular dynamic static lightweight unified universal compositional incremental
continual federated distributed asynchronous multiscale residual recurrent convolutional autoregressive
bidirectional uncertainty-aware context-aware memory-efficient training-free zero-shot few-shot
self-supervised weakly-supervised cross-domain open-vocabulary fine-grained coarse-grained local global
differentiable interpretable calibrated faithful grounded""".split()

NOUNS = """representation encoder decoder embedding attention transformer network objective regularizer
optimizer scheduler tokenizer vocabulary corpus benchmark baseline dataset prior posterior estimator
sampler classifier detector segmenter retriever reranker planner controller simulator verifier critic
policy value reward trajectory rollout curriculum augmentation perturbation projection alignment
calibration uncertainty robustness fairness privacy memorization hallucination consistency compression
factorization decomposition interpolation extrapolation normalization initialization distillation
adaptation transfer generalization exploration supervision annotation feedback preference ranking
routing gating pooling clustering matching search inference training pretraining fine-tuning""".split()

VERBS = """improves reduces enables preserves outperforms accelerates stabilizes simplifies unifies
extends generalizes captures leverages combines decouples aligns learns models predicts estimates""".split()

PREFIXES = """hyper meta neuro graph auto poly contra micro multi cross semi self quasi iso omni pseudo
proto para inter intra trans ultra""".split()
# Verb roots with the inflections a text uses, so coined words exercise the stemmer.
ROOTS: dict[str, list[str]] = {
    "route": ["routing", "routed", "router", "routers", "routes"],
    "prompt": ["prompting", "prompted", "prompts", "prompt"],
    "tune": ["tuning", "tuned", "tuner", "tunes"],
    "sample": ["sampling", "sampled", "sampler", "samplers"],
    "align": ["alignment", "aligned", "aligning", "aligner"],
    "fuse": ["fusion", "fused", "fusing", "fuses"],
    "rank": ["ranking", "ranked", "ranker", "rankers"],
    "probe": ["probing", "probed", "probes", "prober"],
    "merge": ["merging", "merged", "merger", "merges"],
    "patch": ["patching", "patched", "patches", "patcher"],
    "shard": ["sharding", "sharded", "shards"],
    "mask": ["masking", "masked", "masks", "masker"],
    "blend": ["blending", "blended", "blender", "blends"],
    "warp": ["warping", "warped", "warps"],
    "stitch": ["stitching", "stitched", "stitches"],
    "anchor": ["anchoring", "anchored", "anchors"],
    "steer": ["steering", "steered", "steers"],
    "prune": ["pruning", "pruned", "pruner", "prunes"],
    "distill": ["distillation", "distilled", "distilling"],
    "quantize": ["quantization", "quantized", "quantizing", "quantizer"],
    "compile": ["compilation", "compiled", "compiler", "compiling"],
    "cache": ["caching", "cached", "caches", "cache"],
    "encode": ["encoding", "encoded", "encoder", "encoders"],
    "search": ["searching", "searched", "searcher", "searches"],
    "plan": ["planning", "planned", "planner", "plans"],
}

SYLLABLES = """flu vor tex qua nim bra zen lum pix syn cor val mer dra kel ori sol tar vex lyn mor
cal fen gri hal jas kor lev nov pra ris sta tov ula ven wex yar zor""".split()

FILLER = [
    "{T} has emerged as a {a} approach for {p}.",
    "However, existing {ns} often suffer from {a} {n} and {a} {n}.",
    "Prior work on {t} largely ignores the role of {p}.",
    "In this paper, we propose {M}, a {a} {c} framework that {v} {p}.",
    "We introduce {M}, which {v} {t} by combining {p} with {p}.",
    "The key idea is to treat {p} as a form of {a} {n}, so that {t} becomes tractable.",
    "Our analysis shows that {p} is closely related to {t} under mild assumptions.",
    "We further design a {a} {n} that {v} the {n} of {A} without additional supervision.",
    "To this end, we construct {D}, a benchmark of {k} tasks covering {t} and {p}.",
    "Extensive experiments on {D} and {D} show that {M} {v} {p} by {k}% over {A}.",
    "Compared with {A} and {A}, our method achieves {a} {n} with {k}x fewer {ns}.",
    "Ablation studies confirm that both the {c} module and the {p} objective are necessary.",
    "We also observe that {t} benefits from {a} {n} when the {n} is {a}.",
    "These results suggest that {p} is a promising direction for {t}.",
    "Code, data and models are publicly available to facilitate future research on {t}.",
    "Moreover, {M} is compatible with {a} {ns} and can be applied to {p} with little overhead.",
    "We provide a theoretical analysis of {p} and derive a {a} bound on the {n}.",
    "Finally, we discuss limitations of {c} approaches and open problems in {t}.",
]
TITLES = [
    "{M}: {A2} {T2} for {P2}",
    "Towards {A2} {T2} via {P2}",
    "{T2} with {C2} {N2}",
    "Rethinking {P2} in {T2}",
    "{M}: {C2} {P2} Improves {T2}",
    "On the {N2} of {A2} {T2}",
    "Scaling {T2} with {A2} {P2} and {C2}",
    "When {P2} Meets {T2}: A {A2} Perspective",
    "{M}: Towards {A2} and {A2} {T2} with {C2} {N2} for {P2}",
    "Do {A2} {N2}s Help {T2}? An Empirical Study of {P2} at Scale",
]


def _zipf_cum(n: int, s: float = 1.0) -> list[float]:
    return list(itertools.accumulate(1.0 / (i + 1) ** s for i in range(n)))


class _Vocab:
    """The shared pools, each with Zipf popularity (rank 0 most popular)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed * 7919 + 13)
        self.topics = list(TOPICS)
        rng.shuffle(self.topics)
        self.topic_cum = _zipf_cum(len(self.topics), 0.8)
        phrases = [f"{a} {n}" for a in ADJECTIVES for n in NOUNS]
        rng.shuffle(phrases)
        self.phrases = phrases
        self.phrase_cum = _zipf_cum(len(phrases), 1.0)
        self.compounds = [p + r for p in PREFIXES for r in ROOTS]
        rng.shuffle(self.compounds)
        specialised = [f"{c} {n}" for c in self.compounds for n in NOUNS]
        rng.shuffle(specialised)
        self.special = specialised
        self.special_cum = _zipf_cum(len(specialised), 1.0)
        rng.shuffle(self.compounds)
        self.compound_cum = _zipf_cum(len(self.compounds), 1.0)
        names: set[str] = set()
        while len(names) < 6000:
            k = rng.choice((2, 2, 3))
            names.add("".join(rng.choice(SYLLABLES) for _ in range(k)).capitalize())
        self.methods = sorted(names)
        rng.shuffle(self.methods)
        self.method_cum = _zipf_cum(len(self.methods), 1.1)
        words = {exact_key(w) for w in tokens(" ".join(
            [*FILLER, *TITLES, *ADJECTIVES, *NOUNS, *VERBS, *SYLLABLES,
             *(t for ts in TOPICS.values() for t in ts), *(f for fs in ROOTS.values() for f in fs)]))}
        acr: set[str] = set()
        while len(acr) < 4000:
            a = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.choice((3, 4, 4, 5))))
            if exact_key(a.lower()) not in words:  # none that spells a word of the texts ("AND")
                acr.add(a)
        self.acronyms = sorted(acr)
        rng.shuffle(self.acronyms)
        self.acronym_cum = _zipf_cum(len(self.acronyms), 1.1)
        self.datasets = [f"{m}-Bench" for m in self.methods[-800:]]

    def pick(self, rng: random.Random, pool: Sequence[str], cum: list[float]) -> str:
        return rng.choices(pool, cum_weights=cum, k=1)[0]


_VOCABS: dict[int, _Vocab] = {}


def _vocab(seed: int) -> _Vocab:
    if seed not in _VOCABS:
        _VOCABS[seed] = _Vocab(seed)
    return _VOCABS[seed]


_PARSED = {t: re.split(r"\{(\w+)\}", t) for t in (*FILLER, *TITLES, "for {p}")}
_FORMS = {p + root: (p, forms) for p in PREFIXES for root, forms in ROOTS.items()}


def _inflect(rng: random.Random, compound: str) -> str:
    """"metaroute" -> "metarouting", "metarouted", ...: one coined word in one of its forms."""
    prefix, forms = _FORMS[compound]
    return prefix + rng.choice(forms)


def _plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _paper(rng: random.Random, v: _Vocab, i: int) -> Paper:
    topics = [v.pick(rng, v.topics, v.topic_cum) for _ in range(rng.choice((1, 2, 2, 3)))]
    name = v.pick(rng, v.methods, v.method_cum) if rng.random() < 0.5 else rng.choice(v.acronyms)

    def slot(key: str) -> str:
        if key in ("t", "T", "T2"):
            s = rng.choice(TOPICS[rng.choice(topics)])
            return s[0].upper() + s[1:] if key == "T" else (s.title() if key == "T2" else s)
        if key in ("p", "P2"):
            if rng.random() < 0.3:
                s = v.pick(rng, v.phrases, v.phrase_cum)
            else:
                comp, noun = v.pick(rng, v.special, v.special_cum).split(" ")
                s = f"{_inflect(rng, comp)} {noun}"
            return s.title() if key == "P2" else s
        if key == "ns":
            return _plural(rng.choice(NOUNS))
        if key in ("a", "A2"):
            s = rng.choice(ADJECTIVES)
            return s.capitalize() if key == "A2" else s
        if key in ("n", "N2"):
            s = rng.choice(NOUNS)
            return s.capitalize() if key == "N2" else s
        if key in ("c", "C2"):
            s = _inflect(rng, v.pick(rng, v.compounds, v.compound_cum))
            return s.capitalize() if key == "C2" else s
        if key == "v":
            return rng.choice(VERBS)
        if key == "M":
            return name
        if key == "A":
            other = v.pick(rng, v.methods, v.method_cum) if rng.random() < 0.6 else v.pick(rng, v.acronyms, v.acronym_cum)
            return other
        if key == "D":
            return rng.choice(v.datasets)
        return str(rng.choice((2, 3, 4, 5, 8, 10, 12, 16, 24, 32)))

    def fill(template: str) -> str:
        parts = _PARSED[template]  # literal text at even positions, slot names at odd ones
        return "".join(p if i % 2 == 0 else slot(p) for i, p in enumerate(parts))

    title = fill(rng.choice(TITLES))
    words = title.split()
    while len(words) < 6:
        words += fill("for {p}").split()
    title = " ".join(words[:14])
    target = rng.randint(120, 220)
    sentences: list[str] = []
    count = 0
    while count < target:
        s = fill(rng.choice(FILLER))
        sentences.append(s)
        count += len(s.split())
    abstract = " ".join(sentences)
    words = abstract.split()
    if len(words) > 220:
        abstract = " ".join(words[:220]).rstrip(".,") + "."
    arxiv = f"25{(i // 90000) % 12 + 1:02d}.{i % 90000 + 10000:05d}"
    return Paper(title=title, abstract=abstract, arxiv_id=arxiv, url=f"https://arxiv.org/abs/{arxiv}")


def synthetic_papers(n: int, seed: int = 0) -> list[Paper]:
    """``n`` distinct invented papers, the same for the same seed."""
    rng = random.Random(seed)
    v = _vocab(seed)
    out: list[Paper] = []
    seen: set[str] = set()
    i = 0
    while len(out) < n:
        p = _paper(rng, v, i)
        i += 1
        if p.title_key not in seen:
            seen.add(p.title_key)
            out.append(p)
    return out


def _special(rng: random.Random, v: _Vocab) -> str:
    comp, noun = v.special[rng.randrange(300, len(v.special) // 3)].split(" ")
    return f"{_inflect(rng, comp)} {noun}"


def synthetic_keyword(rng: random.Random, v: _Vocab) -> str:
    r = rng.random()
    if r < 0.35:  # a specialised phrase, inflected as a reader would write it
        return _special(rng, v)
    if r < 0.351:  # a coined word alone, one of the rarer ones: still common
        return _inflect(rng, v.compounds[rng.randrange(3 * len(v.compounds) // 4, len(v.compounds))])
    if r < 0.65:  # a method name
        return v.methods[rng.randrange(2000, len(v.methods) - 800)]  # not a dataset name
    if r < 0.80:  # an acronym, or a phrase with its acronym as a synonym
        a = v.acronyms[rng.randrange(100, len(v.acronyms))]
        return a if rng.random() < 0.5 else f"{_special(rng, v)}|{a}"
    if r < 0.979:  # two phrases as alternatives
        return f"{_special(rng, v)}|{_special(rng, v)}"
    if r < 0.999:  # a generic adjective-noun phrase
        return v.phrases[rng.randrange(len(v.phrases) // 4, len(v.phrases))]
    return rng.choice(TOPICS[rng.choice(v.topics)])  # a topic phrase: the common kind


def synthetic_profiles(n: int, seed: int = 0, keywords: int = 8) -> list[Profile]:
    """``n`` profiles of ``keywords`` keywords (weights 1-3), a few with an exclude term."""
    rng = random.Random(seed + 1_000_003)
    v = _vocab(seed)
    out: list[Profile] = []
    for i in range(n):
        kw: dict[str, float] = {}
        while len(kw) < keywords:
            kw[synthetic_keyword(rng, v)] = float(rng.choice((1, 1, 1.5, 2, 2, 3)))
        exclude = (rng.choice(TOPICS[rng.choice(v.topics)]),) if rng.random() < 0.1 else ()
        out.append(Profile(name=f"p{i:05d}", title=f"Synthetic profile {i}", keywords=kw, exclude=exclude))
    return out


def write_listing(papers: Sequence[Paper], path: Path | str) -> Path:
    """Write papers in the page-text layout: title line, blank line, abstract line, blank line."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        for p in papers:
            f.write(f"{p.title}\n\n{p.abstract}\n\n")
    return path


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(profiles: Sequence[Profile], path: Path | str, store: Path | str | None = None,
                 max_input_bytes: int | None = None) -> Path:
    """A paperdigest.toml holding ``profiles`` (and a store path under the config's folder)."""
    path = Path(path)
    lines = [f'[store]\nurl = "sqlite:///{store or (path.parent / "bench.db")}"\n']
    if max_input_bytes:
        lines.append(f"[limits]\nmax_input_bytes = {max_input_bytes}\n")
    for p in profiles:
        kws = ", ".join(f"{_toml_str(k)} = {w:g}" for k, w in p.keywords.items())
        lines.append(f"[[profile]]\nname = {_toml_str(p.name)}\ntitle = {_toml_str(p.title)}\n"
                     f"keywords = {{ {kws} }}\n")
        if p.exclude:
            lines.append("exclude = [" + ", ".join(_toml_str(x) for x in p.exclude) + "]\n")
        if getattr(p, "description", ""):
            lines.append(f"description = {_toml_str(p.description)}\n")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# Words and phrases every abstract is full of: what real, broad profiles also contain ("of the",
# "chain of thought", "language models show", "effectiveness"), in the forms the texts use.
BROAD_TERMS = (
    "approach", "framework", "experiments", "results", "analysis", "method", "benchmark", "performance",
    "in this paper", "of the", "we propose", "our method achieves", "extensive experiments",
    "existing", "promising direction", "future research", "theoretical analysis", "open problems",
    "without additional supervision", "little overhead", "key idea", "ablation studies",
)


# Synonyms as a reader writes them for everyday words.
BROAD_SYNONYMS = (
    "results|findings", "method|approach", "benchmark|benchmarks", "experiments|evaluation",
    "framework|pipeline", "performance|accuracy", "analysis|study", "training|pretraining",
)


def broad_keyword(rng: random.Random, v: _Vocab) -> str:
    """A keyword a reader writes from everyday words: frequent in every listing."""
    r = rng.random()
    if r < 0.45:
        return rng.choice(BROAD_TERMS)
    if r < 0.7:  # one of the most popular topic phrases
        return rng.choice(TOPICS[v.topics[rng.randrange(6)]])
    if r < 0.85:  # a popular generic phrase
        return v.phrases[rng.randrange(40)]
    return rng.choice(BROAD_SYNONYMS)


def broad_profiles(n: int, seed: int = 0, keywords: int = 8, start: int = 0) -> list[Profile]:
    """``n`` broad profiles: mostly frequent words and phrases, so each matches most papers."""
    rng = random.Random(seed + 2_000_003)
    v = _vocab(seed)
    out: list[Profile] = []
    for i in range(start, start + n):
        kw: dict[str, float] = {}
        while len(kw) < keywords:
            kw[broad_keyword(rng, v) if rng.random() < 0.75 else synthetic_keyword(rng, v)] = \
                float(rng.choice((1, 1, 1.5, 2, 2, 3)))
        out.append(Profile(name=f"b{i:05d}", title=f"Broad profile {i}", keywords=kw))
    return out


def describe(profile: Profile, seed: int = 0) -> str:
    """A reader's sentence or two about a profile, in everyday words around its keywords."""
    rng = random.Random(f"{seed}:{profile.name}")
    v = _vocab(seed)
    words = [k.split("|")[0] for k in profile.keywords]
    rng.shuffle(words)
    topic = rng.choice(TOPICS[v.topics[rng.randrange(len(v.topics))]])
    return (f"I read papers on {', '.join(words[:3])} and {words[3] if len(words) > 3 else topic}. "
            f"I also like work that connects {topic} with {rng.choice(words)}, and clear experiments.")


def with_descriptions(profiles: Sequence[Profile], seed: int = 0) -> list[Profile]:
    """The same profiles, each with a description (Profile.description)."""
    import dataclasses

    return [dataclasses.replace(p, description=describe(p, seed)) for p in profiles]
