"""hybrid: RAFT (Zhang et al. 2024): a LoRA adapter trained on the prompts the RAG assistant sees,
then answering from the retrieved sources with it. It composes the two builders: the run's own
RAG index (the `rag` approach, built first) gives the prompts, the LoRA builder trains on them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import ClassVar, Sequence

from pydantic import Field

from ..assistants import RetrievalAssistant
from ..corpus import UNANSWERABLE, QAPair
from ..events import no_events
from ..finetune import Example, FinetuneConfig, adapter_facts, adapter_folder, build_adapter, summary_lines
from ..llm import DEFAULT_PRECISION, load_llm
from ..rag import Hit, index_facts, load_index, rag_prompt
from ..text import key_terms
from . import Approach, register


class Config(FinetuneConfig):
    """The LoRA builder's settings for RAFT prompts, and the share of prompts with the gold source.

    RAFT prompts carry the retrieved sources (rag's context_tokens, 1024 by default): longer
    examples, so a longer max_length and, in the quick profile, fewer and smaller steps. The
    draws of the examples are seeded by `seed`, like the rest of training.
    """

    QUICK: ClassVar[dict] = {**FinetuneConfig.QUICK, "max_length": 1536, "batch_size": 4, "max_steps": 16,
                             "eval_steps": 8, "max_val_examples": 8, "probe_questions": 16}

    max_length: int = Field(1536, ge=16, description="tokens per example (prompt + answer); longer prompts are skipped")
    gold_share: float = Field(0.8, ge=0, le=1, description="share of training prompts whose sources include the gold "
                                                          "document (the rest learn to refuse)")


@dataclass
class RaftExamples:
    """Retrieval-augmented examples (`hybrid`, RAFT: Zhang et al. 2024) through the same training path.

    The prompt is rag.rag_prompt exactly as at answer time: the question with numbered sources.
    For a share `gold_share` of the pairs the sources hold the gold document's best chunk (the one
    sharing most key terms with the reference answer) at a random position among distractors,
    and the target is the answer citing it ("... [2]."); for the rest the gold document is left
    out entirely and the target is "The documents do not say.", so the model learns both to use
    a source and to refuse without one. Distractors are what the corpus's own index retrieves for
    the question from other documents. Draws are seeded per pair (seed, pair id): deterministic
    in any order, so a resumed run rebuilds the same examples.
    """

    index: object  # rag.RagIndex
    system_prompt: str = ""
    gold_share: float = 0.8
    top_k: int | None = None  # sources per prompt; default the index's top_k
    seed: int = 0
    name: str = "raft"
    _hits: dict = field(default_factory=dict, repr=False)

    @property
    def k(self) -> int:
        return self.top_k or self.index.config.top_k

    def describe(self) -> dict:
        return {"builder": self.name, "system_prompt": self.system_prompt, "gold_share": self.gold_share, "top_k": self.k,
                "seed": self.seed, "index": {"chunks": len(self.index), "config": self.index.config.model_dump(),
                                             "corpus_fingerprint": self.index.meta.get("corpus_fingerprint")}}

    def prefetch(self, pairs: Sequence[QAPair]) -> None:
        """Retrieve for many questions at once (one batched embedding pass)."""
        todo = [p.question for p in pairs if p.question not in self._hits]
        for q, hits in zip(todo, self.index.search_many(todo, k=self.k + 8) if todo else []):
            self._hits[q] = hits

    def _retrieved(self, question: str):
        if question not in self._hits:
            self._hits[question] = self.index.search(question, k=self.k + 8)
        return self._hits[question]

    def gold_chunk(self, pair: QAPair):
        """The chunk of the pair's documents that shares most key terms with the reference answer."""
        gold = set(pair.doc_ids)
        retrieved = {h.chunk.chunk_id: h for h in self._retrieved(pair.question)}
        candidates = [c for c in self.index.chunks.values() if c.doc_id in gold]
        if not candidates:
            return None
        terms = key_terms(pair.answer) | key_terms(pair.question)
        best = max(candidates, key=lambda c: (len(terms & key_terms(c.text)), c.chunk_id in retrieved, -c.chunk_id))
        return retrieved.get(best.chunk_id) or Hit(best, 0.0)

    def build(self, pair: QAPair, llm) -> Example:
        rng = random.Random(f"{self.seed}:{pair.id}")
        hits = self._retrieved(pair.question)
        gold_docs = set(pair.doc_ids)
        gold = self.gold_chunk(pair) if gold_docs and pair.answer.strip() != UNANSWERABLE else None
        meta = {"pair": pair.id, "gold": None, "gold_position": None}
        if gold is None:  # no document to force in (or an unanswerable pair): the sources as retrieved
            sources, answer = hits[:self.k], pair.answer.strip()
        else:
            distractors = [h for h in hits if h.chunk.doc_id not in gold_docs]
            if rng.random() < self.gold_share:
                sources = distractors[:self.k - 1]
                position = rng.randint(0, len(sources))
                sources.insert(position, gold)
                answer = cite(pair.answer.strip(), position + 1)
                meta.update(gold=True, gold_position=position + 1)
            else:
                sources, answer = distractors[:self.k], UNANSWERABLE
                meta.update(gold=False)
        meta["sources"] = [h.chunk.chunk_id for h in sources]
        prompt = rag_prompt(llm, pair.question, sources, system_prompt=self.system_prompt,
                            context_tokens=self.index.config.context_tokens)
        return Example(prompt, answer, meta)


def cite(answer: str, n: int) -> str:
    """The answer with a citation of source n before its final full stop: "28 days [2]."."""
    if answer and answer[-1] in ".!?":
        return f"{answer[:-1]} [{n}]{answer[-1]}"
    return f"{answer} [{n}]"


def build(run, corpus, config: Config, *, device="auto", precision=DEFAULT_PRECISION, events=no_events, cancel=None,
          resume=False) -> dict:
    examples = RaftExamples(load_index(run, device), corpus.system_prompt, gold_share=config.gold_share,
                            seed=config.seed)
    return build_adapter(run, corpus, config, approach="hybrid", device=device, precision=precision, events=events,
                         cancel=cancel, resume=resume, examples=examples)


def load(run, *, device="auto", precision=DEFAULT_PRECISION, max_new_tokens=64):
    adapter = adapter_folder(run, "hybrid")
    index = load_index(run, device)
    llm = load_llm(run.base_model, device=device, adapter=str(adapter), precision=precision)
    # whole chunks in the chat template: the RAFT prompts it was trained on (RaftExamples: rag_prompt's defaults)
    return RetrievalAssistant("hybrid", llm, run.manifest.get("system_prompt", ""), max_new_tokens, index=index,
                              context="chunks", prompt_format="chat")


def describe(summary: dict) -> list[str]:
    raft = summary.get("raft") or {}
    extra = [f"RAFT prompts: {raft['with_gold_source']} with the gold source, {raft['without_gold_source']} without "
             f"(target: \"{UNANSWERABLE}\")"] if raft else []
    return summary_lines(summary) + extra


def facts(run, device="auto") -> dict:
    """Taking in a new document means re-indexing it and retraining the adapter."""
    out = adapter_facts(run, "hybrid")
    rag_update = index_facts(run, device)["update_s"]
    if out["build_s"] is not None:
        out["update_s"] = out["build_s"] + (rag_update or 0.0)
    out["update_how"] += " + re-index"
    return out


APPROACH = register(Approach("hybrid", "Hybrid (RAFT)", "a LoRA adapter trained on retrieval-augmented prompts, "
                             "answering from the retrieved sources", Config, build, load, facts, requires=("rag",),
                             trains=True, describe=describe))
