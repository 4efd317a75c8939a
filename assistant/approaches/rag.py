"""rag: a FAISS + BM25 index over chunks of the documents; the base model answers from what it retrieves."""
from __future__ import annotations

from ..assistants import RetrievalAssistant
from ..events import no_events
from ..llm import DEFAULT_PRECISION, load_llm
from ..rag import RagConfig, build_index, index_facts, load_index, retrieval_metrics
from . import Approach, register


class Config(RagConfig):
    """The index builder's settings, as they are (rag.RagConfig)."""


def build(run, corpus, config: Config, *, device="auto", precision=DEFAULT_PRECISION, events=no_events, cancel=None,
          resume=False) -> dict:
    index = build_index(run, corpus, config, device=device, events=events, cancel=cancel)
    metrics = retrieval_metrics(index, corpus.qa, config.top_k)  # how often the gold document is found
    run.set_stage("rag", "done", retrieval=metrics)
    return dict(run.stage("rag"))


def describe(stage: dict) -> list[str]:
    lines = [f"rag index: {stage['chunks']} chunks from {stage['documents']} documents, {stage['index']} index, "
             f"built in {stage['build_s']:.1f} s (embedding {stage['embed_chunks_per_s']} chunks/s), "
             f"{stage['index_bytes'] / 1e6:.2f} MB on disk",
             f"adding one document takes {stage['update_add_doc_s']:.2f} s"]
    m = stage.get("retrieval") or {}
    if m.get("n"):
        lines.append(f"retrieval on {m['n']} Q&A pairs ({m['mode']}, top-{m['k']}): hit@{m['k']} {m['hit_at_k']:.3f}, "
                     f"MRR {m['mrr']:.3f}, nDCG {m['ndcg']:.3f}")
    return lines


def load(run, *, device="auto", precision=DEFAULT_PRECISION, max_new_tokens=64):
    index = load_index(run, device)
    llm = load_llm(run.base_model, device=device, precision=precision)
    return RetrievalAssistant("rag", llm, run.manifest.get("system_prompt", ""), max_new_tokens, index=index)


def facts(run, device="auto") -> dict:
    return index_facts(run, device)


APPROACH = register(Approach("rag", "RAG (FAISS + BM25)", "an index over the documents; answers cite what it "
                             "retrieves", Config, build, load, facts, describe=describe))
